/**
 * What happens after a segment, a timer or an application call changed a connection: its
 * application events are delivered (callbacks run only here, never in the middle of processing),
 * then its output runs. An ACK owed "soon" waits for the end of the receive batch on the flush
 * list, so a reply the application writes synchronously carries it instead.
 */
import type { TcpContext } from './context.js';
import { tcpOutput } from './output.js';
import { AckUrgency, TcbEvent, type Tcb } from './tcb.js';

/** Events, then output, after a segment or timer changed `tcb`. */
export function afterSegment(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.events !== 0) deliverEvents(ctx, tcb);
  if (tcb.released) return;
  tcpOutput(ctx, tcb, AckUrgency.NOW);
  if (tcb.ackUrgency === AckUrgency.SOON) queueFlush(ctx, tcb);
}

/** Runs output for `tcb` and delivers nothing (application calls, timers). */
export function output(ctx: TcpContext, tcb: Tcb): void {
  tcpOutput(ctx, tcb, AckUrgency.NOW);
  if (tcb.ackUrgency === AckUrgency.SOON) queueFlush(ctx, tcb);
}

/**
 * Puts `tcb` on the flush list, whose bottom half sends the ACKs owed at the end of the receive
 * batch: in the next host turn, after the application had its turn (a reply written from a promise
 * continuation carries the ACK and withdraws the flush, see {@link ackCarried}).
 */
function queueFlush(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.flushQueued) return;
  ctx.flushList.add(tcb);
  if (ctx.scheduler.scheduleNextTurn !== undefined) ctx.scheduler.scheduleNextTurn(ctx.flushHalf);
  else ctx.scheduler.schedule(ctx.flushHalf);
}

/**
 * An ACK of `tcb` went out (on data, or alone): it owes nothing at the end of the batch. When no
 * TCB on the flush list owes anything any more, its bottom half is withdrawn, so a batch whose ACKs
 * all rode on replies costs no host turn.
 */
export function ackCarried(ctx: TcpContext, tcb: Tcb): void {
  if (ctx.flushList.carried(tcb)) ctx.scheduler.cancelNextTurn?.(ctx.flushHalf);
}

/** The flush bottom half: sends the ACKs still owed "soon", at most `budget` TCBs per run. */
export function flush(ctx: TcpContext, budget: number): number {
  let n = 0;
  while (n < budget) {
    const tcb = ctx.flushList.take();
    if (tcb === undefined) break;
    n++;
    if (tcb.released) continue;
    if (tcb.ackUrgency >= AckUrgency.SOON) tcpOutput(ctx, tcb, AckUrgency.SOON);
  }
  return ctx.flushList.owing > 0 ? budget : n;
}

/** Delivers the application events queued on `tcb` (`onConnect`, `onReadable`, `onWritable`, `onClose`). */
export function deliverEvents(ctx: TcpContext, tcb: Tcb): void {
  const conn = ctx.handles.get(tcb);
  if (conn === undefined) {
    tcb.events = 0;
    return;
  }
  // Loop: a callback may raise more events (e.g. a write that completes at once is not one, but
  // a close() from onReadable raises CLOSED).
  for (let guard = 0; tcb.events !== 0 && guard < 8; guard++) {
    const ev = tcb.events;
    tcb.events = 0;
    if ((ev & TcbEvent.CONNECTED) !== 0) conn.onConnect?.();
    if ((ev & TcbEvent.READABLE) !== 0) conn.onReadable?.();
    if ((ev & TcbEvent.WRITABLE) !== 0 && conn.writeBlocked && tcb.sendBuffer.free > 0) {
      conn.writeBlocked = false;
      conn.onWritable?.();
    }
    if ((ev & TcbEvent.CLOSED) !== 0 && !conn.closeNotified) {
      conn.closeNotified = true;
      conn.onClose?.(tcb.closeReason);
    }
  }
}
