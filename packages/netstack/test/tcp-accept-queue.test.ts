import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../src/index.js';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

describe('TcpListener accept queue and onAcceptable (virtual clock)', () => {
  it('onAcceptable fires when the queue becomes non-empty, not again until accept emptied it', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, backlog: 8 });
    const seen: number[] = [];
    listener.onAcceptable = () => seen.push(listener.acceptQueue.length);
    tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(20);
    expect(seen).toEqual([1]);
    tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(20);
    expect(seen).toEqual([1]); // still non-empty: no new edge
    expect(listener.acceptQueue).toHaveLength(2);
    expect(listener.accept()).toBeDefined();
    expect(listener.accept()).toBeDefined();
    tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(20);
    expect(seen).toEqual([1, 1]);
    expect(listener.stats.accepted).toBe(2);
  });

  it('TCP bounds the queue itself: beyond the backlog the final ACK is dropped and the handshake completes after accept makes room', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, backlog: 2 });
    let wakes = 0;
    listener.onAcceptable = () => wakes++;
    const clients = [0, 1, 2, 3].map(() => tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
    sched.advance(200);
    expect(listener.acceptQueue).toHaveLength(2);
    expect(listener.stats.acceptQueueDrops).toBeGreaterThan(0);
    expect(wakes).toBe(1);
    const accepted: TcpConnection[] = [];
    for (let c = listener.accept(); c !== undefined; c = listener.accept()) accepted.push(c);
    expect(accepted).toHaveLength(2);
    sched.advance(10_000); // SYN-ACK retransmissions complete the others
    expect(wakes).toBe(2);
    for (let c = listener.accept(); c !== undefined; c = listener.accept()) accepted.push(c);
    expect(accepted).toHaveLength(4);
    expect(new Set(accepted.map((c) => c.remotePort))).toEqual(new Set(clients.map((c) => c.localPort)));
    expect(clients.every((c) => c.state === 'ESTABLISHED')).toBe(true);
  });

  it('a larger backlog set on an open listener lets more connections wait', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, backlog: 1 });
    for (let i = 0; i < 3; i++) tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(200);
    expect(listener.acceptQueue).toHaveLength(1);
    listener.setAcceptBacklog(3);
    expect(listener.acceptBacklog).toBe(3);
    sched.advance(10_000);
    expect(listener.acceptQueue).toHaveLength(3);
    expect(() => listener.setAcceptBacklog(0)).toThrow(RangeError);
  });

  it('onAcceptable may accept (and close) at once; onConnection, when set, takes precedence', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80 });
    const taken: TcpConnection[] = [];
    listener.onAcceptable = () => {
      for (let c = listener.accept(); c !== undefined; c = listener.accept()) {
        taken.push(c);
        c.close();
      }
    };
    const first = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(50);
    expect(taken).toHaveLength(1);
    expect(first.state).toBe('CLOSE-WAIT');
    let handed = 0;
    listener.onConnection = () => handed++;
    tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(50);
    expect(handed).toBe(1);
    expect(taken).toHaveLength(1);
    expect(listener.acceptQueue).toHaveLength(0);
  });
});
