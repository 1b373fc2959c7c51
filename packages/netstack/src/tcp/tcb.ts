/**
 * The Transmission Control Block (RFC 9293 §3.3.1): everything one connection knows. It is plain
 * data; {@link ./input.ts} and {@link ./output.ts} change it, {@link ./timers.ts} arms its timers.
 *
 * Invariants (sequence numbers compared modulo 2^32):
 * - `sndUna <= sndNxt <= sndMax`; bytes in the send buffer start at `sndUna` (once the SYN is
 *   acknowledged; before that the SYN occupies `iss`);
 * - `rcvNxt <= rcvAdvRight`: the right edge we advertised never moves left (no window shrinking);
 * - the receive buffer holds bytes from `rcvNxt - readable` (unread) to the right edge.
 */
import type { Timer } from '@postern/irq';
import type { LazyTimer } from './lazy-timer.js';
import type { Ipv4Address } from '@postern/wire';
import type { CongestionControl } from './congestion.js';
import type { RtoEstimator } from './rto.js';
import type { SendBuffer } from './send-buffer.js';
import type { ReceiveBuffer } from './recv-buffer.js';
import type { SackScoreboard } from './sack-scoreboard.js';
import type { TcpState } from './state.js';
import type { TcpErrorCode } from './errors.js';
import { RackState, SentSegments } from './rack.js';
import { RetransmitLedger } from './retransmit-ledger.js';

/** Entries a connection's RACK log starts with (small typed arrays stay on V8's heap, no backing store). */
const SENT_LOG_INITIAL_SLOTS = 4;

/** Why a connection ended, as {@link TcpConnection.onClose} reports it. */
export type TcpCloseReason =
  /** Both FINs exchanged and acknowledged (or TIME_WAIT entered). */
  | 'normal'
  /** The peer refused the connection (RST to our SYN). */
  | 'refused'
  /** The peer reset the connection. */
  | 'reset'
  /** Retransmissions or keep-alive probes went unanswered. */
  | 'timeout'
  /** Aborted locally (`abort()`, a close with unread data, shutdown of the stack, recycling). */
  | 'aborted';

/** Per-connection counters and measurements (live; read them at any time). */
export interface TcpConnectionStats {
  /** Segments sent (data, control and pure ACKs). */
  segmentsOut: number;
  /** Segments received and accepted for processing. */
  segmentsIn: number;
  /** Payload bytes sent for the first time. */
  bytesOut: number;
  /** Payload bytes delivered in order to the receive buffer. */
  bytesIn: number;
  /** Segments retransmitted (timeout, fast retransmit and recovery). */
  retransmits: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Fast retransmits (entries into loss recovery). */
  fastRetransmits: number;
  /** Tail loss probes sent (RFC 8985 §7): one segment after a probe timeout without any ACK. */
  tailLossProbes: number;
  /** Retransmissions of SND.UNA found lost (data sent after them was SACKed) and sent again. */
  lostRetransmits: number;
  /** Duplicate ACKs received. */
  dupAcks: number;
  /** Segments RACK (RFC 8985) marked lost: a segment sent after them was delivered and their RTT plus the reordering window passed. */
  rackLossMarks: number;
  /** Reordering timer expiries (RFC 8985 §6.2: a loss decided by time, not by a further ACK). */
  rackReorderTimeouts: number;
  /** Retransmissions judged spurious and undone (RFC 3522 Eifel with timestamps, F-RTO, or D-SACKs of every retransmission): the window reduction was reverted. */
  spuriousUndos: number;
  /** Retransmission timeouts F-RTO (RFC 5682 §3) found spurious (data sent before the timeout and never resent was acknowledged); each is also an undo. */
  frtoSpuriousRtos: number;
  /** Undos decided by D-SACKs (RFC 3708): every retransmission of the episode reported received twice. */
  dsackUndos: number;
  /** Tail loss probes whose retransmission repaired a loss (RFC 8985 §7.4): the congestion response was applied once. */
  tlpLossRecoveries: number;
  /** Tail loss probes shown unneeded (a D-SACK for the probe, or a plain duplicate ACK): no window reduction. */
  tlpUnneeded: number;
  /** Recovery episodes whose sending was paced by Proportional Rate Reduction (RFC 6937). */
  prrRecoveries: number;
  /** D-SACK blocks received (RFC 2883: the peer got a segment twice). */
  dsacksReceived: number;
  /** D-SACK blocks sent (a duplicate segment arrived here). */
  dsacksSent: number;
  /** The reordering window multiplier RACK uses now (1, raised by D-SACKs). */
  reoWndMult: number;
  /** Out-of-order segments received (held for joining). */
  outOfOrder: number;
  /** Zero-window probes sent. */
  windowProbes: number;
  /**
   * Delayed-ACK timer expiries that sent a segment (an ACK owed to the peer waited the whole
   * delayed-ACK time: nothing else carried it). On request/response traffic each one is a stall of
   * up to the delayed-ACK time.
   */
  delayedAckTimeouts: number;
  /**
   * Times Nagle's algorithm (RFC 9293 §3.7.4) held back a small segment because data was
   * unacknowledged: counted once when a hold starts, not on each output check while it lasts.
   */
  nagleHeld: number;
  /** Challenge ACKs sent (RFC 5961). */
  challengeAcks: number;
  /** Segments dropped by PAWS (RFC 7323). */
  pawsDrops: number;
  /** Bytes a retransmission timeout did not resend because the peer had SACKed them (RFC 6675 §5.1). */
  rtoSackedSkipped: number;
  /** Times an ICMP fragmentation-needed message lowered the path MTU (RFC 1191). */
  pmtuDecreases: number;
  /** The path MTU the connection sizes its segments for (the route's MTU until ICMP lowers it). */
  pathMtu: number;
  /** Latest smoothed RTT in ms (0 before the first sample). */
  srttMs: number;
  /** Latest retransmission timeout in ms. */
  rtoMs: number;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number;
}

