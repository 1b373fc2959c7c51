/**
 * What one connection and one varied request cost the HTTP layer alone, without TCP or a kernel:
 * `@postern/http` (its server, pool, router-less static handler with its file cache) beside Node's own
 * `http` server, both fed by in-memory `Duplex` transports in this process, in the same run, answering
 * `GET /small` with the same 98 bytes and validators.
 *
 * | figure | reference |
 * |---|---|
 * | short HTTP/1.0 connections/s, one at a time: a fresh transport, one request, the server's FIN, the client's | Node `http` (`server.emit('connection', duplex)`) |
 * | keep-alive requests/s over {@link COST_CONNECTIONS} connections whose heads all differ (query string, cookie, user agent), as a browser's do | Node `http`, the same heads |
 *
 * The first is the per-connection set-up and tear-down of the server (connection, parser, deadlines,
 * pool bookkeeping, the close after the answer); the second the general request path, which the
 * repeated-head shortcut does not help. Higher is better; the ratio (Postern / Node) is the figure to
 * quote. Bounded: each sample stops after its budget.
 */
import type { Benchmark } from './harness.js';
import {
  closeSmallFileServers,
  keepBusy,
  MemoryTransport,
  startSmallFileServers,
  type SmallFileServers,
} from './http-memory-rig.js';

/** How long both servers keep an idle keep-alive connection (longer than a whole run). */
const IDLE_MS = 600_000;

/** Keep-alive connections of the varied-heads load, each with one request in flight. */
export const COST_CONNECTIONS = 32;

const SHORT_REQUEST = Buffer.from(
  'GET /small HTTP/1.0\r\nHost: 198.18.23.2\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n',
  'latin1',
);

/** The `n`th varied request: its query string, cookie and user agent differ from its neighbours'. */
function variedRequest(n: number): Buffer {
  return Buffer.from(
    `GET /small?v=${n} HTTP/1.1\r\nHost: 198.18.23.2\r\nUser-Agent: Mozilla/5.0 (bench ${n % 13})\r\n` +
      `Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=s${n % 97}; theme=dark\r\n\r\n`,
    'latin1',
  );
}

/** Where a side's connections come from. */
interface Side {
  accept(transport: MemoryTransport): void;
  readonly keepAlive: MemoryTransport[];
}

/** Short connections one after another for `budgetMs`; returns connections/s. */
function shortSample(side: Side, budgetMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let n = 0;
    const next = (): void => {
      const transport = new MemoryTransport();
      side.accept(transport);
      transport.shortExchange(SHORT_REQUEST, () => {
        n++;
        // The next connection starts after this turn (the servers finish the close first, as over TCP).
        if (performance.now() - t0 < budgetMs) setImmediate(next);
        else resolve(n / ((performance.now() - t0) / 1000));
      });
    };
    next();
  });
}

let variedCount = 0;

/** Keeps every keep-alive connection busy with varied heads for `budgetMs`; returns requests/s. */
function variedSample(side: Side, budgetMs: number): Promise<number> {
  // The count runs on across samples, so no head repeats one of an earlier sample either.
  return keepBusy(side.keepAlive, budgetMs, () => variedRequest(variedCount++));
}

interface Rig extends SmallFileServers {
  readonly ours: Side;
  readonly theirs: Side;
}
let rig: Rig | undefined;

function need(): Rig {
  if (rig === undefined) throw new Error('http-connection-cost benchmark: setup did not run');
  return rig;
}

/** Short connections and varied keep-alive heads on the HTTP layer alone, Postern beside Node `http`. */
export const httpConnectionCostBenchmark: Benchmark = {
  name: 'http-connection-cost',
  description:
    'the HTTP layer alone over in-memory Duplexes, per connection (short HTTP/1.0 connections) and per varied request (keep-alive heads that all differ): @postern/http beside Node http, same 98 bytes',
  sampleMs: 500,
  async setup() {
    // The keep-alive connections wait while the short-connection figure runs: no idle close.
    const servers = startSmallFileServers('postern-http-cost-', IDLE_MS);
    const { postern, node } = servers;
    const ours: Side = { accept: (t) => postern.handleConnection(t), keepAlive: [] };
    const theirs: Side = { accept: (t) => node.emit('connection', t), keepAlive: [] };
    for (const side of [ours, theirs]) {
      for (let i = 0; i < COST_CONNECTIONS; i++) {
        const t = new MemoryTransport();
        side.accept(t);
        side.keepAlive.push(t);
      }
    }
    rig = { ...servers, ours, theirs };
    // Warm: the file cache, the response lengths, both servers' first connections.
    await variedSample(ours, 0);
    await variedSample(theirs, 0);
    await shortSample(ours, 0);
    await shortSample(theirs, 0);
  },
  async teardown() {
    const r = rig;
    rig = undefined;
    if (r !== undefined) await closeSmallFileServers(r, [...r.ours.keepAlive, ...r.theirs.keepAlive]);
  },
  figures: () => [
    {
      name: 'short HTTP/1.0 connections, one at a time (in-memory)',
      unit: 'conn/s',
      sample: (budgetMs) => shortSample(need().ours, budgetMs),
      reference: {
        name: 'node:http same connections',
        sample: (budgetMs) => shortSample(need().theirs, budgetMs),
      },
    },
    {
      name: `keep-alive, every head different (${COST_CONNECTIONS} in-memory connections)`,
      unit: 'req/s',
      sample: (budgetMs) => variedSample(need().ours, budgetMs),
      reference: {
        name: 'node:http same heads',
        sample: (budgetMs) => variedSample(need().theirs, budgetMs),
      },
    },
  ],
};
