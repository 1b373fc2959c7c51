/**
 * What a keep-alive exchange costs the scheduler's timer heap: nothing per exchange. Each reply
 * restarts the retransmission timer and each ACK of it stops the timer, but the timer is lazy (its
 * heap entry stays at or before the deadline it stands for), and a request that carries PSH draws no
 * delayed-ACK timer. So the heap changes only with time (a stopped entry fires once, about one RTO
 * after it was armed, and the next reply arms it again), never with the number of exchanges:
 * thousands of back-to-back exchanges inside one RTO leave the heap almost untouched. Virtual clock.
 */
import { describe, expect, it } from 'vitest';
import type { Tcp, TcpConnection } from '../src/index.js';
import type { TcpContext } from '../src/tcp/context.js';
import { DEFAULT_MIN_RTO_MS } from '../src/tcp/rto.js';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
const RESPONSE = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!');
/** No link latency: the in-memory link then delivers frames with no timer of its own (its delay line is unused). */
const LATENCY_MS = 0;
/** Virtual time between one exchange's end and the next request, ms: 2,000 exchanges span 5 minimum RTOs. */
const THINK_MS = 0.5;
/** Exchanges measured. */
const EXCHANGES = 2000;

function drain(conn: TcpConnection, scratch: Uint8Array): number {
  let total = 0;
  for (let n = conn.read(scratch); n > 0; n = conn.read(scratch)) total += n;
  return total;
}

describe('TCP timers on a keep-alive connection', () => {
  it('cost the timer heap nothing per exchange: back-to-back exchanges change it only about once per RTO', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: LATENCY_MS });
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
    const server = listener.accept()!;
    const scratch = new Uint8Array(4096);
    let pending = 0;
    server.onReadable = () => {
      pending += drain(server, scratch);
      for (; pending >= REQUEST.byteLength; pending -= REQUEST.byteLength) server.write(RESPONSE);
    };
    let exchanges = 0;
    let received = 0;
    client.onReadable = () => {
      received += drain(client, scratch);
      for (; received >= RESPONSE.byteLength; received -= RESPONSE.byteLength) exchanges++;
    };
    /** `count` exchanges, each a request, its answer (at the same instant) and {@link THINK_MS} of quiet. */
    const run = (count: number): { updates: number; ms: number } => {
      const updates = sched.stats.timerHeapUpdates;
      const start = sched.now;
      for (let i = 0; i < count; i++) {
        client.write(REQUEST);
        sched.advance(THINK_MS);
      }
      return { updates: sched.stats.timerHeapUpdates - updates, ms: sched.now - start };
    };
    run(50); // RTT samples taken, timers made: the steady state
    const before = exchanges;
    const { updates, ms } = run(EXCHANGES);
    expect(exchanges - before).toBe(EXCHANGES);
    // Two timers (each side's retransmission timer), each with at most two heap changes (its stopped
    // entry fires, the next reply arms it) per minimum RTO; a timer moved on the heap with every
    // reply or ACK would cost thousands here.
    const bound = 2 * 2 * (Math.ceil(ms / DEFAULT_MIN_RTO_MS) + 1);
    expect(updates).toBeLessThanOrEqual(bound);
    expect(updates).toBeLessThan(EXCHANGES / 50);
    expect(server.stats.delayedAckTimeouts + client.stats.delayedAckTimeouts).toBe(0);
  });
});

/** The context behind a `Tcp` facade (its private field). */
function contextOf(tcp: Tcp): TcpContext {
  return (tcp as unknown as { ctx: TcpContext }).ctx;
}

describe('TCP timers of short connections the server closes first (HTTP/1.0)', () => {
  it('a server whose application closes at once never puts a TIME-WAIT on the timer heap; one it holds does', async () => {
    const TIME_WAIT_MS = 60_000;
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 0.2, tcpB: { timeWaitMs: TIME_WAIT_MS } });
    const listener = tcpB.listen({ port: 80 });
    const scratch = new Uint8Array(4096);
    /** Connections whose server-side handle the test keeps open past the peer's FIN (it closes later). */
    const held: TcpConnection[] = [];
    let holdNext = false;
    listener.onConnection = (conn) => {
      const hold = holdNext;
      conn.onReadable = () => {
        if (drain(conn, scratch) === 0) return;
        // The answer and our FIN in one segment (as the HTTP server sends them): FIN-WAIT-1, then
        // the client's FIN+ACK takes us straight to TIME-WAIT (no FIN-WAIT-2 timeout on the idle timer).
        conn.setCork(true);
        conn.write(RESPONSE);
        if (hold) {
          held.push(conn);
          conn.shutdownWrite(); // our FIN goes, but the handle stays open: the TCB stays whole in TIME-WAIT
        } else conn.close();
      };
    };
    const one = (): void => {
      const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
      client.onConnect = () => client.write(REQUEST);
      client.onReadable = () => {
        drain(client, scratch);
        if (client.readableEnded) client.close();
      };
      sched.runUntil(() => client.state === 'CLOSED', 1000);
    };
    const server = contextOf(tcpB);
    const COUNT = 20;
    for (let i = 0; i < COUNT; i++) one();
    // Every server connection became a TIME-WAIT record at once: no whole TIME-WAIT TCB, and no TCB
    // of the server (they are reused, one after another) ever made an idle timer.
    expect(tcpB.timeWaitCount).toBe(COUNT);
    expect(server.timeWait.size).toBe(0);
    expect(server.timeWaitRecords.size).toBe(COUNT);
    expect(server.freeTcbs.length).toBeGreaterThan(0);
    expect(server.freeTcbs.every((t) => t.idleTimer === undefined)).toBe(true);
    // One the application holds stays a whole TCB, with its 2*MSL on its idle timer.
    holdNext = true;
    one();
    expect(held).toHaveLength(1);
    expect(held[0]!.state).toBe('TIME-WAIT');
    expect(server.timeWait.size).toBe(1);
    const whole = server.timeWait.oldest!;
    expect(whole.idleTimer?.active).toBe(true);
    expect(whole.idleTimer?.deadline).toBeCloseTo(sched.now + TIME_WAIT_MS, 0);
    // 2*MSL later every one of them has ended, records and the whole TCB alike, and no TCP timer runs.
    sched.advance(TIME_WAIT_MS + 10);
    expect(held[0]!.state).toBe('CLOSED');
    expect(tcpB.timeWaitCount).toBe(0);
    expect(tcpB.connectionCount).toBe(0);
    expect(whole.idleTimer?.active).toBe(false);
    expect(server.freeTcbs.every((t) => t.idleTimer?.active !== true && t.rtxTimer?.active !== true)).toBe(true);
  });
});
