/**
 * {@link LightServer}: a listening TCP socket that hands out each accepted connection as a
 * {@link LightSocket}, the light face an HTTP server needs (`server.on('connection', socket => ...)`),
 * instead of a Node `Duplex` per connection (the `net` face, {@link Server}, stays for code that wants
 * a real stream).
 *
 * It is also the stack scheduler's bottom half of its sockets: the accepts (the listener's wake comes
 * in the middle of a handshake's processing, so accepting waits for the next deferred round) and every
 * socket's events (see {@link LightSocket}: each notification of a connection queues its socket here
 * once) run there, in order, at most `budget` sockets per poll. One bottom half per server, no
 * closure, promise or `nextTick` per connection or event; the queue of sockets is a list linked
 * through the sockets themselves, so queueing one allocates nothing (an array emptied after each
 * round would give its storage back and allocate it again at the next round's first push).
 * The peer addresses' dotted-quad strings are shared through a small cache (clients come back).
 *
 * `listen` is synchronous and throws {@link SocketError} (`EADDRINUSE`, `EADDRNOTAVAIL`, `EINVAL`...).
 * Events: `'connection'` (a {@link LightSocket}, delivery starts once the listeners returned), `'error'`
 * (an accept failed, e.g. `EMFILE`: the connection stays queued; without an `'error'` listener the
 * error is thrown from the bottom half and the scheduler reports it).
 */
import type { BottomHalf } from '@postern/irq';
import { ipv4ToString, parseIpv4 } from '@postern/wire';
import {
  AF_INET,
  IPPROTO_TCP,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  TCP_NODELAY,
} from '../constants.js';
import type { Fd } from '../descriptor-table.js';
import type { EntryObserver, SocketEntry } from '../entry.js';
import { SocketError } from '../errors.js';
import type { Sockets } from '../sockets.js';
import { LightSocket, type LightSocketOwner } from './light-socket.js';

/** Slots of the peer-address string cache (a power of two; the address's low bits pick the slot). */
const ADDRESS_TEXT_SLOTS = 64;

/** Options of a {@link LightServer}. */
export interface LightServerOptions {
  /** The table (the stack) to listen on. */
  readonly sockets: Sockets;
  /** Accepted sockets keep their writable side open after the peer's FIN (an HTTP server wants it). Default false. */
  readonly allowHalfOpen?: boolean;
  /** `TCP_NODELAY` on the listening socket, so every accepted connection has it from the start. Default false. */
  readonly noDelay?: boolean;
}

/** What {@link LightServer.address} returns. */
export interface LightServerAddress {
  readonly address: string;
  readonly family: 'IPv4';
  readonly port: number;
}

/** A listener of accepted connections. See the module comment. */
export class LightServer implements BottomHalf, LightSocketOwner, EntryObserver {
  /** The bottom half's name (in the scheduler's reports). */
  readonly name = 'light-server';
  /** The table the server listens on. */
  readonly sockets: Sockets;
  private readonly allowHalfOpen: boolean;
  private readonly noDelay: boolean;
  private fd: Fd | undefined = undefined;
  private listenEntry: SocketEntry | undefined = undefined;
  private connectionListeners: Array<(socket: LightSocket) => void> = [];
  private errorListeners: Array<(error: Error) => void> = [];
  private acceptWanted = false;
  /**
   * Inside {@link LightServer.poll}: a socket queued now joins the round under way (or, past the budget,
   * the next poll the scheduler makes when the round returns its whole budget), so it asks for no round.
   */
  private polling = false;
  /** The first socket with deferred work (the others follow through `LightSocket.deferNext`, in the order they asked). */
  private deferredHead: LightSocket | undefined = undefined;
  /** The last socket with deferred work (where the next one is linked). */
  private deferredTail: LightSocket | undefined = undefined;
  /** Peer addresses whose strings {@link LightServer.addressTexts} holds, by slot. */
  private readonly addressKeys = new Uint32Array(ADDRESS_TEXT_SLOTS);
  /** Dotted-quad strings of {@link LightServer.addressKeys}, by slot (undefined: empty slot). */
  private readonly addressTexts: Array<string | undefined> = new Array<string | undefined>(ADDRESS_TEXT_SLOTS).fill(
    undefined,
  );
  private open = 0;
  private closeCallbacks: Array<() => void> | undefined = undefined;

  constructor(options: LightServerOptions) {
    this.sockets = options.sockets;
    this.allowHalfOpen = options.allowHalfOpen ?? false;
    this.noDelay = options.noDelay ?? false;
  }

  /** True while listening. */
  get listening(): boolean {
    return this.fd !== undefined;
  }

  /** Accepted sockets that have not emitted `'close'` yet. */
  get connections(): number {
    return this.open;
  }

