/**
 * {@link LightSocket}: one accepted TCP connection as a small event face, for servers that need bytes,
 * backpressure and close, not a Node `Duplex` (an HTTP server). It has the shape `@postern/http`'s
 * server takes (`on('data' | 'end' | 'drain' | 'error' | 'close')`, `write`, `end`, `destroy`,
 * `pause`/`resume`, `cork`/`uncork`, `setNoDelay`, `remoteAddress`, `destroyed`) and nothing more: no
 * stream state, no per-chunk bookkeeping, no `process.nextTick`. A {@link LightServer} makes them.
 *
 * When events come (the part to know before writing a listener): EVERY event runs in the server's
 * bottom half, the next deferred round of the stack's scheduler (see {@link LightServer}), never inside
 * TCP's processing and never inside a call the application made. A notification of the connection
 * (TCP's `onReadable`/`onWritable`/`onClose` through the descriptor's entry) only queues the socket
 * there, once per round: within the same scheduler run, so no microtask, `nextTick` or host turn is
 * spent, but after TCP has finished the whole receive batch and queued the ACKs it owes. That order
 * matters: a read made inside TCP's callback, before that queueing, would make TCP send the first
 * read's window update as a frame of its own, where a read in the next round lets the ACK owed (or
 * the reply the application writes, which then carries it) take it along. So: a `destroy()` inside
 * a `'data'` listener returns before any `'close'` listener runs; `resume()` and `end()` never emit
 * from inside themselves; a reply written inside `'data'` leaves at once, in the same run, carrying
 * the ACK of the request. One update delivers everything that is ready, in order: queued writes into
 * TCP (then `'drain'`), the bytes (`'data'`), the peer's FIN (`'end'`), a reset (`'error'`, `'close'`).
 *
 * Reading: bytes stay in TCP's receive buffer (its window closes as it fills) until the socket has a
 * `'data'` listener and is not paused; each chunk is copied into a fresh `Buffer` (a listener may keep
 * it). Nothing is read without a listener, so no byte is ever lost or reordered. `'end'` (the peer's FIN)
 * comes after the last chunk, only while not paused.
 *
 * Writing: `write` hands the chunk to TCP at once; what TCP's send buffer (`SO_SNDBUF`, the high-water
 * mark) cannot take is queued here, in order (the chunk is kept, not copied: do not change it after
 * writing), and `write` returns false; `'drain'` follows once the queue went into TCP. `end()` sends the
 * FIN after the queued bytes. Without `allowHalfOpen` the peer's FIN ends this side too; once both sides
 * have ended the socket destroys itself (as Node's `autoDestroy`), and `'close'` follows.
 *
 * `destroy()` closes the descriptor at once (a graceful FIN after what TCP holds, or a RST when unread
 * bytes remain) and drops the queue. Its `'error'` and `'close'` come in the server's deferred round:
 * a socket destroyed while its own update runs there (both sides ended, a listener's `destroy()`, a
 * reset) reports them as soon as that update is over, in the same turn of the round (the socket is
 * not queued a second time); one destroyed anywhere else is queued for the next round. A listener
 * that throws closes its socket (destroyed with that error) and the error is rethrown from the
 * server's bottom half once the round's other sockets had their turn (the scheduler reports it).
 */
// Imported, not the global: Node's global `Buffer` is a getter, so every use of it in a hot path is a
// global-object property load with an accessor call (seen under `update` in perf profiles of the bin).
import { Buffer } from 'node:buffer';
import { IPPROTO_TCP, SHUT_WR, TCP_NODELAY } from '../constants.js';
import type { Fd } from '../descriptor-table.js';
import type { EntryObserver } from '../entry.js';
import { SocketError } from '../errors.js';
import type { Sockets } from '../sockets.js';
import type { TcpEntry } from '../tcp-entry.js';

// Byte counts are read as `.length`, not `.byteLength` (the same for bytes): Node 20's optimizing compiler
// inlines a typed array's `length` but calls the generic property-load builtin for its `byteLength`.

