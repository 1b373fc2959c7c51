/**
 * The connection table's side of a connection's life: making a TCB (buffers, congestion control,
 * window scale, timestamp offset), room for one more (recycling the oldest TIME-WAIT), and the
 * ends: TIME-WAIT, release from every table, and closing with the application told. Also the
 * application handle of a TCB, made once.
 */
import type { Ipv4Address } from '@postern/wire';
import { Bbr } from './bbr.js';
import { Cubic, NewReno, type CongestionControl } from './congestion.js';
import { TcpConnection } from './connection.js';
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { TCP_MAX_WINDOW_SHIFT } from './output.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { RtoEstimator } from './rto.js';
import { SackScoreboard } from './sack-scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd } from './seq.js';
import { TcbEvent, Tcb, type TcpCloseReason } from './tcb.js';
import { armIdle, cancelAllTimers, cancelRetransmit } from './timers.js';

/** The window scale our SYNs offer: the smallest shift that lets the window reach `maxBufferSize`. */
export function windowShiftFor(maxBufferSize: number): number {
  let shift = 0;
  while (shift < TCP_MAX_WINDOW_SHIFT && maxBufferSize >>> shift > 0xffff) shift++;
  return shift;
}

/** A new TCB (state CLOSED, in no table) for the 4-tuple, sized for the route's `mtu`. */
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
  const cc: CongestionControl =
    s.congestion === 'bbr'
      ? new Bbr({ mss: advMss })
      : s.congestion === 'cubic'
        ? new Cubic({ mss: advMss })
        : new NewReno({ mss: advMss });
  const tcb = new Tcb(
    local,
    localPort,
    remote,
    remotePort,
    passive,
    new SendBuffer(sendSize),
    new ReceiveBuffer(receiveSize),
    new RtoEstimator(s.rto),
    cc,
    new SackScoreboard({ mss: advMss }),
  );
  tcb.advertisedMss = advMss;
  tcb.sendMss = advMss;
  tcb.pathMtu = mtu;
  tcb.rcvBufSize = receiveSize;
  // The window scale is fixed by the SYN, but the receive buffer may grow up to maxBufferSize
  // later: choose the shift that lets the window reach that maximum.
  tcb.rcvWndShift = windowShiftFor(s.maxBufferSize);
  tcb.tsOffset = ctx.tsOffsets.isn(0, local, localPort, remote, remotePort);
  tcb.keepAliveIdleMs = s.keepAliveIdleMs;
  return tcb;
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
  if (ctx.table.size < ctx.settings.maxConnections) return true;
  const oldest = ctx.timeWait.values().next();
  if (oldest.done === true) return false;
  release(ctx, oldest.value, 'normal');
  ctx.counters.inc('timeWaitRecycled');
  return true;
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
  tcb.released = true;
  cancelAllTimers(tcb);
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
    if (conn !== undefined) {
      const i = listener.acceptQueue.indexOf(conn);
      if (i >= 0) listener.acceptQueue.splice(i, 1);
    }
  }
  const conn = ctx.handles.get(tcb);
  if (conn !== undefined && !conn.closeNotified) tcb.raise(TcbEvent.CLOSED);
}

/** See {@link TcpContext.enterTimeWait}: recycles the oldest TIME-WAIT beyond `maxTimeWait`. */
export function enterTimeWait(ctx: TcpContext, tcb: Tcb): void {
  const first = tcb.state !== 'TIME-WAIT';
  tcb.state = 'TIME-WAIT';
  tcb.closeReason = 'normal';
  cancelRetransmit(tcb);
  ctx.timeWait.delete(tcb);
  if (first && ctx.timeWait.size >= ctx.settings.maxTimeWait) {
    const oldest = ctx.timeWait.values().next();
    if (oldest.done !== true) {
      release(ctx, oldest.value, 'normal');
      ctx.counters.inc('timeWaitRecycled');
    }
  }
  ctx.timeWait.add(tcb);
  armIdle(ctx, tcb, ctx.settings.timeWaitMs);
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
