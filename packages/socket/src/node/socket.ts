/**
 * {@link Socket}: a Node `net.Socket`-compatible Duplex stream over one stream descriptor of a
 * {@link Sockets} table. It is a thin face: it holds the descriptor, and every operation goes
 * through the table (`sendSome`, `shutdown`, `close`) or the connection its entry holds.
 *
 * Flow control both ways: `write()` returns false once the Writable buffer passes its high-water
 * mark; a chunk's callback waits until TCP's send buffer accepted all of it, so a full send buffer
 * holds the stream back and `'drain'` follows when acknowledgements free space. Reading stops when
 * `push()` says the consumer's buffer is full (a paused consumer); the bytes then stay in TCP's
 * receive buffer, whose window closes as it fills, and reading resumes on the next `_read()`.
 *
 * Events: `'connect'` and `'ready'` (active opens), `'data'`, `'end'` (the peer's FIN), `'timeout'`
 * ({@link Socket.setTimeout}, on the stack's scheduler), `'error'` (a {@link SocketError} with
 * `code`, `syscall`, and for connect failures `address`/`port`), `'close'` (with `hadError`).
 * Stack events reach the stream in a microtask, never inside the stack's own processing.
 */
import { Buffer } from 'node:buffer';
import { Duplex } from 'node:stream';
import { ipv4ToString, parseIpv4, type Ipv4Address } from '@postern/wire';
import type { Timer } from '@postern/irq';
import {
  AF_INET,
  IPPROTO_TCP,
  SHUT_WR,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_KEEPALIVE,
  SO_LINGER,
  TCP_KEEPIDLE,
  TCP_NODELAY,
} from '../constants.js';
import type { Fd } from '../descriptor-table.js';
import { SocketError } from '../errors.js';
import type { EntryObserver } from '../entry.js';
import type { Sockets } from '../sockets.js';
import type { TcpEntry } from '../tcp-entry.js';

/** Resolves a host name to an IPv4 address (undefined: not found). */
export type HostLookup = (host: string) => Ipv4Address | undefined;

/** Options of a {@link Socket}. */
export interface SocketOptions {
  /** The table (the stack) the socket lives on. */
  sockets: Sockets;
  /** Wrap this connected descriptor (what a {@link Server} does with an accepted one). */
  fd?: Fd;
  /** Keep the writable side open after the peer's FIN (Node's `allowHalfOpen`). Default false. */
  allowHalfOpen?: boolean;
  /** Host names to addresses for `connect` (dotted quads need none). */
  lookup?: HostLookup;
  /** Writable high-water mark, bytes. Default Node's (16 KiB). */
  writableHighWaterMark?: number;
  /** Readable high-water mark, bytes. Default Node's (16 KiB). */
  readableHighWaterMark?: number;
}

