/**
 * Server options, their defaults, and the server's counters.
 */
import type { Scheduler } from '@postern/irq';
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
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
]);

/** Worker-pool settings (see {@link WorkerPool}). */
export interface PoolOptions {
  /** Pre-started client-communication workers; each serves one connection at a time. Default 256. */
  readonly workers?: number;
  /** Accepted connections that may wait for a worker; beyond it they get 503. Default 1024. */
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
  /** Most time from the first byte of a request head to its end (slowloris): 408. Default 10,000. */
  readonly headerTimeoutMs?: number;
  /** Most time without body bytes while a body is expected and being read: 408. Default 30,000. */
  readonly bodyTimeoutMs?: number;
  /** Most time a persistent connection may sit with nothing to do before the server closes it. Default 5,000. */
  readonly idleTimeoutMs?: number;
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

/** The resolved options (every field set). */
export interface ResolvedOptions {
  readonly limits: Partial<ParserLimits>;
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly idleTimeoutMs: number;
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

/** Fills in defaults; throws `RangeError` for a non-positive timeout or size. */
export function resolveOptions(options: HttpServerOptions): ResolvedOptions {
  return {
    limits: options.limits ?? {},
    headerTimeoutMs: positive('headerTimeoutMs', options.headerTimeoutMs, 10_000),
    bodyTimeoutMs: positive('bodyTimeoutMs', options.bodyTimeoutMs, 30_000),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 5_000),
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
  /** Connections open now (served or waiting for a worker). */
  connectionsOpen: number;
  /** Connections refused with 503 because every worker was busy and the queue was full. */
  connectionsRejected: number;
  /** Request heads parsed. */
  requests: number;
  /** Final responses completed, by status code. */
  responses: Record<number, number>;
  /** Requests whose head or body the parser refused (each answered with its status when possible). */
  parseErrors: number;
  /** Handlers that threw or rejected. */
  handlerErrors: number;
  /** 408s for a slow head. */
  headerTimeouts: number;
  /** 408s (or destroyed connections) for a stalled body. */
  bodyTimeouts: number;
  /** Persistent connections closed for idleness. */
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