/** A fresh stats object at zero. */
export function newConnectionStats(): TcpConnectionStats {
  return {
    segmentsOut: 0,
    segmentsIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    retransmits: 0,
    timeouts: 0,
    fastRetransmits: 0,
    tailLossProbes: 0,
    lostRetransmits: 0,
    dupAcks: 0,
    rackLossMarks: 0,
    rackReorderTimeouts: 0,
    spuriousUndos: 0,
    frtoSpuriousRtos: 0,
    dsackUndos: 0,
    tlpLossRecoveries: 0,
    tlpUnneeded: 0,
    prrRecoveries: 0,
    dsacksReceived: 0,
    dsacksSent: 0,
    reoWndMult: 1,
    outOfOrder: 0,
    windowProbes: 0,
    delayedAckTimeouts: 0,
    nagleHeld: 0,
    challengeAcks: 0,
    pawsDrops: 0,
    rtoSackedSkipped: 0,
    pmtuDecreases: 0,
    pathMtu: 0,
    srttMs: 0,
    rtoMs: 0,
    cwnd: 0,
    ssthresh: 0,
  };
}

/** Bits of {@link Tcb.events}: application events waiting to be delivered after the current segment. */
export const TcbEvent = {
  CONNECTED: 1,
  READABLE: 2,
  WRITABLE: 4,
  CLOSED: 8,
} as const;

/** How urgently an ACK is owed to the peer. Larger values win. */
export const AckUrgency = {
  /** Nothing owed. */
  NONE: 0,
  /** Owed, may wait for the delayed-ACK timer. */
  DELAYED: 1,
  /** Owed at the end of the current receive batch (lets a synchronous reply carry it). */
  SOON: 2,
  /** Owed right now (out-of-order data, FIN, window update, two full segments). */
  NOW: 3,
} as const;

/** One of {@link AckUrgency}'s values. */
export type AckUrgencyLevel = (typeof AckUrgency)[keyof typeof AckUrgency];

/**
 * The bits of a TCB's `flags`: each boolean of a TCB is one bit of one small integer (a boolean
 * field would cost a pointer per TCB each), read and written through the TCB's accessors.
 */
const TcbFlag = {
  tsEnabled: 1 << 0,
  sackEnabled: 1 << 1,
  wsEnabled: 1 << 2,
  finQueued: 1 << 3,
  finSent: 1 << 4,
  peerFinReceived: 1 << 5,
  appClosed: 1 << 6,
  inRecovery: 1 << 7,
  probeOutstanding: 1 << 8,
  undoArmed: 1 << 9,
  undoAfterRto: 1 << 10,
  undoLate: 1 << 11,
  tlpRetransPending: 1 << 12,
  dsackPending: 1 << 13,
  synRetransmitted: 1 << 14,
  dontFragment: 1 << 15,
  nagleHolding: 1 << 16,
  forceSend: 1 << 17,
  noDelay: 1 << 18,
  keepAlive: 1 << 19,
  released: 1 << 20,
  flushQueued: 1 << 21,
} as const;

