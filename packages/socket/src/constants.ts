/**
 * The constants of the BSD socket API, with their Linux values where one exists, so code ported
 * from C reads the same. Each is a literal type, so the call signatures can check them.
 */

/** Address family: IPv4 (the only one this library implements). */
export const AF_INET = 2;
/** The address families {@link Sockets.socket} accepts. */
export type AddressFamily = typeof AF_INET;

/** Socket type: a reliable byte stream (TCP). */
export const SOCK_STREAM = 1;
/** Socket type: datagrams (UDP). */
export const SOCK_DGRAM = 2;
/** Flag or-ed into the type of {@link Sockets.socket}: the descriptor starts in non-blocking mode. */
export const SOCK_NONBLOCK = 0o4000;
/** The socket types {@link Sockets.socket} accepts. */
export type SocketType = typeof SOCK_STREAM | typeof SOCK_DGRAM;

/** `shutdown` how: stop receiving. */
export const SHUT_RD = 0;
/** `shutdown` how: stop sending (a FIN follows the data already sent). */
export const SHUT_WR = 1;
/** `shutdown` how: both. */
export const SHUT_RDWR = 2;
/** What {@link Sockets.shutdown} accepts. */
export type ShutdownHow = typeof SHUT_RD | typeof SHUT_WR | typeof SHUT_RDWR;

/** Option level: the socket itself. */
export const SOL_SOCKET = 1;
/** Option level: TCP. */
export const IPPROTO_TCP = 6;
/** Option levels {@link Sockets.setsockopt} accepts. */
export type OptionLevel = typeof SOL_SOCKET | typeof IPPROTO_TCP;

/** `SOL_SOCKET`: allow binding a port that a closed socket's connections still hold (TIME-WAIT). Boolean. */
export const SO_REUSEADDR = 2;
/** `SOL_SOCKET`: the socket type (get only). */
export const SO_TYPE = 3;
/** `SOL_SOCKET`: the pending error as an errno number, cleared by reading it (get only); 0 for none. */
export const SO_ERROR = 4;
/** `SOL_SOCKET`: send buffer size, bytes. */
export const SO_SNDBUF = 7;
/** `SOL_SOCKET`: receive buffer size, bytes. */
export const SO_RCVBUF = 8;
/** `SOL_SOCKET`: TCP keep-alive probes. Boolean. */
export const SO_KEEPALIVE = 9;
/** `SOL_SOCKET`: linger on close, a {@link Linger}; `{ onoff: true, linger: 0 }` makes close reset (RST). */
export const SO_LINGER = 13;
/** `IPPROTO_TCP`: turn Nagle's algorithm off. Boolean. */
export const TCP_NODELAY = 1;
/** `IPPROTO_TCP`: idle time before the first keep-alive probe, seconds. */
export const TCP_KEEPIDLE = 4;
/** Every option name {@link Sockets.setsockopt} and {@link Sockets.getsockopt} know. */
export type SocketOptionName =
  | typeof SO_REUSEADDR
  | typeof SO_TYPE
  | typeof SO_ERROR
  | typeof SO_SNDBUF
  | typeof SO_RCVBUF
  | typeof SO_KEEPALIVE
  | typeof SO_LINGER
  | typeof TCP_NODELAY
  | typeof TCP_KEEPIDLE;

/** The value of `SO_LINGER`. */
export interface Linger {
  /** Linger on close. */
  onoff: boolean;
  /** Seconds; with `onoff` and 0, close aborts the connection with a RST. */
  linger: number;
}

/** Send/receive flag: this call only is non-blocking. */
export const MSG_DONTWAIT = 0x40;
/** Receive flag: look at the data without consuming it. */
export const MSG_PEEK = 0x2;

/** Poll event: data (or a connection, or the end of the stream) can be read without blocking. */
export const POLLIN = 0x001;
/** Poll event: data can be sent without blocking (or a non-blocking connect finished). */
export const POLLOUT = 0x004;
/** Poll event (reported only): an error is pending (`SO_ERROR`). */
export const POLLERR = 0x008;
/** Poll event (reported only): both directions are closed (or the connection failed). */
export const POLLHUP = 0x010;
/** Poll event (reported only): the descriptor is not open (stale or closed). */
export const POLLNVAL = 0x020;
/** Poll event: the peer shut down its sending side (its FIN arrived). */
export const POLLRDHUP = 0x2000;
