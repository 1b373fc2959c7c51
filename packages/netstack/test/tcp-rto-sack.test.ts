/**
 * After a retransmission timeout the sender keeps its SACK scoreboard and resends only the holes
 * (RFC 6675 §5.1), unless the peer may have reneged (RFC 2018 §8); and after a retransmitted SYN
 * without an RTT sample the RTO is 3 s once data flows (RFC 6298 §5.7). Virtual clock, seeded,
 * losses chosen by a frame filter.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag, emitTcp } from '@postern/wire';
import { TCP_RTO_AFTER_SYN_RETRANSMIT_MS, type TcpConnection } from '../src/index.js';
import { A_ADDR, B_ADDR, filteredTcpPair, tcpFrameInfo } from './support/frame-filter.js';
import { Sink, patternBytes, pump, sha256 } from './support/tcp-net.js';

/** A data segment A sent, and how many RTOs the connection had seen when it went. */
interface Sent {
  seq: number;
  length: number;
  timeouts: number;
}

/**
 * A connects to B; once established, A writes `bytes`, and every copy of the segment at the first
 * data sequence number is dropped until the first RTO fired (fast retransmit, the tail loss probe
 * and lost-retransmission detection all go for it and all lose), so the RTO runs with the rest of
 * the flight SACKed.
 */
