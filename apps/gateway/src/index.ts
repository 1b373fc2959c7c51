/**
 * @packageDocumentation
 * The gateway firmware: composes the scheduler, drivers, stack, sockets and HTTP server.
 */
export {};
