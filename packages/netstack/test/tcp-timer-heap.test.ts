/**
 * What a keep-alive exchange costs the scheduler's timer heap: nothing per exchange. Each reply
 * restarts the retransmission timer and each ACK of it stops the timer, but the timer is lazy (its
 * heap entry stays at or before the deadline it stands for), and a request that carries PSH draws no
 * delayed-ACK timer. So the heap changes only with time (a stopped entry fires once, about one RTO
 * after it was armed, and the next reply arms it again), never with the number of exchanges:
 * thousands of back-to-back exchanges inside one RTO leave the heap almost untouched. Virtual clock.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../src/index.js';
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