/** The control block of one connection. Owned by the `Tcp` module; the application sees a `TcpConnection`. */
export class Tcb {
  state: TcpState = 'CLOSED';
  /** The TCB's booleans, one bit each (`TcbFlag`); read and write them through their accessors. */
  private flags: number = TcbFlag.dontFragment;
  // The 4-tuple and the kind of open are fixed for one life of the TCB ({@link Tcb.reuse} starts the next).
  /** Local address (never the wildcard once the TCB exists). */
  localAddress: Ipv4Address;
  localPort = 0;
  remoteAddress: Ipv4Address;
  remotePort = 0;
  /** True for a connection made by a listener (passive open). */
  passive: boolean;

  // Send sequence space (RFC 9293 §3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent plus one (`sndNxt` moves back on a timeout; this does not). */
  sndMax = 0;
  /** Peer's window in bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer ever offered (for RFC 5961 ACK checks and sender SWS avoidance). */
  maxSndWnd = 0;
  /** Shift applied to windows the peer sends (its scale; 0 without window scaling). */
  sndWndShift = 0;
  /** Shift applied to windows we send (our scale; 0 without window scaling). */
  rcvWndShift = 0;
  /** Largest payload we put in one segment (peer's MSS, our route MTU, minus options we always send). */
  sendMss = 536;
  /** The MSS we advertised. */
  advertisedMss = 536;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised (`rcvNxt + window`); never moves left. */
  rcvAdvRight = 0;
  /**
   * The receive buffer size the application set (clamped by the `Tcp` module). The buffer's
   * capacity stays above it while the bytes held plus the window already promised need more, and
   * comes down to it as the application reads (the right edge never moves left).
   */
  rcvBufSize = 0;

  // Options (RFC 7323, RFC 2018).
  get tsEnabled(): boolean {
    return (this.flags & TcbFlag.tsEnabled) !== 0;
  }
  set tsEnabled(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.tsEnabled : this.flags & ~TcbFlag.tsEnabled;
  }
  /** TS.Recent: the peer's timestamp to echo. */
  tsRecent = 0;
  /** When TS.Recent was stored (ms, scheduler clock), for the 24-day PAWS rule. */
  tsRecentAge = 0;
  /** Random offset added to our timestamp clock (RFC 7323 §7.1). */
  tsOffset = 0;
  /** `rcvNxt` we last acknowledged (RFC 7323 §4.3: which TSval to keep). */
  lastAckSent = 0;
  get sackEnabled(): boolean {
    return (this.flags & TcbFlag.sackEnabled) !== 0;
  }
  set sackEnabled(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.sackEnabled : this.flags & ~TcbFlag.sackEnabled;
  }
  /** Peer offered window scaling in its SYN (passive open: ours is then used). */
  get wsEnabled(): boolean {
    return (this.flags & TcbFlag.wsEnabled) !== 0;
  }
  set wsEnabled(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.wsEnabled : this.flags & ~TcbFlag.wsEnabled;
  }

  // FIN bookkeeping.
  /** The application shut down its sending side: a FIN goes after the last byte. */
  get finQueued(): boolean {
    return (this.flags & TcbFlag.finQueued) !== 0;
  }
  set finQueued(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.finQueued : this.flags & ~TcbFlag.finQueued;
  }
  /** Sequence number of our FIN once sent (valid when {@link Tcb.finSent}). */
  finSeq = 0;
  get finSent(): boolean {
    return (this.flags & TcbFlag.finSent) !== 0;
  }
  set finSent(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.finSent : this.flags & ~TcbFlag.finSent;
  }
  /** The peer's FIN was received in order (no more data comes). */
  get peerFinReceived(): boolean {
    return (this.flags & TcbFlag.peerFinReceived) !== 0;
  }
  set peerFinReceived(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.peerFinReceived : this.flags & ~TcbFlag.peerFinReceived;
  }
  /** Sequence number of a peer FIN that arrived ahead of missing data, or -1. */
  pendingPeerFin = -1;
  /** The application called `close()`: it reads nothing more. */
  get appClosed(): boolean {
    return (this.flags & TcbFlag.appClosed) !== 0;
  }
  set appClosed(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.appClosed : this.flags & ~TcbFlag.appClosed;
  }

