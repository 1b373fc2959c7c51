/**
 * {@link TcpEntry}: a `SOCK_STREAM` socket of the descriptor table, a thin state record over a
 * `TcpListener` (listening) or a `TcpConnection` (connecting or connected). It turns the
 * connection's callbacks into state (`phase`, the pending error) and wakes its watchers.
 *
 * Accept queue: TCP keeps it. `listen` sizes the `TcpListener`'s queue at `backlog + 1` (so at most
 * `backlog + 1` connections wait, as on Linux), and the listener's `onAcceptable` wakes this entry's
 * watchers when a connection enters the empty queue; `accept` takes from it and only then wraps the
 * connection in a new entry. Beyond the bound the listener drops the final ACK of each handshake
 * (counted `acceptQueueDrops`) and the peer retries.
 *
 * Buffer sizes: `SO_SNDBUF`/`SO_RCVBUF` set before `listen` or `connect` are carried into the
 * listener (and so into every accepted connection) or the connection.
 *
 * Per connection it stays small: an accepted entry shares its listener's options until one of them
 * changes an option ({@link TcpEntry.ownOptions} copies then), one function serves all five of the
 * connection's callbacks, and closing the descriptor detaches it from the connection, so that a
 * connection finishing its close in the background (FIN-WAIT, TIME-WAIT) holds nothing of the socket.
 */
import type { Timer } from '@postern/irq';
import type { TcpCloseReason, TcpConnection, TcpError, TcpListener } from '@postern/netstack';
import { canSendData } from '@postern/netstack';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, type Linger } from './constants.js';
import { SocketEntry } from './entry.js';
import { SocketError, type SocketSyscall } from './errors.js';

/** Where a stream socket is in its life. */
export type TcpPhase = 'idle' | 'listening' | 'connecting' | 'connected' | 'closed';

/** Options a stream socket carries into its connection (and an accepted one inherits). */
export interface TcpSocketOptions {
  noDelay: boolean;
  keepAlive: boolean;
  /** Keep-alive idle time, ms; undefined: the stack's default. */
  keepIdleMs: number | undefined;
  /** Replaced by `SO_LINGER`, never changed in place (an accepted socket shares its listener's). */
  linger: Readonly<Linger>;
  reuseAddr: boolean;
  /** `SO_SNDBUF` in effect, bytes; undefined: the TCP module's default. */
  sendBufferSize: number | undefined;
  /** `SO_RCVBUF` in effect, bytes; undefined: the TCP module's default. */
  receiveBufferSize: number | undefined;
  /** True once an accepted entry shares this object: a change then goes to a copy ({@link TcpEntry.ownOptions}). */
  shared: boolean;
}

/** The options of a new socket. */
function defaultOptions(): TcpSocketOptions {
  return {
    noDelay: false,
    keepAlive: false,
    keepIdleMs: undefined,
    linger: { onoff: false, linger: 0 },
    reuseAddr: false,
    sendBufferSize: undefined,
    receiveBufferSize: undefined,
    shared: false,
  };
}

/** One stream socket. */
export class TcpEntry extends SocketEntry {
  /** Where it is in its life. */
  phase: TcpPhase = 'idle';
  /** Bound local address (0: any). */
  localAddress = 0;
  /** Bound local port (0: not bound or ephemeral). */
  localPort = 0;
  /** True after `bind`. */
  bound = false;
  /** The connection, once connecting. */
  conn: TcpConnection | undefined;
  /** The listener, once listening. */
  listener: TcpListener | undefined;
  /** The `listen` backlog. */
  backlog = 0;
  /** The pending error (`SO_ERROR`), cleared when reported. */
  error: SocketError | undefined;
  /** `shutdown(SHUT_RD)` was called: received bytes are discarded, reads see the end of stream. */
  readShut = false;
  /** `shutdown(SHUT_WR)` was called. */
  writeShut = false;
  /** The connect timeout, while connecting. */
  connectTimer: Timer | undefined;
  /** `TCP_NODELAY` of this socket (set from the options it inherits). */
  noDelay: boolean;
  /** Options set with `setsockopt`, read-only here (possibly shared with the listener and its other connections); change them through {@link TcpEntry.ownOptions}. */
  options: Readonly<TcpSocketOptions>;

