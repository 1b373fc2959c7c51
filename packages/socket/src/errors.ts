/**
 * Typed socket errors with stable POSIX-like codes (gVisor `tcpip.Error`, Node's `err.code`):
 * callers branch on {@link SocketError.code}, never on the message text. One class carries every
 * code; {@link SocketError.syscall} names the call that failed, so errors group by operation the way
 * Node's `net` errors do (`connect ECONNREFUSED`).
 */

/**
 * The stable codes of a {@link SocketError}, named after their POSIX errno:
 * - `EBADF`: the descriptor is not open (never opened, closed, or a stale handle of a reused slot);
 * - `EMFILE`: the descriptor table is full ({@link SocketsOptions.maxDescriptors});
 * - `EINVAL`: a bad argument or a call in the wrong state (listen on a connected socket...);
 * - `ENOTSOCK`-like misuse is `EOPNOTSUPP`: the call does not apply to this socket type;
 * - `EAGAIN`: a non-blocking call would block (`EWOULDBLOCK` is the same condition);
 * - `EINPROGRESS`: a non-blocking connect started; poll for `POLLOUT`, then read `SO_ERROR`;
 * - `EALREADY`: a connect is already in progress;
 * - `EISCONN`, `ENOTCONN`: connected already / not connected;
 * - `ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`, `ECONNABORTED`: the connection failed;
 * - `EPIPE`: a send after the sending side was shut down or the connection closed;
 * - `EADDRINUSE`, `EADDRNOTAVAIL`: the local address is taken / not ours;
 * - `ENETUNREACH`: no route to the peer;
 * - `EMSGSIZE`: a datagram too large to send;
 * - `EDESTADDRREQ`: a datagram send with no destination on an unconnected socket;
 * - `ENOPROTOOPT`: an unknown socket option;
 * - `EAFNOSUPPORT`, `EPROTONOSUPPORT`: an address family or socket type this library lacks;
 * - `EPERM`: the packet filter refused the datagram;
 * - `ENOTFOUND`: (Node face) a host name with no lookup function to resolve it.
 */
export type SocketErrorCode =
  | 'EBADF'
  | 'EMFILE'
  | 'EINVAL'
  | 'EOPNOTSUPP'
  | 'EAGAIN'
  | 'EINPROGRESS'
  | 'EALREADY'
  | 'EISCONN'
  | 'ENOTCONN'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'ECONNABORTED'
  | 'EPIPE'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'ENETUNREACH'
  | 'EMSGSIZE'
  | 'EDESTADDRREQ'
  | 'ENOPROTOOPT'
  | 'EAFNOSUPPORT'
  | 'EPROTONOSUPPORT'
  | 'EPERM'
  | 'ENOTFOUND';

/** The socket call an error came from (Node's `err.syscall`). */
export type SocketSyscall =
  | 'socket'
  | 'bind'
  | 'listen'
  | 'accept'
  | 'connect'
  | 'send'
  | 'sendto'
  | 'recv'
  | 'recvfrom'
  | 'shutdown'
  | 'close'
  | 'getsockname'
  | 'getpeername'
  | 'setsockopt'
  | 'getsockopt'
  | 'poll'
  | 'epoll'
  | 'fcntl'
  | 'read'
  | 'write'
  | 'lookup';

/** Linux errno values for the codes that have one (Node reports them negated as `err.errno`). */
const ERRNO: Partial<Record<SocketErrorCode, number>> = {
  EBADF: 9,
  EAGAIN: 11,
  EINVAL: 22,
  EMFILE: 24,
  EPIPE: 32,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
  EPERM: 1,
};

/** A socket failure with a stable {@link SocketErrorCode} and the call it came from. */
export class SocketError extends Error {
  /** The stable code to branch on. */
  readonly code: SocketErrorCode;
  /** The call that failed. */
  readonly syscall: SocketSyscall;
  /** The message without the `syscall CODE:` prefix. */
  readonly detail: string;
  /** Negated Linux errno, as Node reports it (`-111` for `ECONNREFUSED`); undefined for `ENOTFOUND`. */
  readonly errno: number | undefined;
  /** Remote address (dotted quad) of a failed connect, as Node's errors carry it. */
  address?: string;
  /** Remote port of a failed connect. */
  port?: number;

  constructor(code: SocketErrorCode, syscall: SocketSyscall, message: string) {
    super(`${syscall} ${code}: ${message}`);
    this.name = 'SocketError';
    this.code = code;
    this.syscall = syscall;
    this.detail = message;
    const n = ERRNO[code];
    this.errno = n === undefined ? undefined : -n;
  }
}

/** True when `error` is a {@link SocketError} with `code`. */
export function isSocketError(error: unknown, code?: SocketErrorCode): error is SocketError {
  return error instanceof SocketError && (code === undefined || error.code === code);
}