  // Loss recovery.
  dupAcks = 0;
  get inRecovery(): boolean {
    return (this.flags & TcbFlag.inRecovery) !== 0;
  }
  set inRecovery(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.inRecovery : this.flags & ~TcbFlag.inRecovery;
  }
  /** RFC 6582 `recover`: `sndMax` when recovery started. */
  recover = 0;
  /** Highest sequence number retransmitted in this recovery (RFC 6675 HighRxt). */
  highRxt = 0;
  /** Consecutive retransmission timeouts without progress. */
  backoffCount = 0;
  /** SND.UNA when it was last retransmitted in recovery (`-1`: not retransmitted), and SND.MAX then. */
  unaRetransmitSeq = -1;
  unaRetransmitFence = 0;
  /** A tail loss probe went out and no ACK has advanced SND.UNA since (at most one probe per flight). */
  get probeOutstanding(): boolean {
    return (this.flags & TcbFlag.probeOutstanding) !== 0;
  }
  set probeOutstanding(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.probeOutstanding : this.flags & ~TcbFlag.probeOutstanding;
  }
  /** HyStart++ (RFC 9406): the round ends when SND.UNA passes this (SND.MAX when the round began). */
  roundEnd = 0;
  /**
   * Every data segment in flight with its transmit time (RACK, RFC 8985). It starts with room for
   * a few segments and doubles as flights grow, so an idle or request/response connection keeps
   * its log small.
   */
  readonly sent = new SentSegments(SENT_LOG_INITIAL_SLOTS);
  /** RACK's variables. */
  readonly rack = new RackState();
  /** PRR (RFC 6937): bytes delivered to the peer since recovery started. */
  prrDelivered = 0;
  /** PRR: bytes sent since recovery started. */
  prrOut = 0;
  /** PRR: the flight when recovery started (RecoverFS). */
  recoverFs = 0;
  /** Undo (RFC 3522 / Linux undo): a loss response can still be reverted if it proves spurious. */
  get undoArmed(): boolean {
    return (this.flags & TcbFlag.undoArmed) !== 0;
  }
  set undoArmed(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.undoArmed : this.flags & ~TcbFlag.undoArmed;
  }
  /** Our TSval when the first retransmission of the episode went out (Eifel's RetransmitTS). */
  undoTsVal = 0;
  /** Sequence number of that first retransmission. */
  undoSeq = 0;
  /** cwnd and ssthresh before the loss response. */
  undoCwnd = 0;
  undoSsthresh = 0;
  /** Retransmitted segments of the episode not yet shown spurious by a D-SACK. */
  undoRetrans = 0;
  /** The episode began with a retransmission timeout (undo also stops the go-back-N). */
  get undoAfterRto(): boolean {
    return (this.flags & TcbFlag.undoAfterRto) !== 0;
  }
  set undoAfterRto(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.undoAfterRto : this.flags & ~TcbFlag.undoAfterRto;
  }
  /** The episode's recovery is over; the undo waits one more round trip for D-SACKs alone. */
  get undoLate(): boolean {
    return (this.flags & TcbFlag.undoLate) !== 0;
  }
  set undoLate(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.undoLate : this.flags & ~TcbFlag.undoLate;
  }
  /** See {@link Tcb.undoLedger}: made by the first loss episode. */
  private undoLedgerStore: RetransmitLedger | undefined = undefined;
  /** F-RTO (RFC 5682 §3): 0 idle, 2 waiting for the first new ACK after a timeout, 3 new data sent, waiting for the next ACK. */
  frtoStep = 0;
  /** TLP loss detection (RFC 8985 §7.4): a probe retransmission awaits its verdict. */
  get tlpRetransPending(): boolean {
    return (this.flags & TcbFlag.tlpRetransPending) !== 0;
  }
  set tlpRetransPending(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.tlpRetransPending : this.flags & ~TcbFlag.tlpRetransPending;
  }
  /** SND.MAX when the probe went (TLP.end_seq), and the range the probe retransmitted. */
  tlpHighSeq = 0;
  tlpProbeSeq = 0;
  tlpProbeEnd = 0;
  /** A D-SACK block is owed to the peer (RFC 2883): `[dsackLeft, dsackRight)` arrived twice. */
  get dsackPending(): boolean {
    return (this.flags & TcbFlag.dsackPending) !== 0;
  }
  set dsackPending(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.dsackPending : this.flags & ~TcbFlag.dsackPending;
  }
  dsackLeft = 0;
  dsackRight = 0;
  /** The SYN (or SYN-ACK) was retransmitted: without an RTT sample the RTO becomes 3 s (RFC 6298 §5.7). */
  get synRetransmitted(): boolean {
    return (this.flags & TcbFlag.synRetransmitted) !== 0;
  }
  set synRetransmitted(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.synRetransmitted : this.flags & ~TcbFlag.synRetransmitted;
  }

