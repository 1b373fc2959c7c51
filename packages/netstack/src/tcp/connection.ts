/**
 * {@link TcpConnection}: the application's handle on one connection. It is a thin face over the
 * connection's {@link Tcb}: reads and writes go straight to the TCB's buffers, and the `Tcp` module
 * behind it sends. Callbacks are plain optional properties (no emitter, no allocation per event).
 *
 * Event contract: callbacks run after the `Tcp` module finished processing a segment or timer, never
 * in the middle of it, so a callback may call any method here. `onConnect` once when the handshake
 * completes (active opens; a passive connection is handed over already connected); `onReadable`
 * when new in-order bytes or the peer's FIN arrived; `onWritable` when acknowledged bytes freed send
 * buffer space after a `write` accepted less than offered; `onError` with a {@link TcpError} before
 * `onClose` when the connection failed; `onClose` exactly once.
 */
import type { Ipv4Address } from '@postern/wire';
import type { TcpError } from './errors.js';
import type { TcpState } from './state.js';
import { newConnectionStats, type Tcb, type TcpCloseReason, type TcpConnectionStats } from './tcb.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** What a connection asks of the `Tcp` module. @internal */
export interface ConnectionHost {
  write(tcb: Tcb, data: Uint8Array): number;
  afterRead(tcb: Tcb): void;
  shutdownWrite(tcb: Tcb): void;
  close(tcb: Tcb): void;
  abort(tcb: Tcb): void;
  setNoDelay(tcb: Tcb, on: boolean): void;
  setCork(tcb: Tcb, on: boolean): void;
  setKeepAlive(tcb: Tcb, on: boolean, idleMs: number | undefined): void;
  setBufferSize(tcb: Tcb, direction: 'send' | 'receive', bytes: number): number;
  effectiveBufferSize(bytes: number): number;
}

/**
 * What a handle still answers for its connection once the TCB went back to the `Tcp` module for
 * reuse (TIME-WAIT passed to a record after the application closed and was told): the figures the
 * TCB had then. @internal
 */
class RetiredConnection {
  /** The TIME-WAIT record that took over, in its life {@link RetiredConnection.life} (records are reused once ended). */
  private readonly record: TimeWaitRecord;
  private readonly life: number;
  // Addresses as signed 32-bit values (small integers to V8; an address above 2^31 would be a heap number).
  private readonly localBits: number;
  readonly localPort: number;
  private readonly remoteBits: number;
  readonly remotePort: number;
  sendBufferSize: number;
  receiveBufferSize: number;
  private readonly segmentsOut: number;
  private readonly segmentsIn: number;
  private readonly bytesOut: number;
  private readonly bytesIn: number;
  private readonly pathMtu: number;
  private readonly cwnd: number;
  private readonly ssthresh: number;
  private readonly srttMs: number;
  private readonly rtoMs: number;
  /** The TCB's stats object if it had made one (rare events were counted in it), else made on first read. */
  private store: TcpConnectionStats | undefined;

  constructor(tcb: Tcb, record: TimeWaitRecord) {
    this.record = record;
    this.life = record.life;
    this.localBits = tcb.localAddress | 0;
    this.localPort = tcb.localPort;
    this.remoteBits = tcb.remoteAddress | 0;
    this.remotePort = tcb.remotePort;
    this.sendBufferSize = tcb.sendBuffer.capacity;
    this.receiveBufferSize = tcb.rcvBufSize;
    this.segmentsOut = tcb.segmentsOut;
    this.segmentsIn = tcb.segmentsIn;
    this.bytesOut = tcb.bytesOut;
    this.bytesIn = tcb.bytesIn;
    this.pathMtu = tcb.pathMtu;
    this.cwnd = tcb.cc.cwnd;
    this.ssthresh = tcb.cc.ssthresh;
    this.srttMs = tcb.rto.srttMs ?? 0;
    this.rtoMs = tcb.rto.rtoMs;
    this.store = tcb.takeStatsStore();
  }

  get localAddress(): Ipv4Address {
    return this.localBits >>> 0;
  }

  get remoteAddress(): Ipv4Address {
    return this.remoteBits >>> 0;
  }

  /** True once the record ended (it may since have been renewed for another connection). */
  get timeWaitEnded(): boolean {
    const record = this.record;
    return record.life !== this.life || record.ended;
  }

  /** The connection's final stats (as {@link Tcb.stats} read when the TCB was given back). */
  get stats(): TcpConnectionStats {
    const s = (this.store ??= newConnectionStats());
    s.segmentsOut = this.segmentsOut;
    s.segmentsIn = this.segmentsIn;
    s.bytesOut = this.bytesOut;
    s.bytesIn = this.bytesIn;
    s.pathMtu = this.pathMtu;
    s.cwnd = this.cwnd;
    s.ssthresh = this.ssthresh;
    s.srttMs = this.srttMs;
    s.rtoMs = this.rtoMs;
    return s;
  }
}

