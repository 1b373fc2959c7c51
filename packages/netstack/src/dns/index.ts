/** DNS: the response cache, the forwarder for the LAN (UDP and TCP) and the gateway's own stub resolver. */
export * from './cache.js';
export * from './forwarder.js';
export * from './resolver.js';
export * from './tcp-framing.js';
export * from './tcp-server.js';