/** Options of {@link Socket.connect} (Node's `net.connect` options, IPv4). */
export interface SocketConnectOptions {
  port: number;
  /** Dotted quad, or a name the `lookup` option resolves. Default `'127.0.0.1'`. */
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** Idle timeout, ms (as `setTimeout`). */
  timeout?: number;
  /** Give up connecting after this many ms with `ETIMEDOUT` (Postern's; Node has none). */
  connectTimeoutMs?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** What {@link Socket.address} returns. */
export interface AddressInfo {
  address: string;
  family: 'IPv4';
  port: number;
}

const READ_CHUNK = 64 * 1024;
/**
 * The Duplex options of a socket with Node's default high-water marks, by `allowHalfOpen`: made
 * once, not per socket (the stream reads them in its constructor and keeps none of them).
 */
const STREAM_OPTIONS = [false, true].map((allowHalfOpen) =>
  Object.freeze({ allowHalfOpen, emitClose: false, autoDestroy: true, decodeStrings: true }),
);
/** Settled once: `RESOLVED.then(fn)` runs `fn` in a microtask. */
const RESOLVED = Promise.resolve();
/** Sockets with stack events waiting for the next microtask (see `Socket.changed`). */
let changedSockets: Socket[] = [];
/** The other array {@link Socket.updateChanged} swaps in (so a batch makes no array). */
let spareChangedSockets: Socket[] = [];

/**
 * What a {@link Socket} tells the server that accepted it (instead of a `'close'` listener per
 * connection).
 */
export interface SocketOwner {
  /** `socket` emitted `'close'`. */
  socketClosed(socket: Socket): void;
}

/** Emits a socket's `'close'` (a `process.nextTick` callback with arguments: no closure per socket). */
function emitClose(socket: Socket, hadError: boolean): void {
  // The server counts the socket out first, as Node's does before the socket's 'close'.
  socket.acceptedBy?.socketClosed(socket);
  socket.emit('close', hadError);
}

/** A Node `net.Socket`-compatible stream. See the module comment. */
export class Socket extends Duplex implements EntryObserver {
  /** The table this socket lives on. */
  readonly sockets: Sockets;
  /** True while an active open is in progress. */
  connecting = false;
  /** Bytes received. */
  bytesRead = 0;
  /** The idle timeout set with {@link Socket.setTimeout}, ms (undefined: none). */
  timeout: number | undefined;
  /**
   * @internal The server that accepted this socket, told when it closes; undefined for an active
   * open. (Not `server`: Node's `http` sets that property on the sockets it serves.)
   */
  acceptedBy: SocketOwner | undefined;
  private descriptor: Fd | undefined;
  /**
   * The descriptor's entry, once there is one (kept after the socket is destroyed for its addresses:
   * closing the descriptor detached the entry from the connection, so only this socket holds it).
   */
  private entryRef: TcpEntry | undefined;
  private changeQueued = false;
  private wantRead = false;
  private started = false;
  private endPushed = false;
  /** Set by {@link Socket.pipe}: chunks then always go through `push()`. */
  private piped = false;
  private pendingWrite: { data: Uint8Array; offset: number; cb: (error?: Error | null) => void } | undefined;
  private pendingFinal: ((error?: Error | null) => void) | undefined;
  /** Corks held on the TCP connection (see {@link Socket.cork}); 0: none. */
  private tcpCorks = 0;
  private written = 0;
  private timer: Timer | undefined;
  private readonly lookup: HostLookup | undefined;
  private noDelayWanted: boolean | undefined;
  private keepAliveWanted: [boolean, number] | undefined;
  /** {@link Socket.remoteAddress}, once built. */
  private peerAddress: string | undefined = undefined;

  constructor(options: SocketOptions) {
    super(
      options.writableHighWaterMark === undefined && options.readableHighWaterMark === undefined
        ? STREAM_OPTIONS[options.allowHalfOpen === true ? 1 : 0]
        : {
            ...STREAM_OPTIONS[options.allowHalfOpen === true ? 1 : 0],
            ...(options.writableHighWaterMark !== undefined
              ? { writableHighWaterMark: options.writableHighWaterMark }
              : {}),
            ...(options.readableHighWaterMark !== undefined
              ? { readableHighWaterMark: options.readableHighWaterMark }
              : {}),
          },
    );
    this.sockets = options.sockets;
    this.lookup = options.lookup;
    if (options.fd !== undefined) this.adopt(options.fd, false);
  }

  /** The descriptor, once there is one. */
  get fd(): Fd | undefined {
    return this.descriptor;
  }

  /** True before the socket is connected (Node's `pending`). */
  get pending(): boolean {
    return this.descriptor === undefined || this.connecting;
  }

  /** `'opening'`, `'open'`, `'readOnly'`, `'writeOnly'` or `'closed'`, as Node's. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.descriptor === undefined || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Bytes written: accepted by TCP plus those still buffered in the stream. */
  get bytesWritten(): number {
    return this.written + this.writableLength;
  }

  /**
   * The peer's address (dotted quad), once connected (and after the close). Built on the first read
   * once connected and kept (a socket's peer never changes).
   */
  get remoteAddress(): string | undefined {
    if (this.peerAddress !== undefined) return this.peerAddress;
    const c = this.connectedConn();
    return c === undefined ? undefined : (this.peerAddress = ipv4ToString(c.remoteAddress));
  }

  /** The peer's port, once connected (see {@link Socket.remoteAddress}). */
  get remotePort(): number | undefined {
    return this.connectedConn()?.remotePort;
  }

  /** `'IPv4'` once connected (see {@link Socket.remoteAddress}). */
  get remoteFamily(): 'IPv4' | undefined {
    return this.connectedConn() === undefined ? undefined : 'IPv4';
  }

