/**
 * The answer after which the server closes (HTTP/1.0 without keep-alive, `Connection: close`) leaves
 * with the server's FIN in one TCP segment when the handler ends it at once, as a C stack sends it:
 * the connection corks the socket for the turn in which it writes that answer, and `end()` queues the
 * FIN before anything went out. An answer that goes on in later turns is not held back by the cork:
 * it streams, then the FIN follows. Over Postern sockets (two stacks on a memory link, real clock).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { memoryPair, waitFor } from '@postern/netlab';
import { Sockets, createNet, type Socket, type TcpEntry } from '@postern/socket';
import { parseIpv4 } from '@postern/wire';
import { HttpServer, type HttpRequest, type HttpResponse } from '../src/index.js';

const CLIENT_IP = '198.18.0.1';
const SERVER_IP = '198.18.0.2';
const BODY = 'x'.repeat(97) + '\n';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

/** An HTTP server on a Postern stack; `ask` sends raw request bytes and resolves with the whole answer and the server's segment count for it. */
async function serve(handler: (req: HttpRequest, res: HttpResponse) => void) {
  const sched = new Scheduler({ clock: 'real', seed: 5 });
  const pair = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    tag: 'c',
    rxRingCapacity: 1024,
    addresses: [CLIENT_IP, SERVER_IP],
  });
  const serverSockets = new Sockets(pair.b, attachTcp(pair.b));
  const clientNet = createNet(new Sockets(pair.a, attachTcp(pair.a)));
  const listener = createNet(serverSockets).createServer({ allowHalfOpen: true });
  const accepted: Socket[] = [];
  listener.on('connection', (s: Socket) => accepted.push(s));
  await new Promise<void>((resolve) => listener.listen(0, SERVER_IP, () => resolve()));
  const http = new HttpServer(handler).attach(listener as never);
  stops.push(async () => {
    await http.close();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    sched.stop();
    await pair.devA.close();
    await pair.devB.close();
  });
  const port = listener.address()!.port;

  return async (request: string): Promise<{ answer: string; segments: number }> => {
    const client = clientNet.connect({ port, host: SERVER_IP, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await waitFor('the accepted socket', () => accepted.length > 0, 5000, 2);
    const conn = (serverSockets.entry(accepted.shift()!.fd!, 'send') as TcpEntry).conn!;
    // The handshake's last ACK and anything owed settle before counting.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = conn.stats.segmentsOut;
    const chunks: Buffer[] = [];
    let ended = false;
    let segments = -1;
    client.on('data', (c: Buffer) => chunks.push(c));
    client.on('end', () => {
      ended = true;
      // Counted before our FIN goes back (the server's ACK of it is not part of the answer).
      segments = conn.stats.segmentsOut - before;
      client.end();
    });
    client.write(request);
    await waitFor("the server's FIN", () => ended, 5000, 2);
    return { answer: Buffer.concat(chunks).toString('latin1'), segments };
  };
}

describe('the answer before the server closes', () => {
  it('leaves with the FIN in one segment (HTTP/1.0)', async () => {
    const ask = await serve((_req, res) => res.end(BODY));
    const r = await ask('GET / HTTP/1.0\r\n\r\n');
    expect(r.answer.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(r.answer).toContain('Connection: close\r\n');
    expect(r.answer.endsWith(`\r\n\r\n${BODY}`)).toBe(true);
    expect(r.segments).toBe(1);
  });

  it('leaves with the FIN in one segment (HTTP/1.1, Connection: close), head and body written apart', async () => {
    const ask = await serve((_req, res) => {
      res.setHeader('Content-Length', String(BODY.length));
      res.write(BODY.slice(0, 10));
      res.end(BODY.slice(10));
    });
    const r = await ask('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(r.answer.endsWith(`\r\n\r\n${BODY}`)).toBe(true);
    expect(r.segments).toBe(1);
  });

  it('streams when it goes on in later turns, then the FIN follows', async () => {
    const ask = await serve((_req, res) => {
      res.write('first ');
      setTimeout(() => {
        res.write('second ');
        setTimeout(() => res.end('last'), 5);
      }, 5);
    });
    const r = await ask('GET / HTTP/1.0\r\n\r\n');
    expect(r.answer.endsWith('\r\n\r\nfirst second last')).toBe(true);
    expect(r.segments).toBeGreaterThanOrEqual(3);
  });

  it('a keep-alive answer is not corked: the connection stays open', async () => {
    let answered = 0;
    const ask = await serve((_req, res) => {
      answered++;
      res.end(BODY);
    });
    // The second request asks to close: both answers arrive, then the FIN.
    const r = await ask('GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(answered).toBe(2);
    expect(r.answer.split('HTTP/1.1 200 OK').length - 1).toBe(2);
  });
});
