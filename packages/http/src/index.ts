/**
 * @packageDocumentation
 * The HTTP/1.x server: strict parsing, routing, static files, a worker pool, limits.
 */
export {};
