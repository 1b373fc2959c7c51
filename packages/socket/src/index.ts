/**
 * @packageDocumentation
 * Descriptors and a BSD-style socket API over the Postern stack ({@link Sockets}, {@link EventPoll}),
 * plus a Node `net`-compatible face ({@link createNet}, {@link Socket}, {@link Server}), a light
 * connection face for servers that need no Node stream ({@link LightServer}, {@link LightSocket}), and a
 * `dgram`-like UDP face ({@link createDgram}).
 */
export * from './constants.js';
export * from './errors.js';
export * from './descriptor-table.js';
export type { EntryObserver, SocketAddress } from './entry.js';
export { SocketEntry } from './entry.js';
export { TcpEntry, type TcpPhase, type TcpSocketOptions } from './tcp-entry.js';
export { UdpEntry, UDP_DEFAULT_RCVBUF, type QueuedDatagram } from './udp-entry.js';
export * from './sockets.js';
export * from './event-poll.js';
export * from './node/index.js';
export * from './light/light-socket.js';
export * from './light/light-server.js';