/**
 * `TypedArray.prototype.set`, called as the known function: `chunk.set(view)` on a `Buffer` compiles to a
 * generic property load (the lookup through the prototype chain) on Node 20, once per chunk read.
 */
const copyInto = Uint8Array.prototype.set as (this: Uint8Array, source: Uint8Array) => void;

/** Largest chunk one `'data'` event carries, bytes. */
const READ_CHUNK = 64 * 1024;

/** The events of a {@link LightSocket}. */
export type LightSocketEvent = 'data' | 'end' | 'drain' | 'error' | 'close';

/** A listener of a {@link LightSocket}; called with the socket as `this`. */
export type LightSocketListener = (this: LightSocket, ...args: never[]) => void;

/** One event's listeners: none, one function (the common case), or an array once there are two. */
type Slot = LightSocketListener | LightSocketListener[] | undefined;

/**
 * What a {@link LightSocket} needs from the server that accepted it: the deferred round and the count
 * of open sockets.
 */
export interface LightSocketOwner {
  /** Runs `socket`'s deferred work (its `runDeferred`) in the next deferred round. */
  defer(socket: LightSocket): void;
  /** `socket` emitted `'close'`. */
  socketClosed(socket: LightSocket): void;
  /** The dotted quad of the IPv4 `address` (the owner may share one string among its sockets). */
  addressText(address: number): string;
}

// The socket's state bits (LightSocket's `flags`: one small integer instead of a field each,
// so the object made per accepted connection is smaller).
/** `destroy()` ran. */
const DESTROYED = 1;
/** `pause()` holds `'data'` and `'end'`. */
const PAUSED = 2;
/** Delivery may start (the server emitted `'connection'`). */
const STARTED = 4;
/** `'end'` was emitted. */
const END_EMITTED = 8;
/** `end()` was called. */
const ENDING = 16;
/** The FIN was handed to TCP. */
const FIN_SENT = 32;
/** A `write` returned false: `'drain'` is owed. */
const NEED_DRAIN = 64;
/** Inside the socket's update or one of the face's own calls into the table. */
const BUSY = 128;
/** A notification came while {@link BUSY}. */
const DIRTY = 256;
/** `'close'` was emitted. */
const CLOSE_EMITTED = 512;
/** The writable side stays open after the peer's FIN (`allowHalfOpen`). */
const HALF_OPEN = 1024;
/**
 * Inside {@link LightSocket.runDeferred}'s update: a `destroy()` then leaves the close to that call
 * (right after the update) instead of queueing the socket for another turn of the round.
 */
const IN_ROUND = 2048;

function addTo(slot: Slot, fn: LightSocketListener): Slot {
  if (slot === undefined) return fn;
  if (typeof slot === 'function') return [slot, fn];
  slot.push(fn);
  return slot;
}

function removeFrom(slot: Slot, fn: LightSocketListener): Slot {
  if (slot === fn) return undefined;
  if (slot === undefined || typeof slot === 'function') return slot;
  const i = slot.lastIndexOf(fn);
  if (i < 0) return slot;
  const rest = slot.filter((_, j) => j !== i);
  return rest.length === 1 ? rest[0] : rest;
}

