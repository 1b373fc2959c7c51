/**
 * The timers of one connection, all on the scheduler's timer heap (no clock read here):
 * - retransmission (RFC 6298), the tail loss probe (RFC 8985 §7) and persist (zero-window probes)
 *   share one timer: the probe timeout runs instead of the RTO while a probe is allowed and shorter,
 *   and persist runs only when nothing is in flight;
 * - delayed ACK (at most `TcpSettings.delayedAckMs`);
 * - one idle timer for TIME-WAIT (2*MSL), the FIN-WAIT-2 timeout and keep-alive, which never overlap.
 *
 * Each timer is created on first use and re-armed afterwards, so a connection owns at most three
 * timer objects for its whole life, and no closure: one {@link ConnectionTimers} object per connection
 * is the retransmission timer itself and the delayed-ACK timer's target, and one {@link IdleTimer} is
 * the idle timer. Both are {@link LazyTimer}s: a TCB given back for reuse only stops them
 * ({@link stopAllTimers}), so the next connection in it, which arms them again with deadlines no
 * earlier, touches no heap entry (a short connection closed by the server arms its retransmission
 * timer twice and its FIN-WAIT-2 timeout once). What an expiry does is in {@link ./timer-events.ts}.
 */
import type { Millis, Timer } from '@postern/irq';
import type { TcpContext } from './context.js';
import { LazyTimer } from './lazy-timer.js';
import type { Tcb } from './tcb.js';
import {
  onDelayedAckTimer,
  onIdleTimer,
  onPersistTimer,
  onProbeTimer,
  onReorderTimer,
  onRetransmitTimer,
} from './timer-events.js';

/** Floor of the probe timeout, ms (Linux's TLP uses a similar floor; keeps timer churn bounded at tiny RTTs). */
export const PROBE_TIMEOUT_MIN_MS = 10;
/** Worst-case delayed ACK of the peer added to the probe timeout when one segment is in flight (RFC 8985 WCDelAckT). */
export const PROBE_DELAYED_ACK_MS = 200;

/**
 * The probe timeout (RFC 8985 §7.2) when a tail loss probe is allowed now, else -1: the
 * connection is synchronized and in a state with data or a FIN in flight, has an RTT sample, uses SACK, is not in loss
 * recovery or RTO backoff, and has not probed this flight yet. PTO = max(2 * SRTT, 10 ms), plus the
 * peer's worst delayed ACK when one segment or less is in flight, capped at the RTO. A number either way (no
 * `undefined`): a result or SRTT that may be `undefined` is a boxed value, a new heap number per call.
 */
