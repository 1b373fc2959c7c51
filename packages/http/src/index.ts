/**
 * @packageDocumentation
 * The HTTP/1.x server: strict parsing, routing, static files, a worker pool, limits.
 *
 * Start with {@link createServer} (or {@link HttpServer}), route with {@link Router}, serve files with
 * {@link serveStatic}. The server runs on any `net`-compatible transport ({@link HttpTransportServer}).
 */
export * from './parser/index.js';
export * from './serializer/index.js';
export { HttpServer, createServer } from './server/server.js';
export { HttpRequest, type RouteParams } from './server/request.js';
export { HttpResponse, type ResponseContext } from './server/response.js';
export { PreparedResponse, HTTP_DATE_LENGTH, type PreparedConnection } from './server/prepared.js';
export { RequestBody, BodyError } from './server/body.js';
export { schedulerClock, type HttpClock, type HttpTimer } from './server/clock.js';
export type { HttpTransportServer, HttpTransportSocket } from './server/transport.js';
export {
  DEFAULT_KNOWN_METHODS,
  HTTP_SERVER_DEFAULTS,
  type HttpHandler,
  type HttpServerOptions,
  type HttpServerStats,
  type HttpServerStatsView,
  type PoolOptions,
} from './server/options.js';
export { WorkerPool, type PoolStats, type WorkerPoolOptions } from './server/pool.js';
export { TokenBucketLimiter, type RateLimitOptions, type RateLimitStats } from './server/rate-limit.js';
export { Router, sendStatus } from './router.js';
export { RouteTable, RoutePatternError, ANY_METHOD, type RouteLookup, type FoundRoute } from './route-table.js';
export { serveStatic, resolveStaticPath, CONTENT_TYPES, type StaticOptions, type StaticPathResult } from './static.js';
export { FileCache, sameVersion, type CachedFile, type FileCacheOptions, type FileCacheStats } from './file-cache.js';
export {
  basicAuth,
  basicChallenge,
  parseBasicAuth,
  parseBasicAuthorization,
  type BasicAuthOptions,
  type BasicCredentials,
} from './auth.js';
export { evaluateRange, isNotModified, etagListMatches, type RangeResult } from './conditional.js';