/** A light face over one accepted connection. See the module comment. */
export class LightSocket implements EntryObserver {
  /** The table the connection lives on. */
  readonly sockets: Sockets;
  /** The connection's descriptor (closed once {@link LightSocket.destroyed}). */
  readonly fd: Fd;
  /** Bytes delivered in `'data'` events. */
  bytesRead = 0;
  /** Bytes TCP took from {@link LightSocket.write}. */
  bytesWritten = 0;
  /** @internal Set by the owner while the socket waits for its deferred round. */
  deferQueued = false;
  /** @internal The owner's next socket waiting for the deferred round (the owner's queue is linked through its sockets). */
  deferNext: LightSocket | undefined = undefined;
  private readonly entry: TcpEntry;
  private readonly owner: LightSocketOwner;
  private onData: Slot = undefined;
  private onEnd: Slot = undefined;
  private onDrain: Slot = undefined;
  private onError: Slot = undefined;
  private onClose: Slot = undefined;
  private peerAddress: string | undefined = undefined;
  private peerPort: number;
  /** Chunks TCP could not take yet, oldest first (the first one from {@link LightSocket.queueOffset}). */
  private queue: Uint8Array[] | undefined = undefined;
  private queueOffset = 0;
  /** The state bits (DESTROYED, PAUSED, ... above). */
  private flags = 0;
  private corks = 0;
  /** The error `'error'` will carry (set by `destroy(error)`). */
  private closeError: Error | undefined = undefined;
  /** A listener's exception, rethrown from the deferred round. */
  private thrown: unknown = undefined;

  /**
   * @internal Made by a {@link LightServer} for a descriptor it accepted.
   * @param allowHalfOpen keep the writable side open after the peer's FIN
   */
  constructor(owner: LightSocketOwner, sockets: Sockets, fd: Fd, allowHalfOpen: boolean) {
    this.owner = owner;
    this.sockets = sockets;
    this.fd = fd;
    if (allowHalfOpen) this.flags = HALF_OPEN;
    const entry = sockets.entry(fd, 'accept') as TcpEntry;
    this.entry = entry;
    this.peerPort = entry.conn!.remotePort;
    entry.observe(this);
  }

  /** The peer's address (dotted quad), built on first use and kept (also after the close). */
  get remoteAddress(): string {
    return (this.peerAddress ??= this.owner.addressText(this.entry.conn!.remoteAddress));
  }

  /** The peer's port. */
  get remotePort(): number {
    return this.peerPort;
  }

  /** True once {@link LightSocket.destroy} ran (by the application, an error, or both sides ending). */
  get destroyed(): boolean {
    return (this.flags & DESTROYED) !== 0;
  }

  /**
   * Always true: TCP copies what it takes into its send buffer, so a chunk whose `write` returned true,
   * or whose `'drain'` followed, is referenced no more and the writer may reuse it.
   */
  get copiesWrites(): boolean {
    return true;
  }

  /** Bytes queued here because TCP's send buffer was full. */
  get writableLength(): number {
    const q = this.queue;
    if (q === undefined) return 0;
    let n = -this.queueOffset;
    for (let i = 0; i < q.length; i++) n += q[i]!.length;
    return n;
  }

  // ---------------------------------------------------------------- listeners

  /** Adds `listener` for `event` (called with the socket as `this`). A first `'data'` listener starts the flow. */
  on(event: 'data', listener: (this: LightSocket, chunk: Buffer) => void): this;
  on(event: 'error', listener: (this: LightSocket, error: Error) => void): this;
  on(event: 'end' | 'drain' | 'close', listener: (this: LightSocket) => void): this;
  on(event: LightSocketEvent, listener: (this: LightSocket, ...args: never[]) => void): this {
    switch (event) {
      case 'data':
        this.onData = addTo(this.onData, listener);
        if ((this.flags & STARTED) !== 0 && this.hasWork()) this.deferUpdate();
        break;
      case 'end':
        this.onEnd = addTo(this.onEnd, listener);
        break;
      case 'drain':
        this.onDrain = addTo(this.onDrain, listener);
        break;
      case 'error':
        this.onError = addTo(this.onError, listener);
        break;
      case 'close':
        this.onClose = addTo(this.onClose, listener);
        break;
      default:
        throw new TypeError(`LightSocket has no '${String(event)}' event`);
    }
    return this;
  }

