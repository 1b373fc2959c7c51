/**
 * Loss recovery on the ACK path: RTT samples (timestamps, or Karn's one timed segment), freeing
 * acknowledged bytes, duplicate ACKs, limited transmit (RFC 3042), fast retransmit and fast recovery: NewReno (RFC 6582)
 * driven by SACK information when the peer sends it (holes are retransmitted first, and the
 * amount in flight is the RFC 6675 "pipe"), plain NewReno otherwise (each duplicate ACK counts one
 * segment out of the network; a partial ACK retransmits the next segment).
 */
import type { TcpOptionSummary } from '@postern/wire';
import { flightSize, retransmitRange, tsClock, unsentBytes, type TcpOutputContext } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGe, seqGt, seqLt, seqMax, seqSub } from './seq.js';
import { TcbEvent, type Tcb } from './tcb.js';

const NO_EDGES = new Uint32Array(0);

/** Duplicate ACKs that signal a loss (RFC 5681 DupThresh). */
export const DUP_THRESHOLD = 3;

/** What recovery needs beyond output. */
export interface TcpRecoveryContext extends TcpOutputContext {
  /** Stops the retransmission timer. */
  cancelRetransmit(tcb: Tcb): void;
  /** Restarts the retransmission timer for one RTO from now. */
  restartRetransmit(tcb: Tcb): void;
  /** Sends one new segment if the usable window allows it (ignores Nagle); returns whether one went. */
  sendNewSegment(tcb: Tcb): boolean;
}

/** Records the SACK blocks of an ACK (only the parts inside `[sndUna, sndMax]`); returns the bytes newly SACKed. */
export function updateScoreboard(tcb: Tcb, options: TcpOptionSummary): number {
  return tcb.scoreboard.updateFromEdges(tcb.sndUna, options.sackEdges, options.sackBlockCount, tcb.sndMax);
}

/** An ACK moved SND.UNA forward. */
export function onAckAdvanced(ctx: TcpRecoveryContext, tcb: Tcb, seg: Segment, now: number): void {
  const ack = seg.ack;
  const flightBefore = flightSize(tcb);
  let acked = seqSub(ack, tcb.sndUna);
  if (tcb.finSent && seqGt(ack, tcb.finSeq)) acked -= 1;
  const dataAcked = Math.min(Math.max(0, acked), tcb.sendBuffer.length);
  if (dataAcked > 0) tcb.sendBuffer.consume(dataAcked);
  tcb.sndUna = ack;
  if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack;
  tcb.scoreboard.updateFromEdges(ack, NO_EDGES, 0);

  // RTT (RFC 7323 §4.1 with timestamps, otherwise the one timed segment, never a retransmitted one).
  const o = seg.options;
  if (tcb.tsEnabled && o.hasTimestamps && o.tsEcr !== 0) {
    const rtt = seqSub(tsClock(now, tcb.tsOffset), o.tsEcr);
    if (rtt >= 0) tcb.rto.sample(rtt);
  } else if (tcb.rttSeq >= 0 && seqGt(ack, tcb.rttSeq)) {
    tcb.rto.sample(now - tcb.rttSentAt);
    tcb.rttSeq = -1;
  }
  tcb.rto.resetBackoff();
  tcb.backoffCount = 0;
  tcb.probeOutstanding = false;

  if (tcb.inRecovery) {
    if (seqGe(ack, tcb.recover)) {
      tcb.inRecovery = false;
      tcb.dupAcks = 0;
      tcb.cc.onRecoveryExit(now);
    } else {
      // Partial ACK (RFC 6582 §3.2 step 3): the next hole was lost too.
      if (seqLt(tcb.highRxt, ack)) tcb.highRxt = ack;
      if (!tcb.sackEnabled || !tcb.scoreboard.isSacked(ack)) {
        const sent = retransmitRange(ctx, tcb, ack, tcb.sendMss);
        if (sent > 0) {
          tcb.highRxt = seqMax(tcb.highRxt, seqAdd(ack, sent));
          markUnaRetransmitted(tcb);
        }
      }
      tcb.dupAcks = 0;
      recoverySend(ctx, tcb);
    }
  } else {
    tcb.dupAcks = 0;
    tcb.cc.onAck(now, dataAcked, flightBefore, tcb.rto.srttMs);
  }

  if (flightSize(tcb) === 0) ctx.cancelRetransmit(tcb);
  else ctx.restartRetransmit(tcb);
  if (dataAcked > 0) tcb.raise(TcbEvent.WRITABLE);
  tcb.stats.srttMs = tcb.rto.srttMs ?? 0;
  tcb.stats.rtoMs = tcb.rto.rtoMs;
  tcb.stats.cwnd = tcb.cc.cwnd;
  tcb.stats.ssthresh = tcb.cc.ssthresh;
}

/** Notes that the segment at SND.UNA was just retransmitted, and what had been sent by then. */
function markUnaRetransmitted(tcb: Tcb): void {
  tcb.unaRetransmitSeq = tcb.sndUna;
  tcb.unaRetransmitFence = tcb.sndMax;
}

/**
 * Lost retransmission detection for the first hole (the idea of RFC 8985's RACK, for the one
 * segment that matters most): if SND.UNA was retransmitted in this recovery and any byte sent after
 * that retransmission has since been SACKed, the retransmission was lost too; it goes again at once
 * instead of waiting for the RTO. One SACKed segment suffices, as in RACK with a zero reordering
 * window during recovery (what Linux does until it has seen reordering): a small window may never
 * put DupThresh segments behind the retransmission, and waiting for them ended in timeouts.
 */
