/**
 * Passive open. A {@link TcpListener} stays in LISTEN for its whole life; each acceptable SYN makes
 * a COPY of it (a new TCB in SYN-RECEIVED that holds the peer's address, port, ISN, window and
 * options: RFC 9293 §3.10.7.2's model), counted against the listener's bounded SYN backlog. When
 * the copy completes its handshake it moves to the bounded accept queue, where it waits (receiving
 * data) until the application takes it.
 *
 * Under a SYN flood (backlog full) the listener answers with SYN cookies (RFC 4987) when enabled:
 * no state is kept, and a valid returning ACK creates the connection directly in ESTABLISHED
 * (without window scaling, SACK or timestamps, which a cookie cannot carry).
 *
 * Limits, each counted in {@link TcpListenerStats}: the SYN backlog, the accept queue (a handshake
 * completing into a full queue is ignored and the peer retries), the stack's connection limit.
 */
import type { Ipv4Address } from '@postern/wire';
import type { TcpConnection } from './connection.js';
import type { Segment } from './segment.js';
import { seqAdd } from './seq.js';
import type { Tcb } from './tcb.js';

/** Counters of one listener. */
export interface TcpListenerStats {
  /** SYNs that made a SYN-RECEIVED copy. */
  synReceived: number;
  /** SYNs dropped because the SYN backlog was full and cookies are off. */
  synBacklogDrops: number;
  /** SYNs dropped because the accept queue was full. */
  acceptQueueDrops: number;
  /** SYNs dropped at the stack's connection limit. */
  connectionLimitDrops: number;
  /** SYN-ACKs sent with a cookie instead of state. */
  cookiesSent: number;
  /** Connections created from a valid cookie. */
  cookiesAccepted: number;
  /** ACKs whose cookie did not validate (answered with RST). */
  cookiesRejected: number;
  /** Connections that entered the accept queue. */
  established: number;
  /** Connections taken by the application. */
  accepted: number;
}

/** What a listener asks of the `Tcp` module. @internal */
export interface ListenerHost {
  closeListener(listener: TcpListener): void;
}

/**
 * A listening socket. Completed connections arrive in {@link TcpListener.acceptQueue}; with
 * {@link TcpListener.onConnection} set they are handed to it at once instead (and never queue).
 */
export class TcpListener {
  /** Local address, 0 for every address of the host. */
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  /** Most connections in SYN-RECEIVED at once. */
  readonly synBacklog: number;
  /** Most established connections waiting for `accept()`. */
  readonly acceptBacklog: number;
  /** Established connections not yet accepted, oldest first. */
  readonly acceptQueue: TcpConnection[] = [];
  /** Called with each new connection (already ESTABLISHED); replaces queueing. */
  onConnection: ((connection: TcpConnection) => void) | undefined = undefined;
  /** Live counters. */
  readonly stats: TcpListenerStats = {
    synReceived: 0, synBacklogDrops: 0, acceptQueueDrops: 0, connectionLimitDrops: 0, cookiesSent: 0,
    cookiesAccepted: 0, cookiesRejected: 0, established: 0, accepted: 0,
  };
  /** @internal Copies in SYN-RECEIVED. */
  readonly embryos = new Set<Tcb>();
  /** @internal */
  closed = false;
  private readonly host: ListenerHost;

  /** @internal Made by `Tcp.listen`. */
  constructor(host: ListenerHost, localAddress: Ipv4Address, localPort: number, synBacklog: number, acceptBacklog: number) {
    this.host = host;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.synBacklog = synBacklog;
    this.acceptBacklog = acceptBacklog;
  }

  /** Connections in SYN-RECEIVED now. */
  get pendingHandshakes(): number {
    return this.embryos.size;
  }

  /** Takes the oldest established connection from the accept queue, or undefined. */
  accept(): TcpConnection | undefined {
    const c = this.acceptQueue.shift();
    if (c !== undefined) this.stats.accepted++;
    return c;
  }

  /** Stops listening: new SYNs are refused with RST; handshakes in progress and queued connections are reset. */
  close(): void {
    this.host.closeListener(this);
  }

  /** @internal True when the SYN backlog has room. */
  hasSynRoom(): boolean {
    return this.embryos.size < this.synBacklog;
  }

  /** @internal True when the accept queue has room (counting handshakes that will complete into it is not needed: a full queue drops the final ACK). */
  hasAcceptRoom(): boolean {
    return this.onConnection !== undefined || this.acceptQueue.length < this.acceptBacklog;
  }
}

/** The client's ISN and MSS a cookie needs, read from the segment. */
export function clientIsnOfAck(seg: Segment): number {
  return seqAdd(seg.seq, -1);
}
