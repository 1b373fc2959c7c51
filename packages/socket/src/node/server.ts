/**
 * {@link Server}: a Node `net.Server`-compatible listener over one listening descriptor of a
 * {@link Sockets} table. Each accepted descriptor is wrapped in a {@link Socket} and emitted as
 * `'connection'`.
 *
 * Events: `'listening'` (after `listen`, asynchronously, as Node's), `'connection'`, `'error'`
 * (`EADDRINUSE`, `EADDRNOTAVAIL`...), `'drop'` (a connection closed at once because
 * {@link Server.maxConnections} was reached), `'close'` (after `close()`, once every connection has
 * closed).
 */
import { EventEmitter } from 'node:events';
import { ipv4ToString, parseIpv4 } from '@postern/wire';
import { AF_INET, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR } from '../constants.js';
import type { Fd } from '../descriptor-table.js';
import { SocketError } from '../errors.js';
import type { Sockets } from '../sockets.js';
import type { TcpEntry } from '../tcp-entry.js';
import { Socket, type AddressInfo, type HostLookup, type SocketOwner } from './socket.js';

/** Settled once: `RESOLVED.then(fn)` runs `fn` in a microtask without `queueMicrotask`'s async resource. */
const RESOLVED = Promise.resolve();

/** Options of a {@link Server} (Node's `net.createServer` options). */
export interface ServerOptions {
  /** The table (the stack) to listen on. */
  sockets: Sockets;
  /** Accepted sockets keep their writable side open after the peer's FIN. Default false. */
  allowHalfOpen?: boolean;
  /** Accepted sockets start paused. Default false. */
  pauseOnConnect?: boolean;
  /** TCP_NODELAY on accepted sockets. Default false. */
  noDelay?: boolean;
  /** Keep-alive on accepted sockets. Default false. */
  keepAlive?: boolean;
  /** Keep-alive initial delay, ms. */
  keepAliveInitialDelay?: number;
  /** Host names to addresses for `listen(port, host)`. */
  lookup?: HostLookup;
}

/** Options of {@link Server.listen}. */
export interface ListenOptions {
  port?: number;
  /** Dotted quad (default every address). */
  host?: string;
  backlog?: number;
}

/** A Node `net.Server`-compatible server. See the module comment. */
export class Server extends EventEmitter implements SocketOwner {
  /** The table the server listens on. */
  readonly sockets: Sockets;
  /** Most connections at once; beyond it a new connection is closed at once (and `'drop'` emitted). */
  maxConnections: number | undefined = undefined;
  private readonly options: ServerOptions;
  private fd: Fd | undefined;
  private stopWatch: (() => void) | undefined;
  private acceptQueued = false;
  /** Accepted sockets not closed yet (each tells {@link Server.socketClosed} when it closes). */
  private connections = 0;
  private closing = false;

