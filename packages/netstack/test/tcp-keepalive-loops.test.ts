/**
 * 32 keep-alive request/response loops at once over the in-memory link, on the virtual clock (the
 * load of `wrk -c32` against a small static file): each client sends its next request as soon as
 * the whole response arrived, the server answers from `onReadable` or one scheduler tick later (as
 * a server that consults a cache first). No exchange may wait for a timer: none takes longer than
 * a few link round trips, no delayed-ACK timer sends anything, Nagle never holds a response, and no
 * probe or retransmission timeout fires.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../src/index.js';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET /small HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n');
/** A 98-byte body behind its response head. */
const RESPONSE = new Uint8Array(98 + 160).fill(0x41);
const LOOPS = 32;
/** One-way link latency, ms (a round trip is 0.1 ms). */
const LATENCY_MS = 0.05;
/** Virtual time the loops run, ms. */
const RUN_MS = 20;
/** Far above one exchange (a round trip plus a tick), far below any TCP timer (10 ms and up). */
const EXCHANGE_BOUND_MS = 2;
const STALL_COUNTERS = [
  'delayedAckTimeouts',
  'nagleHeld',
  'tailLossProbes',
  'rtoExpiries',
  'rackReorderTimeouts',
] as const;

function drain(conn: TcpConnection, scratch: Uint8Array): number {
  let total = 0;
  for (let n = conn.read(scratch); n > 0; n = conn.read(scratch)) total += n;
  return total;
}

async function loops(replyAfterTick: boolean) {
  const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: LATENCY_MS, seed: 17 });
  const listener = tcpB.listen({ port: 80, backlog: LOOPS });
  const scratch = new Uint8Array(4096);
  listener.onConnection = (server) => {
    let pending = 0;
    const reply = (): void => {
      expect(server.write(RESPONSE)).toBe(RESPONSE.byteLength);
    };
    server.onReadable = () => {
      pending += drain(server, scratch);
      for (; pending >= REQUEST.byteLength; pending -= REQUEST.byteLength) {
        if (replyAfterTick) sched.timerAfter(0, reply);
        else reply();
      }
    };
  };
  const durations: number[] = [];
  for (let i = 0; i < LOOPS; i++) {
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    let received = 0;
    let sentAt = 0;
    const request = (): void => {
      sentAt = sched.now;
      expect(client.write(REQUEST)).toBe(REQUEST.byteLength);
    };
    client.onConnect = request;
    client.onReadable = () => {
      received += drain(client, scratch);
      if (received < RESPONSE.byteLength) return;
      received -= RESPONSE.byteLength;
      durations.push(sched.now - sentAt);
      request();
    };
  }
  sched.advance(RUN_MS);
  const stalls = STALL_COUNTERS.map((name) => `${name} ${tcpA.counters.get(name)}/${tcpB.counters.get(name)}`);
  return { durations, stalls };
}

describe('32 concurrent keep-alive request/response loops', () => {
  for (const replyAfterTick of [false, true]) {
    it(`never wait for a timer (reply ${replyAfterTick ? 'one tick after the request' : 'from onReadable'})`, async () => {
      const { durations, stalls } = await loops(replyAfterTick);
      // Every loop made many exchanges (a timer wait of 10 ms or more would cut this by orders of magnitude).
      expect(durations.length).toBeGreaterThan(LOOPS * (RUN_MS / EXCHANGE_BOUND_MS));
      expect(Math.max(...durations)).toBeLessThan(EXCHANGE_BOUND_MS);
      expect(stalls).toEqual(STALL_COUNTERS.map((name) => `${name} 0/0`));
    });
  }
});
