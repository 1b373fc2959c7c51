/**
 * The connection table's side of a connection's life: making a TCB (buffers, congestion control,
 * window scale, timestamp offset), room for one more (recycling the oldest TIME-WAIT), and the
 * ends: TIME-WAIT, release from every table, and closing with the application told. Also the
 * application handle of a TCB, made once.
 *
 * TIME-WAIT comes in two forms. A TCB enters it whole; once its application has let go of it
 * (closed it and been told it closed, or never had it) and nothing is pending on it, the TCB is
 * replaced by a small {@link TimeWaitRecord} ({@link compactTimeWait}) that answers segments the
 * same way (time-wait-input.ts) until 2*MSL ends, in one queue with one timer (time-wait.ts). Both
 * forms count as TIME-WAIT connections; recycling takes the oldest of either.
 *
 * A TCB the record replaced is given back for reuse ({@link recycleTcb}): it goes on a bounded
 * free list of its `Tcp`, and the next {@link newTcb} starts a new life in it ({@link Tcb.reuse},
 * its buffers, BBR state and timers reused) instead of building one (a short connection's TCB
 * costs several KB of objects). An application handle that still refers to it is retired first:
 * it keeps the connection's final figures and points at an inert stand-in, never at the reused TCB.
 */
import type { Ipv4Address } from '@postern/wire';
import { Bbr } from './bbr.js';
import { Cubic, NewReno, type CongestionControl } from './congestion.js';
import { TcpConnection } from './connection.js';
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { TCP_MAX_WINDOW_SHIFT, advertiseWindow } from './output.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { RtoEstimator } from './rto.js';
import { SackScoreboard } from './sack-scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqSub } from './seq.js';
import { AckUrgency, TcbEvent, Tcb, type TcpCloseReason } from './tcb.js';
import { TimeWaitRecord } from './time-wait-record.js';
import { cancelAllTimers, stopAllTimers, stopRetransmit } from './timers.js';

/** The window scale our SYNs offer: the smallest shift that lets the window reach `maxBufferSize`. */
export function windowShiftFor(maxBufferSize: number): number {
  let shift = 0;
  while (shift < TCP_MAX_WINDOW_SHIFT && maxBufferSize >>> shift > 0xffff) shift++;
  return shift;
}

/** Most TCBs a `Tcp` keeps on its free list for reuse (a few KB each). */
export const TCB_FREE_LIST_LIMIT = 64;

/**
 * A new TCB (state CLOSED, in no table) for the 4-tuple, sized for the route's `mtu`: a reused one
 * from the free list when there is one (every field as a new TCB has it), else a new one.
 */
export function newTcb(
  ctx: TcpContext,
  local: Ipv4Address,
  localPort: number,
  remote: Ipv4Address,
  remotePort: number,
  passive: boolean,
  mtu: number,
  sendSize: number,
  receiveSize: number,
): Tcb {
  const s = ctx.settings;
  const advMss = Math.max(64, Math.min(65_535, mtu - 40));
  let tcb = ctx.freeTcbs.pop();
  if (tcb !== undefined) {
    // The congestion control starts over in place when it is of the kind the settings name.
    const old = tcb.cc;
    let cc: CongestionControl;
    if (old.name === s.congestion && (old instanceof Bbr || old instanceof Cubic || old instanceof NewReno)) {
      old.restart(advMss);
      cc = old;
    } else cc = newCongestionControl(ctx, advMss);
    tcb.reuse(local, localPort, remote, remotePort, passive, cc, advMss);
    tcb.sendBuffer.reuse(sendSize);
    tcb.recvBuffer.reuse(receiveSize);
  } else {
    tcb = new Tcb(
      local,
      localPort,
      remote,
      remotePort,
      passive,
      new SendBuffer(sendSize),
      new ReceiveBuffer(receiveSize),
      new RtoEstimator(s.rto),
      newCongestionControl(ctx, advMss),
      new SackScoreboard({ mss: advMss }),
    );
  }
  tcb.advertisedMss = advMss;
  tcb.sendMss = advMss;
  tcb.pathMtu = mtu;
  tcb.rcvBufSize = receiveSize;
  // The window scale is fixed by the SYN, but the receive buffer may grow up to maxBufferSize
  // later: choose the shift that lets the window reach that maximum.
  tcb.rcvWndShift = windowShiftFor(s.maxBufferSize);
  tcb.tsOffset = ctx.isn.tsOffset(local, localPort, remote, remotePort); // hashes the 4-tuple for its ISN too
  tcb.keepAliveIdleMs = s.keepAliveIdleMs;
  return tcb;
}