  /** The local address, once connected (see {@link Socket.remoteAddress}). */
  get localAddress(): string | undefined {
    const c = this.connectedConn();
    return c === undefined ? undefined : ipv4ToString(c.localAddress);
  }

  /** The local port, once connected. */
  get localPort(): number | undefined {
    return this.connectedConn()?.localPort;
  }

  /** `'IPv4'` once connected. */
  get localFamily(): 'IPv4' | undefined {
    return this.connectedConn() === undefined ? undefined : 'IPv4';
  }

  /** The local address as Node's `socket.address()` gives it (`{}` before connect). */
  address(): AddressInfo | Record<string, never> {
    const c = this.connectedConn();
    return c === undefined ? {} : { address: ipv4ToString(c.localAddress), family: 'IPv4', port: c.localPort };
  }

  /** The connection, once connected (an active open's handshake done). */
  private connectedConn(): TcpEntry['conn'] {
    return this.connecting ? undefined : this.entryRef?.conn;
  }

  /**
   * Opens a connection: `connect(port, host?, listener?)` or `connect(options, listener?)`. Emits
   * `'connect'` and `'ready'`, or `'error'` (`ECONNREFUSED`, `ETIMEDOUT`, `ENETUNREACH`, `ENOTFOUND`)
   * and `'close'`.
   */
  connect(options: SocketConnectOptions, listener?: () => void): this;
  connect(port: number, host?: string, listener?: () => void): this;
  connect(port: number, listener?: () => void): this;
  connect(a: SocketConnectOptions | number, b?: string | (() => void), c?: () => void): this {
    const options: SocketConnectOptions =
      typeof a === 'object' ? a : { port: a, ...(typeof b === 'string' ? { host: b } : {}) };
    const listener = typeof b === 'function' ? b : c;
    if (listener !== undefined) this.once('connect', listener);
    if (this.descriptor !== undefined) {
      this.failSoon(new SocketError('EISCONN', 'connect', 'the socket is already connected or connecting'));
      return this;
    }
    this.connecting = true;
    const host = options.host ?? '127.0.0.1';
    const port = Number(options.port);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (options.noDelay === true) this.setNoDelay(true);
    if (options.keepAlive === true) this.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    let address: Ipv4Address | undefined;
    try {
      address = parseIpv4(host);
    } catch {
      address = this.lookup?.(host);
    }
    if (address === undefined) {
      const err = new SocketError('ENOTFOUND', 'lookup', `cannot resolve ${host} (give the Socket a lookup function)`);
      this.failSoon(err);
      return this;
    }
    const s = this.sockets;
    try {
      const fd = s.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      this.adopt(fd, true);
      if (options.localAddress !== undefined || options.localPort !== undefined) {
        s.bind(fd, {
          address: options.localAddress !== undefined ? parseIpv4(options.localAddress) : 0,
          port: options.localPort ?? 0,
        });
      }
      s.connect(
        fd,
        { address, port },
        options.connectTimeoutMs !== undefined ? { timeoutMs: options.connectTimeoutMs } : {},
      ).then(
        () => this.changed(),
        (err: unknown) => {
          if (err instanceof SocketError && err.code === 'EINPROGRESS') return;
          this.decorate(err, host, port);
          this.destroy(err as Error);
        },
      );
    } catch (err) {
      this.decorate(err, host, port);
      this.failSoon(err as Error);
    }
    this.pendingTarget = { host, port };
    return this;
  }

  private pendingTarget: { host: string; port: number } | undefined;

  private decorate(err: unknown, host: string, port: number): void {
    if (err instanceof SocketError) {
      err.address = host;
      err.port = port;
    }
  }

  private failSoon(err: Error): void {
    process.nextTick(() => this.destroy(err));
  }

  /** Turns Nagle's algorithm off (`true`, the default) or on. */
  setNoDelay(noDelay = true): this {
    this.noDelayWanted = noDelay;
    if (this.descriptor !== undefined && this.sockets.isOpen(this.descriptor))
      this.sockets.setsockopt(this.descriptor, IPPROTO_TCP, TCP_NODELAY, noDelay);
    return this;
  }

