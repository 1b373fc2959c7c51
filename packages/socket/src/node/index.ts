/** The Node faces: `net`-compatible sockets and servers, and a `dgram`-like UDP socket. */
export * from './socket.js';
export * from './server.js';
export * from './net.js';
export * from './dgram.js';
