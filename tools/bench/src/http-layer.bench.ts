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
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNodeHttpServer, type Server as NodeHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { HttpServer, serveStatic } from '@postern/http';
import { Scheduler } from '@postern/irq';
import type { Benchmark } from './harness.js';
import { SMALL_FILE_BYTES } from './http-servers.js';

/** Connections of the load, each with one request in flight. */
export const LAYER_CONNECTIONS = 32;

const REQUEST = Buffer.from(
  'GET /small HTTP/1.1\r\nHost: 198.18.23.2\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n',
  'latin1',
);

/** One in-memory connection: requests pushed in, responses counted as their bytes are written. */
class LoopConnection extends Duplex {
  /** Bytes of one response (learnt from the first one). */
  responseBytes = 0;
  private got = 0;
  private onResponse: (() => void) | undefined;
  readonly remoteAddress = '198.18.23.1';
  readonly remotePort = 40000;

  /** Sends one request; `done` runs once its whole response was written. */
  request(done: () => void): void {
    this.onResponse = done;
    this.push(REQUEST);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.got += chunk.byteLength;
    if (this.responseBytes === 0) {
      const text = chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (headEnd >= 0 && length !== null) this.responseBytes = headEnd + 4 + Number(length[1]);
    }
    if (this.responseBytes > 0 && this.got >= this.responseBytes) {
      this.got -= this.responseBytes;
      const done = this.onResponse;
      this.onResponse = undefined;
      done?.();
    }
    cb();
  }

  /** `net.Socket` extras the servers call. */
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
}

interface Side {
  readonly connections: LoopConnection[];
}

/** Keeps every connection busy for `budgetMs`; returns requests/s. */
function loadSample(side: Side, budgetMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let n = 0;
    let running = side.connections.length;
    const loop = (c: LoopConnection): void => {
      c.request(() => {
        n++;
        if (performance.now() - t0 < budgetMs) loop(c);
        else if (--running === 0) resolve(n / ((performance.now() - t0) / 1000));
      });
    };
    for (const c of side.connections) loop(c);
  });
}

interface Rig {
  readonly dir: string;
  readonly scheduler: Scheduler;
  readonly postern: HttpServer;
  readonly node: NodeHttpServer;
  readonly ours: Side;
  readonly theirs: Side;
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
    const dir = mkdtempSync(join(tmpdir(), 'postern-http-layer-'));
    const body = Buffer.from('x'.repeat(SMALL_FILE_BYTES - 1) + '\n', 'latin1');
    writeFileSync(join(dir, 'small'), body);
    const st = statSync(join(dir, 'small'));
    const scheduler = new Scheduler({ clock: 'real', seed: 7 });
    scheduler.start();
    const postern = new HttpServer(serveStatic(dir, { cache: { now: () => scheduler.now } }), {
      scheduler,
      wallTime: () => scheduler.wallTime(),
    });
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const node = createNodeHttpServer((_req, res) => {
      res.writeHead(200, {
        ETag: etag,
        'Last-Modified': new Date(st.mtimeMs).toUTCString(),
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
        'Content-Length': body.byteLength,
      });
      res.end(body);
    });
    const ours: Side = { connections: [] };
    const theirs: Side = { connections: [] };
    for (let i = 0; i < LAYER_CONNECTIONS; i++) {
      const a = new LoopConnection();
      postern.handleConnection(a);
      ours.connections.push(a);
      const b = new LoopConnection();
      node.emit('connection', b);
      theirs.connections.push(b);
    }
    rig = { dir, scheduler, postern, node, ours, theirs };
    // One request each, so the cache is warm and the response lengths known.
    await loadSample(ours, 0);
    await loadSample(theirs, 0);
  },
  async teardown() {
    const r = rig;
    rig = undefined;
    if (r === undefined) return;
    for (const c of [...r.ours.connections, ...r.theirs.connections]) c.destroy();
    await r.postern.close();
    r.node.close();
    r.scheduler.stop();
    rmSync(r.dir, { recursive: true, force: true });
  },
  figures: () => [
    {
      name: `static 98 B keep-alive (${LAYER_CONNECTIONS} in-memory connections)`,
      unit: 'req/s',
      sample: (budgetMs) => loadSample(need().ours, budgetMs),
      reference: {
        name: 'node:http same bytes from memory',
        sample: (budgetMs) => loadSample(need().theirs, budgetMs),
      },
    },
  ],
};