function resendLostRetransmit(ctx: TcpRecoveryContext, tcb: Tcb): void {
  if (!tcb.sackEnabled || tcb.unaRetransmitSeq !== tcb.sndUna) return;
  const highest = tcb.scoreboard.highestSacked;
  if (highest === undefined || !seqGt(highest, tcb.unaRetransmitFence)) return;
  const hole = tcb.scoreboard.nextUnsackedHole(tcb.sndUna, tcb.sndMax);
  const length = hole === undefined ? tcb.sendMss : seqSub(hole.end, hole.start);
  if (retransmitRange(ctx, tcb, tcb.sndUna, length) > 0) {
    tcb.stats.lostRetransmits++;
    markUnaRetransmitted(tcb);
  }
}

/** A duplicate ACK (or an ACK with new SACK information and no progress). */
export function onDuplicateAck(ctx: TcpRecoveryContext, tcb: Tcb, _seg: Segment): void {
  tcb.dupAcks++;
  if (tcb.inRecovery) {
    resendLostRetransmit(ctx, tcb);
    recoverySend(ctx, tcb);
    return;
  }
  const threshold = earlyRetransmitThreshold(tcb);
  const sackSaysLost = tcb.sackEnabled && tcb.scoreboard.sackedBytes > 0 && tcb.scoreboard.isLost(tcb.sndUna, threshold, tcb.sendMss);
  if (tcb.dupAcks < threshold && !sackSaysLost) {
    limitedTransmit(ctx, tcb);
    return;
  }
  // RFC 6582 §3.2 step 2: no new recovery for losses of the window that was already recovered.
  if (seqLt(tcb.sndUna, tcb.recover)) return;
  const now = ctx.now();
  tcb.inRecovery = true;
  tcb.recover = tcb.sndMax;
  tcb.cc.onFastRetransmit(now, flightSize(tcb));
  tcb.stats.fastRetransmits++;
  tcb.rttSeq = -1;
  tcb.highRxt = tcb.sndUna;
  const sent = retransmitRange(ctx, tcb, tcb.sndUna, tcb.sendMss);
  tcb.highRxt = seqAdd(tcb.sndUna, sent);
  if (sent > 0) markUnaRetransmitted(tcb);
  recoverySend(ctx, tcb);
  tcb.stats.cwnd = tcb.cc.cwnd;
  tcb.stats.ssthresh = tcb.cc.ssthresh;
}

/**
 * Limited transmit (RFC 3042): on the first duplicate ACKs, before loss is declared, one new
 * segment per ACK goes out while the flight stays within cwnd + 2 MSS, so that a small window still
 * yields the duplicate ACKs (or SACK blocks) fast retransmit needs instead of ending in a timeout.
 * The congestion window itself is unchanged.
 */
function limitedTransmit(ctx: TcpRecoveryContext, tcb: Tcb): void {
  if (canLimitedTransmit(tcb)) ctx.sendNewSegment(tcb);
}

function canLimitedTransmit(tcb: Tcb): boolean {
  const mss = tcb.sendMss;
  return unsentBytes(tcb) > 0 && flightSize(tcb) + mss <= Math.min(tcb.cc.cwnd + 2 * mss, tcb.sndWnd);
}

/**
 * The duplicate ACKs (and the SACKed segments above SND.UNA) that declare SND.UNA lost:
 * DupThresh, or with early retransmit (RFC 5827 §3.1-3.2) the segments outstanding minus one (at
 * least one) when fewer than DupThresh + 1 are outstanding and no new data can be sent, so that
 * DupThresh duplicate ACKs can never arrive and only the RTO would repair the loss.
 */
function earlyRetransmitThreshold(tcb: Tcb): number {
  const segments = Math.ceil(flightSize(tcb) / tcb.sendMss);
  if (segments > DUP_THRESHOLD || canLimitedTransmit(tcb)) return DUP_THRESHOLD;
  return Math.max(1, segments - 1);
}

/**
 * The RFC 6675 pipe: bytes believed in the network. With SACK it is the scoreboard's SetPipe
 * (lost bytes leave the pipe, retransmitted ones count again). Without SACK: the flight minus one
 * MSS per duplicate ACK (RFC 6582's window inflation, seen from the other side).
 */
export function pipe(tcb: Tcb): number {
  if (!tcb.sackEnabled) return Math.max(0, flightSize(tcb) - tcb.dupAcks * tcb.sendMss);
  return tcb.scoreboard.pipe(tcb.sndMax, tcb.inRecovery ? tcb.highRxt : undefined, DUP_THRESHOLD, tcb.sendMss);
}

/** Sends during recovery while the pipe leaves room in cwnd: lost holes first (RFC 6675 NextSeg), then new data. */
export function recoverySend(ctx: TcpRecoveryContext, tcb: Tcb): void {
  const mss = tcb.sendMss;
  for (let guard = 0; guard < 64; guard++) {
    if (pipe(tcb) + mss > tcb.cc.cwnd) return;
    if (tcb.sackEnabled) {
      const sb = tcb.scoreboard;
      const hole = sb.nextUnsackedHole(seqMax(tcb.highRxt, tcb.sndUna), tcb.sndMax);
      if (hole !== undefined && sb.isLost(hole.start, DUP_THRESHOLD, mss)) {
        const start = hole.start;
        const sent = retransmitRange(ctx, tcb, start, seqSub(hole.end, start));
        if (sent > 0) {
          tcb.highRxt = seqAdd(start, sent);
          if (start === tcb.sndUna) markUnaRetransmitted(tcb);
          continue;
        }
      }
    }
    if (unsentBytes(tcb) === 0 || !ctx.sendNewSegment(tcb)) return;
  }
}