function probeTimeout(tcb: Tcb): number {
  const srtt = tcb.rto.srttOr(-1);
  if (srtt < 0 || !tcb.sackEnabled || tcb.probeOutstanding || tcb.backoffCount > 0) return -1;
  // Every state that can have data or our FIN in flight: a lost tail after close() is probed too.
  const st = tcb.state;
  if (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT' && st !== 'FIN-WAIT-1' && st !== 'CLOSING' && st !== 'LAST-ACK')
    return -1;
  let pto = Math.max(2 * srtt, PROBE_TIMEOUT_MIN_MS);
  // One segment in flight (counted in segments, as Linux does: the last data and a FIN sent after it
  // are two, and the second draws an immediate ACK).
  if (tcb.sent.count <= 1) pto += PROBE_DELAYED_ACK_MS;
  // RFC 8985 §7.2: the PTO never exceeds the RTO.
  return Math.min(pto, tcb.rto.rtoMs);
}

/**
 * Arms the retransmission timer for one RTO unless it already runs as a retransmission timer. A
 * running RTO is not pushed back (RFC 6298 §5.1), but it gives way to a tail loss probe that has
 * become allowed and would fire sooner (RFC 8985 §7.2 re-arms the PTO when new data is sent): a
 * flight of one segment waits out the peer's delayed ACK, so the RTO is armed instead of the
 * probe; once more segments follow, the probe is due well before it.
 */
export function armRetransmit(ctx: TcpContext, tcb: Tcb, now: number = ctx.scheduler.now): void {
  const timer = tcb.rtxTimer;
  if (timer?.active && tcb.rtxMode === 'reorder') return; // it restarts the RTO when it fires
  if (timer?.active && tcb.rtxMode === 'rtx') {
    const pto = probeTimeout(tcb);
    if (pto < 0 || now + pto >= timer.deadline) return;
    tcb.rtxMode = 'probe';
    timer.reset(now + pto);
    return;
  }
  restartRetransmit(ctx, tcb, now);
}

/**
 * (Re)starts the retransmission timer for one RTO from now (RFC 6298 §5.3), or for the shorter
 * probe timeout when a tail loss probe is allowed (RFC 8985 §7.2); after the probe the RTO follows.
 */
export function restartRetransmit(ctx: TcpContext, tcb: Tcb, now: number = ctx.scheduler.now): void {
  let delay = tcb.rto.rtoMs;
  const pto = probeTimeout(tcb);
  if (pto >= 0 && pto < delay) {
    tcb.rtxMode = 'probe';
    delay = pto;
  } else {
    tcb.rtxMode = 'rtx';
  }
  retransmitTimer(ctx, tcb).reset(now + delay);
}

/**
 * A connection's retransmission timer (a {@link LazyTimer}: restarts are cheap) and the
 * {@link TimerTarget} of its delayed-ACK timer, so neither owns a closure. Made on first use of either.
 */
class ConnectionTimers extends LazyTimer {
  constructor(
    readonly ctx: TcpContext,
    readonly tcb: Tcb,
  ) {
    super(ctx.scheduler);
  }

  /** The retransmission, probe, reordering or persist timeout. */
  protected expired(): void {
    fireRtx(this.ctx, this.tcb);
  }

  /** Its own heap entry fired (a {@link LazyTimer}), or the connection's delayed-ACK timer. */
  override onTimer(now: Millis, timer: Timer): void {
    const tcb = this.tcb;
    if (timer === tcb.delackTimer) {
      if (!tcb.released) onDelayedAckTimer(this.ctx, tcb);
    } else {
      super.onTimer(now, timer);
    }
  }
}

/**
 * A connection's idle timer (TIME-WAIT's 2*MSL, the FIN-WAIT-2 timeout, keep-alive), lazy like the
 * retransmission timer: a FIN-WAIT-2 timeout armed in a reused TCB moves no heap entry.
 */
class IdleTimer extends LazyTimer {
  constructor(
    readonly ctx: TcpContext,
    readonly tcb: Tcb,
  ) {
    super(ctx.scheduler);
  }

  /** The idle wait ended. */
  protected expired(): void {
    if (!this.tcb.released) onIdleTimer(this.ctx, this.tcb);
  }
}

/** The connection's idle timer, made on first use. */
function idleTimer(ctx: TcpContext, tcb: Tcb): LazyTimer {
  return (tcb.idleTimer ??= new IdleTimer(ctx, tcb));
}

/** The connection's retransmission timer (and its other timers' target), made on first use. */
function retransmitTimer(ctx: TcpContext, tcb: Tcb): LazyTimer {
  return (tcb.rtxTimer ??= new ConnectionTimers(ctx, tcb));
}

/**
 * Arms the RACK reordering timer (RFC 8985 §6.2) to fire `delay` ms from now, in place of the
 * retransmission or probe timer when it is due sooner than they are; the RTO is restarted when it
 * fires.
 */
export function armReorder(ctx: TcpContext, tcb: Tcb, delay: number): void {
  const timer = tcb.rtxTimer;
  if (timer?.active && tcb.rtxMode !== 'persist' && timer.deadline <= ctx.scheduler.now + delay) return;
  tcb.rtxMode = 'reorder';
  retransmitTimer(ctx, tcb).resetAfter(delay);
}

/** Arms the persist timer (backed off by the number of probes sent) unless a timer already runs. */
export function armPersist(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.rtxTimer?.active) return;
  tcb.rtxMode = 'persist';
  const delay = Math.min(60_000, Math.max(200, tcb.rto.rtoMs) * 2 ** Math.min(tcb.probeCount, 10));
  retransmitTimer(ctx, tcb).resetAfter(delay);
}

/**
 * Stops the retransmission or persist timer, lazily: its heap entry stays for a restart that
 * usually follows (the next reply), and fires once, doing nothing, if none does.
 */
