/**
 * Passive open. A {@link TcpListener} stays in LISTEN for its whole life; each acceptable SYN makes
 * a COPY of it (a new TCB in SYN-RECEIVED that holds the peer's address, port, ISN, window and
 * options: RFC 9293 §3.10.7.2's model), counted against the listener's bounded SYN backlog. When
 * the copy completes its handshake it moves to the bounded accept queue, where it waits (receiving
 * data) until the application takes it.
 *
 * Under a SYN flood (backlog full) the listener answers with SYN cookies (RFC 4987) when enabled:
 * no state is kept, and a valid returning ACK creates the connection directly in ESTABLISHED
 * (without window scaling, SACK or timestamps, which a cookie cannot carry).
 *
 * Limits, each counted in {@link TcpListenerStats}: the SYN backlog, the accept queue (a handshake
 * completing into a full queue is ignored and the peer retries), the stack's connection limit.
 *
 * Taking connections: either {@link TcpListener.onConnection} (each connection handed over at
 * once, no queue), or the bounded accept queue read with {@link TcpListener.accept}, with
 * {@link TcpListener.onAcceptable} telling when it stops being empty. TCP enforces the queue's bound
 * itself, so a socket layer needs nothing but those two.
 */
import type { Ipv4Address } from '@postern/wire';
import type { TcpConnection } from './connection.js';
import { TcbList } from './tcb-list.js';

/** Counters of one listener. */
export interface TcpListenerStats {
  /** SYNs that made a SYN-RECEIVED copy. */
  synReceived: number;
  /** SYNs dropped because the SYN backlog was full and cookies are off. */
  synBacklogDrops: number;
  /** SYNs dropped because the accept queue was full. */
  acceptQueueDrops: number;
  /** SYNs dropped at the stack's connection limit. */
  connectionLimitDrops: number;
  /** SYN-ACKs sent with a cookie instead of state. */
  cookiesSent: number;
  /** Connections created from a valid cookie. */
  cookiesAccepted: number;
  /** ACKs whose cookie did not validate (answered with RST). */
  cookiesRejected: number;
  /** Connections that entered the accept queue. */
  established: number;
  /** Connections taken by the application. */
  accepted: number;
}

/** What a listener asks of the `Tcp` module. @internal */
export interface ListenerHost {
  closeListener(listener: TcpListener): void;
  effectiveBufferSize(bytes: number): number;
}

/**
 * A listening socket. Completed connections arrive in {@link TcpListener.acceptQueue} (at most
 * {@link TcpListener.acceptBacklog} of them) and {@link TcpListener.onAcceptable} fires when it
 * becomes non-empty; with {@link TcpListener.onConnection} set they are handed to it at once instead
 * (and never queue). Accepted connections start with the listener's buffer sizes.
 */
export class TcpListener {
  /** Local address, 0 for every address of the host. */
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  /** Most connections in SYN-RECEIVED at once. */
  readonly synBacklog: number;
  /** Most established connections waiting for `accept()` (see {@link TcpListener.setAcceptBacklog}). */
  get acceptBacklog(): number {
    return this.backlog;
  }
  /** Send buffer size of each new connection (see {@link TcpListener.setSendBufferSize}). */
  get sendBufferSize(): number {
    return this.sendSize;
  }
  /** Receive buffer size of each new connection; its SYN-ACK offers this window. */
  get receiveBufferSize(): number {
    return this.receiveSize;
  }
  /** Established connections not yet accepted, oldest first. */
  readonly acceptQueue: TcpConnection[] = [];
  /** Called with each new connection (already ESTABLISHED); replaces queueing. */
  onConnection: ((connection: TcpConnection) => void) | undefined = undefined;
  /**
   * Called when a connection enters an empty accept queue (edge-triggered: not again until
   * `accept` has emptied it). It runs while TCP completes the handshake, like `onConnection`; it
   * may call `accept` at once. Not called while `onConnection` is set.
   */
  onAcceptable: (() => void) | undefined = undefined;
  /** Live counters. */
  readonly stats: TcpListenerStats = {
    synReceived: 0,
    synBacklogDrops: 0,
    acceptQueueDrops: 0,
    connectionLimitDrops: 0,
    cookiesSent: 0,
    cookiesAccepted: 0,
    cookiesRejected: 0,
    established: 0,
    accepted: 0,
  };
  /** @internal Copies in SYN-RECEIVED, oldest first. */
  readonly embryos = new TcbList();
  /** @internal */
  closed = false;
  private readonly host: ListenerHost;
  private backlog: number;
  private sendSize: number;
  private receiveSize: number;

  /** @internal Made by `Tcp.listen`. */
  constructor(
    host: ListenerHost,
    localAddress: Ipv4Address,
    localPort: number,
    synBacklog: number,
    acceptBacklog: number,
    sendBufferSize: number,
    receiveBufferSize: number,
  ) {
    this.host = host;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.synBacklog = synBacklog;
    this.backlog = acceptBacklog;
    this.sendSize = sendBufferSize;
    this.receiveSize = receiveBufferSize;
  }

  /**
   * Changes the accept queue bound (a second `listen` on a socket). Connections already queued
   * beyond a smaller bound stay; new ones wait until the queue is under it.
   * @throws RangeError unless `backlog` is a positive integer.
   */
  setAcceptBacklog(backlog: number): void {
    if (!(Number.isInteger(backlog) && backlog >= 1))
      throw new RangeError(`accept backlog must be a positive integer, got ${backlog}`);
    this.backlog = backlog;
  }

  /**
   * Sets the send buffer size of connections completed from now on (clamped as
   * `TcpConnection.setSendBufferSize` does) and returns the size in effect.
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  setSendBufferSize(bytes: number): number {
    this.sendSize = this.host.effectiveBufferSize(bytes);
    return this.sendSize;
  }

  /**
   * Sets the receive buffer size of connections whose SYN arrives from now on (clamped) and
   * returns the size in effect.
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  setReceiveBufferSize(bytes: number): number {
    this.receiveSize = this.host.effectiveBufferSize(bytes);
    return this.receiveSize;
  }

  /** Connections in SYN-RECEIVED now. */
  get pendingHandshakes(): number {
    return this.embryos.size;
  }

  /** Takes the oldest established connection from the accept queue, or undefined. */
  accept(): TcpConnection | undefined {
    const c = this.acceptQueue.shift();
    if (c !== undefined) this.stats.accepted++;
    return c;
  }

  /** Stops listening: new SYNs are refused with RST; handshakes in progress and queued connections are reset. */
  close(): void {
    this.host.closeListener(this);
  }

  /** @internal True when the SYN backlog has room. */
  hasSynRoom(): boolean {
    return this.embryos.size < this.synBacklog;
  }

  /** @internal True when the accept queue has room (counting handshakes that will complete into it is not needed: a full queue drops the final ACK). */
  hasAcceptRoom(): boolean {
    return this.onConnection !== undefined || this.acceptQueue.length < this.backlog;
  }
}