/** The congestion control the settings name, for a connection sending `mss`-byte segments. */
function newCongestionControl(ctx: TcpContext, mss: number): CongestionControl {
  const name = ctx.settings.congestion;
  return name === 'bbr' ? new Bbr({ mss }) : name === 'cubic' ? new Cubic({ mss }) : new NewReno({ mss });
}

/**
 * Gives a TCB the TIME-WAIT record replaced back: its application handle (if any) is retired onto the
 * stand-in, and the TCB joins the free list when `reused` (the free list had room when it left the
 * tables). The TCB has left every table, its timers are stopped (their heap entries kept when
 * `reused`, removed otherwise) and nothing is pending on it (see {@link compactTimeWait}).
 */
function recycleTcb(ctx: TcpContext, tcb: Tcb, record: TimeWaitRecord, reused: boolean): void {
  const conn = ctx.handles.get(tcb);
  if (conn !== undefined) conn.retire(record, retiredStandIn(ctx));
  tcb.handle = undefined;
  if (reused) ctx.freeTcbs.push(tcb);
}

/**
 * The TCB every retired handle points at: released, CLOSED after both FINs (so a handle reads an
 * ended stream, nothing buffered, and refuses writes), in no table, with no timer. Made once per `Tcp`.
 */
function retiredStandIn(ctx: TcpContext): Tcb {
  let t = ctx.retiredStandIn;
  if (t === undefined) {
    t = new Tcb(
      0,
      0,
      0,
      0,
      false,
      new SendBuffer(1),
      new ReceiveBuffer(1),
      new RtoEstimator(),
      new NewReno({ mss: 536 }),
      new SackScoreboard(),
    );
    t.released = true;
    t.appClosed = true;
    t.finQueued = true;
    t.finSent = true;
    t.peerFinReceived = true;
    ctx.retiredStandIn = t;
  }
  return t;
}

