/**
 * {@link DgramSocket} and {@link createDgram}: a `dgram`-like UDP face over one datagram descriptor
 * of a {@link Sockets} table: `createSocket('udp4')`, `bind`, `send`, `'message'` events, `close`.
 *
 * Received datagrams wait in the descriptor's bounded queue (`SO_RCVBUF`; see `UdpEntry`) and are
 * emitted as `'message'` (a Buffer and `{ address, family, port, size }`) in a microtask, never
 * inside the stack's processing. Send errors go to the callback, or to `'error'` without one.
 */
import { EventEmitter } from 'node:events';
import { ipv4ToString, parseIpv4 } from '@postern/wire';
import { AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF } from '../constants.js';
import type { Fd } from '../descriptor-table.js';
import { SocketError } from '../errors.js';
import type { Sockets } from '../sockets.js';
import type { UdpEntry } from '../udp-entry.js';
import type { AddressInfo } from './socket.js';

/** Where a datagram came from (Node's `rinfo`). */
export interface RemoteInfo extends AddressInfo {
  /** Datagram length in bytes. */
  size: number;
}

/** Options of {@link DgramSocket}. */
export interface DgramSocketOptions {
  /** `'udp4'` (the only type). */
  type: 'udp4';
  /** Receive queue bound (`SO_RCVBUF`), bytes. */
  recvBufferSize?: number;
}

/** A `dgram.Socket`-like UDP socket. See the module comment. */
export class DgramSocket extends EventEmitter {
  /** The table the socket lives on. */
  readonly sockets: Sockets;
  private readonly fd: Fd;
  private readonly entry: UdpEntry;
  private readonly stopWatch: () => void;
  private drainQueued = false;
  private closed = false;
  private bound = false;

  constructor(sockets: Sockets, options: DgramSocketOptions) {
    super();
    if (options.type !== 'udp4')
      throw new SocketError(
        'EAFNOSUPPORT',
        'socket',
        `socket type ${String(options.type)} is not supported (udp4 only)`,
      );
    this.sockets = sockets;
    this.fd = sockets.socket(AF_INET, SOCK_DGRAM);
    this.entry = sockets.entry(this.fd, 'socket') as UdpEntry;
    if (options.recvBufferSize !== undefined)
      sockets.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, options.recvBufferSize);
    this.stopWatch = this.entry.watch(() => this.drainSoon());
  }

  /**
   * Binds to `port` (0 or none: ephemeral) on `address` (default every address); `'listening'`
   * follows. Errors (`EADDRINUSE`...) are emitted as `'error'`.
   */
  bind(
    port?: number | { port?: number; address?: string },
    address?: string | (() => void),
    callback?: () => void,
  ): this {
    const opts = typeof port === 'object' ? port : { port, address: typeof address === 'string' ? address : undefined };
    const cb = typeof address === 'function' ? address : callback;
    if (cb !== undefined) this.once('listening', cb);
    try {
      this.sockets.bind(this.fd, {
        address: opts.address === undefined || opts.address === '0.0.0.0' ? 0 : parseIpv4(opts.address),
        port: opts.port ?? 0,
      });
      this.bound = true;
    } catch (err) {
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /**
   * Sends one datagram: `send(msg, port, address, cb?)` or `send(msg, offset, length, port, address, cb?)`.
   * An unbound socket is bound to an ephemeral port first. `cb(err, bytes)` runs asynchronously.
   */
  send(
    msg: Uint8Array | string,
    port: number,
    address: string,
    callback?: (err: Error | null, bytes: number) => void,
  ): void;
  send(
    msg: Uint8Array | string,
    offset: number,
    length: number,
    port: number,
    address: string,
    callback?: (err: Error | null, bytes: number) => void,
  ): void;
  send(msg: Uint8Array | string, ...args: unknown[]): void {
    let data = typeof msg === 'string' ? Buffer.from(msg) : msg;
    let port: number;
    let address: string;
    let cb: ((err: Error | null, bytes: number) => void) | undefined;
    if (typeof args[2] === 'number') {
      const offset = args[0] as number;
      const length = args[1] as number;
      data = data.subarray(offset, offset + length);
      port = args[2];
      address = args[3] as string;
      cb = args[4] as typeof cb;
    } else {
      port = args[0] as number;
      address = args[1] as string;
      cb = args[2] as typeof cb;
    }
    const wasBound = this.entry.binding !== undefined;
    this.sockets.sendto(this.fd, data, { address: parseIpv4(address), port }).then(
      (n) => {
        if (!wasBound && !this.bound) {
          this.bound = true;
          this.emit('listening');
        }
        cb?.(null, n);
      },
      (err: unknown) => {
        if (cb !== undefined) cb(err as Error, 0);
        else this.emit('error', err);
      },
    );
  }

  /** The bound address. @throws {@link SocketError} `EBADF` after close, `EINVAL` when not bound. */
  address(): AddressInfo {
    const a = this.sockets.getsockname(this.fd);
    if (this.entry.binding === undefined) throw new SocketError('EINVAL', 'getsockname', 'the socket is not bound');
    return { address: ipv4ToString(a.address), family: 'IPv4', port: a.port };
  }

  /** Sets the receive queue bound (`SO_RCVBUF`), bytes. */
  setRecvBufferSize(size: number): void {
    this.sockets.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, size);
  }

  /** The receive queue bound, bytes. */
  getRecvBufferSize(): number {
    return this.sockets.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF);
  }

  /** Datagrams dropped because the receive queue was full. */
  get drops(): number {
    return this.entry.drops;
  }

  /** Closes the socket; `'close'` follows. */
  close(callback?: () => void): this {
    if (this.closed) return this;
    this.closed = true;
    if (callback !== undefined) this.once('close', callback);
    this.stopWatch();
    this.sockets.close(this.fd);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** No-op. */
  ref(): this {
    return this;
  }

  /** No-op. */
  unref(): this {
    return this;
  }

  private drainSoon(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(() => {
      this.drainQueued = false;
      for (let d = this.entry.take(); d !== undefined && !this.closed; d = this.entry.take()) {
        const buf = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length);
        this.emit('message', buf, {
          address: ipv4ToString(d.address),
          family: 'IPv4',
          port: d.port,
          size: buf.length,
        });
      }
    });
  }
}

/** A `dgram`-shaped module over one stack. */
export interface PosternDgram {
  /** `dgram.createSocket('udp4' | { type: 'udp4' }, messageListener?)`. */
  createSocket(type: 'udp4' | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
}

/** Builds the `dgram`-shaped module for `sockets`. */
export function createDgram(sockets: Sockets): PosternDgram {
  return {
    createSocket(type, listener) {
      const s = new DgramSocket(sockets, typeof type === 'string' ? { type } : type);
      if (listener !== undefined) s.on('message', listener);
      return s;
    },
  };
}