  constructor(options: ServerOptions, connectionListener?: (socket: Socket) => void) {
    super();
    this.sockets = options.sockets;
    this.options = options;
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  /** True while listening. */
  get listening(): boolean {
    return this.fd !== undefined;
  }

  /**
   * Starts listening: `listen(port?, host?, backlog?, callback?)` or `listen(options, callback?)`.
   * Port 0 or none picks an ephemeral port (see {@link Server.address}).
   */
  listen(options: ListenOptions, callback?: () => void): this;
  listen(
    port?: number,
    host?: string | number | (() => void),
    backlog?: number | (() => void),
    callback?: () => void,
  ): this;
  listen(...args: unknown[]): this {
    let options: ListenOptions = {};
    let callback: (() => void) | undefined;
    const rest = [...args];
    if (typeof rest[rest.length - 1] === 'function') callback = rest.pop() as () => void;
    if (typeof rest[0] === 'object' && rest[0] !== null) options = rest[0] as ListenOptions;
    else {
      options = { port: rest[0] === undefined ? 0 : Number(rest[0]) };
      if (typeof rest[1] === 'string') options.host = rest[1];
      const b = typeof rest[1] === 'number' ? rest[1] : rest[2];
      if (typeof b === 'number') options.backlog = b;
    }
    if (callback !== undefined) this.once('listening', callback);
    if (this.fd !== undefined) {
      process.nextTick(() =>
        this.emit('error', new SocketError('EINVAL', 'listen', 'the server is already listening')),
      );
      return this;
    }
    const s = this.sockets;
    let fd: Fd | undefined;
    try {
      fd = s.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      s.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, true);
      const host = options.host;
      const address = host === undefined || host === '0.0.0.0' || host === '::' ? 0 : this.resolve(host);
      s.bind(fd, { address, port: options.port ?? 0 });
      s.listen(fd, options.backlog ?? s.maxBacklog);
    } catch (err) {
      if (fd !== undefined && s.isOpen(fd)) s.close(fd);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.fd = fd;
    this.closing = false;
    this.stopWatch = s.entry(fd, 'listen').watch(() => this.acceptSoon());
    process.nextTick(() => {
      this.emit('listening');
      this.acceptSoon();
    });
    return this;
  }

  private resolve(host: string): number {
    try {
      return parseIpv4(host);
    } catch {
      const a = this.options.lookup?.(host);
      if (a === undefined) throw new SocketError('ENOTFOUND', 'lookup', `cannot resolve ${host}`);
      return a;
    }
  }

  private acceptSoon(): void {
    if (this.acceptQueued) return;
    this.acceptQueued = true;
    void RESOLVED.then(this.runAccept);
  }

  private readonly runAccept = (): void => {
    this.acceptQueued = false;
    this.acceptAll();
  };

  private acceptAll(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    for (;;) {
      let accepted: Fd | undefined;
      try {
        accepted = this.sockets.acceptDescriptor(fd);
      } catch (err) {
        this.emit('error', err);
        return;
      }
      if (accepted === undefined) return;
      if (this.maxConnections !== undefined && this.connections >= this.maxConnections) {
        const peer = (this.sockets.entry(accepted, 'accept') as TcpEntry).conn!;
        this.sockets.close(accepted);
        this.emit('drop', {
          remoteAddress: ipv4ToString(peer.remoteAddress),
          remotePort: peer.remotePort,
          remoteFamily: 'IPv4',
        });
        continue;
      }
      const o = this.options;
      const socket = new Socket({ sockets: this.sockets, fd: accepted, allowHalfOpen: o.allowHalfOpen ?? false });
      if (o.noDelay === true) socket.setNoDelay(true);
      if (o.keepAlive === true) socket.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
      if (o.pauseOnConnect === true) socket.pause();
      this.connections++;
      socket.acceptedBy = this;
      this.emit('connection', socket);
    }
  }

  /** @internal {@link SocketOwner}: an accepted socket closed. */
  socketClosed(_socket: Socket): void {
    this.connections--;
    this.maybeClosed();
  }

  /** The bound address, or null when not listening. */
  address(): AddressInfo | null {
    if (this.fd === undefined) return null;
    const a = this.sockets.getsockname(this.fd);
    return { address: ipv4ToString(a.address), family: 'IPv4', port: a.port };
  }

  /**
   * Stops accepting (the connections not yet accepted are reset); `'close'` follows once every
   * accepted connection has closed. `callback` gets an error when the server was not listening.
   */
  close(callback?: (err?: Error) => void): this {
    if (this.fd === undefined) {
      if (callback !== undefined)
        process.nextTick(() => callback(new SocketError('EINVAL', 'close', 'the server is not running')));
      return this;
    }
    if (callback !== undefined) this.once('close', callback);
    this.stopWatch?.();
    this.sockets.close(this.fd);
    this.fd = undefined;
    this.closing = true;
    this.maybeClosed();
    return this;
  }

  private maybeClosed(): void {
    if (!this.closing || this.connections > 0) return;
    this.closing = false;
    process.nextTick(() => this.emit('close'));
  }

  /** Calls back with the number of open connections. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    const n = this.connections;
    process.nextTick(() => callback(null, n));
    return this;
  }

  /** No-op (the stack's scheduler decides what keeps the process alive). */
  ref(): this {
    return this;
  }

  /** No-op. */
  unref(): this {
    return this;
  }
}