/** One TCP connection as the application sees it. Made by `Tcp.connect` or handed out by a `TcpListener`. */
export class TcpConnection {
  /** The handshake completed (active open). */
  onConnect: (() => void) | undefined = undefined;
  /** In-order bytes (or the end of the stream) can be read. */
  onReadable: (() => void) | undefined = undefined;
  /** Send buffer space freed after a short write. */
  onWritable: (() => void) | undefined = undefined;
  /** The connection ended; `reason` says how. Called exactly once. */
  onClose: ((reason: TcpCloseReason) => void) | undefined = undefined;
  /** The connection failed (`ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`...); `onClose` follows. */
  onError: ((error: TcpError) => void) | undefined = undefined;
  /**
   * @internal The control block; once the connection was retired ({@link TcpConnection.retire}),
   * the `Tcp` module's inert stand-in (released, CLOSED), never the reused TCB.
   */
  tcb: Tcb;
  /** @internal Set after `onClose` ran. */
  closeNotified = false;
  /** @internal A write accepted less than offered: the next freed space raises `onWritable`. */
  writeBlocked = false;
  /** @internal Set by {@link TcpConnection.setCork}: writes queue without starting output. */
  corked = false;
  /**
   * @internal Set when the TCB went back for reuse: what the handle still answers, and the TIME-WAIT
   * record that took over once the application let go (its end is this handle's CLOSED).
   */
  private retired: RetiredConnection | undefined = undefined;
  private readonly host: ConnectionHost;

  /** @internal Made by the `Tcp` module. */
  constructor(tcb: Tcb, host: ConnectionHost) {
    this.tcb = tcb;
    this.host = host;
  }

  /**
   * @internal The TIME-WAIT record `record` took over and the TCB goes back to the `Tcp` module for
   * reuse: the handle keeps the connection's final figures and points at `standIn` (a released,
   * CLOSED TCB shared by every retired handle), so no call on it can reach the reused TCB: `abort`,
   * `close` and `shutdownWrite` do nothing, `write` throws EPIPE, reads find nothing.
   */
  retire(record: TimeWaitRecord, standIn: Tcb): void {
    this.retired = new RetiredConnection(this.tcb, record);
    this.tcb = standIn;
  }

  /** The RFC 9293 state. */
  get state(): TcpState {
    const retired = this.retired;
    if (retired === undefined) return this.tcb.state;
    return retired.timeWaitEnded ? 'CLOSED' : 'TIME-WAIT';
  }

  /** Local address. */
  get localAddress(): Ipv4Address {
    return (this.retired ?? this.tcb).localAddress;
  }

  /** Local port. */
  get localPort(): number {
    return (this.retired ?? this.tcb).localPort;
  }

  /** Remote address. */
  get remoteAddress(): Ipv4Address {
    return (this.retired ?? this.tcb).remoteAddress;
  }

  /** Remote port. */
  get remotePort(): number {
    return (this.retired ?? this.tcb).remotePort;
  }

  /** Live counters: retransmits, duplicate ACKs, RTT, cwnd... */
  get stats(): Readonly<TcpConnectionStats> {
    const retired = this.retired;
    return retired !== undefined ? retired.stats : this.tcb.stats;
  }

  /** Why the connection closed (meaningful once `state` is CLOSED or TIME-WAIT). */
  get closeReason(): TcpCloseReason {
    return this.tcb.closeReason;
  }

  /** In-order bytes waiting to be read. */
  get readableLength(): number {
    return this.tcb.recvBuffer.readable;
  }

  /** True once the peer's FIN arrived and every byte before it was read (end of stream). */
  get readableEnded(): boolean {
    return this.tcb.peerFinReceived && this.tcb.recvBuffer.readable === 0;
  }

  /** Bytes the send buffer accepts now. */
  get writableLength(): number {
    const retired = this.retired;
    return retired !== undefined ? retired.sendBufferSize : this.tcb.sendBuffer.free;
  }

  /** Bytes written and not yet acknowledged. */
  get bufferedAmount(): number {
    return this.tcb.sendBuffer.length;
  }

  /** The send buffer size in effect: most bytes written and not yet acknowledged. */
  get sendBufferSize(): number {
    const retired = this.retired;
    return retired !== undefined ? retired.sendBufferSize : this.tcb.sendBuffer.capacity;
  }