  // ICMP (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191).
  /** The last soft error an ICMP message reported, reported only if the connection times out. */
  softError: TcpErrorCode | undefined = undefined;
  /** SND.UNA when {@link Tcb.softError} was recorded: an ACK of new data since means the path works again. */
  softErrorUna = 0;
  /** The path MTU (IP header included) segments are sized for. */
  pathMtu = 576;
  /** Segments go out with Don't Fragment (cleared when the path reports an MTU below `TCP_MIN_PMTU`). */
  get dontFragment(): boolean {
    return (this.flags & TcbFlag.dontFragment) !== 0;
  }
  set dontFragment(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.dontFragment : this.flags & ~TcbFlag.dontFragment;
  }
  /** Karn: the sequence number being timed (`-1` when none), and when it was sent. */
  rttSeq = -1;
  rttSentAt = 0;
  /** The send window of the last ACK (for duplicate ACK detection). */
  lastAckWindow = 0;
  /** Zero-window probes sent in a row without the window opening. */
  probeCount = 0;
  /** Nagle is holding unsent data back (set when a hold starts, cleared when new data goes out). */
  get nagleHolding(): boolean {
    return (this.flags & TcbFlag.nagleHolding) !== 0;
  }
  set nagleHolding(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.nagleHolding : this.flags & ~TcbFlag.nagleHolding;
  }
  /** Send one window-limited runt despite sender SWS avoidance (set by the persist timer). */
  get forceSend(): boolean {
    return (this.flags & TcbFlag.forceSend) !== 0;
  }
  set forceSend(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.forceSend : this.flags & ~TcbFlag.forceSend;
  }
  /** Keep-alive probes sent in a row without an answer. */
  keepAliveProbes = 0;
  /** When the last segment arrived (ms). */
  lastReceivedAt = 0;

  // ACK policy.
  ackUrgency: AckUrgencyLevel = AckUrgency.NONE;
  /** Full-sized segments received since our last ACK. */
  unackedSegments = 0;
  /** Segments still to ACK at once (Linux quick-ACK mode at connection start). */
  quickAcks = 0;

  // Application settings.
  get noDelay(): boolean {
    return (this.flags & TcbFlag.noDelay) !== 0;
  }
  set noDelay(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.noDelay : this.flags & ~TcbFlag.noDelay;
  }
  get keepAlive(): boolean {
    return (this.flags & TcbFlag.keepAlive) !== 0;
  }
  set keepAlive(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.keepAlive : this.flags & ~TcbFlag.keepAlive;
  }
  keepAliveIdleMs = 7_200_000;

  /** {@link TcbEvent} bits waiting for delivery. */
  events = 0;
  /** Set once the TCB left every table (no more timers, no more input). */
  get released(): boolean {
    return (this.flags & TcbFlag.released) !== 0;
  }
  set released(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.released : this.flags & ~TcbFlag.released;
  }
  /** Why the connection closed (valid once state is CLOSED). */
  closeReason: TcpCloseReason = 'normal';
  /** True while queued on the stack's flush list and owing its ACK (cleared when an ACK went out another way). */
  get flushQueued(): boolean {
    return (this.flags & TcbFlag.flushQueued) !== 0;
  }
  set flushQueued(on: boolean) {
    this.flags = on ? this.flags | TcbFlag.flushQueued : this.flags & ~TcbFlag.flushQueued;
  }