  /** Removes one registration of `listener` for `event`. */
  off(event: LightSocketEvent, listener: (this: LightSocket, ...args: never[]) => void): this {
    if (event === 'data') this.onData = removeFrom(this.onData, listener);
    else if (event === 'end') this.onEnd = removeFrom(this.onEnd, listener);
    else if (event === 'drain') this.onDrain = removeFrom(this.onDrain, listener);
    else if (event === 'error') this.onError = removeFrom(this.onError, listener);
    else if (event === 'close') this.onClose = removeFrom(this.onClose, listener);
    return this;
  }

  private emit(slot: Slot, arg?: unknown): void {
    if (slot === undefined) return;
    if (typeof slot === 'function') {
      (slot as (this: LightSocket, a: unknown) => void).call(this, arg);
      return;
    }
    // A snapshot: a listener added or removed during the emit takes effect from the next one.
    const all = slot.slice();
    for (let i = 0; i < all.length; i++) (all[i] as (this: LightSocket, a: unknown) => void).call(this, arg);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Sends `chunk` (a string as UTF-8). True when TCP took all of it; false when part of it is queued
   * here (then `'drain'` follows once the queue is in TCP). After `end()` the socket is destroyed with
   * `EPIPE`; on a destroyed socket it does nothing and returns false.
   */
  write(chunk: Uint8Array | string): boolean {
    if ((this.flags & DESTROYED) !== 0) return false;
    if ((this.flags & ENDING) !== 0) {
      this.destroy(new SocketError('EPIPE', 'send', 'write after end()'));
      return false;
    }
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.queue !== undefined) {
      this.queue.push(data);
      this.flags |= NEED_DRAIN;
      return false;
    }
    let n: number;
    try {
      n = this.sockets.sendSomeOn(this.entry, data);
    } catch (err) {
      this.destroy(err as Error);
      return false;
    }
    this.bytesWritten += n;
    if (n === data.length) return true;
    this.queue = [data];
    this.queueOffset = n;
    this.flags |= NEED_DRAIN;
    return false;
  }

  /** Sends the FIN after the queued bytes (reading goes on). Idempotent. */
  end(): this {
    if ((this.flags & (ENDING | DESTROYED)) !== 0) return this;
    this.flags |= ENDING;
    if (this.queue === undefined) this.sendFin();
    return this;
  }

  /** Moves queued chunks into TCP; then the owed FIN and `'drain'` (a failed send destroys the socket). */
  private flush(): void {
    const q = this.queue!;
    while (q.length > 0) {
      const head = q[0]!;
      let n: number;
      try {
        n = this.sockets.sendSomeOn(this.entry, this.queueOffset === 0 ? head : head.subarray(this.queueOffset));
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      this.bytesWritten += n;
      this.queueOffset += n;
      if (this.queueOffset < head.length) return;
      q.shift();
      this.queueOffset = 0;
    }
    this.queue = undefined;
    if ((this.flags & ENDING) !== 0 && (this.flags & FIN_SENT) === 0) this.sendFin();
    if ((this.flags & NEED_DRAIN) !== 0 && (this.flags & DESTROYED) === 0) {
      this.flags &= ~NEED_DRAIN;
      this.emit(this.onDrain);
    }
  }

  private sendFin(): void {
    this.flags |= FIN_SENT;
    const outer = this.enter();
    try {
      this.sockets.shutdown(this.fd, SHUT_WR);
    } catch (err) {
      // Already closed by the peer's RST: the close path reports it.
      if (!(err instanceof SocketError && (err.code === 'ENOTCONN' || err.code === 'EBADF'))) {
        this.leave(outer);
        this.destroy(err as Error);
        return;
      }
    }
    // The FIN flushed what a cork held: the cork is over (as Node's `end()` uncorks).
    if (this.corks > 0) {
      this.corks = 0;
      this.entry.conn?.setCork(false);
    }
    this.leave(outer);
    if ((this.flags & END_EMITTED) !== 0) this.destroy();
  }

  /**
   * Holds the writes that follow in TCP (Linux's `TCP_CORK`) until the matching {@link LightSocket.uncork}
   * or `end()` (whose FIN then rides on the last data segment). Uncork soon.
   */
  cork(): void {
    if ((this.flags & (DESTROYED | FIN_SENT)) !== 0) return;
    if (this.corks++ === 0) this.entry.conn?.setCork(true);
  }

  /** Undoes one {@link LightSocket.cork}; the last one sends what the cork held. */
  uncork(): void {
    if (this.corks === 0) return;
    if (--this.corks === 0 && (this.flags & DESTROYED) === 0) this.entry.conn?.setCork(false);
  }

  /** Turns Nagle's algorithm off (`true`, the default) or on. */
  setNoDelay(noDelay = true): this {
    if ((this.flags & DESTROYED) === 0 && this.entry.noDelay !== noDelay)
      this.sockets.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, noDelay);
    return this;
  }