  /** Turns keep-alive probes on or off; `initialDelay` (ms, 0: the stack's default) before the first. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAliveWanted = [enable, initialDelay];
    const fd = this.descriptor;
    if (fd !== undefined && this.sockets.isOpen(fd)) {
      if (initialDelay > 0)
        this.sockets.setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, Math.max(1, Math.round(initialDelay / 1000)));
      this.sockets.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, enable);
    }
    return this;
  }

  /**
   * Emits `'timeout'` after `ms` without activity (reads or writes); 0 turns it off. The socket is
   * not closed: the listener decides. Runs on the stack's scheduler timers.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.timer?.cancel();
    this.timer = undefined;
    this.timeout = ms > 0 ? ms : undefined;
    if (ms > 0) this.timer = this.sockets.scheduler.timerAfter(ms, () => this.onIdle());
    return this;
  }

  private onIdle(): void {
    this.timer = undefined;
    if (this.destroyed || this.timeout === undefined) return;
    this.emit('timeout');
  }

  private touch(): void {
    if (this.timeout === undefined) return;
    if (this.timer === undefined) this.timer = this.sockets.scheduler.timerAfter(this.timeout, () => this.onIdle());
    else this.timer.resetAfter(this.timeout);
  }

  /**
   * Node's `cork`. While the stream holds nothing it corks the TCP connection instead (Linux's
   * `TCP_CORK`): writes still go straight to TCP, which queues them without sending until the
   * matching {@link Socket.uncork}, or until `end()` queues the FIN, which then rides on the last
   * data segment (a short answer and its FIN in one frame). Otherwise Node's cork (the stream
   * buffers the writes). Uncork soon, as Node's own users do (`process.nextTick(() => s.uncork())`).
   */
  override cork(): void {
    if (this.tcpCorks === 0) {
      const conn = this.entryRef?.conn;
      if (conn === undefined || !this.writesDirectly()) {
        super.cork();
        return;
      }
      conn.setCork(true);
    }
    this.tcpCorks++;
  }

  /** Node's `uncork`: undoes one {@link Socket.cork}; the last one of a TCP cork sends what it held. */
  override uncork(): void {
    if (this.tcpCorks === 0) {
      super.uncork();
      return;
    }
    if (--this.tcpCorks === 0) this.entryRef?.conn?.setCork(false);
  }

  /**
   * Node's `end`: the last chunk (if any), then the FIN once every chunk is in TCP. Corked around
   * Node's own `end` (see {@link Socket.cork}), so that when the stream held nothing the chunk and
   * the FIN leave in one segment; like Node's, it undoes every cork.
   */
  override end(chunk?: unknown, encoding?: BufferEncoding | (() => void), cb?: () => void): this {
    this.cork();
    super.end(chunk as never, encoding as never, cb as never);
    if (this.tcpCorks > 0) {
      this.tcpCorks = 0;
      this.entryRef?.conn?.setCork(false);
    }
    return this;
  }

  /** Ends the writable side once buffered data is out, then destroys the socket. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Destroys the socket with a RST to the peer (`SO_LINGER` 0). */
  resetAndDestroy(): this {
    const fd = this.descriptor;
    if (fd !== undefined && this.sockets.isOpen(fd))
      this.sockets.setsockopt(fd, SOL_SOCKET, SO_LINGER, { onoff: true, linger: 0 });
    return this.destroy();
  }

  /** No-op (the stack's scheduler decides what keeps the process alive). */
  ref(): this {
    return this;
  }

  /** No-op (see {@link Socket.ref}). */
  unref(): this {
    return this;
  }

  // ---------------------------------------------------------------- wiring

  private adopt(fd: Fd, connecting: boolean): void {
    this.descriptor = fd;
    const entry = this.sockets.entry(fd, 'connect') as TcpEntry;
    this.entryRef = entry;
    this.connecting = connecting;
    entry.observe(this);
    if (this.noDelayWanted !== undefined) this.setNoDelay(this.noDelayWanted);
    if (this.keepAliveWanted !== undefined) this.setKeepAlive(...this.keepAliveWanted);
    if (!connecting) this.changed();
  }

  /** @internal {@link EntryObserver}: the entry changed (a stack event); handled in the next microtask. */
  entryChanged(): void {
    this.changed();
  }