/** Starts the send sequence space of a TCB about to send its SYN (or SYN-ACK) with `iss`. */
export function startSendSequence(tcb: Tcb, iss: number): void {
  tcb.iss = iss;
  tcb.sndUna = iss;
  tcb.sndNxt = seqAdd(iss, 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.recover = iss;
  tcb.scoreboard.reset(tcb.sndUna); // offsets count from SND.UNA: never from a stale 0
  tcb.rack.reset(tcb.sndNxt);
}

/** True when one more TCB fits (recycling the oldest TIME-WAIT if needed). */
export function makeRoom(ctx: TcpContext): boolean {
  if (ctx.table.size + ctx.timeWaitRecords.size < ctx.settings.maxConnections) return true;
  if (!endOldestTimeWait(ctx)) return false;
  ctx.counters.incSlot(ctx.slots.timeWaitRecycled);
  return true;
}

/**
 * Ends the connection longest in TIME-WAIT, a TCB or a record (the one whose wait ends first);
 * false when none is.
 */
function endOldestTimeWait(ctx: TcpContext): boolean {
  const oldest = ctx.timeWait.oldest;
  const record = ctx.timeWaitRecords.first;
  if (record !== undefined && (oldest === undefined || record.expiresAt <= timeWaitEnd(oldest))) {
    ctx.timeWaitRecords.end(record);
    return true;
  }
  if (oldest === undefined) return false;
  release(ctx, oldest, 'normal');
  return true;
}

/** Connections in TIME-WAIT: whole TCBs and records. */
export function timeWaitCount(ctx: TcpContext): number {
  return ctx.timeWait.size + ctx.timeWaitRecords.size;
}

/**
 * When the 2*MSL wait of TIME-WAIT TCB `tcb` ends (ms): the time set when it entered TIME-WAIT during
 * the segment being processed ({@link Tcb.idleDue}), else its idle timer's deadline; -1 when it waits on neither.
 */
function timeWaitEnd(tcb: Tcb): number {
  if (tcb.idleDue >= 0) return tcb.idleDue;
  const wait = tcb.idleTimer;
  return wait?.active === true ? wait.deadline : -1;
}

/**
 * Replaces `tcb` by a {@link TimeWaitRecord} when it is in TIME-WAIT, its application has let go of
 * it (closed it and was told it closed, or never had a handle) and nothing is pending on it (no
 * event, no ACK owed, no out-of-order or unread bytes, no loss-recovery verdict that an ACK could
 * still change). The record ends when the TCB's 2*MSL would have. Otherwise the TCB stays whole.
 * Called after a segment was processed and after the application's `close()`.
 */
export function compactTimeWait(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.state !== 'TIME-WAIT' || tcb.released) return;
  const conn = ctx.handles.get(tcb);
  if (conn !== undefined && !(tcb.appClosed && conn.closeNotified)) return;
  const end = timeWaitEnd(tcb);
  if (
    end < 0 ||
    tcb.events !== 0 ||
    tcb.ackUrgency !== AckUrgency.NONE ||
    tcb.flushQueued ||
    tcb.dsackPending ||
    tcb.pendingPeerFin >= 0 ||
    tcb.recvBuffer.readable > 0 ||
    tcb.recvBuffer.outOfOrderRanges > 0 ||
    tcb.tlpRetransPending ||
    (tcb.undoArmed && tcb.undoRetrans > 0)
  )
    return;
  // The window the next ACK announces: nothing moves the receive buffer any more, so it stays.
  const rcvWnd = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  const windowField = advertiseWindow(tcb);
  const announced = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  const record =
    ctx.timeWaitRecords.reusable()?.renew(tcb, windowField, rcvWnd, announced, end) ??
    new TimeWaitRecord(tcb, windowField, rcvWnd, announced, end);
  // A TCB that goes on the free list keeps its lazy timers' heap entries for its next connection.
  const reused = ctx.freeTcbs.length < TCB_FREE_LIST_LIMIT;
  leaveTables(ctx, tcb, reused);
  ctx.timeWaitRecords.add(record);
  ctx.timeWaitRecords.shapeAnchor = tcb;
  // A handle the application may still read follows the record (the record holds nothing of it).
  recycleTcb(ctx, tcb, record, reused);
}

/** Ends every TIME-WAIT record (the module shuts down), counted in `aborts` as an aborted TIME-WAIT TCB is. */
export function abortTimeWaitRecords(ctx: TcpContext): void {
  for (const record of ctx.timeWaitRecords.all()) {
    ctx.counters.inc('aborts');
    ctx.timeWaitRecords.end(record);
  }
}

/** The application handle of `tcb`, made on first use. */
export function connectionOf(ctx: TcpContext, tcb: Tcb): TcpConnection {
  let c = ctx.handles.get(tcb);
  if (c === undefined) {
    c = new TcpConnection(tcb, ctx);
    ctx.handles.set(tcb, c);
  }
  return c;
}

