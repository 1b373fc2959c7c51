/**
 * The HTTP layer on Node's `net`: requests per second and latency of `@postern/http` beside Node's own
 * `http` serving the same 13-byte response on the same transport (loopback), alternating in one run.
 *
 * Load generator (in this process, the same for both servers): raw HTTP/1.1 requests over `node:net`.
 * - keep-alive: {@link KEEPALIVE_CONNECTIONS} persistent connections, each one request in flight at a
 *   time (no pipelining); a response is counted when its bytes are complete (its length is learnt from
 *   the first response, which is fixed-size for both servers). Latency p50/p99 per request.
 * - new connection per request: {@link SHORT_CONNECTIONS} loops, each connect, one request with
 *   `Connection: close`, read to the server's close, repeat.
 * Bounded: every sample stops after its `budgetMs` (at most {@link MAX_REQUESTS_PER_SAMPLE} requests).
 */
import { createServer as createNodeHttpServer, type Server as NodeHttpServer } from 'node:http';
import { createConnection, type AddressInfo, type Socket } from 'node:net';
import { HttpServer } from '@postern/http';
import type { Benchmark, Figure } from './harness.js';

/** Persistent connections of the keep-alive load. */
export const KEEPALIVE_CONNECTIONS = 32;
/** Concurrent connect-request-close loops of the short-connection load. */
export const SHORT_CONNECTIONS = 8;
/** Most requests one sample sends. */
export const MAX_REQUESTS_PER_SAMPLE = 2_000_000;
const BODY = 'Hello, world!';
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n', 'latin1');
const REQUEST_CLOSE = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n', 'latin1');

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Learns the fixed response length of a server (one request on a fresh connection). */
async function responseLength(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && m !== null && data.length >= end + 4 + Number(m[1])) {
        socket.destroy();
        resolve(end + 4 + Number(m[1]));
      }
    });
    socket.write(REQUEST);
  });
}

async function keepAliveLoad(port: number, responseBytes: number, budgetMs: number): Promise<LoadResult> {
  const latencies = new Float64Array(MAX_REQUESTS_PER_SAMPLE);
  let count = 0;
  let stop = false;
  const started = performance.now();
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: KEEPALIVE_CONNECTIONS }, () => {
      return new Promise<void>((resolve, reject) => {
        const socket = createConnection({ port, host: '127.0.0.1', noDelay: true });
        sockets.push(socket);
        let pending = 0;
        let sentAt = 0;
        const send = (): void => {
          if (stop || count >= MAX_REQUESTS_PER_SAMPLE || performance.now() - started >= budgetMs) {
            stop = true;
            resolve();
            return;
          }
          sentAt = performance.now();
          pending = responseBytes;
          socket.write(REQUEST);
        };
        socket.on('connect', send);
        socket.on('error', reject);
        socket.on('data', (chunk) => {
          pending -= chunk.length;
          if (pending > 0) return;
          if (pending < 0) reject(new Error('response longer than expected'));
          if (count < MAX_REQUESTS_PER_SAMPLE) latencies[count] = performance.now() - sentAt;
          count++;
          send();
        });
      });
    }),
  );
  const elapsed = performance.now() - started;
  for (const socket of sockets) socket.destroy();
  const sorted = latencies.subarray(0, Math.min(count, MAX_REQUESTS_PER_SAMPLE)).sort();
  return { rps: (count / elapsed) * 1000, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function shortConnectionLoad(port: number, budgetMs: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  const loop = async (): Promise<void> => {
    while (performance.now() - started < budgetMs && count < MAX_REQUESTS_PER_SAMPLE) {
      await new Promise<void>((resolve, reject) => {
        const socket = createConnection({ port, host: '127.0.0.1', noDelay: true }, () => socket.write(REQUEST_CLOSE));
        let bytes = 0;
        socket.on('data', (chunk) => (bytes += chunk.length));
        socket.on('error', reject);
        socket.on('close', () => {
          if (bytes > 0) count++;
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: SHORT_CONNECTIONS }, loop));
  return (count / (performance.now() - started)) * 1000;
}

interface Target {
  port: number;
  responseBytes: number;
  last: LoadResult;
}

let postern: HttpServer | undefined;
let nodeHttp: NodeHttpServer | undefined;
const ours: Target = { port: 0, responseBytes: 0, last: { rps: 0, p50: 0, p99: 0 } };
const theirs: Target = { port: 0, responseBytes: 0, last: { rps: 0, p50: 0, p99: 0 } };

async function keepAliveSample(target: Target, budgetMs: number): Promise<number> {
  target.last = await keepAliveLoad(target.port, target.responseBytes, budgetMs);
  return target.last.rps;
}

/** See the module comment. */
export const httpBenchmark: Benchmark = {
  name: 'http',
  description:
    '@postern/http on node:net vs node:http on node:net, same 13-byte response, loopback, same load generator',
  sampleMs: 1000,
  maxSamples: 5,
  async setup() {
    postern = new HttpServer((_req, res) => res.send(BODY, 'text/plain'), { wallTime: () => Date.now() });
    ours.port = (await postern.listen(0, '127.0.0.1')).port;
    nodeHttp = createNodeHttpServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(BODY);
    });
    const server = nodeHttp;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    theirs.port = (server.address() as AddressInfo).port;
    ours.responseBytes = await responseLength(ours.port);
    theirs.responseBytes = await responseLength(theirs.port);
  },
  async teardown() {
    await postern?.close();
    const server = nodeHttp;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    postern = undefined;
    nodeHttp = undefined;
  },
  figures(): Figure[] {
    return [
      {
        name: `keep-alive ${KEEPALIVE_CONNECTIONS} conns req/s`,
        unit: 'req/s',
        sample: (budgetMs) => keepAliveSample(ours, budgetMs),
        reference: { name: 'node:http keep-alive', sample: (budgetMs) => keepAliveSample(theirs, budgetMs) },
        companions: [
          {
            name: 'keep-alive latency p50',
            unit: 'ms',
            read: () => ours.last.p50,
            readReference: () => theirs.last.p50,
          },
          {
            name: 'keep-alive latency p99',
            unit: 'ms',
            read: () => ours.last.p99,
            readReference: () => theirs.last.p99,
          },
        ],
      },
      {
        name: `new connection per request (${SHORT_CONNECTIONS} loops) req/s`,
        unit: 'req/s',
        sample: (budgetMs) => shortConnectionLoad(ours.port, budgetMs),
        reference: {
          name: 'node:http new connection per request',
          sample: (budgetMs) => shortConnectionLoad(theirs.port, budgetMs),
        },
      },
    ];
  },
};