  // Timers (created on first use, re-armed afterwards).
  rtxTimer: LazyTimer | undefined;
  delackTimer: Timer | undefined;
  /** TIME_WAIT, FIN-WAIT-2 timeout and keep-alive (never needed at the same time). */
  idleTimer: LazyTimer | undefined;
  /**
   * The deadline (ms) the idle timer is to be armed for when the segment being processed (or the
   * application's `close()`) is done with the connection: the FIN-WAIT-2 timeout or TIME-WAIT's
   * 2*MSL, set during it (timers.ts `armPendingIdle`); -1 when none. A connection whose
   * FIN is acknowledged by the peer's own FIN (FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT in one segment)
   * and that becomes a TIME-WAIT record at once never puts either wait on the timer heap.
   */
  idleDue = -1;
  /** What the retransmit timer is doing: `'rtx'` (retransmission timeout), `'probe'` (tail loss probe) or `'persist'`. */
  rtxMode: 'rtx' | 'probe' | 'persist' | 'reorder' = 'rtx';

  // Counters every connection moves (the rest of TcpConnectionStats lives in the lazy stats object).
  /** Segments sent (data, control and pure ACKs). */
  segmentsOut = 0;
  /** Segments received and accepted for processing. */
  segmentsIn = 0;
  /** Payload bytes sent for the first time. */
  bytesOut = 0;
  /** Payload bytes delivered in order to the receive buffer. */
  bytesIn = 0;
  /** See {@link Tcb.stats}: made on first use. */
  private statsStore: TcpConnectionStats | undefined = undefined;

  /**
   * The listener that made this passive TCB, until the TCB is released (`TcpCore.origins` reads and
   * writes it). Typed loosely so that this module imports neither the listener nor the handle.
   */
  origin: object | undefined = undefined;
  /** The application handle, once made (`TcpCore.handles` reads and writes it; typed loosely as {@link Tcb.origin}). */
  handle: object | undefined = undefined;
  /** @internal The next TCB in the same bucket of the connection table (`demux.ts`), while in the table. */
  bucketNext: Tcb | undefined = undefined;
  /** @internal The TCB added to the connection table just before this one and just after it (`demux.ts`: its listing order), while in the table. */
  tableOlder: Tcb | undefined = undefined;
  tableNewer: Tcb | undefined = undefined;
  /**
   * @internal The list the TCB is on (`tcb-list.ts`: its listener's SYN-RECEIVED copies, or the whole
   * TIME-WAIT TCBs; typed loosely as {@link Tcb.origin}) and its neighbours there.
   */
  list: object | undefined = undefined;
  listOlder: Tcb | undefined = undefined;
  listNewer: Tcb | undefined = undefined;

  constructor(
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
    passive: boolean,
    readonly sendBuffer: SendBuffer,
    readonly recvBuffer: ReceiveBuffer,
    readonly rto: RtoEstimator,
    public cc: CongestionControl,
    readonly scoreboard: SackScoreboard,
  ) {
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.passive = passive;
  }