/** See {@link TcpContext.closeTcb}. Counts `resetsReceived` and `timeouts`. */
export function closeTcb(ctx: TcpContext, tcb: Tcb, reason: TcpCloseReason, error?: TcpError): void {
  if (tcb.released) return;
  if (reason === 'reset') ctx.counters.inc('resetsReceived');
  if (reason === 'timeout') ctx.counters.inc('timeouts');
  release(ctx, tcb, reason);
  const conn = ctx.handles.get(tcb);
  if (conn !== undefined && !conn.closeNotified) {
    if (error !== undefined) conn.onError?.(error);
    tcb.raise(TcbEvent.CLOSED);
    ctx.deliverEvents(tcb);
  }
}

/** See {@link TcpContext.release}: the TCB leaves the table, TIME-WAIT, its listener's queues and its timers. */
export function release(ctx: TcpContext, tcb: Tcb, reason: TcpCloseReason): void {
  if (tcb.released) return;
  if (tcb.state !== 'TIME-WAIT') tcb.closeReason = reason;
  tcb.state = 'CLOSED';
  leaveTables(ctx, tcb);
  const conn = ctx.handles.get(tcb);
  if (conn !== undefined && !conn.closeNotified) tcb.raise(TcbEvent.CLOSED);
}

/**
 * Marks `tcb` released and takes it out of the table, TIME-WAIT, its listener's queues and its timers:
 * their heap entries too, unless the TCB is to be reused (`reused`: they are only stopped, see
 * {@link stopAllTimers}).
 */
function leaveTables(ctx: TcpContext, tcb: Tcb, reused = false): void {
  tcb.released = true;
  tcb.idleDue = -1;
  if (reused) stopAllTimers(tcb);
  else cancelAllTimers(tcb);
  ctx.table.remove(tcb);
  ctx.timeWait.delete(tcb);
  tcb.sendBuffer.clear();
  tcb.scoreboard.reset(0);
  tcb.sent.clear();
  tcb.cc.onConnectionEnd?.();
  const listener = ctx.origins.get(tcb);
  if (listener !== undefined) {
    ctx.origins.delete(tcb);
    listener.embryos.delete(tcb);
    const conn = ctx.handles.get(tcb);
    // (A connection the application took is out of the queue, which is then usually empty.)
    if (conn !== undefined && listener.acceptQueue.length > 0) {
      const i = listener.acceptQueue.indexOf(conn);
      if (i >= 0) listener.acceptQueue.splice(i, 1);
    }
  }
}

/** See {@link TcpContext.enterTimeWait}: recycles the oldest TIME-WAIT beyond `maxTimeWait`. */
export function enterTimeWait(ctx: TcpContext, tcb: Tcb): void {
  const first = tcb.state !== 'TIME-WAIT';
  tcb.state = 'TIME-WAIT';
  tcb.closeReason = 'normal';
  // Stopped, not taken off the heap: the TCB usually becomes a record at once and is reused.
  stopRetransmit(tcb);
  ctx.timeWait.delete(tcb);
  if (first && timeWaitCount(ctx) >= ctx.settings.maxTimeWait && endOldestTimeWait(ctx))
    ctx.counters.incSlot(ctx.slots.timeWaitRecycled);
  ctx.timeWait.add(tcb);
  // 2*MSL from now (replacing a FIN-WAIT-2 timeout set in the same segment); the idle timer is armed
  // for it when the segment's processing ends (timers.ts armPendingIdle), unless the TCB has become a
  // record by then.
  tcb.idleDue = ctx.now() + ctx.settings.timeWaitMs;
  tcb.sendBuffer.clear();
  // TIME-WAIT sends no data: what congestion control kept for sending goes now, not 2*MSL later.
  if (first) tcb.cc.onConnectionEnd?.();
  if (first) tcb.raise(TcbEvent.CLOSED);
}

/** The error a peer's refusal or reset reports. */
export function errorFor(reason: 'refused' | 'reset'): TcpError {
  return reason === 'refused'
    ? new TcpError('ECONNREFUSED', 'the peer refused the connection')
    : new TcpError('ECONNRESET', 'the peer reset the connection');
}
