/**
 * Typed TCP errors with stable codes (gVisor `tcpip.Error`, undici errors): callers branch on
 * {@link TcpError.code}, never on the message text.
 */

/**
 * The stable codes a {@link TcpError} carries, named after their POSIX errno:
 * - `ECONNREFUSED`: the peer answered our SYN with a RST;
 * - `ECONNRESET`: the peer reset an established connection;
 * - `ETIMEDOUT`: retransmissions (or keep-alive probes, or the SYN) went unanswered too long;
 * - `EPIPE`: a write after the sending side was shut down or the connection closed;
 * - `ECONNABORTED`: the connection was aborted locally (`abort()`, stack shutdown, TIME_WAIT recycle);
 * - `EADDRINUSE`: the local address and port are taken;
 * - `EADDRNOTAVAIL`: no free ephemeral port, or no local address routes to the peer;
 * - `ENETUNREACH`: no route to the peer, or a router reported the network or host unreachable,
 *   unknown or prohibited (ICMP; one code for both, as the socket layer maps it);
 * - `EMFILE`: the connection limit is reached;
 * - `EINVAL`: a bad argument (port out of range, a closed listener...).
 */
export type TcpErrorCode =
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EPIPE'
  | 'ECONNABORTED'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'ENETUNREACH'
  | 'EMFILE'
  | 'EINVAL';

/** A TCP failure with a stable {@link TcpErrorCode}. */
export class TcpError extends Error {
  /** The stable code to branch on. */
  readonly code: TcpErrorCode;

  constructor(code: TcpErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'TcpError';
    this.code = code;
  }
}
