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
 */
import type { Timer } from '@postern/irq';
import type { TcpConnection, TcpListener } from '@postern/netstack';
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
  /** Options set with `setsockopt`. */
  readonly options: TcpSocketOptions;

  constructor(options?: TcpSocketOptions) {
    super();
    this.options =
      options === undefined
        ? {
            noDelay: false,
            keepAlive: false,
            keepIdleMs: undefined,
            linger: { onoff: false, linger: 0 },
            reuseAddr: false,
            sendBufferSize: undefined,
            receiveBufferSize: undefined,
          }
        : // The linger object is shared: setsockopt replaces it, never changes it in place.
          { ...options };
  }

  /** Takes over `conn`'s callbacks and applies the socket's options to it. */
  attach(conn: TcpConnection, phase: 'connecting' | 'connected'): void {
    this.conn = conn;
    this.phase = phase;
    conn.onConnect = () => {
      if (this.phase === 'connecting') this.phase = 'connected';
      this.connectTimer?.cancel();
      this.connectTimer = undefined;
      this.notify();
    };
    conn.onReadable = () => {
      if (this.readShut) this.discardReadable();
      this.notify();
    };
    conn.onWritable = () => this.notify();
    conn.onError = (e) => {
      const syscall: SocketSyscall = this.phase === 'connecting' ? 'connect' : 'recv';
      this.error ??= new SocketError(e.code, syscall, e.message.replace(/^[A-Z]+: /, ''));
    };
    conn.onClose = () => {
      this.connectTimer?.cancel();
      this.connectTimer = undefined;
      this.phase = 'closed';
      this.notify();
    };
    if (this.options.noDelay) conn.setNoDelay(true);
    if (this.options.keepAlive) conn.setKeepAlive(true, this.options.keepIdleMs);
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
