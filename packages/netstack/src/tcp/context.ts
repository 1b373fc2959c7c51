/**
 * {@link TcpContext}: the one view of a `Tcp` that its parts receive. The parts are modules of
 * functions, each with one job (segment input, the listener and SYN cookies, timers, ICMP errors,
 * the connection table, the application API) and no state of their own. What they share goes
 * through this interface: the module's tables and settings, and the operations one part offers
 * the others (ending a connection, arming a timer, running output). A part imports another's
 * functions only where that points one way (segment input -> passive open -> input, timers ->
 * timer expiries); every call that would point back goes through the context, so `tcp/` has no
 * import circle.
 *
 * The narrower views that lower modules declare for themselves are slices of it: output's
 * `TcpOutputContext`, recovery's `TcpRecoveryContext`, and the handles' `ConnectionHost` and
 * `ListenerHost`. One object (`TcpCore`) implements it for each `Tcp`, so every call through it
 * stays monomorphic on the per-segment path.
 */
import type { BottomHalf, SchedulerApi } from '@postern/irq';
import type { Counters } from '../counters.js';
import type { ConnectionHost, TcpConnection } from './connection.js';
import type { CookieSynAckWriter, ResetWriter } from './control-writers.js';
import type { ConnectionTable, ListenerTable } from './demux.js';
import type { EphemeralPorts } from './ephemeral-ports.js';
import type { TcpError } from './errors.js';
import type { FlushList } from './flush-list.js';
import type { IsnGenerator } from './isn.js';
import type { ListenerHost, TcpListener } from './listener.js';
import type { TcpSettings } from './options.js';
import type { TcpRecoveryContext } from './recovery.js';
import type { Segment } from './segment.js';
import type { SynCookies } from './syn-cookies.js';
import type { Tcb, TcpCloseReason } from './tcb.js';
import type { TcpCounterName, TcpCounterSlots } from './tcp-counters.js';
import type { TimeWaitQueue } from './time-wait.js';
import type { TcbList } from './tcb-list.js';

/** Everything the parts of one `Tcp` share. See the module comment. */
export interface TcpContext extends TcpRecoveryContext, ConnectionHost, ListenerHost {
  // ------------------------------------------------------------ state
  /** The scheduler: clock, timers, bottom halves, randomness. */
  readonly scheduler: SchedulerApi;
  /** Stack-wide counters. */
  readonly counters: Counters<TcpCounterName>;
  /** The slot of `segmentsReceived` in {@link TcpContext.counters} (counted on every segment: no lookup by name). */
  readonly segmentsReceivedSlot: number;
  /** The slots of the counters every connection moves (counted with `counters.incSlot`: no lookup by name). */
  readonly slots: TcpCounterSlots;
  /** The options, checked and with their defaults. */
  readonly settings: TcpSettings;
  /** Every TCB by 4-tuple, TIME-WAIT and SYN-RECEIVED included, and the TIME-WAIT records. */
  readonly table: ConnectionTable;
  /** Open listeners by local port. */
  readonly listeners: ListenerTable<TcpListener>;
  /** TIME-WAIT TCBs, oldest first (insertion order): the ones whose application still holds them or that wait for something. */
  readonly timeWait: TcbList;
  /** TIME-WAIT records (connections the application let go of), oldest first, indexed in {@link TcpContext.table}. */
  readonly timeWaitRecords: TimeWaitQueue;
  /** TCBs given back for reuse (at most `TCB_FREE_LIST_LIMIT`; see lifecycle.ts). */
  readonly freeTcbs: Tcb[];
  /** The inert TCB retired application handles point at (lifecycle.ts), made on first need. */
  retiredStandIn: Tcb | undefined;
  /** The listener that made each passive TCB, until the TCB is released. */
  readonly origins: {
    get(tcb: Tcb): TcpListener | undefined;
    set(tcb: Tcb, listener: TcpListener): void;
    delete(tcb: Tcb): void;
  };
  /** The application handle of each TCB that has one. */
  readonly handles: { get(tcb: Tcb): TcpConnection | undefined; set(tcb: Tcb, conn: TcpConnection): void };
  /** Local ports for active opens that name none. */
  readonly ephemeralPorts: EphemeralPorts;
  /** The one segment view input fills for every arriving segment. */
  readonly segment: Segment;
  /**
   * Initial sequence numbers (RFC 6528) and, from the same keyed hash of the 4-tuple, the timestamp
   * offsets (RFC 7323 §7.1: per 4-tuple, so RFC 6191 works across incarnations).
   */
  readonly isn: IsnGenerator;
  /** SYN cookies (RFC 4987): making and checking them. */
  readonly cookies: SynCookies;
  /** The 4-tuple the cookie functions fill for each SYN or ACK they check (no allocation per segment). */
  readonly cookieTuple: [number, number, number, number];
  /** Writes the cookie SYN-ACKs. */
  readonly cookieSynAck: CookieSynAckWriter;
  /** Writes the RSTs sent without a TCB. */
  readonly resets: ResetWriter;
  /** TCBs owing an ACK at the end of the receive batch. */
  readonly flushList: FlushList;
  /** The bottom half that sends those ACKs. */
  readonly flushHalf: BottomHalf;