  /** @param inherited The listener's options, shared (an accepted socket), or undefined (a new socket). */
  constructor(inherited?: Readonly<TcpSocketOptions>) {
    super();
    if (inherited === undefined) this.options = defaultOptions();
    else {
      if (!inherited.shared) (inherited as TcpSocketOptions).shared = true;
      this.options = inherited;
    }
    this.noDelay = this.options.noDelay;
  }

  /** The options to change: the entry's own, copied first when shared (the linger object is replaced on change, never edited in place, so it may stay shared). */
  ownOptions(): TcpSocketOptions {
    const o = this.options;
    if (!o.shared) return o as TcpSocketOptions;
    const own = { ...o, shared: false };
    this.options = own;
    return own;
  }

  /** Takes over `conn`'s callbacks (one function for the five) and applies the socket's options to it. */
  attach(conn: TcpConnection, phase: 'connecting' | 'connected'): void {
    this.conn = conn;
    this.phase = phase;
    // Bound, not an arrow: a bound function is about half the size of a closure and its context.
    const onEvent = this.connectionEvent.bind(this);
    conn.onConnect = onEvent;
    conn.onReadable = onEvent;
    conn.onWritable = onEvent;
    conn.onError = onEvent;
    conn.onClose = onEvent;
    if (this.noDelay) conn.setNoDelay(true);
    if (this.options.keepAlive) conn.setKeepAlive(true, this.options.keepIdleMs);
  }

  /**
   * Lets go of the connection's callbacks (the descriptor was closed: nobody waits for its events
   * any more), so the connection, closing in the background, keeps nothing of this entry alive.
   */
  detach(): void {
    const c = this.conn;
    if (c === undefined) return;
    c.onConnect = undefined;
    c.onReadable = undefined;
    c.onWritable = undefined;
    c.onError = undefined;
    c.onClose = undefined;
  }

  /**
   * One of the connection's callbacks: `onError` (a {@link TcpError}), `onClose` (its reason, a
   * string), or `onConnect`, `onReadable`, `onWritable` (no argument; while connecting, only
   * `onConnect` can come: nothing is readable and nothing was written before the handshake).
   */
  private connectionEvent(arg?: TcpError | TcpCloseReason): void {
    if (arg === undefined) {
      if (this.phase === 'connecting') {
        this.phase = 'connected';
        this.cancelConnectTimer();
      }
      if (this.readShut) this.discardReadable();
      this.notify();
    } else if (typeof arg === 'string') {
      this.cancelConnectTimer();
      this.phase = 'closed';
      this.notify();
    } else {
      const syscall: SocketSyscall = this.phase === 'connecting' ? 'connect' : 'recv';
      this.error ??= new SocketError(arg.code, syscall, arg.message.replace(/^[A-Z]+: /, ''));
    }
  }

  /** Stops the connect timeout, if one runs. */
  cancelConnectTimer(): void {
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
  }

  /** Drops every readable byte (after `SHUT_RD`). */
  discardReadable(): void {
    const c = this.conn;
    if (c === undefined) return;
    const n = c.readableLength;
    if (n > 0) c.consume(n);
  }

  /** Takes the pending error (as `SO_ERROR` and a failing call do). */
  takeError(): SocketError | undefined {
    const e = this.error;
    this.error = undefined;
    return e;
  }

  /** True when the connection can take more bytes now. */
  canWrite(): boolean {
    const c = this.conn;
    return (
      c !== undefined && !this.writeShut && this.phase === 'connected' && canSendData(c.state) && c.writableLength > 0
    );
  }

  /** @inheritDoc */
  readiness(): number {
    switch (this.phase) {
      case 'idle':
        return POLLOUT | POLLHUP;
      case 'listening':
        return this.listener !== undefined && this.listener.acceptQueue.length > 0 ? POLLIN : 0;
      case 'connecting':
        return this.error !== undefined ? POLLERR : 0;
      default: {
        const c = this.conn!;
        let m = this.error !== undefined ? POLLERR : 0;
        if (this.phase === 'closed') {
          m |= POLLIN | POLLOUT | POLLHUP;
          if (c.readableEnded) m |= POLLRDHUP;
          return m;
        }
        if (c.readableLength > 0 || c.readableEnded || this.readShut) m |= POLLIN;
        if (c.readableEnded) m |= POLLRDHUP;
        if (c.readableEnded && this.writeShut) m |= POLLHUP;
        if (this.canWrite()) m |= POLLOUT;
        return m;
      }
    }
  }
}
