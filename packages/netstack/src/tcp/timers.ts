/**
 * The timers of one connection, all on the scheduler's timer heap (no clock read here):
 * - retransmission (RFC 6298) and persist (zero-window probes) share one timer, since persist runs
 *   only when nothing is in flight;
 * - delayed ACK (at most {@link TcpTimerHost.delayedAckMs});
 * - one idle timer for TIME-WAIT (2*MSL), the FIN-WAIT-2 timeout and keep-alive, which never overlap.
 *
 * Each timer is created on first use and re-armed afterwards, so a connection owns at most three
 * timer objects for its whole life.
 */
import type { SchedulerApi } from '@postern/irq';
import type { Tcb } from './tcb.js';

/** What the timers call back into (the `Tcp` module). */
export interface TcpTimerHost {
  readonly scheduler: SchedulerApi;
  /** Longest an ACK may be delayed, ms. */
  readonly delayedAckMs: number;
  /** The retransmission timer expired. */
  onRetransmitTimer(tcb: Tcb): void;
  /** The persist timer expired. */
  onPersistTimer(tcb: Tcb): void;
  /** The delayed-ACK timer expired. */
  onDelayedAckTimer(tcb: Tcb): void;
  /** The idle timer (TIME-WAIT, FIN-WAIT-2, keep-alive) expired. */
  onIdleTimer(tcb: Tcb): void;
}

/** Arms the retransmission timer for one RTO unless it already runs as a retransmission timer. */
export function armRetransmit(host: TcpTimerHost, tcb: Tcb): void {
  if (tcb.rtxTimer?.active && tcb.rtxMode === 'rtx') return;
  restartRetransmit(host, tcb);
}

/** (Re)starts the retransmission timer for one RTO from now (RFC 6298 §5.3). */
export function restartRetransmit(host: TcpTimerHost, tcb: Tcb): void {
  tcb.rtxMode = 'rtx';
  const delay = tcb.rto.rtoMs;
  if (tcb.rtxTimer === undefined) tcb.rtxTimer = host.scheduler.timerAfter(delay, () => fireRtx(host, tcb));
  else tcb.rtxTimer.resetAfter(delay);
}

/** Arms the persist timer (backed off by the number of probes sent) unless a timer already runs. */
export function armPersist(host: TcpTimerHost, tcb: Tcb): void {
  if (tcb.rtxTimer?.active) return;
  tcb.rtxMode = 'persist';
  const delay = Math.min(60_000, Math.max(200, tcb.rto.rtoMs) * 2 ** Math.min(tcb.probeCount, 10));
  if (tcb.rtxTimer === undefined) tcb.rtxTimer = host.scheduler.timerAfter(delay, () => fireRtx(host, tcb));
  else tcb.rtxTimer.resetAfter(delay);
}

/** Stops the retransmission or persist timer. */
export function cancelRetransmit(tcb: Tcb): void {
  tcb.rtxTimer?.cancel();
}

function fireRtx(host: TcpTimerHost, tcb: Tcb): void {
  if (tcb.released) return;
  if (tcb.rtxMode === 'persist') host.onPersistTimer(tcb);
  else host.onRetransmitTimer(tcb);
}

/** Arms the delayed-ACK timer unless it runs. */
export function armDelayedAck(host: TcpTimerHost, tcb: Tcb): void {
  if (tcb.delackTimer?.active) return;
  if (tcb.delackTimer === undefined) tcb.delackTimer = host.scheduler.timerAfter(host.delayedAckMs, () => {
    if (!tcb.released) host.onDelayedAckTimer(tcb);
  });
  else tcb.delackTimer.resetAfter(host.delayedAckMs);
}

/** Stops the delayed-ACK timer. */
export function cancelDelayedAck(tcb: Tcb): void {
  tcb.delackTimer?.cancel();
}

/** (Re)arms the idle timer for `delay` ms from now. */
export function armIdle(host: TcpTimerHost, tcb: Tcb, delay: number): void {
  if (tcb.idleTimer === undefined) tcb.idleTimer = host.scheduler.timerAfter(delay, () => {
    if (!tcb.released) host.onIdleTimer(tcb);
  });
  else tcb.idleTimer.resetAfter(delay);
}

/** Stops every timer of the connection. */
export function cancelAllTimers(tcb: Tcb): void {
  tcb.rtxTimer?.cancel();
  tcb.delackTimer?.cancel();
  tcb.idleTimer?.cancel();
}
