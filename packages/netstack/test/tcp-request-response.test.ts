/**
 * Nagle plus delayed ACK on request/response traffic (RFC 1122 §4.2.3.2, §4.2.3.4): with Nagle on at
 * both ends (the default) and the delayed-ACK timer at its default, a keep-alive exchange where the
 * client writes its request in two small pieces and the server answers with a head write then a
 * body write (as the HTTP server does) never waits for the delayed-ACK timer. Virtual clock, so each
 * exchange's duration is exact; the `delayedAckTimeouts` and `nagleHeld` counters say why: inside an
 * exchange no delayed-ACK timer fires, and each side's Nagle holds exactly its second small write
 * once (until the ACK its first write draws), counted once per hold.
 */
import { describe, expect, it } from 'vitest';
import { TCP_DEFAULT_DELAYED_ACK_MS, type TcpConnection } from '../src/index.js';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST_A = new TextEncoder().encode('GET /hello.txt HTTP/1.1\r\n');
const REQUEST_B = new TextEncoder().encode('Host: x\r\n\r\n');
const REQUEST_LENGTH = REQUEST_A.byteLength + REQUEST_B.byteLength;
const HEAD = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n');
const BODY = new TextEncoder().encode('Hello, world!');
const RESPONSE_LENGTH = HEAD.byteLength + BODY.byteLength;
const EXCHANGES = 20;
/** One-way link latency, ms: an exchange needs a few round trips of 2 * this. */
const LATENCY_MS = 0.2;
/** Far under the delayed-ACK time, far over a few round trips. */
const EXCHANGE_BOUND_MS = 5;

/** Reads everything readable from `conn`; returns the byte count. */
function drain(conn: TcpConnection, scratch: Uint8Array): number {
  let total = 0;
  for (;;) {
    const n = conn.read(scratch);
    if (n === 0) return total;
    total += n;
  }
}

/**
 * Runs {@link EXCHANGES} request/response exchanges over one connection; the server answers at once
 * from `onReadable` (`deferReply` false) or from a timer one tick later (as a server that reads a file first).
 * @returns each exchange's duration in virtual ms.
 */
