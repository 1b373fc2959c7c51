/**
 * The HTTP layer alone, without TCP or a kernel: `@postern/http` (its server, a worker pool, the
 * static handler with its file cache) beside Node's own `http` server, both fed by the same in-memory
 * `Duplex` transport in this process, in the same run. Both answer `GET /small` with the same 98
 * bytes and the same validators (`ETag`, `Last-Modified`, `Accept-Ranges`, `Content-Type`); Node's
 * answer comes from memory (its best case), Postern's from its file cache, as the gateway serves it.
 *
 * | figure | reference |
 * |---|---|
 * | keep-alive requests/s, {@link LAYER_CONNECTIONS} connections, one request in flight each | Node `http` (`server.emit('connection', duplex)`) |
 *
 * This is the breakdown row of the gateway comparison: the share of one request that the HTTP
 * server, the pool and the static handler cost, measured where nothing else runs. Higher is better;
 * the ratio (Postern / Node) is the figure to quote. Bounded: each sample stops after its budget.
 */
import type { Benchmark } from './harness.js';
import {
  closeSmallFileServers,
  keepBusy,
  MemoryTransport,
  startSmallFileServers,
  type SmallFileServers,
} from './http-memory-rig.js';

/** Connections of the load, each with one request in flight. */
export const LAYER_CONNECTIONS = 32;

const REQUEST = Buffer.from(
  'GET /small HTTP/1.1\r\nHost: 198.18.23.2\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n',
  'latin1',
);

const requestOf = (): Buffer => REQUEST;

interface Rig extends SmallFileServers {
  readonly ours: MemoryTransport[];
  readonly theirs: MemoryTransport[];
}
let rig: Rig | undefined;

function need(): Rig {
  if (rig === undefined) throw new Error('http-layer benchmark: setup did not run');
  return rig;
}

/** The HTTP layer alone (in-memory transport), Postern beside Node `http`, same requests and bytes. */
export const httpLayerBenchmark: Benchmark = {
  name: 'http-layer',
  description:
    'the HTTP layer alone over an in-memory Duplex: @postern/http (pool, serveStatic with its file cache) beside Node http serving the same 98 bytes and validators from memory',
  sampleMs: 500,
  async setup() {
    const servers = startSmallFileServers('postern-http-layer-');
    const ours: MemoryTransport[] = [];
    const theirs: MemoryTransport[] = [];
    for (let i = 0; i < LAYER_CONNECTIONS; i++) {
      const a = new MemoryTransport();
      servers.postern.handleConnection(a);
      ours.push(a);
      const b = new MemoryTransport();
      servers.node.emit('connection', b);
      theirs.push(b);
    }
    rig = { ...servers, ours, theirs };
    // One request each, so the cache is warm and the response lengths known.
    await keepBusy(ours, 0, requestOf);
    await keepBusy(theirs, 0, requestOf);
  },
  async teardown() {
    const r = rig;
    rig = undefined;
    if (r !== undefined) await closeSmallFileServers(r, [...r.ours, ...r.theirs]);
  },
  figures: () => [
    {
      name: `static 98 B keep-alive (${LAYER_CONNECTIONS} in-memory connections)`,
      unit: 'req/s',
      sample: (budgetMs) => keepBusy(need().ours, budgetMs, requestOf),
      reference: {
        name: 'node:http same bytes from memory',
        sample: (budgetMs) => keepBusy(need().theirs, budgetMs, requestOf),
      },
    },
  ],
};