  /**
   * Starts listening on `port` (0: an ephemeral one, see {@link LightServer.address}) of `host` (a
   * dotted quad; default every address of the stack).
   * @throws {@link SocketError} `EINVAL` (already listening, bad port), `EADDRINUSE`, `EADDRNOTAVAIL`, `EMFILE`.
   */
  listen(port: number, host?: string, backlog = this.sockets.maxBacklog): this {
    const s = this.sockets;
    if (this.fd !== undefined) throw new SocketError('EINVAL', 'listen', 'the server is already listening');
    const fd = s.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    try {
      s.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, true);
      if (this.noDelay) s.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, true);
      const address = host === undefined || host === '0.0.0.0' ? 0 : parseIpv4(host);
      s.bind(fd, { address, port });
      s.listen(fd, backlog);
    } catch (err) {
      s.close(fd);
      throw err;
    }
    this.fd = fd;
    const entry = s.entry(fd, 'listen');
    this.listenEntry = entry;
    entry.observe(this);
    // Connections that completed their handshake before (none on a new port) are taken in the first round.
    this.entryChanged();
    return this;
  }

  /** The bound address, or null when not listening. */
  address(): LightServerAddress | null {
    if (this.fd === undefined) return null;
    const a = this.sockets.getsockname(this.fd);
    return { address: ipv4ToString(a.address), family: 'IPv4', port: a.port };
  }

  /** Adds a listener: `'connection'` gets each accepted {@link LightSocket}, `'error'` a failed accept. */
  on(event: 'connection', listener: (socket: LightSocket) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'connection' | 'error', listener: (arg: never) => void): this {
    if (event === 'connection') this.connectionListeners.push(listener as (socket: LightSocket) => void);
    else if (event === 'error') this.errorListeners.push(listener as (error: Error) => void);
    else throw new TypeError(`LightServer has no '${String(event)}' event`);
    return this;
  }

  /** Removes a listener added with {@link LightServer.on}. */
  off(event: 'connection' | 'error', listener: (arg: never) => void): this {
    const list: Array<(arg: never) => void> = event === 'connection' ? this.connectionListeners : this.errorListeners;
    const i = list.lastIndexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /**
   * Stops accepting (connections never accepted are reset). Accepted sockets live on: `callback` runs
   * once the last of them emitted `'close'` (at once, in a microtask, when none is open).
   */
  close(callback?: () => void): this {
    const fd = this.fd;
    if (fd !== undefined) {
      this.fd = undefined;
      this.listenEntry?.unobserve(this);
      this.listenEntry = undefined;
      this.acceptWanted = false;
      this.sockets.close(fd);
    }
    if (callback !== undefined) {
      if (this.open === 0) void Promise.resolve().then(callback);
      else (this.closeCallbacks ??= []).push(callback);
    }
    return this;
  }

  // ---------------------------------------------------------------- the bottom half

  /** @internal {@link EntryObserver}: the listening socket woke (a connection is waiting); accept in the next round. */
  entryChanged(): void {
    if (this.acceptWanted || this.fd === undefined) return;
    this.acceptWanted = true;
    this.sockets.scheduler.schedule(this);
  }

  /** @internal {@link LightSocketOwner}: queues `socket`'s deferred work for the next round. */
  defer(socket: LightSocket): void {
    if (socket.deferQueued) return;
    socket.deferQueued = true;
    const tail = this.deferredTail;
    if (tail === undefined) this.deferredHead = socket;
    else tail.deferNext = socket;
    this.deferredTail = socket;
    if (!this.polling) this.sockets.scheduler.schedule(this);
  }

  /** @internal {@link LightSocketOwner}: the dotted quad of `address`, shared with earlier sockets from the same peer. */
  addressText(address: number): string {
    const slot = address & (ADDRESS_TEXT_SLOTS - 1);
    const known = this.addressTexts[slot];
    if (known !== undefined && this.addressKeys[slot] === address) return known;
    const text = ipv4ToString(address);
    this.addressKeys[slot] = address;
    this.addressTexts[slot] = text;
    return text;
  }

  /** @internal {@link LightSocketOwner}: an accepted socket closed. */
  socketClosed(_socket: LightSocket): void {
    this.open--;
    if (this.open > 0 || this.closeCallbacks === undefined || this.fd !== undefined) return;
    const callbacks = this.closeCallbacks;
    this.closeCallbacks = undefined;
    for (const cb of callbacks) cb();
  }

  /**
   * @internal {@link BottomHalf}: accepts every waiting connection, then runs the deferred work of at
   * most `budget` sockets, those queued meanwhile included (they ask for no other round). An exception
   * of a listener is rethrown once the round's work is done.
   */
  poll(budget: number): number {
    // Every call below that may throw is caught here: the poll's only exits are the two at its end.
    this.polling = true;
    let failure: unknown = undefined;
    let done = 0;
    if (this.acceptWanted) {
      this.acceptWanted = false;
      try {
        done += this.acceptAll();
      } catch (err) {
        failure = err;
      }
    }
    // Sockets queued during the round (by the listeners) join its end and run in it, budget allowing;
    // past the budget the whole budget is returned, and the scheduler polls again.
    while (this.deferredHead !== undefined && done < budget) {
      const socket = this.deferredHead;
      this.deferredHead = socket.deferNext;
      if (socket.deferNext === undefined) this.deferredTail = undefined;
      socket.deferNext = undefined;
      socket.deferQueued = false;
      done++;
      try {
        socket.runDeferred();
      } catch (err) {
        failure ??= err;
      }
    }
    const left = this.deferredHead !== undefined;
    this.polling = false;
    if (failure !== undefined) {
      // Thrown polls are not re-queued by the scheduler: ask for the next round first.
      if (left) this.sockets.scheduler.schedule(this);
      throw failure;
    }
    // The whole budget when work is left (the scheduler polls again), less when all is done.
    return left ? budget : Math.min(done, budget - 1);
  }

  /** Accepts every waiting connection; returns the count. */
  private acceptAll(): number {
    const s = this.sockets;
    let n = 0;
    for (;;) {
      const lfd = this.fd;
      if (lfd === undefined) return n;
      let fd: Fd | undefined;
      try {
        fd = s.acceptDescriptor(lfd);
      } catch (err) {
        if (this.errorListeners.length === 0) throw err;
        for (const fn of this.errorListeners.slice()) fn(err as Error);
        return n;
      }
      if (fd === undefined) return n;
      n++;
      this.open++;
      const socket = new LightSocket(this, s, fd, this.allowHalfOpen);
      const listeners = this.connectionListeners;
      try {
        if (listeners.length === 1) listeners[0]!(socket);
        else for (const fn of listeners.slice()) fn(socket);
      } finally {
        socket.start();
      }
    }
  }
}