  // ------------------------------------------------------------ the connection table (lifecycle.ts)
  /** Ends the connection: state CLOSED, timers off, out of the tables; `error` goes to `onError`. */
  closeTcb(tcb: Tcb, reason: TcpCloseReason, error?: TcpError): void;
  /** Takes the TCB out of every table and stops its timers, without telling the application yet. */
  release(tcb: Tcb, reason: TcpCloseReason): void;
  /**
   * Enters (or restarts) TIME-WAIT for 2*MSL (segment input only: the timer is armed when the
   * segment's {@link TcpContext.afterSegment} ends, unless the TCB became a record by then).
   */
  enterTimeWait(tcb: Tcb): void;
  /** The application handle of `tcb`, made on first use. */
  connectionOf(tcb: Tcb): TcpConnection;

  // ------------------------------------------------------------ passive open (passive-open.ts)
  /**
   * A passive connection finished its handshake. Returns false when its listener's accept queue is
   * full (the ACK is then dropped and the connection stays in SYN-RECEIVED).
   */
  passiveEstablished(tcb: Tcb): boolean;

  // ------------------------------------------------------------ timers (timers.ts)
  /** Arms the delayed-ACK timer if it is not running. */
  armDelayedAck(tcb: Tcb): void;
  /**
   * Arms the FIN-WAIT-2 timeout (only after `close()`), once the segment or the `close()` that
   * reached FIN-WAIT-2 is processed (the same segment may go on to TIME-WAIT).
   */
  armFinWait2(tcb: Tcb): void;
  /** (Re)arms the idle timer (TIME-WAIT, FIN-WAIT-2, keep-alive) for `delay` ms from now. */
  armIdle(tcb: Tcb, delay: number): void;
  /** Restarts the keep-alive idle timer (when keep-alive is on). */
  touchKeepAlive(tcb: Tcb): void;

  // ------------------------------------------------------------ segments outside output (direct-output.ts)
  /** Sends a RST in answer to `seg` (no TCB state used): `<SEQ=SEG.ACK><CTL=RST>` or `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. */
  sendResetFor(seg: Segment): void;
  /** Re-sends our SYN or SYN-ACK and arms the retransmission timer. */
  resendSyn(tcb: Tcb): void;

  // ------------------------------------------------------------ after a segment or a call (delivery.ts)
  /** Delivers the TCB's application events, then runs its output. */
  afterSegment(tcb: Tcb): void;
  /** Runs output for `tcb` and delivers nothing (from application calls and timers). */
  output(tcb: Tcb): void;
  /** Delivers the application events queued on `tcb`. */
  deliverEvents(tcb: Tcb): void;

  /** Builds a typed error for the reason. */
  errorFor(reason: 'refused' | 'reset'): TcpError;
}