async function holeUntilRto(bytes: number) {
  const ref: { client?: TcpConnection } = {};
  let firstSeq = -1;
  const sent: Sent[] = [];
  const pair = await filteredTcpPair({
    filterA: {
      tx: (frame) => {
        const t = tcpFrameInfo(frame);
        const client = ref.client;
        if (t === undefined || t.dst !== B_ADDR || t.payloadLength === 0 || client === undefined) return true;
        sent.push({ seq: t.seq, length: t.payloadLength, timeouts: client.stats.timeouts });
        return !(t.seq === firstSeq && client.stats.timeouts === 0);
      },
    },
    tcpA: { rto: { minRtoMs: 200 } },
  });
  const listener = pair.tcpB.listen({ port: 80 });
  const client = (ref.client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
  pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
  const server = listener.accept()!;
  const sink = new Sink(server);
  client.setNoDelay(true);
  firstSeq = client.tcb.sndUna;
  const data = patternBytes(bytes, 3);
  pump(client, data);
  pair.sched.runUntil(() => sink.ended, 20_000);
  return { ...pair, client, server, sink, data, sent, firstSeq };
}

describe('retransmission timeout with a SACK scoreboard (RFC 6675 §5.1)', () => {
  it('resends only the hole after the RTO: nothing the peer SACKed goes again', async () => {
    const r = await holeUntilRto(10 * 1000);
    expect(r.sink.ended).toBe(true);
    expect(r.sink.digest()).toBe(sha256(r.data));
    expect(r.client.stats.timeouts).toBe(1);
    const mss = r.client.tcb.sendMss;
    const afterRto = r.sent.filter((s) => s.timeouts > 0);
    // The hole (one segment) went again after the RTO; the SACKed rest did not.
    expect(afterRto.length).toBeGreaterThan(0);
    for (const s of afterRto) expect(s.seq).toBe(r.firstSeq);
    expect(afterRto.reduce((n, s) => n + s.length, 0)).toBeLessThanOrEqual(mss * afterRto.length);
    expect(r.client.stats.rtoSackedSkipped).toBeGreaterThanOrEqual(10 * 1000 - mss);
  });

  it('resends everything when the peer may have reneged (it SACKed SND.UNA without acknowledging it)', async () => {
    const ref: { client?: TcpConnection } = {};
    const sent: Sent[] = [];
    const pair = await filteredTcpPair({
      filterA: {
        // Every data segment is lost until the first RTO: the peer never holds any of it.
        tx: (frame) => {
          const t = tcpFrameInfo(frame);
          const client = ref.client;
          if (t === undefined || t.dst !== B_ADDR || t.payloadLength === 0 || client === undefined) return true;
          sent.push({ seq: t.seq, length: t.payloadLength, timeouts: client.stats.timeouts });
          return client.stats.timeouts > 0;
        },
      },
      tcpA: { rto: { minRtoMs: 200 } },
    });
    const listener = pair.tcpB.listen({ port: 80 });
    const client = (ref.client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
    pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
    const server = listener.accept()!;
    const sink = new Sink(server);
    client.setNoDelay(true);
    const tcb = client.tcb;
    const una = tcb.sndUna;
    const data = patternBytes(4000, 5);
    client.write(data);
    expect(tcb.sndMax - una).toBe(4000);
    // A (forged) ACK from the peer: cumulative ACK at SND.UNA, SACK block from SND.UNA on. The
    // peer says it held those bytes but does not acknowledge them: it reneged (RFC 2018 §8).
    pair.tcpA.input(
      B_ADDR,
      A_ADDR,
      forgedAck(pair.sched.now, server, una, tcb.rcvNxt, [{ left: una, right: (una + 3000) >>> 0 }]),
    );
    expect(tcb.scoreboard.isSacked(una)).toBe(true);
    pair.sched.runUntil(() => sink.received === 4000, 10_000);
    expect(sink.received).toBe(4000);
    expect(sink.digest()).toBe(sha256(data));
    // One RTO sufficed: it went back to SND.UNA and skipped nothing.
    expect(client.stats.timeouts).toBe(1);
    expect(client.stats.rtoSackedSkipped).toBe(0);
    expect(sent.find((s) => s.timeouts > 0)?.seq).toBe(una);
  });
});

describe('RTO after a retransmitted SYN (RFC 6298 §5.7)', () => {
  async function connectDroppingSyns(drop: number) {
    let dropped = 0;
    const pair = await filteredTcpPair({
      filterA: {
        tx: (frame) => {
          const t = tcpFrameInfo(frame);
          if (t === undefined || (t.flags & TcpFlag.SYN) === 0 || dropped >= drop) return true;
          dropped++;
          return false;
        },
      },
    });
    const listener = pair.tcpB.listen({ port: 80 });
    const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 10_000);
    return { ...pair, client, server: listener.accept()! };
  }

  it('is 3 s once the handshake completes when the SYN had to be resent (no RTT sample)', async () => {
    const { client, sched, server } = await connectDroppingSyns(1);
    expect(client.state).toBe('ESTABLISHED');
    expect(client.stats.rtoMs).toBe(TCP_RTO_AFTER_SYN_RETRANSMIT_MS);
    // Data then flows and its first sample replaces the 3 s.
    const sink = new Sink(server);
    client.write(patternBytes(1000, 1));
    sched.advance(50);
    expect(sink.received).toBe(1000);
    expect(client.stats.rtoMs).toBeLessThan(TCP_RTO_AFTER_SYN_RETRANSMIT_MS);
  });

  it('keeps the measured RTO when the SYN went through the first time', async () => {
    const { client } = await connectDroppingSyns(0);
    expect(client.state).toBe('ESTABLISHED');
    expect(client.stats.srttMs).toBeGreaterThan(0);
    expect(client.stats.rtoMs).toBeLessThan(TCP_RTO_AFTER_SYN_RETRANSMIT_MS);
  });
});

/**
 * An ACK as the peer end `server` would send it at `now`, with SACK `blocks` (its timestamp is the
 * peer's current clock, so PAWS passes and later real segments are not refused).
 */
function forgedAck(
  now: number,
  server: TcpConnection,
  ack: number,
  seq: number,
  blocks: Array<{ left: number; right: number }>,
): Uint8Array {
  const s = server.tcb;
  const options = [
    { kind: 'nop' as const },
    { kind: 'nop' as const },
    { kind: 'timestamps' as const, tsVal: (Math.floor(now) + s.tsOffset) >>> 0, tsEcr: 0 },
    { kind: 'nop' as const },
    { kind: 'nop' as const },
    { kind: 'sack' as const, blocks },
  ];
  const repr = {
    srcPort: s.localPort,
    dstPort: s.remotePort,
    seq,
    ack: ack >>> 0,
    flags: TcpFlag.ACK,
    window: 65535 >>> s.rcvWndShift,
    urgentPointer: 0,
    options,
  };
  const out = new Uint8Array(20 + 12 + 4 + 8 * blocks.length);
  emitTcp(repr, out, B_ADDR, A_ADDR, new Uint8Array(0));
  return out;
}