async function exchanges(deferReply: boolean): Promise<number[]> {
  const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: LATENCY_MS });
  const listener = tcpB.listen({ port: 80 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!;
  const stallCounters = (): number[] => [
    client.stats.delayedAckTimeouts,
    server.stats.delayedAckTimeouts,
    tcpA.counters.get('delayedAckTimeouts'),
    tcpB.counters.get('delayedAckTimeouts'),
  ];
  const scratch = new Uint8Array(4096);
  let requestBytes = 0;
  const reply = (): void => {
    expect(server.write(HEAD)).toBe(HEAD.byteLength);
    expect(server.write(BODY)).toBe(BODY.byteLength);
  };
  server.onReadable = () => {
    requestBytes += drain(server, scratch);
    if (requestBytes < REQUEST_LENGTH) return;
    requestBytes -= REQUEST_LENGTH;
    if (deferReply) sched.timerAfter(0, reply);
    else reply();
  };
  let responseBytes = 0;
  client.onReadable = () => {
    responseBytes += drain(client, scratch);
  };
  const durations: number[] = [];
  const nagleBefore = [
    client.stats.nagleHeld,
    server.stats.nagleHeld,
    tcpA.counters.get('nagleHeld'),
    tcpB.counters.get('nagleHeld'),
  ];
  for (let i = 0; i < EXCHANGES; i++) {
    // Idle long enough for every timer (delayed ACK included) to have fired: each exchange starts cold.
    sched.advance(2 * TCP_DEFAULT_DELAYED_ACK_MS);
    responseBytes = 0;
    const start = sched.now;
    const stallsBefore = stallCounters();
    expect(client.write(REQUEST_A)).toBe(REQUEST_A.byteLength);
    expect(client.write(REQUEST_B)).toBe(REQUEST_B.byteLength);
    expect(sched.runUntil(() => responseBytes === RESPONSE_LENGTH, 1000)).toBe(true);
    durations.push(sched.now - start);
    // Delayed-ACK timers fire only in the idle gap between exchanges (for the response's ACK), never inside one.
    expect(stallCounters()).toEqual(stallsBefore);
  }
  // Each side holds its second write once per exchange: the request's second piece and the reply's body.
  expect([
    client.stats.nagleHeld,
    server.stats.nagleHeld,
    tcpA.counters.get('nagleHeld'),
    tcpB.counters.get('nagleHeld'),
  ]).toEqual(nagleBefore.map((n) => n + EXCHANGES));
  expect(client.stats.retransmits + server.stats.retransmits).toBe(0);
  return durations;
}

describe('TCP request/response with Nagle and delayed ACK at their defaults', () => {
  it('a two-piece request and a head-then-body reply written from onReadable never wait for the delayed-ACK timer', async () => {
    const durations = await exchanges(false);
    expect(Math.max(...durations)).toBeLessThan(EXCHANGE_BOUND_MS);
  });

  it('the same with the reply written one scheduler tick after the request arrived', async () => {
    const durations = await exchanges(true);
    expect(Math.max(...durations)).toBeLessThan(EXCHANGE_BOUND_MS);
  });
});

describe('the stall counters', () => {
  /**
   * The classic stall, made on purpose: a write of one full segment plus a runt. The receiver owes
   * an ACK for a full segment without PSH and delays it (once its quick-ACK start is spent); Nagle
   * holds the runt until that ACK. `noDelay` removes the hold and with it the delayed-ACK wait.
   */
  async function fullSegmentPlusRunt(noDelay: boolean) {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: LATENCY_MS });
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
    const server = listener.accept()!;
    server.setNoDelay(noDelay);
    const scratch = new Uint8Array(4096);
    let received = 0;
    client.onReadable = () => {
      received += drain(client, scratch);
    };
    // Spend the receiver's quick ACKs (one per data segment at connection start) with one-byte writes.
    for (let i = 0; i < 20; i++) {
      expect(server.write(new Uint8Array(1))).toBe(1);
      expect(sched.runUntil(() => received === i + 1, 1000)).toBe(true);
    }
    sched.advance(2 * TCP_DEFAULT_DELAYED_ACK_MS);
    const before = {
      held: server.stats.nagleHeld,
      timeouts: client.stats.delayedAckTimeouts,
      stackTimeouts: tcpA.counters.get('delayedAckTimeouts'),
    };
    // More than one MSS (1448 or 1460 at MTU 1500), less than two: a full segment and a runt.
    const size = 2000;
    received = 0;
    const start = sched.now;
    expect(server.write(new Uint8Array(size))).toBe(size);
    expect(sched.runUntil(() => received === size, 1000)).toBe(true);
    return {
      elapsed: sched.now - start,
      nagleHeld: server.stats.nagleHeld - before.held,
      delayedAckTimeouts: client.stats.delayedAckTimeouts - before.timeouts,
      stackDelayedAckTimeouts: tcpA.counters.get('delayedAckTimeouts') - before.stackTimeouts,
    };
  }

  it('count one Nagle hold and one delayed-ACK timeout for a runt behind an unacknowledged full segment', async () => {
    const r = await fullSegmentPlusRunt(false);
    expect(r).toMatchObject({ nagleHeld: 1, delayedAckTimeouts: 1, stackDelayedAckTimeouts: 1 });
    expect(r.elapsed).toBeGreaterThanOrEqual(TCP_DEFAULT_DELAYED_ACK_MS);
  });

  it('stay at 0 with noDelay on the sender', async () => {
    const r = await fullSegmentPlusRunt(true);
    expect(r).toMatchObject({ nagleHeld: 0, delayedAckTimeouts: 0, stackDelayedAckTimeouts: 0 });
    expect(r.elapsed).toBeLessThan(EXCHANGE_BOUND_MS);
  });
});
