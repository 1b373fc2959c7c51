/**
 * Server options, their defaults, and the server's counters.
 */
import type { Scheduler } from '@postern/irq';
import { resolveParserLimits } from '../parser/request-parser.js';
import type { ParserLimits } from '../parser/types.js';
import type { HttpClock } from './clock.js';
import type { PoolStats } from './pool.js';
import type { RateLimitOptions, RateLimitStats } from './rate-limit.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';

/**
 * A request handler. It may answer synchronously or return a promise; a throw or a rejection before
 * the head was sent becomes a 500 (after it, the connection is destroyed) and the server goes on.
 */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

/** Methods the server knows (RFC 9110 §9 plus PATCH); others get 501 unless configured. */
export const DEFAULT_KNOWN_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * Worker-pool settings (see {@link WorkerPool}). A worker takes one *request* whose head is complete
 * (and its body as it arrives) and is free again once the response is ended; reading heads, keep-alive
 * waits and slow clients hold no worker.
 */
export interface PoolOptions {
  /** Pre-started client-communication workers; each serves one request at a time. Default 256. */
  readonly workers?: number;
  /** Complete requests that may wait for a worker; beyond it a request gets 503 (and the connection closes). Default 1024. */
  readonly queue?: number;
  /** `Retry-After` seconds sent with the overload 503. Default 1. */
  readonly retryAfterSeconds?: number;
}

/** Options of {@link HttpServer}. Every timeout is in milliseconds of the server's clock. */
export interface HttpServerOptions {
  /**
   * Where time comes from. Default: a real-clock `@postern/irq` {@link Scheduler} the server creates,
   * starts and stops, or {@link HttpServerOptions.scheduler} when given.
   */
  readonly clock?: HttpClock;
  /** A scheduler to take time from (ignored when `clock` is given). The caller drives it. */
  readonly scheduler?: Scheduler;
  /** Epoch-milliseconds source for the `Date` header when the clock comes from a scheduler (default: no `Date`). */
  readonly wallTime?: () => number;
  /** Parser limits (request line, headers, body size...); unset fields keep the parser defaults. */
  readonly limits?: Partial<ParserLimits>;
  /**
   * Time a request head gets from its first byte (slowloris defence, like mod_reqtimeout's
   * `header=10-20,MinRate=500`): the deadline starts at this, grows by one second per
   * {@link HttpServerOptions.headerMinRate} bytes received, and never exceeds
   * {@link HttpServerOptions.headerMaxTimeoutMs}. Past it: 408 and close. Default 10,000.
   */
  readonly headerTimeoutMs?: number;
  /** Upper bound of the growing head deadline (ms from the head's first byte). Default 20,000 (at least `headerTimeoutMs`). */
  readonly headerMaxTimeoutMs?: number;
  /** Bytes per second of head that extend its deadline by one second. Default 500. */
  readonly headerMinRate?: number;
  /**
   * Time a request body gets once a worker took the request (like mod_reqtimeout's `body=20,MinRate=500`):
   * the deadline grows by one second per {@link HttpServerOptions.bodyMinRate} bytes received; time the
   * body spends held back because the handler does not read it does not count. Past it: 408 (or, when
   * the answer already started, the connection is destroyed). Default 20,000.
   */
  readonly bodyTimeoutMs?: number;
  /** Bytes per second of body that extend its deadline by one second. Default 500. */
  readonly bodyMinRate?: number;
  /**
   * Most time a connection may sit with nothing to do (a fresh connection before its first byte, or a
   * persistent one between requests) before the server closes it. Default 5,000.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Most connections open at once. A connection beyond it closes the least recently active *idle*
   * connection (one with no request in progress) to make room, or, with none idle, is answered 503
   * and closed. Default 10,000.
   */
  readonly maxConnections?: number;
  /** Most connections open at once from one client address, enforced the same way within that address. Default 2,000. */
  readonly maxConnectionsPerClient?: number;
  /** After the server sent its FIN, how long it waits for the client to close before destroying. Default 2,000. */
  readonly lingerMs?: number;
  /** Most requests in flight on one connection (pipelining depth). Default 16. */
  readonly maxPipelined?: number;
  /** Unread body bytes buffered per request before the connection stops reading. Default 64 KiB. */
  readonly bodyHighWaterBytes?: number;
  /** Worker pool settings. */
  readonly pool?: PoolOptions;
  /** Per-client-address token bucket; `undefined` (default): no rate limiting. */
  readonly rateLimit?: RateLimitOptions;
  /** Methods served; others get 501. Default {@link DEFAULT_KNOWN_METHODS}. */
  readonly knownMethods?: readonly string[];
  /** Disable Nagle on accepted sockets. Default true. */
  readonly noDelay?: boolean;
  /** Told about every handler error (after the 500 was sent or the connection destroyed). */
  readonly onHandlerError?: (error: unknown, req: HttpRequest) => void;
}

