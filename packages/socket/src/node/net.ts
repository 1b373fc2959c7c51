/**
 * {@link createNet}: a `net`-shaped module bound to one {@link Sockets} table, so code written
 * against Node's `net` (`createServer`, `connect`, `createConnection`, `Socket`, `Server`, `isIP`)
 * runs on a Postern stack by taking this object in its place.
 */
import { isIPv4 } from 'node:net';
import type { Sockets } from '../sockets.js';
import { Server, type ServerOptions } from './server.js';
import { Socket, type SocketConnectOptions, type SocketOptions } from './socket.js';

/** Options of the bound `Socket` constructor and `connect` (the table is implied). */
export type NetSocketOptions = Omit<SocketOptions, 'sockets'>;
/** Options of the bound `createServer` (the table is implied). */
export type NetServerOptions = Omit<ServerOptions, 'sockets'>;

/** A `net`-shaped module over one stack. */
export interface PosternNet {
  /** `new net.Socket(options?)` on this stack. */
  readonly Socket: new (options?: NetSocketOptions) => Socket;
  /** `new net.Server(options?, listener?)` on this stack. */
  readonly Server: new (options?: NetServerOptions, listener?: (socket: Socket) => void) => Server;
  /** `net.createServer([options][, connectionListener])`. */
  createServer(options?: NetServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server;
  /** `net.connect(options[, listener])` / `net.connect(port[, host][, listener])`. */
  connect(options: SocketConnectOptions & NetSocketOptions, listener?: () => void): Socket;
  connect(port: number, host?: string | (() => void), listener?: () => void): Socket;
  /** Same as `connect`. */
  createConnection(options: SocketConnectOptions & NetSocketOptions, listener?: () => void): Socket;
  createConnection(port: number, host?: string | (() => void), listener?: () => void): Socket;
  /** 4 for an IPv4 dotted quad, else 0 (this stack has no IPv6). */
  isIP(input: string): 0 | 4;
  /** True for an IPv4 dotted quad. */
  isIPv4(input: string): boolean;
  /** Always false (this stack has no IPv6). */
  isIPv6(input: string): boolean;
}

/** Builds the `net`-shaped module for `sockets`. */
export function createNet(sockets: Sockets, defaults: NetSocketOptions = {}): PosternNet {
  class BoundSocket extends Socket {
    constructor(options: NetSocketOptions = {}) {
      super({ ...defaults, ...options, sockets });
    }
  }
  class BoundServer extends Server {
    constructor(options: NetServerOptions = {}, listener?: (socket: Socket) => void) {
      super({ ...options, sockets }, listener);
    }
  }
  const connect = (
    a: (SocketConnectOptions & NetSocketOptions) | number,
    b?: string | (() => void),
    c?: () => void,
  ): Socket => {
    if (typeof a === 'object') {
      const { allowHalfOpen, lookup, writableHighWaterMark, readableHighWaterMark, ...connectOptions } = a;
      const s = new BoundSocket({
        ...(allowHalfOpen !== undefined ? { allowHalfOpen } : {}),
        ...(lookup !== undefined ? { lookup } : {}),
        ...(writableHighWaterMark !== undefined ? { writableHighWaterMark } : {}),
        ...(readableHighWaterMark !== undefined ? { readableHighWaterMark } : {}),
      });
      return s.connect(connectOptions, typeof b === 'function' ? b : undefined);
    }
    const s = new BoundSocket();
    if (typeof b === 'function') return s.connect(a, b);
    return s.connect(a, b, c);
  };
  return {
    Socket: BoundSocket,
    Server: BoundServer,
    createServer(options, listener) {
      if (typeof options === 'function') return new BoundServer({}, options);
      return new BoundServer(options ?? {}, listener);
    },
    connect,
    createConnection: connect,
    isIP: (input) => (isIPv4(input) ? 4 : 0),
    isIPv4: (input) => isIPv4(input),
    isIPv6: () => false,
  };
}