  // ---------------------------------------------------------------- reading

  /** Stops `'data'` (and `'end'`): received bytes wait in TCP, whose window closes as they pile up. */
  pause(): this {
    this.flags |= PAUSED;
    return this;
  }

  /** Restarts `'data'`; what waited is delivered in the next deferred round, never inside this call. */
  resume(): this {
    if ((this.flags & PAUSED) === 0) return this;
    this.flags &= ~PAUSED;
    if ((this.flags & STARTED) !== 0 && this.hasWork()) this.deferUpdate();
    return this;
  }

  /** True while `'data'` is stopped by {@link LightSocket.pause}. */
  isPaused(): boolean {
    return (this.flags & PAUSED) !== 0;
  }

  // ---------------------------------------------------------------- closing

  /**
   * Closes the connection at once: the descriptor is closed (FIN after what TCP holds, RST when unread
   * bytes remain), queued chunks are dropped. `'error'` (when `error` is given) and `'close'` follow in
   * the deferred round, never inside this call: right after the current update when called from one of
   * the socket's own listeners (or by the update itself), else in the next round. Idempotent.
   */
  destroy(error?: Error): this {
    if ((this.flags & DESTROYED) !== 0) return this;
    this.flags |= DESTROYED;
    this.closeError = error;
    this.entry.unobserve(this);
    this.queue = undefined;
    if (this.sockets.isOpen(this.fd)) this.sockets.close(this.fd);
    if ((this.flags & IN_ROUND) === 0) this.owner.defer(this);
    return this;
  }

  // ---------------------------------------------------------------- stack events

  /** @internal The server emitted `'connection'` (in its deferred round): deliver what arrived before (bytes, FIN). */
  start(): void {
    this.flags |= STARTED;
    if (this.hasWork()) this.updateNow();
  }

  /**
   * @internal {@link EntryObserver}: a stack notification. Taken in the server's deferred round (see the
   * module comment); one notified while it updates is taken by the update under way.
   */
  entryChanged(): void {
    if (!this.hasWork()) return;
    if ((this.flags & BUSY) !== 0) {
      this.flags |= DIRTY;
      return;
    }
    if ((this.flags & STARTED) !== 0) this.deferUpdate();
  }

  /**
   * Whether {@link LightSocket.update} would do anything now: queued writes, bytes for a `'data'`
   * listener, an error, or the end of stream not reported yet. A notification that brings none of
   * these (TCP sent or was acknowledged what the listener just wrote) costs no deferred round and no
   * second pass of an update under way; any later change notifies again, and the face's own calls that
   * make work (`resume`, a first `'data'` listener) ask for a round themselves. Conservative: false only
   * when update would do nothing.
   */
  private hasWork(): boolean {
    if (this.queue !== undefined) return true;
    const flags = this.flags;
    if ((flags & (PAUSED | DESTROYED)) !== 0) return false;
    const e = this.entry;
    if (e.error !== undefined) return true;
    const c = e.conn!;
    const readable = c.readableLength;
    if (readable > 0) return this.onData !== undefined;
    return (flags & END_EMITTED) === 0 && (c.readableEnded || e.phase === 'closed');
  }

