/**
 * Typed errors of the stack's operations, one class per operation, each with a stable `code`
 * (callers branch on the code, never on the message text).
 */

/** Stable codes of {@link SendError}. */
export type SendErrorCode =
  /** An argument is out of range (address, protocol, length, TTL, port). */
  | 'INVALID_ARGUMENT'
  /** No route to the destination (and no interface to send a broadcast on). */
  | 'NO_ROUTE'
  /** The outgoing interface has no IPv4 address to send from. */
  | 'NO_SOURCE_ADDRESS'
  /** The requested source address is not one of this host's addresses. */
  | 'ADDRESS_NOT_AVAILABLE'
  /** Too big for the path MTU with Don't Fragment set ({@link SendError.mtu} says how big may go). */
  | 'MESSAGE_TOO_LONG'
  /** The packet filter's `output` chain dropped or rejected it. */
  | 'FILTERED';

/** A send was refused before anything left the host; branch on {@link SendError.code}. */
export class SendError extends Error {
  /** The stable code for this condition. */
  readonly code: SendErrorCode;
  /** For `MESSAGE_TOO_LONG`: the MTU of the outgoing interface; otherwise 0. */
  readonly mtu: number;
  constructor(code: SendErrorCode, message: string, mtu = 0) {
    super(message);
    this.name = 'SendError';
    this.code = code;
    this.mtu = mtu;
  }
}

/** Stable codes of {@link BindError}. */
export type BindErrorCode =
  /** Port or address out of range, or a handler that is not a function. */
  | 'INVALID_ARGUMENT'
  /** Another binding holds the port for an overlapping address (EADDRINUSE). */
  | 'ADDRESS_IN_USE'
  /** The address to bind is not one of this host's addresses (EADDRNOTAVAIL). */
  | 'ADDRESS_NOT_AVAILABLE'
  /** Every ephemeral port is taken. */
  | 'NO_FREE_PORT';

/** A bind was refused; branch on {@link BindError.code}. */
export class BindError extends Error {
  /** The stable code for this condition. */
  readonly code: BindErrorCode;
  constructor(code: BindErrorCode, message: string) {
    super(message);
    this.name = 'BindError';
    this.code = code;
  }
}

/** Stable codes of {@link InterfaceError}. */
export type InterfaceErrorCode =
  /** An address, prefix length or MTU out of range. */
  | 'INVALID_ARGUMENT'
  /** The address is already configured on some interface of this stack. */
  | 'DUPLICATE_ADDRESS'
  /** No such address (on remove) or no such interface. */
  | 'NOT_FOUND'
  /** The device already belongs to an interface of this stack. */
  | 'DUPLICATE_DEVICE'
  /** The protocol number already has a handler (or is one the stack handles itself). */
  | 'PROTOCOL_IN_USE';

/** An interface or stack configuration operation was refused; branch on {@link InterfaceError.code}. */
export class InterfaceError extends Error {
  /** The stable code for this condition. */
  readonly code: InterfaceErrorCode;
  constructor(code: InterfaceErrorCode, message: string) {
    super(message);
    this.name = 'InterfaceError';
    this.code = code;
  }
}

/** Stable codes of {@link PingError}. */
export type PingErrorCode =
  /** No reply within the timeout. */
  | 'TIMEOUT'
  /** An ICMP destination unreachable came back for the request ({@link PingError.icmpCode} says why). */
  | 'UNREACHABLE'
  /** An ICMP time exceeded came back for the request. */
  | 'TIME_EXCEEDED'
  /** The request was cancelled. */
  | 'CANCELLED';

/** An echo request got no reply; branch on {@link PingError.code}. */
export class PingError extends Error {
  /** The stable code for this condition. */
  readonly code: PingErrorCode;
  /** For `UNREACHABLE` and `TIME_EXCEEDED`: the ICMP code received; otherwise -1. */
  readonly icmpCode: number;
  /** For `UNREACHABLE` and `TIME_EXCEEDED`: the host that sent the error; otherwise 0. */
  readonly reporter: number;
  constructor(code: PingErrorCode, message: string, icmpCode = -1, reporter = 0) {
    super(message);
    this.name = 'PingError';
    this.code = code;
    this.icmpCode = icmpCode;
    this.reporter = reporter;
  }
}
