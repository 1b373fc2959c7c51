/**
 * What each timer of a connection does when it expires (the arming is in {@link ./timers.ts}):
 * retransmission timeout (RFC 6298, with RFC 6675's SACK-aware go-back-N), tail loss probe and
 * RACK reordering timeout (RFC 8985), persist (zero-window probes), delayed ACK, and the idle timer
 * (TIME-WAIT, the FIN-WAIT-2 timeout, keep-alive probes). Expiries reach the rest of the module
 * only through the {@link TcpContext}.
 */
import { TcpFlag } from '@postern/wire';
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { flightSize, tcpOutput, unsentBytes } from './output.js';
import { armUndo, probeRetransmit, rackDetect, rackOnTimeout } from './recovery.js';
import { seqAdd, seqLt } from './seq.js';
import { AckUrgency, type Tcb } from './tcb.js';

/** The retransmission timer expired: the SYN again, or a timeout of the data in flight (RFC 6298 §5.4-5.7). */
export function onRetransmitTimer(ctx: TcpContext, tcb: Tcb): void {
  const now = ctx.now();
  if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED') {
    if (tcb.backoffCount >= ctx.settings.synRetries) {
      if (tcb.passive) ctx.release(tcb, 'timeout');
      else ctx.closeTcb(tcb, 'timeout', timeoutError(tcb, 'no answer to SYN'));
      return;
    }
    tcb.backoffCount++;
    tcb.rto.backoff();
    tcb.rttSeq = -1;
    tcb.synRetransmitted = true;
    tcb.stats.retransmits++;
    tcb.stats.timeouts++;
    ctx.builder.send(ctx, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
    ctx.restartRetransmit(tcb);
    return;
  }
  if (flightSize(tcb) === 0) return;
  if (tcb.backoffCount >= ctx.settings.maxRetransmits) {
    ctx.builder.send(ctx, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
    ctx.closeTcb(tcb, 'timeout', timeoutError(tcb, 'retransmissions went unanswered'));
    return;
  }
  tcb.backoffCount++;
  tcb.stats.timeouts++;
  ctx.counters.inc('rtoExpiries');
  tcb.probeOutstanding = false;
  tcb.tlpRetransPending = false;
  tcb.rto.backoff();
  rackOnTimeout(tcb);
  // F-RTO (RFC 5682 §3) judges a timeout that starts a loss episode (or repeats one it still watches).
  const frto = tcb.sackEnabled && ((!tcb.inRecovery && !seqLt(tcb.sndUna, tcb.recover)) || tcb.frtoStep === 2);
  if (!tcb.inRecovery) armUndo(tcb, now, true);
  else tcb.undoAfterRto = true;
  tcb.frtoStep = frto && tcb.undoArmed ? 2 : 0;
  tcb.cc.onRetransmitTimeout(now, flightSize(tcb));
  tcb.inRecovery = false;
  tcb.recover = tcb.sndMax;
  tcb.dupAcks = 0;
  tcb.rttSeq = -1;
  // RFC 6675 §5.1 / RFC 2018 §8: the scoreboard survives the timeout, and the go-back-N below
  // skips what the peer SACKed (tcpOutput), unless the peer may have reneged: it SACKed the byte
  // at SND.UNA yet does not acknowledge it, or this is a repeated timeout (the holes alone were
  // resent and still nothing moved). Then everything is resent, as RFC 2018 asks.
  if (!tcb.sackEnabled || tcb.backoffCount > 1 || tcb.scoreboard.isSacked(tcb.sndUna)) tcb.scoreboard.reset(tcb.sndUna);
  tcb.sndNxt = tcb.sndUna;
  tcpOutput(ctx, tcb, AckUrgency.NOW);
  if (tcb.rtxTimer?.active !== true) ctx.restartRetransmit(tcb);
  tcb.stats.cwnd = tcb.cc.cwnd;
}

/**
 * The error a timed-out connection reports: the last soft ICMP error if one arrived since SND.UNA
 * last moved (RFC 1122 §4.2.3.9: soft errors are reported when the connection gives up), else
 * `ETIMEDOUT`.
 */
function timeoutError(tcb: Tcb, what: string): TcpError {
  if (tcb.softError !== undefined && tcb.softErrorUna === tcb.sndUna) {
    return new TcpError(tcb.softError, `${what}; a router reported the destination unreachable`);
  }
  return new TcpError('ETIMEDOUT', what);
}

/**
 * A tail loss probe (RFC 8985 §7.3): no ACK came within the probe timeout, so one
 * segment goes out to draw one: new data if the peer's window allows, else the last segment
 * again. Then the RTO runs. A retransmitted probe awaits its verdict (RFC 8985 §7.4, in
 * recovery.ts): a repaired loss costs one window reduction, an unneeded probe none.
 */
export function onProbeTimer(ctx: TcpContext, tcb: Tcb): void {
  if (flightSize(tcb) === 0) return;
  tcb.probeOutstanding = true;
  tcb.stats.tailLossProbes++;
  ctx.counters.inc('tailLossProbes');
  if (!ctx.sendNewSegment(tcb)) probeRetransmit(ctx, tcb);
  if (tcb.rtxTimer?.active !== true) ctx.restartRetransmit(tcb);
}

/**
 * The RACK reordering timer (RFC 8985 §6.2): segments that were not yet due when the
 * last ACK came are due now; RACK decides again (entering recovery or sending what PRR allows),
 * then the RTO runs again.
 */
export function onReorderTimer(ctx: TcpContext, tcb: Tcb): void {
  tcb.rtxMode = 'rtx';
  if (flightSize(tcb) === 0 || !tcb.sackEnabled) return;
  tcb.stats.rackReorderTimeouts++;
  ctx.counters.inc('rackReorderTimeouts');
  ctx.restartRetransmit(tcb);
  rackDetect(ctx, tcb, ctx.now(), 0);
  tcpOutput(ctx, tcb, AckUrgency.NOW);
}

/** The persist timer expired: a runt the window allows, or a zero-window probe. */
export function onPersistTimer(ctx: TcpContext, tcb: Tcb): void {
  if (unsentBytes(tcb) === 0 && !(tcb.finQueued && !tcb.finSent)) return;
  if (tcb.sndWnd > 0) {
    // A usable window too small for sender SWS avoidance: send what fits anyway.
    tcb.forceSend = true;
    ctx.output(tcb);
    tcb.forceSend = false;
    if (unsentBytes(tcb) > 0 && flightSize(tcb) === 0) ctx.armPersist(tcb);
    return;
  }
  // Zero-window probe: an old byte's sequence number draws an ACK with the current window.
  tcb.probeCount++;
  tcb.stats.windowProbes++;
  ctx.builder.send(ctx, tcb, seqAdd(tcb.sndUna, -1), 0, 0, 0);
  ctx.armPersist(tcb);
}

/** The delayed-ACK timer expired: the ACK owed goes out (counted when a segment went). */
export function onDelayedAckTimer(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.ackUrgency === AckUrgency.NONE) return;
  if (tcpOutput(ctx, tcb, AckUrgency.DELAYED) > 0) {
    tcb.stats.delayedAckTimeouts++;
    ctx.counters.inc('delayedAckTimeouts');
  }
}

