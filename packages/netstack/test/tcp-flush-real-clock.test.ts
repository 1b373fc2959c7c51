/**
 * On a real clock, the ACK a request is owed "soon" waits for the next host turn: a reply the
 * application writes from a promise continuation (as the `net` face does) carries it and withdraws
 * the end-of-batch flush, and with no reply the flush sends it, not the delayed-ACK timer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
const RESPONSE = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

/** Resolves when `check()` holds, polling the event loop; rejects after `ms`. */
async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(1);
  }
}

/** Three requests on one connection; the server reads (and, with `answer`, replies) from a promise continuation. */
async function keepAliveRequests(answer: boolean) {
  const { sched, tcpA, tcpB } = await tcpPair({ realClock: true });
  try {
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    await until(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED');
    const server = listener.accept()!;
    const scratch = new Uint8Array(4096);
    let received = 0;
    server.onReadable = () =>
      void Promise.resolve().then(() => {
        const n = server.read(scratch);
        received += n;
        if (answer && n > 0) server.write(RESPONSE);
      });
    let answered = 0;
    client.onReadable = () => {
      answered += client.read(scratch);
    };
    const before = server.stats.segmentsOut;
    for (let i = 1; i <= 3; i++) {
      client.write(REQUEST);
      await until(() => received === i * REQUEST.byteLength && server.stats.segmentsOut - before === i);
      if (answer) await until(() => answered === i * RESPONSE.byteLength);
    }
    await sleep(5);
    return { client, server, sent: server.stats.segmentsOut - before };
  } finally {
    sched.stop();
  }
}

describe('the ACK owed at the end of a receive batch, on a real clock', () => {
  it('rides on a reply written from a promise continuation: one segment per request', async () => {
    const r = await keepAliveRequests(true);
    expect(r.sent).toBe(3);
    expect(r.server.stats.delayedAckTimeouts).toBe(0);
    expect(r.client.stats.retransmits).toBe(0);
  });

  it('goes out alone in the next host turn when the application does not answer', async () => {
    const r = await keepAliveRequests(false);
    expect(r.sent).toBe(3);
    expect(r.server.stats.delayedAckTimeouts).toBe(0);
    expect(r.client.stats.retransmits).toBe(0);
  });
});
