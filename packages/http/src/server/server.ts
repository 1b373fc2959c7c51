/**
 * The HTTP/1.x server: accepts connections from any `net`-compatible listener, hands each to a worker
 * of the pool, and serves it with a {@link Connection}.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Scheduler } from '@postern/irq';
import { HttpDateCache } from '../serializer/date.js';
import { schedulerClock, type HttpClock } from './clock.js';
import { Connection, type ConnectionContext } from './connection.js';
import {
  emptyStats,
  resolveOptions,
  type HttpHandler,
  type HttpServerOptions,
  type HttpServerStats,
  type HttpServerStatsView,
  type ResolvedOptions,
} from './options.js';
import { WorkerPool } from './pool.js';
import { TokenBucketLimiter } from './rate-limit.js';
import type { HttpTransportServer, HttpTransportSocket } from './transport.js';

/** An accepted socket waiting for (or served by) a worker. */
interface Job {
  readonly socket: HttpTransportSocket;
  /** The socket closed while it waited in the queue. */
  closedEarly: boolean;
}

/**
 * An HTTP/1.x server over any transport that emits `'connection'` with a {@link HttpTransportSocket}.
 *
 * ```ts
 * const server = new HttpServer((req, res) => res.send('hello\n'), { wallTime: epochMillis });
 * await server.listen(8080, '127.0.0.1');          // Node's net
 * server.attach(posternNetServer);                 // or any net-compatible listener
 * ```
 *
 * Invariants: the server never reads a clock of its own (time comes from `options.clock`, or a
 * scheduler); every queue is bounded (pool queue, pipelining depth, body buffering, parser limits,
 * rate-limit table); `close()` leaves no timer armed and no socket open.
 */
export class HttpServer {
  /** The clock the server takes time from. */
  readonly clock: HttpClock;
  private readonly options: ResolvedOptions;
  private readonly counters: HttpServerStats = emptyStats();
  private readonly pool: WorkerPool<Job>;
  private readonly limiter: TokenBucketLimiter | undefined;
  private readonly ownScheduler: Scheduler | undefined;
  private readonly retryAfterSeconds: number;
  private readonly connections = new Set<Connection>();
  private readonly rejected = new Set<HttpTransportSocket>();
  private readonly transports = new Set<HttpTransportServer>();
  private readonly dates = new HttpDateCache();
  private netServer: NetServer | undefined;
  private closing = false;
  private readonly context: ConnectionContext;

  /**
   * @param handler Answers every request (see {@link HttpHandler}); compose a {@link Router} here.
   * @param options Timeouts, limits, pool, rate limit and clock (see {@link HttpServerOptions}).
   */
  constructor(handler: HttpHandler, options: HttpServerOptions = {}) {
    this.options = resolveOptions(options);
    if (options.clock !== undefined) {
      this.clock = options.clock;
    } else {
      let scheduler = options.scheduler;
      if (scheduler === undefined) {
        scheduler = new Scheduler({ clock: 'real' });
        scheduler.start();
        this.ownScheduler = scheduler;
      }
      this.clock = schedulerClock(scheduler, options.wallTime);
    }
    this.limiter = options.rateLimit === undefined ? undefined : new TokenBucketLimiter(options.rateLimit);
    this.retryAfterSeconds = options.pool?.retryAfterSeconds ?? 1;
    this.pool = new WorkerPool<Job>(options.pool?.workers ?? 256, options.pool?.queue ?? 1024, (job) => this.serve(job));
    const clock = this.clock;
    const dates = this.dates;
    this.context = {
      options: this.options,
      clock,
      stats: this.counters,
      handler,
      limiter: this.limiter,
      dateValue: clock.wallTime === undefined ? () => undefined : () => dates.get(clock.wallTime!()),
    };
  }

  /** Live counters: connections, requests, responses by status, errors, timeouts, pool and rate limit. */
  get stats(): HttpServerStatsView {
    return { ...this.counters, pool: this.pool.stats, rateLimit: this.limiter?.stats };
  }

  /** Serves every connection `transport` emits from now on. */
  attach(transport: HttpTransportServer): this {
    transport.on('connection', this.onConnection);
    this.transports.add(transport);
    return this;
  }

  /**
   * Convenience for Node's `net`: listens on `host:port` (port 0: an ephemeral one) with half-open
   * sockets allowed (so answers to pipelined requests still go out after the client's FIN).
   */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = createNetServer({ allowHalfOpen: true });
    this.netServer = server;
    this.attach(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /**
   * Serves one accepted socket (what `'connection'` listeners call). Goes to an idle worker, waits in
   * the bounded queue, or, when the queue is full, gets `503` with `Retry-After` and is closed.
   */
  handleConnection(socket: HttpTransportSocket): void {
    const stats = this.counters;
    stats.connectionsAccepted++;
    if (this.closing) {
      socket.destroy();
      return;
    }
    const job: Job = { socket, closedEarly: false };
    const onEarlyClose = (): void => {
      job.closedEarly = true;
    };
    socket.on('close', onEarlyClose);
    socket.on('error', () => {});
    stats.connectionsOpen++;
    if (!this.pool.submit(job)) {
      stats.connectionsOpen--;
      this.reject(socket);
    }
  }

  /**
   * Stops accepting, lets in-flight requests finish (answered with `Connection: close`), closes idle
   * connections, refuses queued ones, and resolves once every connection closed and the pool stopped.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const transport of this.transports) transport.off?.('connection', this.onConnection);
    this.transports.clear();
    const netServer = this.netServer;
    this.netServer = undefined;
    const netClosed = netServer === undefined ? Promise.resolve() : new Promise<void>((resolve) => netServer.close(() => resolve()));
    const { queued, finished } = this.pool.stop();
    for (const job of queued) {
      this.counters.connectionsOpen--;
      job.socket.destroy();
    }
    for (const connection of this.connections) connection.shutdown();
    for (const socket of this.rejected) socket.destroy();
    await finished;
    await netClosed;
    this.ownScheduler?.stop();
  }

  private readonly onConnection = (socket: HttpTransportSocket): void => this.handleConnection(socket);

  private async serve(job: Job): Promise<void> {
    if (job.closedEarly || job.socket.destroyed === true) {
      this.counters.connectionsOpen--;
      return;
    }
    const connection = new Connection(job.socket, this.context);
    this.connections.add(connection);
    if (this.closing) connection.shutdown();
    await connection.closed;
    this.connections.delete(connection);
    this.counters.connectionsOpen--;
  }

  /** Overload: answer 503 at once, half-close, discard input, destroy after the linger time. */
  private reject(socket: HttpTransportSocket): void {
    const stats = this.counters;
    stats.connectionsRejected++;
    stats.responses[503] = (stats.responses[503] ?? 0) + 1;
    const date = this.context.dateValue();
    const body = '503 Service Unavailable\n';
    socket.write(
      Buffer.from(
        `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${this.retryAfterSeconds}\r\n` +
          `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
          (date === undefined ? '' : `Date: ${date}\r\n`) +
          `Connection: close\r\n\r\n${body}`,
        'latin1',
      ),
    );
    socket.end();
    this.rejected.add(socket);
    const timer = this.clock.setTimer(this.options.lingerMs, () => socket.destroy());
    socket.on('data', () => {});
    socket.on('close', () => {
      timer.cancel();
      this.rejected.delete(socket);
    });
    socket.resume();
  }
}

/** Creates an {@link HttpServer} (same as `new HttpServer(handler, options)`). */
export function createServer(handler: HttpHandler, options?: HttpServerOptions): HttpServer {
  return new HttpServer(handler, options);
}
