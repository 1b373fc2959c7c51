/**
 * {@link Tcp}: the TCP protocol module. It owns the connection and listener tables and every limit,
 * receives segments from the IP layer (protocol 6), and runs each connection's input, output and
 * timers. One instance per stack; see {@link attachTcp} to plug it into a `Stack`.
 *
 * `Tcp` is the public face only. The work is done by parts with one job each, which all receive
 * the one {@link TcpContext} (implemented by `TcpCore`): segment input and demultiplexing
 * (segment-input.ts, input.ts and its steps), the listener and SYN cookies (passive-open.ts),
 * timers (timers.ts, timer-events.ts), ICMP errors (icmp-input.ts), the connection table
 * (lifecycle.ts) and the application's calls (open.ts, connection-ops.ts).
 *
 * Execution model: everything runs on the scheduler's one thread. A segment is processed fully
 * (state, buffers), then the connection's application callbacks run, then its output (data that
 * may now go, and the ACK owed). ACKs owed "soon" (a pushed segment) go out at the end of the
 * receive batch, from a bottom half, so a reply written synchronously by `onReadable` carries them
 * instead (no delayed-ACK/Nagle stall in request/response exchanges).
 */
import type { SchedulerApi } from '@postern/irq';
import type { Ipv4Address } from '@postern/wire';
import type { Counters } from '../counters.js';
import type { TcpConnection } from './connection.js';
import { connectionEntry, timeWaitEntry, type TcpConnectionEntry } from './connection-entry.js';
import type { TcpContext } from './context.js';
import { TcpCore } from './core.js';
import type { TcpIcmpError } from './icmp-error.js';
import { icmpError } from './icmp-input.js';
import type { TcpIpPort } from './ip-port.js';
import { abortTimeWaitRecords, timeWaitCount } from './lifecycle.js';
import type { TcpListener } from './listener.js';
import { connect, listen } from './open.js';
import { resolveTcpSettings, type TcpConnectOptions, type TcpListenOptions, type TcpOptions } from './options.js';
import type { SegmentBuilder } from './output.js';
import { receiveSegment } from './segment-input.js';
import type { TcpCounterName } from './tcp-counters.js';

export {
  TCP_DEFAULT_BACKLOG,
  TCP_DEFAULT_BUFFER_SIZE,
  TCP_DEFAULT_DELAYED_ACK_MS,
  TCP_DEFAULT_MAX_CONNECTIONS,
  TCP_DEFAULT_TIME_WAIT_MS,
  TCP_MIN_BUFFER_SIZE,
  type TcpConnectOptions,
  type TcpListenOptions,
  type TcpOptions,
} from './options.js';
export type { TcpCounterName } from './tcp-counters.js';

/** The TCP protocol module. See the module comment. */
export class Tcp {
  readonly port: TcpIpPort;
  readonly scheduler: SchedulerApi;
  /** Stack-wide counters (see {@link TcpCounterName}). */
  readonly counters: Counters<TcpCounterName>;
  /** Longest an ACK is delayed, ms. */
  readonly delayedAckMs: number;
  /** Most TCBs at once. */
  readonly maxConnections: number;
  /** Most TCBs in TIME-WAIT. */
  readonly maxTimeWait: number;
  /** Default send buffer of a connection, bytes. */
  readonly sendBufferSize: number;
  /** Default receive buffer of a connection, bytes. */
  readonly receiveBufferSize: number;
  /** Largest buffer a connection may have, and what window scales are chosen from ({@link TcpOptions.maxBufferSize}). */
  readonly maxBufferSize: number;
  private readonly ctx: TcpContext;

  /**
   * A TCP module sending through `port`.
   * @throws {@link TcpError} `EINVAL` when a size or backlog is not a positive integer, or
   *   `maxBufferSize` is smaller than either default buffer size.
   */
  constructor(port: TcpIpPort, options: TcpOptions = {}) {
    const settings = resolveTcpSettings(options);
    this.ctx = new TcpCore(port, settings);
    this.port = port;
    this.scheduler = port.scheduler;
    this.counters = this.ctx.counters;
    this.delayedAckMs = settings.delayedAckMs;
    this.maxConnections = settings.maxConnections;
    this.maxTimeWait = settings.maxTimeWait;
    this.sendBufferSize = settings.sendBufferSize;
    this.receiveBufferSize = settings.receiveBufferSize;
    this.maxBufferSize = settings.maxBufferSize;
  }

  /** @internal Writes every segment this module sends. */
  get builder(): SegmentBuilder {
    return this.ctx.builder;
  }

  /** Current scheduler time, ms. */
  now(): number {
    return this.scheduler.now;
  }

  /** Connections in the table (every state, TIME-WAIT records included). */
  get connectionCount(): number {
    return this.ctx.table.size + this.ctx.timeWaitRecords.size;
  }

