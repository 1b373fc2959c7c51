/**
 * The HTTP/1.x server: accepts connections from any `net`-compatible listener (within the connection
 * caps), serves each with a {@link Connection}, and runs each complete request on a worker of the pool.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Scheduler } from '@postern/irq';
import { HttpDateCache } from '../serializer/date.js';
import { schedulerClock, type HttpClock } from './clock.js';
import { Connection, type ConnectionContext, type RequestJob } from './connection.js';
import { DeadlineQueue } from './deadlines.js';
import {
  HTTP_SERVER_DEFAULTS,
  emptyStats,
  resolveOptions,
  type HttpHandler,
  type HttpServerOptions,
  type HttpServerStats,
  type HttpServerStatsView,
  type ResolvedOptions,
} from './options.js';
import { OpenConnections } from './open-connections.js';
import { WorkerPool } from './pool.js';
import { TokenBucketLimiter } from './rate-limit.js';
import { SpareStack } from './spare-stack.js';
import type { HttpTransportServer, HttpTransportSocket } from './transport.js';

/** Most parsers a server keeps from closed connections ({@link ConnectionContext.spareParsers}). */
const SPARE_PARSERS = 32;

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
 * scheduler); every queue is bounded (connections in total and per client address, pool queue,
 * pipelining depth, body buffering, parser limits, rate-limit table); a worker is held only by a
 * request between its complete head and its ended response; `close()` leaves no timer armed and no
 * socket open.
 */
export class HttpServer {
  /** The clock the server takes time from. */
  readonly clock: HttpClock;
  private readonly options: ResolvedOptions;
  private readonly counters: HttpServerStats = emptyStats();
  private readonly pool: WorkerPool<RequestJob>;
  private readonly limiter: TokenBucketLimiter | undefined;
  private readonly ownScheduler: Scheduler | undefined;
  /** Open connections (counted against the caps), with their count per client address. */
  private readonly connections = new OpenConnections<Connection>();
  private readonly rejected = new Set<HttpTransportSocket>();
  /** Connections closed to make room, still lingering (no longer counted against the caps). */
  private readonly evicted = new Set<Connection>();
  private readonly transports = new Set<HttpTransportServer>();
  private readonly dates = new HttpDateCache();
  /** Every connection's current deadline, on one clock timer. */
  private readonly deadlines: DeadlineQueue;
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
    // A job ends through requestEnded (its response's settle: once per request), so the pool makes no `done` per job.
    const pool = new WorkerPool<RequestJob>(
      options.pool?.workers ?? HTTP_SERVER_DEFAULTS.poolWorkers,
      options.pool?.queue ?? HTTP_SERVER_DEFAULTS.poolQueue,
      runJob,
      undefined,
      { endsByCall: true },
    );
    this.pool = pool;
    const clock = this.clock;
    const dates = this.dates;
    this.deadlines = new DeadlineQueue(clock);
    this.context = {
      options: this.options,
      clock,
      deadlines: this.deadlines,
      stats: this.counters,
      handler,
      limiter: this.limiter,
      retryAfterSeconds: options.pool?.retryAfterSeconds ?? 1,
      submitRequest: (job) => pool.submit(job),
      requestEnded: () => pool.jobDone(),
      holdStarts: () => pool.holdStarts(),
      releaseStarts: () => pool.releaseStarts(),
      spareParsers: new SpareStack(SPARE_PARSERS),
      connectionClosed: (connection) => this.untrack(connection),
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
   * Serves one accepted socket (what `'connection'` listeners call). At a connection cap (in total or
   * for the client's address) the least recently active idle connection is closed to make room; with
   * none idle the new socket gets `503` with `Retry-After` and is closed.
   */
  handleConnection(socket: HttpTransportSocket): void {
    const stats = this.counters;
    stats.connectionsAccepted++;
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (socket.destroyed === true) {
      socket.on('error', ignoreError);
      return;
    }
    const client = socket.remoteAddress ?? '';
    const o = this.options;
    const tally = this.connections.tallyOf(client);
    if (
      (tally.open >= o.maxConnectionsPerClient && !this.evictIdle(client)) ||
      (this.connections.size >= o.maxConnections && !this.evictIdle(undefined))
    ) {
      socket.on('error', ignoreError);
      this.reject(socket);
      return;
    }
    // The connection's own 'error' listener counts errors (no second listener per socket).
    const connection = new Connection(socket, this.context, client);
    this.connections.add(connection, tally);
    this.counters.connectionsOpen = this.connections.size;
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
    const netClosed =
      netServer === undefined ? Promise.resolve() : new Promise<void>((resolve) => netServer.close(() => resolve()));
    const { queued, finished } = this.pool.stop();
    for (const job of queued) job.cancel();
    for (const connection of [...this.connections.toArray(), ...this.evicted]) connection.shutdown();
    for (const socket of this.rejected) socket.destroy();
    await finished;
    await Promise.all([...this.connections.toArray(), ...this.evicted].map((c) => c.whenClosed()));
    await netClosed;
    this.deadlines.clear();
    this.ownScheduler?.stop();
  }

  private readonly onConnection = (socket: HttpTransportSocket): void => this.handleConnection(socket);

  /** A connection closed, or was evicted: it no longer counts against the caps. */
  private untrack(connection: Connection): void {
    if (this.evicted.size !== 0) this.evicted.delete(connection);
    if (!this.connections.remove(connection)) return;
    this.counters.connectionsOpen = this.connections.size;
  }

  /**
   * Closes the least recently active idle connection (of `client`'s, or of all when undefined; the
   * earliest accepted among equals) and stops counting it against the caps (it lingers until the client
   * closes or `lingerMs` passes). False when none is idle.
   */
  private evictIdle(client: string | undefined): boolean {
    let oldest: Connection | undefined;
    for (let c = this.connections.head; c !== undefined; c = c.openNext) {
      if (client !== undefined && c.remoteAddress !== client) continue;
      if (c.idle && (oldest === undefined || c.lastSeen < oldest.lastSeen)) oldest = c;
    }
    if (oldest === undefined) return false;
    this.counters.connectionsEvicted++;
    this.untrack(oldest);
    this.evicted.add(oldest);
    oldest.evict();
    return true;
  }

  /** Over a connection cap: answer 503 at once, half-close, discard input, destroy after the linger time. */
  private reject(socket: HttpTransportSocket): void {
    const stats = this.counters;
    stats.connectionsRejected++;
    stats.responses[503] = (stats.responses[503] ?? 0) + 1;
    const date = this.context.dateValue();
    const body = '503 Service Unavailable\n';
    socket.write(
      Buffer.from(
        `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${this.context.retryAfterSeconds}\r\n` +
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

/** The pool's `serve`: runs one request's handler (the job ends through {@link ConnectionContext.requestEnded}). */
function runJob(job: RequestJob): void {
  job.run();
}

/** The server's `'error'` listener on a socket it serves without a connection (refused, or already destroyed). */
function ignoreError(): void {}

/** Creates an {@link HttpServer} (same as `new HttpServer(handler, options)`). */
export function createServer(handler: HttpHandler, options?: HttpServerOptions): HttpServer {
  return new HttpServer(handler, options);
}
