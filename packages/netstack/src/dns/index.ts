/** DNS: the response cache, the forwarder for the LAN and the gateway's own stub resolver. */
export * from './cache.js';
export * from './forwarder.js';
export * from './resolver.js';
