/**
 * The in-memory rig of the HTTP-layer benchmarks (`http-layer`, `http-connection-cost`): a
 * `@postern/http` server (serveStatic with its file cache) and a Node `http` server answering
 * `GET /small` with the same 98 bytes and validators, fed by in-memory `Duplex` transports in this
 * process; no TCP, no kernel.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNodeHttpServer, type Server as NodeHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { HttpServer, serveStatic } from '@postern/http';
import { Scheduler } from '@postern/irq';
import { SMALL_FILE_BYTES } from './http-servers.js';

/**
 * One in-memory transport: requests pushed in, the bytes the server writes counted. A keep-alive
 * response's length is learnt from the first response (its head and `Content-Length`).
 */
export class MemoryTransport extends Duplex {
  /** Bytes of one keep-alive response (learnt from the first one; 0 until then). */
  responseBytes = 0;
  private got = 0;
  private onResponse: (() => void) | undefined;
  private onServerEnd: (() => void) | undefined;
  /** The peer address the servers read. */
  readonly remoteAddress = '198.18.23.1';
  /** The peer port the servers read. */
  readonly remotePort = 40000;

  /** Sends one keep-alive request; `done` runs once its whole response was written. */
  request(bytes: Buffer, done: () => void): void {
    this.onResponse = done;
    this.push(bytes);
  }

  /**
   * Sends a request the server answers and then closes (HTTP/1.0); `done` runs once the server
   * ended its side, and the client then ends its own.
   */
  shortExchange(bytes: Buffer, done: () => void): void {
    this.onServerEnd = () => {
      this.push(null);
      done();
    };
    this.push(bytes);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.got += chunk.byteLength;
    if (this.onResponse !== undefined) {
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
        done();
      }
    }
    cb();
  }

  override _final(cb: (error?: Error | null) => void): void {
    const done = this.onServerEnd;
    this.onServerEnd = undefined;
    cb();
    done?.();
  }

  /** `net.Socket` extra the servers call (no effect in memory). */
  setNoDelay(): this {
    return this;
  }
  /** `net.Socket` extra the servers call (no effect in memory). */
  setKeepAlive(): this {
    return this;
  }
  /** `net.Socket` extra the servers call (no effect in memory). */
  setTimeout(): this {
    return this;
  }
}

/** The two servers of the rig, serving the same file from `dir`. */
export interface SmallFileServers {
  /** The scratch directory holding `small` (removed by {@link closeSmallFileServers}). */
  readonly dir: string;
  /** The real-clock scheduler the Postern server runs on (started). */
  readonly scheduler: Scheduler;
  /** `@postern/http` with `serveStatic(dir)`. */
  readonly postern: HttpServer;
  /** Node `http` answering the same bytes and validators from memory (its best case). */
  readonly node: NodeHttpServer;
}

/**
 * Writes the 98-byte `small` into a new scratch directory named after `prefix` and starts both
 * servers on it. `idleTimeoutMs`, when given, is both servers' keep-alive idle timeout (a rig whose
 * connections wait between figures sets it longer than a run).
 */
export function startSmallFileServers(prefix: string, idleTimeoutMs?: number): SmallFileServers {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const body = Buffer.from('x'.repeat(SMALL_FILE_BYTES - 1) + '\n', 'latin1');
  writeFileSync(join(dir, 'small'), body);
  const st = statSync(join(dir, 'small'));
  const scheduler = new Scheduler({ clock: 'real', seed: 7 });
  scheduler.start();
  const postern = new HttpServer(serveStatic(dir, { cache: { now: () => scheduler.now } }), {
    scheduler,
    wallTime: () => scheduler.wallTime(),
    ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
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
  if (idleTimeoutMs !== undefined) node.keepAliveTimeout = idleTimeoutMs;
  return { dir, scheduler, postern, node };
}

/** Destroys `transports`, closes both servers, stops the scheduler and removes the directory. */
export async function closeSmallFileServers(
  servers: SmallFileServers,
  transports: readonly MemoryTransport[],
): Promise<void> {
  for (const t of transports) t.destroy();
  await servers.postern.close();
  servers.node.close();
  servers.scheduler.stop();
  rmSync(servers.dir, { recursive: true, force: true });
}

/**
 * Keeps every connection busy with one request in flight (the `n`th request of the load is
 * `requestOf(n)`) for `budgetMs`; resolves with requests per second. A budget of 0 sends one request
 * per connection (a warm-up that also learns the response lengths).
 */
export function keepBusy(
  connections: readonly MemoryTransport[],
  budgetMs: number,
  requestOf: (n: number) => Buffer,
): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let n = 0;
    let running = connections.length;
    const loop = (c: MemoryTransport): void => {
      c.request(requestOf(n), () => {
        n++;
        if (performance.now() - t0 < budgetMs) loop(c);
        else if (--running === 0) resolve(n / ((performance.now() - t0) / 1000));
      });
    };
    for (const c of connections) loop(c);
  });
}
