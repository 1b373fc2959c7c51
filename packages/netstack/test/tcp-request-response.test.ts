/**
 * Nagle plus delayed ACK on request/response traffic (RFC 1122 §4.2.3.2, §4.2.3.4): with Nagle on at
 * both ends (the default) and the delayed-ACK timer at its default, a keep-alive exchange where the
 * client writes its request in two small pieces and the server answers with a head write then a
 * body write (as the HTTP server does) never waits for the delayed-ACK timer. Virtual clock, so each
 * exchange's duration is exact.
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
  for (let i = 0; i < EXCHANGES; i++) {
    // Idle long enough for every timer (delayed ACK included) to have fired: each exchange starts cold.
    sched.advance(2 * TCP_DEFAULT_DELAYED_ACK_MS);
    responseBytes = 0;
    const start = sched.now;
    expect(client.write(REQUEST_A)).toBe(REQUEST_A.byteLength);
    expect(client.write(REQUEST_B)).toBe(REQUEST_B.byteLength);
    expect(sched.runUntil(() => responseBytes === RESPONSE_LENGTH, 1000)).toBe(true);
    durations.push(sched.now - start);
  }
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