  /**
   * Coalesces stack events into one microtask, shared by every socket with events in the same turn
   * (one promise reaction per batch, no closure per socket or per event; `queueMicrotask` would also
   * wrap each call in an async resource).
   */
  private changed(): void {
    if (this.changeQueued) return;
    this.changeQueued = true;
    changedSockets.push(this);
    if (changedSockets.length === 1) void RESOLVED.then(Socket.updateChanged);
  }

  /** The microtask of {@link Socket.changed}: updates every socket queued since. */
  private static updateChanged(): void {
    const batch = changedSockets;
    changedSockets = spareChangedSockets;
    spareChangedSockets = batch;
    // Flags first: a socket whose update throws never leaves another one waiting for good.
    for (let i = 0; i < batch.length; i++) batch[i]!.changeQueued = false;
    try {
      for (let i = 0; i < batch.length; i++) batch[i]!.update();
    } finally {
      // Emptied even when an update throws: the array comes back as the next batch's.
      batch.length = 0;
    }
  }

  private update(): void {
    const e = this.entryRef;
    if (e === undefined || this.destroyed) return;
    if (this.connecting) {
      if (e.phase === 'connecting') return;
      if (e.phase !== 'connected') {
        const err =
          e.takeError() ??
          new SocketError('ECONNABORTED', 'connect', 'the connection closed before it was established');
        const t = this.pendingTarget;
        if (t !== undefined) this.decorate(err, t.host, t.port);
        // Never connected: no addresses to report (as Node's).
        e.unobserve(this);
        this.entryRef = undefined;
        this.destroy(err);
        return;
      }
      this.connecting = false;
      this.touch();
      this.emit('connect');
      this.emit('ready');
      if (this.pendingFinal !== undefined) this.finalNow();
      this.started = false;
    }
    if (!this.started) {
      // As Node's net does once connected: start reading (into the buffer, up to its high-water mark)
      // unless the socket was paused, so that the end of the stream is seen without a consumer.
      this.started = true;
      if (!this.isPaused()) this.read(0);
    }
    if (this.wantRead) this.pull(true);
    if (this.pendingWrite !== undefined) this.writeNow();
    if (this.pendingFinal !== undefined && this.pendingWrite === undefined) this.finalNow();
    if (e.error !== undefined && !this.destroyed) {
      // A reset or timeout: reported like Node does, as an error on the stream.
      const err = e.takeError()!;
      this.destroy(err);
    }
  }

  /**
   * Moves readable bytes from TCP into the stream while the consumer wants them. `direct` (a call
   * from a stack event, never from inside `_read`) lets a chunk skip the Readable's buffer when
   * {@link Socket.deliversDirectly} holds.
   */
  private pull(direct: boolean): void {
    const e = this.entryRef!;
    const c = e.conn;
    if (c === undefined || this.endPushed) return;
    const trace = this.sockets.stack.scheduler.trace;
    while (this.wantRead) {
      if (e.readShut) break;
      const view = c.readView(READ_CHUNK);
      if (view === undefined) break;
      const buf = Buffer.allocUnsafe(view.length);
      buf.set(view);
      c.consume(view.length);
      if (trace !== undefined && trace.on) trace.mark('socket', `read ${buf.length} B (net face)`);
      this.bytesRead += buf.length;
      this.touch();
      if (direct && this.deliversDirectly()) this.emit('data', buf);
      else this.wantRead = this.push(buf);
    }
    if (c.readableLength === 0 && (c.readableEnded || e.readShut || (e.phase === 'closed' && e.error === undefined))) {
      this.endPushed = true;
      this.push(null);
      this.read(0); // as Node's net: an empty, unconsumed stream still emits 'end'
    }
  }

  /**
   * True when a chunk may go to the `'data'` listeners at once instead of through `push()`: exactly
   * the case where Node's `push()` itself emits `'data'` synchronously (flowing, nothing buffered, a
   * `'data'` listener, no decoder) and its bookkeeping has nothing left to record (the first chunk
   * went through `push()`, so `readableDidRead` holds; the socket was never piped, so no pipe waits
   * for a drain). What this spares per chunk is the Readable's push and the `nextTick` in which it
   * looks for more (a `read(0)` that finds nothing). The chunk still counts as wanted: the consumer
   * is flowing, and a consumer that pauses in its listener makes the next chunk take `push()`.
   */
  private deliversDirectly(): boolean {
    return (
      this.readableFlowing === true &&
      this.readableLength === 0 &&
      this.readableDidRead &&
      !this.piped &&
      !this.destroyed &&
      this.readableEncoding === null &&
      this.listenerCount('data') > 0
    );
  }