  /**
   * Starts a new life of this TCB for another connection: every field is as a new `Tcb` has it
   * (state CLOSED, no flags but Don't Fragment, no events, no handle, no listener, no counters),
   * with the new 4-tuple and the congestion control given. Its parts start over in place, each
   * as a new one has it: the RTO estimator ({@link RtoEstimator.renew}: same options, which are the
   * owning module's settings), the SACK scoreboard ({@link SackScoreboard.restart} for segments of
   * `mss` bytes), the RACK log with its delivery rate state and RACK's variables; so a new life
   * allocates none of them. Its timers (stopped since it was released; the lazy ones may keep a heap
   * entry, which does nothing when it fires) are kept to be re-armed. The caller empties the buffers
   * and resizes them ({@link SendBuffer.reuse},
   * {@link ReceiveBuffer.reuse}). Only a TCB that left every table, that no application handle
   * reaches any more and on which nothing is pending may be reused (see `lifecycle.ts`, `recycleTcb`).
   * @throws RangeError unless `mss` is a positive integer.
   */
  reuse(
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
    passive: boolean,
    cc: CongestionControl,
    mss: number,
  ): void {
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.passive = passive;
    this.rto.renew();
    this.cc = cc;
    this.scoreboard.restart(mss);
    this.sent.restart();
    this.rack.restart();
    this.state = 'CLOSED';
    this.flags = TcbFlag.dontFragment;
    this.iss = 0;
    this.sndUna = 0;
    this.sndNxt = 0;
    this.sndMax = 0;
    this.sndWnd = 0;
    this.sndWl1 = 0;
    this.sndWl2 = 0;
    this.maxSndWnd = 0;
    this.sndWndShift = 0;
    this.rcvWndShift = 0;
    this.sendMss = 536;
    this.advertisedMss = 536;
    this.irs = 0;
    this.rcvNxt = 0;
    this.rcvAdvRight = 0;
    this.rcvBufSize = 0;
    this.tsRecent = 0;
    this.tsRecentAge = 0;
    this.tsOffset = 0;
    this.lastAckSent = 0;
    this.finSeq = 0;
    this.pendingPeerFin = -1;
    this.dupAcks = 0;
    this.recover = 0;
    this.highRxt = 0;
    this.backoffCount = 0;
    this.unaRetransmitSeq = -1;
    this.unaRetransmitFence = 0;
    this.roundEnd = 0;
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.recoverFs = 0;
    this.undoTsVal = 0;
    this.undoSeq = 0;
    this.undoCwnd = 0;
    this.undoSsthresh = 0;
    this.undoRetrans = 0;
    this.undoLedgerStore = undefined;
    this.frtoStep = 0;
    this.tlpHighSeq = 0;
    this.tlpProbeSeq = 0;
    this.tlpProbeEnd = 0;
    this.dsackLeft = 0;
    this.dsackRight = 0;
    this.softError = undefined;
    this.softErrorUna = 0;
    this.pathMtu = 576;
    this.rttSeq = -1;
    this.rttSentAt = 0;
    this.lastAckWindow = 0;
    this.probeCount = 0;
    this.keepAliveProbes = 0;
    this.lastReceivedAt = 0;
    this.idleDue = -1;
    this.ackUrgency = AckUrgency.NONE;
    this.unackedSegments = 0;
    this.quickAcks = 0;
    this.keepAliveIdleMs = 7_200_000;
    this.events = 0;
    this.closeReason = 'normal';
    this.rtxMode = 'rtx';
    this.segmentsOut = 0;
    this.segmentsIn = 0;
    this.bytesOut = 0;
    this.bytesIn = 0;
    this.statsStore = undefined;
    this.origin = undefined;
    this.handle = undefined;
    this.bucketNext = undefined;
    this.tableOlder = undefined;
    this.tableNewer = undefined;
    this.list = undefined;
    this.listOlder = undefined;
    this.listNewer = undefined;
  }

  /** Hands over the lazily made stats object (undefined when never made) and forgets it: the TCB is about to be reused. */
  takeStatsStore(): TcpConnectionStats | undefined {
    const s = this.statsStore;
    this.statsStore = undefined;
    return s;
  }

  /**
   * The ranges retransmitted in the armed undo episode (a D-SACK counts only against one of them).
   * Made on first use: a connection that never retransmits holds none.
   */
  get undoLedger(): RetransmitLedger {
    return (this.undoLedgerStore ??= new RetransmitLedger());
  }

  /**
   * The connection's counters and measurements, made on first use (most short connections never
   * count a retransmission, so they never make one). The counters every connection moves
   * ({@link Tcb.segmentsOut}, {@link Tcb.segmentsIn}, {@link Tcb.bytesOut}, {@link Tcb.bytesIn})
   * and the measurements owned elsewhere (path MTU, cwnd, ssthresh, RTT, RTO) are copied in on every read, so the object is current whenever it is read; code
   * counting a rare event increments its field here.
   */
  get stats(): TcpConnectionStats {
    const s = (this.statsStore ??= newConnectionStats());
    s.segmentsOut = this.segmentsOut;
    s.segmentsIn = this.segmentsIn;
    s.bytesOut = this.bytesOut;
    s.bytesIn = this.bytesIn;
    s.pathMtu = this.pathMtu;
    s.cwnd = this.cc.cwnd;
    s.ssthresh = this.cc.ssthresh;
    s.srttMs = this.rto.srttMs ?? 0;
    s.rtoMs = this.rto.rtoMs;
    return s;
  }

  /** Queues an application event for delivery after the current segment. */
  raise(event: number): void {
    this.events |= event;
  }

  /** Raises the ACK owed to the peer to at least `level`. */
  owe(level: AckUrgencyLevel): void {
    if (level > this.ackUrgency) this.ackUrgency = level;
  }
}
