/**
 * TCP building blocks (RFC 9293 and extensions) used by the connection state machine: sequence
 * arithmetic, RTO estimation, congestion control, send and receive buffers, the SACK scoreboard,
 * ISNs and SYN cookies.
 */
export * from './seq.js';
export * from './rto.js';
export * from './congestion.js';
export * from './bbr.js';
export * from './bbr-filters.js';
export { DeliveryRate, type RateSample } from './delivery-rate.js';
export { TCP_CONGESTION_NAMES, type TcpCongestionName } from './options.js';
export { ChunkPool, defaultChunkPool, DEFAULT_CHUNK_SIZE, DEFAULT_POOL_RETAINED } from './chunk-pool.js';
export * from './send-buffer.js';
export * from './recv-buffer.js';
export * from './sack-scoreboard.js';
export * from './siphash.js';
export * from './isn.js';
export * from './syn-cookies.js';
export * from './errors.js';
export * from './icmp-error.js';
export { TCP_RTO_AFTER_SYN_RETRANSMIT_MS } from './handshake-input.js';
export * from './state.js';
export { type TcpCloseReason, type TcpConnectionStats } from './tcb.js';
export * from './ip-port.js';
export { TcpConnection } from './connection.js';
export type { TcpConnectionEntry } from './connection-entry.js';
export { TcpListener, type TcpListenerStats } from './listener.js';
export * from './tcp.js';
export * from './stack-port.js';