  /** Node's `pipe`; a piped socket delivers every chunk through `push()` from then on (a pipe waits for drains through the Readable's state). */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    this.piped = true;
    return super.pipe(destination, options);
  }

  /** @internal Node stream hook: the consumer wants more. */
  override _read(): void {
    this.wantRead = true;
    if (!this.connecting && this.entryRef !== undefined) this.pull(false);
  }

  /**
   * Node's `write`, with a direct path for the common case: a connected socket whose stream holds
   * nothing (no buffered chunk, not corked, not ending), a byte chunk and no callback. The chunk then
   * goes to TCP at once, without the Writable's per-chunk bookkeeping and its `nextTick`; what TCP
   * did not take is queued through the stream as usual. The stream ends in the same state either
   * way (the bytes in TCP, the rest buffered), and the return value is the one Node gives.
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error?: Error | null) => void),
    cb?: (error?: Error | null) => void,
  ): boolean {
    if (encoding === undefined && cb === undefined && chunk instanceof Uint8Array && this.writesDirectly()) {
      let n: number;
      try {
        n = this.sockets.sendSomeOn(this.entryRef!, chunk);
      } catch (err) {
        this.destroy(err as Error);
        return false;
      }
      if (n > 0) {
        this.written += n;
        this.touch();
      }
      if (n === chunk.length) return true;
      return super.write(chunk.subarray(n));
    }
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  /** True when a chunk may bypass the Writable (see {@link Socket.write}). */
  private writesDirectly(): boolean {
    return (
      !this.connecting &&
      this.descriptor !== undefined &&
      this.pendingWrite === undefined &&
      this.writable &&
      !this.writableEnded &&
      this.writableLength === 0 &&
      this.writableCorked === 0 &&
      this.writableHighWaterMark > 0
    );
  }

  /** @internal Node stream hook: one chunk; its callback waits until TCP took all of it. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.pendingWrite = { data: chunk, offset: 0, cb };
    if (!this.connecting) this.writeNow();
  }

  private writeNow(): void {
    const w = this.pendingWrite!;
    let n: number;
    try {
      // No entry: a write before any connect, which fails as a send on no descriptor does (EBADF).
      const e = this.entryRef ?? (this.sockets.entry(this.descriptor!, 'send') as TcpEntry);
      n = this.sockets.sendSomeOn(e, w.data.subarray(w.offset));
    } catch (err) {
      this.pendingWrite = undefined;
      w.cb(err as Error);
      return;
    }
    if (n > 0) {
      w.offset += n;
      this.written += n;
      this.touch();
    }
    if (w.offset === w.data.length) {
      this.pendingWrite = undefined;
      w.cb();
    }
  }

  /** @internal Node stream hook: every chunk is in TCP; send the FIN. */
  override _final(cb: (error?: Error | null) => void): void {
    this.pendingFinal = cb;
    if (!this.connecting) this.finalNow();
  }

  private finalNow(): void {
    const cb = this.pendingFinal!;
    this.pendingFinal = undefined;
    try {
      this.sockets.shutdown(this.descriptor!, SHUT_WR);
    } catch (err) {
      if (!(err instanceof SocketError && (err.code === 'ENOTCONN' || err.code === 'EBADF'))) {
        cb(err as Error);
        return;
      }
    }
    cb();
  }

  /** @internal Node stream hook: closes the descriptor (FIN, or RST with unread data or after `resetAndDestroy`). */
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.entryRef?.unobserve(this);
    this.connecting = false;
    const fd = this.descriptor;
    if (fd !== undefined && this.sockets.isOpen(fd)) this.sockets.close(fd);
    const w = this.pendingWrite;
    this.pendingWrite = undefined;
    if (w !== undefined) w.cb(error ?? new SocketError('EPIPE', 'write', 'the socket was destroyed'));
    cb(error);
    // Node's net emits 'close' with `hadError`, after 'error'.
    process.nextTick(emitClose, this, error !== null && error !== undefined);
  }
}