export function stopRetransmit(tcb: Tcb): void {
  tcb.rtxTimer?.stop();
}

/** Stops the retransmission or persist timer and takes it off the timer heap (the connection is ending). */
export function cancelRetransmit(tcb: Tcb): void {
  tcb.rtxTimer?.cancel();
}

function fireRtx(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.released) return;
  if (tcb.rtxMode === 'persist') onPersistTimer(ctx, tcb);
  else if (tcb.rtxMode === 'probe') onProbeTimer(ctx, tcb);
  else if (tcb.rtxMode === 'reorder') onReorderTimer(ctx, tcb);
  else onRetransmitTimer(ctx, tcb);
}

/** Arms the delayed-ACK timer unless it runs. */
export function armDelayedAck(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.delackTimer?.active) return;
  if (tcb.delackTimer === undefined)
    tcb.delackTimer = ctx.scheduler.timerAfter(ctx.settings.delayedAckMs, retransmitTimer(ctx, tcb));
  else tcb.delackTimer.resetAfter(ctx.settings.delayedAckMs);
}

/** Stops the delayed-ACK timer. */
export function cancelDelayedAck(tcb: Tcb): void {
  tcb.delackTimer?.cancel();
}

/** (Re)arms the idle timer for `delay` ms from now. */
export function armIdle(ctx: TcpContext, tcb: Tcb, delay: number): void {
  idleTimer(ctx, tcb).resetAfter(delay);
}

/** (Re)arms the idle timer for the absolute `deadline` (ms, scheduler time). */
export function armIdleAt(ctx: TcpContext, tcb: Tcb, deadline: number): void {
  idleTimer(ctx, tcb).reset(deadline);
}

/** Stops the idle timer (keep-alive turned off), lazily: its entry fires once for nothing unless re-armed first. */
export function stopIdle(tcb: Tcb): void {
  tcb.idleTimer?.stop();
}

/**
 * Arms the FIN-WAIT-2 timeout (the idle timer) when the segment or `close()` that reached FIN-WAIT-2
 * is done ({@link armPendingIdle}): the same segment may go on to TIME-WAIT, whose wait replaces it.
 */
export function armFinWait2(ctx: TcpContext, tcb: Tcb): void {
  tcb.idleDue = ctx.scheduler.now + ctx.settings.finWait2TimeoutMs;
}

/**
 * Arms the idle timer for {@link Tcb.idleDue} (a FIN-WAIT-2 timeout or TIME-WAIT's 2*MSL set while a
 * segment or `close()` was processed) if the connection still waits in FIN-WAIT-2 or TIME-WAIT;
 * called when that processing ends. A connection released by then (a TIME-WAIT record replaced it,
 * or it was reset) arms nothing.
 */
export function armPendingIdle(ctx: TcpContext, tcb: Tcb): void {
  const due = tcb.idleDue;
  if (due < 0) return;
  tcb.idleDue = -1;
  if (!tcb.released && (tcb.state === 'TIME-WAIT' || tcb.state === 'FIN-WAIT-2')) armIdleAt(ctx, tcb, due);
}

/** Restarts the keep-alive idle timer when keep-alive is on, the connection is open and no idle timer runs. */
export function touchKeepAlive(ctx: TcpContext, tcb: Tcb): void {
  if (!tcb.keepAlive || tcb.idleTimer?.active) return;
  if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'CLOSE-WAIT') return;
  armIdle(ctx, tcb, tcb.keepAliveIdleMs);
}

/** Stops every timer of the connection and takes their entries off the timer heap (the TCB is not reused). */
export function cancelAllTimers(tcb: Tcb): void {
  tcb.rtxTimer?.cancel();
  tcb.delackTimer?.cancel();
  tcb.idleTimer?.cancel();
}

/**
 * Stops every timer of a connection whose TCB is given back for reuse: the lazy ones (retransmission,
 * idle) keep their heap entries, which the next connection in the TCB usually re-arms before they fire
 * (no heap change then); an entry that fires first does nothing. The delayed-ACK timer is cancelled.
 */
export function stopAllTimers(tcb: Tcb): void {
  tcb.rtxTimer?.stop();
  tcb.delackTimer?.cancel();
  tcb.idleTimer?.stop();
}
