import { describe, expect, it } from 'vitest';
import { TcpFlag, emitTcp, parseIpv4, type TcpOption } from '@postern/wire';
import { cookieTimestamp, decodeCookieTimestamp } from '../src/tcp/syn-cookies.js';
import { B_ADDR, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';

function synFrom(src: number, srcPort: number, seq: number): Uint8Array {
  const options: TcpOption[] = [{ kind: 'mss', value: 1460 }];
  const out = new Uint8Array(24);
  emitTcp(
    { srcPort, dstPort: 80, seq, ack: 0, flags: TcpFlag.SYN, window: 65535, urgentPointer: 0, options },
    out,
    src,
    B_ADDR,
    new Uint8Array(0),
  );
  return out;
}

describe('SYN cookies keep window scale, SACK-permitted and timestamps (carried in the timestamp)', () => {
  it('the TSval carries the options in its low 6 bits and never runs ahead of the clock', () => {
    for (const now of [0x40, 0x12345, 0xffff_ffc1, 1_000_000]) {
      for (const windowScale of [-1, 0, 7, 14]) {
        for (const sackPermitted of [false, true]) {
          const ts = cookieTimestamp(now, { windowScale, sackPermitted });
          expect(decodeCookieTimestamp(ts)).toEqual({ windowScale, sackPermitted });
          const ahead = (ts - now) | 0;
          expect(ahead).toBeLessThanOrEqual(0);
          expect(ahead).toBeGreaterThan(-128);
        }
      }
    }
  });

  it('a client let through by a cookie during a SYN flood gets SACK, window scaling and timestamps, and the window scale takes effect', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ seed: 7, latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, synBacklog: 4 });
    for (let i = 0; i < 40; i++) {
      const src = parseIpv4('198.18.0.100') + (i % 20);
      tcpB.input(src, B_ADDR, synFrom(src, 1000 + i, i * 7919));
    }
    expect(listener.pendingHandshakes).toBe(4);
    const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(50);
    expect(c.state).toBe('ESTABLISHED');
    expect(listener.stats.cookiesAccepted).toBe(1);
    const s = listener.accept()!;
    const server = s.tcb;
    const client = c.tcb;
    expect(server.tsEnabled).toBe(true);
    expect(server.sackEnabled).toBe(true);
    expect(server.wsEnabled).toBe(true);
    expect(server.sndWndShift).toBe(client.rcvWndShift);
    expect(client.sndWndShift).toBe(server.rcvWndShift);
    expect(client.tsEnabled && client.sackEnabled).toBe(true);
    // The window scale is real: the server's window to the client is above 64 KiB.
    const data = patternBytes(1 << 20, 9);
    const sink = new Sink(c);
    pump(s, data);
    sched.runUntil(() => sink.ended, 60_000);
    expect(sink.digest()).toBe(sha256(data));
    expect(server.sndWnd).toBeGreaterThan(65_535);
  });
});