  /**
   * The receive buffer size in effect (the largest window). Right after a shrink the buffer may
   * hold more for a while (bytes held and the window already advertised); see
   * {@link TcpConnection.setReceiveBufferSize}.
   */
  get receiveBufferSize(): number {
    const retired = this.retired;
    return retired !== undefined ? retired.receiveBufferSize : this.tcb.rcvBufSize;
  }

  /**
   * Sets the send buffer size, clamped to `TCP_MIN_BUFFER_SIZE..Tcp.maxBufferSize`, and returns
   * the size in effect. Growing takes effect at once (`writableLength` grows; no `onWritable`
   * fires for it). Shrinking drops nothing: below what is held, `write` accepts no byte until
   * acknowledgements bring the buffer under the new size.
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  setSendBufferSize(bytes: number): number {
    const retired = this.retired;
    if (retired !== undefined) return (retired.sendBufferSize = this.host.effectiveBufferSize(bytes));
    return this.host.setBufferSize(this.tcb, 'send', bytes);
  }

  /**
   * Sets the receive buffer size, clamped to `TCP_MIN_BUFFER_SIZE..Tcp.maxBufferSize`, and returns
   * the size in effect. The advertised window follows it without its right edge ever moving left
   * (RFC 9293 §3.8.6.2.2): growing opens the window (a window update goes out when the opening is
   * worth it); shrinking keeps the bytes held and the window already offered, so the window closes
   * as data arrives and the buffer comes down to the new size as the application reads. The
   * window scale was fixed by the SYN from `Tcp.maxBufferSize`, so any size up to it can be
   * advertised.
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  setReceiveBufferSize(bytes: number): number {
    const retired = this.retired;
    if (retired !== undefined) return (retired.receiveBufferSize = this.host.effectiveBufferSize(bytes));
    return this.host.setBufferSize(this.tcb, 'receive', bytes);
  }

  /**
   * Queues `data` for sending and returns how many bytes the send buffer accepted (possibly fewer
   * than offered, 0 when full; `onWritable` fires once space frees up).
   * @throws {@link TcpError} `EPIPE` after `shutdownWrite()`/`close()` or once the connection closed.
   */
  write(data: Uint8Array): number {
    return this.host.write(this.tcb, data);
  }

  /** Copies up to `dest.length` in-order bytes into `dest` and returns the count (0: nothing to read now; see {@link TcpConnection.readableEnded}). */
  read(dest: Uint8Array): number {
    const n = this.tcb.recvBuffer.read(dest);
    if (n > 0) this.host.afterRead(this.tcb);
    return n;
  }

  /**
   * Up to `max` readable bytes as a view, without copying, or undefined when nothing is readable.
   * Valid until the next {@link TcpConnection.consume} or `read`; call `consume(view.length)` when done.
   */
  readView(max = Number.MAX_SAFE_INTEGER): Uint8Array | undefined {
    return this.tcb.recvBuffer.readView(max);
  }

  /** Drops `n` bytes previously seen through {@link TcpConnection.readView}. */
  consume(n: number): void {
    this.tcb.recvBuffer.consume(n);
    if (n > 0) this.host.afterRead(this.tcb);
  }

  /** Half-close: a FIN follows the bytes already written; reading goes on. Idempotent. */
  shutdownWrite(): void {
    this.host.shutdownWrite(this.tcb);
  }

  /**
   * Closes: like {@link TcpConnection.shutdownWrite}, and the application reads nothing more. With
   * unread bytes in the receive buffer the connection is reset instead (RFC 2525 §2.17).
   */
  close(): void {
    this.host.close(this.tcb);
  }

  /** Resets the connection at once (RST), dropping both buffers. */
  abort(): void {
    this.host.abort(this.tcb);
  }

  /** Turns Nagle's algorithm off (`true`, like TCP_NODELAY) or back on. */
  setNoDelay(noDelay = true): void {
    if (this.retired === undefined) this.host.setNoDelay(this.tcb, noDelay);
  }

  /**
   * Corks (`true`, like Linux's `TCP_CORK`) or uncorks the connection. While corked, a `write` only
   * queues its bytes (unless the send buffer is full, when output runs so that it can drain); they
   * leave when the connection is uncorked, when `shutdownWrite`/`close` queues the FIN (which then
   * rides on the last data segment: a response and its FIN in one frame), or with anything else that
   * sends (an ACK, a timer). Uncork soon: unlike Linux there is no 200 ms ceiling.
   */
  setCork(cork = true): void {
    if (this.retired === undefined) this.host.setCork(this.tcb, cork);
  }

  /** Turns keep-alive probes on or off; `idleMs` sets the idle time before the first probe. */
  setKeepAlive(enable: boolean, idleMs?: number): void {
    if (this.retired === undefined) this.host.setKeepAlive(this.tcb, enable, idleMs);
  }
}
