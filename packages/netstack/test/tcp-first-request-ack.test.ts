/**
 * The first request of a new connection: its ACK rides on the response when the application reads
 * and answers later in the same receive batch (as a `net`-style face does, from a deferred task), even
 * though that first read opens the handshake's unscaled 64 KiB window to the scaled receive buffer.
 * An application that never answers still gets the request acknowledged at the end of the batch.
 */
import { describe, expect, it } from 'vitest';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET /small HTTP/1.0\r\n\r\n');
const RESPONSE = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

/** A connected pair whose server reads (and, with `answer`, replies) from a task deferred out of `onReadable`. */
async function firstRequest(answer: boolean) {
  const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 0.1, tcpB: { receiveBufferSize: 256 * 1024 } });
  const listener = tcpB.listen({ port: 80 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!;
  const scratch = new Uint8Array(4096);
  let received = 0;
  server.onReadable = () =>
    sched.defer(() => {
      received += server.read(scratch);
      if (answer && received === REQUEST.byteLength) server.write(RESPONSE);
    });
  let answered = 0;
  client.onReadable = () => {
    answered += client.read(scratch);
  };
  const before = server.stats.segmentsOut;
  expect(client.write(REQUEST)).toBe(REQUEST.byteLength);
  sched.advance(5);
  return { client, server, received, answered, sent: server.stats.segmentsOut - before };
}

describe('the first request after the handshake', () => {
  it('is acknowledged by the response: one segment from the server, no ACK of its own', async () => {
    const r = await firstRequest(true);
    expect(r.received).toBe(REQUEST.byteLength);
    expect(r.answered).toBe(RESPONSE.byteLength);
    expect(r.sent).toBe(1);
    expect(r.client.stats.retransmits).toBe(0);
  });

  it('is acknowledged at the end of the batch when the application does not answer', async () => {
    const r = await firstRequest(false);
    expect(r.received).toBe(REQUEST.byteLength);
    expect(r.sent).toBe(1);
    expect(r.client.stats.retransmits).toBe(0);
  });
});