  /** Brings the face up to date with the connection (emitting its events); only from the deferred round. */
  private updateNow(): void {
    if ((this.flags & BUSY) !== 0) {
      this.flags |= DIRTY;
      return;
    }
    this.flags |= BUSY;
    try {
      do {
        this.flags &= ~DIRTY;
        this.update();
      } while ((this.flags & DIRTY) !== 0 && (this.flags & DESTROYED) === 0);
    } catch (err) {
      // A listener threw: close this connection, report the error once its close is out.
      this.thrown ??= err;
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.flags &= ~BUSY;
    }
  }

  /**
   * @internal The owner's deferred round: an update that had to wait, or a close to report (also the
   * close of a destroy that came during that update: it is not queued again, see {@link IN_ROUND}).
   */
  runDeferred(): void {
    if ((this.flags & DESTROYED) === 0) {
      this.flags |= IN_ROUND;
      try {
        this.updateNow();
      } finally {
        this.flags &= ~IN_ROUND;
      }
      if ((this.flags & DESTROYED) === 0) return;
    }
    this.reportClose();
  }

  /** Emits `'error'` (when destroyed with one) and `'close'`, once; then rethrows a listener's exception. */
  private reportClose(): void {
    if ((this.flags & CLOSE_EMITTED) === 0) {
      this.flags |= CLOSE_EMITTED;
      const error = this.closeError;
      this.owner.socketClosed(this);
      try {
        if (error !== undefined) this.emit(this.onError, error);
      } finally {
        this.emit(this.onClose);
      }
    }
    const thrown = this.thrown;
    if (thrown !== undefined) {
      this.thrown = undefined;
      throw thrown;
    }
  }

  private deferUpdate(): void {
    if ((this.flags & DESTROYED) === 0) this.owner.defer(this);
  }

  /** Marks the face busy for a call into the table; returns whether this call is the outermost. */
  private enter(): boolean {
    if ((this.flags & BUSY) !== 0) return false;
    this.flags |= BUSY;
    return true;
  }

  /** Ends {@link LightSocket.enter}: a notification that came meanwhile is taken in the deferred round. */
  private leave(outermost: boolean): void {
    if (!outermost) return;
    this.flags &= ~BUSY;
    if ((this.flags & DIRTY) !== 0) {
      this.flags &= ~DIRTY;
      this.deferUpdate();
    }
  }

  /** One pass over the connection's state: queued writes, readable bytes, the peer's FIN, an error. */
  private update(): void {
    const e = this.entry;
    const c = e.conn!;
    if (this.queue !== undefined) {
      this.flush();
      if ((this.flags & DESTROYED) !== 0) return;
    }
    if ((this.flags & PAUSED) !== 0) return;
    if (this.onData !== undefined) {
      const trace = this.sockets.scheduler.trace;
      while ((this.flags & (PAUSED | DESTROYED)) === 0 && !e.readShut) {
        const view = c.readView(READ_CHUNK);
        if (view === undefined) break;
        const n = view.length;
        const chunk = Buffer.allocUnsafe(n);
        copyInto.call(chunk, view);
        c.consume(n);
        this.bytesRead += n;
        if (trace !== undefined && trace.on) trace.mark('socket', `read ${n} B (light face)`);
        this.emit(this.onData, chunk);
      }
      if ((this.flags & (PAUSED | DESTROYED)) !== 0) return;
    }
    if (e.error !== undefined) {
      this.destroy(e.takeError());
      return;
    }
    if ((this.flags & END_EMITTED) === 0 && c.readableLength === 0 && (c.readableEnded || e.phase === 'closed')) {
      this.flags |= END_EMITTED;
      this.emit(this.onEnd);
      if ((this.flags & DESTROYED) !== 0) return;
      if ((this.flags & HALF_OPEN) === 0) this.end();
      else if ((this.flags & FIN_SENT) !== 0) this.destroy();
    }
  }
}
