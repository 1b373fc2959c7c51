/**
 * {@link TcpConnectionEntry}: one row of the connection table as `Tcp.connections()` reports it (the
 * picture `ss -t` or `netstat -t` gives of a kernel's table), built from a TCB by
 * {@link connectionEntry}.
 *
 * An entry is a plain, frozen copy taken at the moment of the call: it never changes afterwards and
 * holds no reference to the connection, so a listing can be kept, compared or serialised while the
 * connections it names move on or disappear.
 */
import type { Ipv4Address } from '@postern/wire';
import type { TcpState } from './state.js';
import type { Tcb } from './tcb.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** One connection of the table at the moment it was listed. */
export interface TcpConnectionEntry {
  /** Local address. */
  readonly localAddress: Ipv4Address;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddress: Ipv4Address;
  /** Remote port. */
  readonly remotePort: number;
  /** The RFC 9293 state: any state but `CLOSED` and `LISTEN` (released TCBs leave the table). */
  readonly state: TcpState;
  /** True when a listener made the connection (passive open), false for `Tcp.connect`. */
  readonly passive: boolean;
  /** Bytes written by the application and not yet acknowledged by the peer (`ss`'s Send-Q). */
  readonly sendQueue: number;
  /** In-order bytes received and not yet read by the application (`ss`'s Recv-Q). */
  readonly receiveQueue: number;
}

/** The entry for `tcb` now. @internal */
export function connectionEntry(tcb: Tcb): TcpConnectionEntry {
  return Object.freeze({
    localAddress: tcb.localAddress,
    localPort: tcb.localPort,
    remoteAddress: tcb.remoteAddress,
    remotePort: tcb.remotePort,
    state: tcb.state,
    passive: tcb.passive,
    sendQueue: tcb.sendBuffer.length,
    receiveQueue: tcb.recvBuffer.readable,
  });
}

/** The entry of a TIME-WAIT record now (nothing queued either way). @internal */
export function timeWaitEntry(record: TimeWaitRecord): TcpConnectionEntry {
  return Object.freeze({
    localAddress: record.localAddress,
    localPort: record.localPort,
    remoteAddress: record.remoteAddress,
    remotePort: record.remotePort,
    state: 'TIME-WAIT',
    passive: record.passive,
    sendQueue: 0,
    receiveQueue: 0,
  });
}