/** The idle timer expired: TIME-WAIT ends, the FIN-WAIT-2 timeout, or a keep-alive probe is due. */
export function onIdleTimer(ctx: TcpContext, tcb: Tcb): void {
  switch (tcb.state) {
    case 'TIME-WAIT':
      ctx.release(tcb, 'normal');
      return;
    case 'FIN-WAIT-2':
      ctx.closeTcb(tcb, 'timeout');
      return;
    case 'ESTABLISHED':
    case 'CLOSE-WAIT': {
      if (!tcb.keepAlive) return;
      const now = ctx.now();
      const idle = now - tcb.lastReceivedAt;
      if (idle < tcb.keepAliveIdleMs && tcb.keepAliveProbes === 0) {
        ctx.armIdle(tcb, tcb.keepAliveIdleMs - idle);
        return;
      }
      if (tcb.keepAliveProbes >= ctx.settings.keepAliveProbes) {
        ctx.builder.send(ctx, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
        ctx.closeTcb(tcb, 'timeout', new TcpError('ETIMEDOUT', 'keep-alive probes went unanswered'));
        return;
      }
      tcb.keepAliveProbes++;
      ctx.builder.send(ctx, tcb, seqAdd(tcb.sndUna, -1), 0, 0, 0);
      ctx.armIdle(tcb, ctx.settings.keepAliveIntervalMs);
      return;
    }
    default:
      return;
  }
}