  /** Connections in TIME-WAIT (whole TCBs and records). */
  get timeWaitCount(): number {
    return timeWaitCount(this.ctx);
  }

  /**
   * A snapshot of the connection table: one frozen {@link TcpConnectionEntry} per TCB, in every
   * state the table holds (SYN-SENT, SYN-RECEIVED copies not yet accepted, ESTABLISHED, the
   * closing states and TIME-WAIT); listeners are not connections and are not listed. The array
   * is new on each call and the caller may keep or change it; its length is
   * {@link Tcp.connectionCount} at the moment of the call. Order: the TCBs in the order they
   * entered the table (oldest first), then the TIME-WAIT records in no particular order (stable
   * while the table does not change). Entries rather than `TcpConnection`
   * handles, so listing never hands out a handle the application was not given (a SYN-RECEIVED
   * copy has none until the listener delivers it) and never goes stale while iterated.
   * Allocates one object per connection: for inspection (an admin page, a test), not per packet.
   */
  connections(): TcpConnectionEntry[] {
    return [...this.ctx.table.all().map(connectionEntry), ...this.ctx.timeWaitRecords.all().map(timeWaitEntry)];
  }

  /**
   * True when a listener holds `port` on `address` (or on every address), a connection has the
   * local endpoint `address:port`, or a TIME-WAIT record does (its 4-tuple is not free until the
   * record ends). Constant time (the connection table's per-port index of TCBs and records), but for
   * a port in use on two local addresses at once.
   */
  portInUse(address: Ipv4Address, port: number): boolean {
    return this.ctx.listeners.find(address, port) !== undefined || this.ctx.table.usesLocal(address, port);
  }

  /**
   * Opens a listener on `address:port` (0.0.0.0 by default).
   * @throws {@link TcpError} `EINVAL` for a bad port, backlog or buffer size, `EADDRINUSE` when a listener holds
   *   the port on an overlapping address, `EADDRNOTAVAIL` for an address that is not ours.
   */
  listen(options: TcpListenOptions): TcpListener {
    return listen(this.ctx, options);
  }

  /**
   * Starts an active open (SYN sent at once). Completion arrives as `onConnect`, failure as
   * `onError` + `onClose`.
   * @throws {@link TcpError} `EINVAL` (bad port or buffer size), `ENETUNREACH` (no route), `EADDRINUSE` (4-tuple
   *   taken), `EADDRNOTAVAIL` (no ephemeral port), `EMFILE` (connection limit).
   */
  connect(options: TcpConnectOptions): TcpConnection {
    return connect(this.ctx, options);
  }

  /**
   * A buffer size an application asked for, as it takes effect: clamped to
   * `TCP_MIN_BUFFER_SIZE..maxBufferSize`. Not doubled (Linux doubles `SO_RCVBUF` to cover its
   * bookkeeping; here the size is exactly the bytes the buffer holds).
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  effectiveBufferSize(bytes: number): number {
    return this.ctx.effectiveBufferSize(bytes);
  }

  /**
   * Receives one TCP segment (the IPv4 payload) from `source` to `destination`. Bad segments are
   * counted and dropped; nothing throws.
   */
  input(source: Ipv4Address, destination: Ipv4Address, bytes: Uint8Array): void {
    receiveSegment(this.ctx, source, destination, bytes);
  }

  /**
   * Receives an ICMP error about a segment this module sent (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927,
   * RFC 1191). The quoted segment names the connection; its sequence number must lie in
   * `SND.UNA..SND.NXT` (the highest sent), else the message is dropped as forged or stale
   * (`icmpOutOfWindow`). Then, per {@link classifyIcmpForTcp}:
   * - fragmentation needed lowers the connection's path MTU and MSS (never raises them; a
   *   reported MTU under {@link TCP_MIN_PMTU} clamps to it and clears DF for the connection) and
   *   resends the flight at once in segments of the new size, without a congestion response
   *   (the loss was the path's MTU, not congestion) and skipping SACKed data;
   * - a hard error in SYN-SENT or SYN-RECEIVED (active) aborts the connection with its code
   *   (`ECONNREFUSED` for port or protocol unreachable); in any other state it is soft;
   * - a soft error is remembered and reported instead of `ETIMEDOUT` if the connection times out
   *   before an ACK of new data shows the path works.
   * Never throws; every outcome is counted.
   */
  icmpError(error: TcpIcmpError): void {
    icmpError(this.ctx, error);
  }

  /** Every connection and listener, reset; for shutting the module down. */
  shutdown(): void {
    for (const l of this.ctx.listeners.all()) l.close();
    for (const tcb of this.ctx.table.all()) this.ctx.abort(tcb);
    abortTimeWaitRecords(this.ctx);
  }
}