/** The defaults of {@link HttpServerOptions}' deadlines and caps (ms, bytes per second, connections). */
export const HTTP_SERVER_DEFAULTS = Object.freeze({
  headerTimeoutMs: 10_000,
  headerMaxTimeoutMs: 20_000,
  headerMinRate: 500,
  bodyTimeoutMs: 20_000,
  bodyMinRate: 500,
  idleTimeoutMs: 5_000,
  maxConnections: 10_000,
  maxConnectionsPerClient: 2_000,
  poolWorkers: 256,
  poolQueue: 1024,
});

/** The resolved options (every field set). */
export interface ResolvedOptions {
  /** Checked and frozen once ({@link resolveParserLimits}): every connection's parser shares them. */
  readonly limits: Readonly<ParserLimits>;
  readonly headerTimeoutMs: number;
  readonly headerMaxTimeoutMs: number;
  readonly headerMinRate: number;
  readonly bodyTimeoutMs: number;
  readonly bodyMinRate: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly lingerMs: number;
  readonly maxPipelined: number;
  readonly bodyHighWaterBytes: number;
  readonly knownMethods: ReadonlySet<string>;
  readonly noDelay: boolean;
  readonly onHandlerError: ((error: unknown, req: HttpRequest) => void) | undefined;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number`);
  return v;
}

/** Fills in defaults; throws `RangeError` for a non-positive timeout or size, or a parser limit that is not a positive integer. */
export function resolveOptions(options: HttpServerOptions): ResolvedOptions {
  const d = HTTP_SERVER_DEFAULTS;
  const headerTimeoutMs = positive('headerTimeoutMs', options.headerTimeoutMs, d.headerTimeoutMs);
  return {
    limits: resolveParserLimits(options.limits ?? {}),
    headerTimeoutMs,
    headerMaxTimeoutMs: Math.max(
      headerTimeoutMs,
      positive('headerMaxTimeoutMs', options.headerMaxTimeoutMs, d.headerMaxTimeoutMs),
    ),
    headerMinRate: positive('headerMinRate', options.headerMinRate, d.headerMinRate),
    bodyTimeoutMs: positive('bodyTimeoutMs', options.bodyTimeoutMs, d.bodyTimeoutMs),
    bodyMinRate: positive('bodyMinRate', options.bodyMinRate, d.bodyMinRate),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, d.idleTimeoutMs),
    maxConnections: Math.floor(positive('maxConnections', options.maxConnections, d.maxConnections)),
    maxConnectionsPerClient: Math.floor(
      positive('maxConnectionsPerClient', options.maxConnectionsPerClient, d.maxConnectionsPerClient),
    ),
    lingerMs: positive('lingerMs', options.lingerMs, 2_000),
    maxPipelined: Math.floor(positive('maxPipelined', options.maxPipelined, 16)),
    bodyHighWaterBytes: positive('bodyHighWaterBytes', options.bodyHighWaterBytes, 64 * 1024),
    knownMethods: new Set(options.knownMethods ?? DEFAULT_KNOWN_METHODS),
    noDelay: options.noDelay ?? true,
    onHandlerError: options.onHandlerError,
  };
}

/** The server's counters, live (read them from {@link HttpServer.stats}). */
export interface HttpServerStats {
  /** Connections handed to the server by the transport. */
  connectionsAccepted: number;
  /** Connections open now (counted against the connection caps). */
  connectionsOpen: number;
  /** Connections refused with 503 at a connection cap with no idle connection to close. */
  connectionsRejected: number;
  /** Idle connections closed to make room for a new one at a connection cap. */
  connectionsEvicted: number;
  /** Requests refused with 503 because every worker was busy and the pool's queue was full. */
  requestsRejected: number;
  /** Request heads parsed. */
  requests: number;
  /** Final responses completed, by status code. */
  responses: Record<number, number>;
  /** Requests whose head or body the parser refused (each answered with its status when possible). */
  parseErrors: number;
  /** Handlers that threw or rejected. */
  handlerErrors: number;
  /** 408s for a head slower than its deadline. */
  headerTimeouts: number;
  /** 408s (or destroyed connections) for a body slower than its deadline. */
  bodyTimeouts: number;
  /** Connections closed for idleness (fresh or between requests). */
  idleTimeouts: number;
  /** Requests refused with 429. */
  rateLimited: number;
  /** Connections destroyed (timeout after the head was sent, broken framing, linger expiry). */
  destroyed: number;
  /** Socket errors reported by the transport. */
  socketErrors: number;
}

/** A fresh zeroed {@link HttpServerStats}. */
export function emptyStats(): HttpServerStats {
  return {
    connectionsAccepted: 0,
    connectionsOpen: 0,
    connectionsRejected: 0,
    connectionsEvicted: 0,
    requestsRejected: 0,
    requests: 0,
    responses: {},
    parseErrors: 0,
    handlerErrors: 0,
    headerTimeouts: 0,
    bodyTimeouts: 0,
    idleTimeouts: 0,
    rateLimited: 0,
    destroyed: 0,
    socketErrors: 0,
  };
}

/** Everything {@link HttpServer.stats} returns: the server counters with the pool's and the limiter's. */
export interface HttpServerStatsView extends HttpServerStats {
  readonly pool: Readonly<PoolStats>;
  readonly rateLimit: Readonly<RateLimitStats> | undefined;
}
