/**
 * Loss recovery on the ACK path: RTT samples (timestamps, or Karn's one timed segment), freeing
 * acknowledged bytes, duplicate ACKs, limited transmit (RFC 3042), fast retransmit and fast recovery: NewReno (RFC 6582)
 * driven by SACK information when the peer sends it (holes are retransmitted first, and the
 * amount in flight is the RFC 6675 "pipe"), plain NewReno otherwise (each duplicate ACK counts one
 * segment out of the network; a partial ACK retransmits the next segment).
 */
import type { TcpOptionSummary } from '@postern/wire';
import { flightSize, retransmitRange, tsClock, unsentBytes, type TcpOutputContext } from './output.js';
import { SEG_LOST, SEG_RETRANSMITTED, SEG_SACKED, markAllLost, markSacked } from './rack.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.js';
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
  /** Arms the RACK reordering timer `delay` ms from now (unless the running timer fires sooner). */
  armReorder(tcb: Tcb, delay: number): void;
}

/** Records the SACK blocks of an ACK (only the parts inside `[sndUna, sndMax]`); returns the bytes newly SACKed. */
export function updateScoreboard(tcb: Tcb, options: TcpOptionSummary): number {
  return tcb.scoreboard.updateFromEdges(tcb.sndUna, options.sackEdges, options.sackBlockCount, tcb.sndMax);
}

/** An ACK moved SND.UNA forward. */
export function onAckAdvanced(ctx: TcpRecoveryContext, tcb: Tcb, seg: Segment, now: number): void {
  const ack = seg.ack;
  const flightBefore = flightSize(tcb);
  const dataAcked = freeAcked(tcb, ack);
  const o = seg.options;
  sampleAckTiming(tcb, o, ack, now);

  // Eifel (RFC 3522): the ACK of the first retransmitted segment echoes a timestamp older than that
  // retransmission, so the original arrived: the loss response was spurious.
  if (
    tcb.undoArmed &&
    !tcb.undoLate &&
    tcb.tsEnabled &&
    o.hasTimestamps &&
    o.tsEcr !== 0 &&
    seqGt(ack, tcb.undoSeq) &&
    seqLt(o.tsEcr, tcb.undoTsVal)
  ) {
    undoLossResponse(ctx, tcb);
  }
  if (tcb.undoArmed) endUndoWatch(tcb, ack);
  if (tcb.frtoStep !== 0 && (!tcb.undoArmed || tcb.undoLate)) tcb.frtoStep = 0;

  if (tcb.inRecovery && tcb.sackEnabled) {
    // With SACK, RACK (rackOnAck) finds what else was lost; only the end of recovery is decided here.
    if (seqGe(ack, tcb.recover)) exitRecovery(tcb, now);
  } else if (tcb.inRecovery) {
    if (seqGe(ack, tcb.recover)) {
      exitRecovery(tcb, now);
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
    tcb.cc.onAck(now, dataAcked, flightBefore, tcb.rto.srttOr(-1));
  }
  ackAdvancedDone(ctx, tcb, dataAcked);
}

/**
 * {@link onAckAdvanced} for an ACK that meets no loss episode (header prediction's pure ACK): the
 * caller guarantees the connection is not in recovery, no undo is armed, F-RTO is idle and our FIN
 * was not sent, so the Eifel, F-RTO and recovery steps have nothing to do. Same effects otherwise:
 * acknowledged bytes freed, RTT and round sampled, the congestion control's `onAck`, the
 * retransmission timer moved, the writer woken.
 */
export function onAckAdvancedOpen(ctx: TcpRecoveryContext, tcb: Tcb, seg: Segment, now: number): void {
  const ack = seg.ack;
  const flightBefore = flightSize(tcb);
  const dataAcked = freeAcked(tcb, ack);
  sampleAckTiming(tcb, seg.options, ack, now);
  tcb.dupAcks = 0;
  tcb.cc.onAck(now, dataAcked, flightBefore, tcb.rto.srttOr(-1));
  ackAdvancedDone(ctx, tcb, dataAcked);
}

/** SND.UNA moves to `ack`: the acknowledged bytes leave the send buffer; returns how many (our FIN not counted). */
function freeAcked(tcb: Tcb, ack: number): number {
  let acked = seqSub(ack, tcb.sndUna);
  if (tcb.finSent && seqGt(ack, tcb.finSeq)) acked -= 1;
  const dataAcked = Math.min(Math.max(0, acked), tcb.sendBuffer.length);
  if (dataAcked > 0) tcb.sendBuffer.consume(dataAcked);
  tcb.sndUna = ack;
  if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack;
  tcb.scoreboard.updateFromEdges(ack | 0, NO_EDGES, 0);
  return dataAcked;
}

/**
 * What an advancing ACK tells about time: an RTT sample (RFC 7323 §4.1 with timestamps, otherwise
 * the one timed segment, never a retransmitted one), the HyStart++ round, and the end of any
 * timeout backoff or probe.
 */
function sampleAckTiming(tcb: Tcb, o: TcpOptionSummary, ack: number, now: number): void {
  let rttSample: number | undefined;
  if (tcb.tsEnabled && o.hasTimestamps && o.tsEcr !== 0) {
    const rtt = seqSub(tsClock(now, tcb.tsOffset), o.tsEcr);
    if (rtt >= 0) {
      tcb.rto.sample(rtt);
      rttSample = rtt;
    }
  } else if (tcb.rttSeq >= 0 && seqGt(ack, tcb.rttSeq)) {
    rttSample = now - tcb.rttSentAt;
    tcb.rto.sample(rttSample);
    tcb.rttSeq = -1;
  }
  // HyStart++ rounds: a round ends when the data sent at its start is acknowledged.
  const roundEnded = !seqLt(ack, tcb.roundEnd);
  if (roundEnded) tcb.roundEnd = tcb.sndMax;
  tcb.cc.onRoundSample(rttSample, roundEnded);
  tcb.rto.resetBackoff();
  tcb.backoffCount = 0;
  tcb.probeOutstanding = false;
}

/** The end of an advancing ACK: the retransmission timer stops or restarts, and a writer hears of the freed room. */
function ackAdvancedDone(ctx: TcpRecoveryContext, tcb: Tcb, dataAcked: number): void {
  if (flightSize(tcb) === 0) ctx.cancelRetransmit(tcb);
  else ctx.restartRetransmit(tcb);
  if (dataAcked > 0) tcb.raise(TcbEvent.WRITABLE);
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
  if (tcb.sackEnabled) {
    // RACK (rackOnAck) decides losses; before it does, limited transmit keeps the ACK clock going.
    if (!tcb.inRecovery) limitedTransmit(ctx, tcb);
    return;
  }
  if (tcb.inRecovery) {
    resendLostRetransmit(ctx, tcb);
    recoverySend(ctx, tcb);
    return;
  }
  const threshold = earlyRetransmitThreshold(tcb);
  const sackSaysLost =
    tcb.sackEnabled && tcb.scoreboard.sackedBytes > 0 && tcb.scoreboard.isLost(tcb.sndUna, threshold, tcb.sendMss);
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

function exitRecovery(tcb: Tcb, now: number): void {
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.cc.onRecoveryExit(now);
  tcb.rack.onRecoveryEnd();
}

/**
 * The cumulative ACK reached `ack`: past the recovery point, Eifel and F-RTO have nothing left to
 * judge, but the D-SACKs of the episode's last retransmissions are typically still on their way
 * (they follow the ACK that ends the recovery): the undo stays armed for them alone ("late") for one
 * more round trip, until SND.UNA passes what was sent when the recovery ended (`undoSeq`: one past it).
 */
function endUndoWatch(tcb: Tcb, ack: number): void {
  if (tcb.undoLate) {
    if (seqGe(ack, tcb.undoSeq)) tcb.undoArmed = false;
    return;
  }
  if (!seqGe(ack, tcb.recover)) return;
  if (tcb.undoRetrans > 0 && tcb.undoLedger.count >= tcb.undoRetrans) {
    tcb.undoLate = true;
    tcb.undoSeq = seqAdd(tcb.sndMax, 1);
  } else {
    tcb.undoArmed = false;
  }
}

/**
 * Arms the undo of a loss response about to happen (a recovery or an RTO), unless one is armed:
 * remembers cwnd and ssthresh, the TSval of the first retransmission (Eifel) and where it starts.
 */
export function armUndo(tcb: Tcb, now: number, afterRto: boolean): void {
  if (tcb.undoArmed && !tcb.undoLate) return;
  tcb.undoArmed = true;
  tcb.undoLate = false;
  tcb.undoAfterRto = afterRto;
  tcb.undoTsVal = tsClock(now, tcb.tsOffset);
  const first = tcb.sent.nextLost(0);
  tcb.undoSeq = first >= 0 ? tcb.sent.seq(first) : tcb.sndUna;
  tcb.undoCwnd = tcb.cc.cwnd;
  tcb.undoSsthresh = tcb.cc.ssthresh;
  tcb.undoRetrans = 0;
  tcb.undoLedger.clear();
}

/**
 * The loss response proved spurious (Eifel, or D-SACKs for every retransmission): cwnd and
 * ssthresh go back to what they were, recovery ends, an RTO's go-back-N stops (the flight was not
 * lost: sending resumes with new data), and the reordering that fooled us is noted for RACK.
 */
function undoLossResponse(ctx: TcpRecoveryContext, tcb: Tcb): void {
  tcb.cc.undo(tcb.undoCwnd, tcb.undoSsthresh);
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.frtoStep = 0;
  if (tcb.undoAfterRto && seqLt(tcb.sndNxt, tcb.sndMax)) tcb.sndNxt = tcb.sndMax;
  const log = tcb.sent;
  for (let i = 0; i < log.count; i++) log.setFlags(i, log.flags(i) & ~SEG_LOST);
  tcb.rack.reordering = true;
  tcb.undoArmed = false;
  tcb.stats.spuriousUndos++;
  ctx.countLossEvent('spuriousUndos');
  tcb.stats.cwnd = tcb.cc.cwnd;
  tcb.stats.ssthresh = tcb.cc.ssthresh;
}

/**
 * D-SACK (RFC 2883) on the sender: the first SACK block lies below the cumulative ACK or inside
 * the second block. Counts it, lets RACK widen its reordering window, and counts the duplicate
 * against the retransmissions of an armed undo: when every one of them is shown spurious, the
 * loss response is undone.
 */
export function onDsackReceived(ctx: TcpRecoveryContext, tcb: Tcb, seg: Segment): void {
  const o = seg.options;
  if (o.sackBlockCount === 0) return;
  const left = o.sackEdges[0]!;
  const right = o.sackEdges[1]!;
  let dsack = seqLe(right, seg.ack);
  if (!dsack && o.sackBlockCount > 1) dsack = seqLe(o.sackEdges[2]!, left) && seqLe(right, o.sackEdges[3]!);
  if (!dsack || !seqLt(left, right)) return;
  tcb.stats.dsacksReceived++;
  ctx.countLossEvent('dsacksReceived');
  tcb.rack.onDsack(tcb.sndUna, tcb.sndMax);
  tcb.stats.reoWndMult = tcb.rack.reoWndMult;
  if (tcb.tlpRetransPending && seqLt(left, tcb.tlpProbeEnd) && seqLt(tcb.tlpProbeSeq, right)) {
    // RFC 8985 §7.4: the original and the probe both arrived; the probe repaired nothing.
    tlpVerdict(ctx, tcb, false);
  }
  // RFC 3708: only a duplicate of one of the episode's retransmissions counts, each once.
  if (tcb.undoArmed && tcb.undoRetrans > 0) {
    const claimed = tcb.undoLedger.claim(left, right);
    if (claimed === 0) return;
    tcb.undoRetrans -= claimed;
    if (tcb.undoRetrans <= 0) {
      tcb.stats.dsackUndos++;
      ctx.countLossEvent('dsackUndos');
      undoLossResponse(ctx, tcb);
    }
  }
}

/**
 * The verdict on a tail loss probe's retransmission (RFC 8985 §7.4): when it `repaired` a loss,
 * the congestion response of a fast recovery is applied once (ssthresh and cwnd reduced, the
 * recovery ended at once: the loss is already repaired), unless a recovery begun since the probe
 * reduced the window already; when it was unneeded, nothing changes.
 */
function tlpVerdict(ctx: TcpRecoveryContext, tcb: Tcb, repaired: boolean): void {
  tcb.tlpRetransPending = false;
  if (!repaired) {
    tcb.stats.tlpUnneeded++;
    ctx.countLossEvent('tlpUnneeded');
    return;
  }
  if (tcb.inRecovery || !seqLt(tcb.recover, tcb.tlpHighSeq)) return;
  const now = ctx.now();
  tcb.cc.onFastRetransmit(now, flightSize(tcb));
  tcb.cc.onRecoveryExit(now);
  tcb.recover = tcb.sndMax;
  tcb.stats.tlpLossRecoveries++;
  ctx.countLossEvent('tlpLossRecoveries');
  tcb.stats.cwnd = tcb.cc.cwnd;
  tcb.stats.ssthresh = tcb.cc.ssthresh;
}

/**
 * TLP loss detection on an ACK (RFC 8985 §7.4, as Linux applies it): once the ACK reaches the
 * probe's TLP.end_seq, a probe of new data needs no verdict; an ACK beyond it without a D-SACK of
 * the probe means the probe repaired a loss; a plain duplicate ACK at it means both copies arrived.
 */
function tlpOnAck(ctx: TcpRecoveryContext, tcb: Tcb, seg: Segment, unaAdvanced: boolean, newlySacked: number): void {
  const ack = seg.ack;
  if (seqLt(ack, tcb.tlpHighSeq)) return;
  if (seqGt(ack, tcb.tlpHighSeq)) tlpVerdict(ctx, tcb, true);
  else if (
    !unaAdvanced &&
    newlySacked === 0 &&
    seg.payload.length === 0 &&
    // (not a window update: the window is updated after this step, so SND.WND is still the old one)
    seg.window << tcb.sndWndShift === tcb.sndWnd
  )
    tlpVerdict(ctx, tcb, false);
}

// Scratch for the delivery callbacks (no closure per ACK).
let deliverTcb: Tcb | undefined;
/**
 * The ACK's echoed timestamp (or -1 without one) in slot {@link TS_ECR}: a typed array, because a
 * double stored in a module variable would be a new heap number on every ACK. (The ACK's time is
 * passed to {@link deliver} by the log, as the caller holds it.)
 */
const deliverScratch = new Float64Array(1);
const TS_ECR = 0;
/** This ACK delivered data sent before the last timeout's recovery point and never retransmitted (F-RTO's proof). */
let deliveredOriginal = false;
const reorderTimeout = { ms: 0 };

/**
 * Entry `i` of the transmit log was delivered at `now`: RACK and the delivery rate hear of it. Its
 * time and end are read from the log by each, not passed (see `RackState.deliveredEntry` in ./rack.ts).
 */
function deliver(i: number, now: number): void {
  const tcb = deliverTcb!;
  const log = tcb.sent;
  const retransmitted = (log.flags(i) & SEG_RETRANSMITTED) !== 0;
  // While F-RTO judges a timeout, which copy arrived is the open question: a retransmitted
  // segment's delivery is not timed from its retransmission.
  const tsEcr = deliverScratch[TS_ECR]!;
  const echoBeforeXmit =
    retransmitted && (tcb.frtoStep !== 0 || (tsEcr >= 0 && seqLt(tsEcr, tsClock(log.time(i), tcb.tsOffset))));
  tcb.rack.deliveredEntry(log, i, now, retransmitted, echoBeforeXmit);
  if (!retransmitted && seqLe(log.end(i), tcb.recover)) deliveredOriginal = true;
  log.noteDelivered(i, now);
}

function isSackedBy(seq: number): boolean {
  return deliverTcb!.scoreboard.isSacked(seq);
}

/**
 * RACK-TLP on an ACK (RFC 8985 §6.2), for connections with SACK: records what the ACK delivered
 * (cumulatively or by SACK), marks lost every segment sent before the most recently delivered one
 * whose RTT plus the reordering window has passed, enters recovery when something is lost, sends
 * what PRR allows in recovery, and arms the reordering timer for segments not yet due.
 * `deliveredBytes` is what this ACK newly acknowledged or SACKed. The segment `seg` gives the
 * echoed timestamp ({@link echoedTimestamp}), which tells a spurious retransmission's delivery from
 * a real one; with it and `ackedBytes` (how far SND.UNA moved), the ACK also gives a pending tail
 * loss probe its verdict and drives F-RTO after a timeout.
 */
export function rackOnAck(
  ctx: TcpRecoveryContext,
  tcb: Tcb,
  now: number,
  deliveredBytes: number,
  seg?: Segment,
  ackedBytes = 0,
): void {
  deliveredOriginal = false;
  recordDeliveries(tcb, now, seg);
  if (deliveredBytes > 0 && tcb.probeOutstanding) {
    // The peer received something new since the probe: the probe episode is over, and a later
    // silence (a lost retransmission with nothing sent after it) may be probed again.
    tcb.probeOutstanding = false;
    if (flightSize(tcb) > 0) ctx.armRetransmit(tcb);
  }
  if (seg !== undefined && tcb.tlpRetransPending) tlpOnAck(ctx, tcb, seg, ackedBytes > 0, deliveredBytes - ackedBytes);
  if (tcb.frtoStep !== 0 && frtoOnAck(ctx, tcb, ackedBytes, deliveredBytes - ackedBytes)) return;
  rackDetect(ctx, tcb, now, deliveredBytes);
}

/** The timestamp `seg` echoes, for RACK's delivery record: its TSecr, or -1 without one (or zero). */
export function echoedTimestamp(tcb: Tcb, seg: Segment): number {
  const o = seg.options;
  return tcb.tsEnabled && o.hasTimestamps && o.tsEcr !== 0 ? o.tsEcr : -1;
}

/**
 * {@link rackOnAck} for an ACK that meets no loss episode (header prediction): the caller
 * guarantees no SACK block arrived, no probe of ours awaits its ACK (none outstanding, or the ACK
 * delivered nothing), no TLP awaits a verdict, F-RTO is idle and the connection is not in
 * recovery, so only the delivery record and RACK's detection remain. Header prediction skips the
 * call when {@link openAckRecordsNothing}.
 */
export function rackOnAckOpen(
  ctx: TcpRecoveryContext,
  tcb: Tcb,
  now: number,
  deliveredBytes: number,
  seg: Segment,
): void {
  recordDeliveries(tcb, now, seg);
  rackDetect(ctx, tcb, now, deliveredBytes);
}

/**
 * True when an ACK on `tcb` leaves RACK and the delivery rate nothing to do: our FIN was sent and
 * everything up to it is acknowledged (no byte will ever be sent again, so nothing is left to
 * detect a loss of, sample a rate from or size a window for), and no tail loss probe or F-RTO
 * awaits this ACK's verdict. The ACK that ends a short connection (the peer's FIN acknowledging
 * the response and our FIN) is such an ACK, and so is every segment after it. See
 * {@link rackOnFinalAck}.
 */
export function deliveryDone(tcb: Tcb): boolean {
  return tcb.finSent && !seqLt(tcb.sndUna, tcb.sndMax) && !tcb.tlpRetransPending && tcb.frtoStep === 0;
}

/**
 * {@link rackOnAck} for an ACK after which {@link deliveryDone} holds: the transmit log is emptied
 * without the per-segment RACK and delivery-rate records, and no rate sample goes to the congestion
 * control. Nothing sent changes (nothing more is sent but ACKs and resets), nor any loss response
 * (the log's entries are all acknowledged, so RACK would mark none lost; no probe or F-RTO
 * verdict is pending). What does not happen: the congestion control's model does not take this
 * last sample, so the window the connection's final statistics report is the one before it.
 */
export function rackOnFinalAck(tcb: Tcb): void {
  const log = tcb.sent;
  if (log.count !== 0) log.clear();
}

/**
 * True when {@link rackOnAckOpen} would change nothing that is ever read, for an ACK that left
 * SND.UNA at `unaBefore` (a request arriving with nothing of ours in flight: the first of a
 * connection, or one after an idle time): the transmit log is empty, so it has no entry to deliver
 * or detect a loss of and the rate sample is empty; the one state such a call writes, the
 * congestion control's record of the last sample's pipe and delivery (read only by its response to
 * a loss), is rewritten by the sample of the ACK that finds the loss, before that response.
 */
export function openAckRecordsNothing(tcb: Tcb, unaBefore: number): boolean {
  return tcb.sndUna === unaBefore && tcb.sent.count === 0;
}

/**
 * What an ACK delivered goes to RACK and the delivery rate: entries the cumulative ACK passed
 * (and, with SACKed bytes on the scoreboard, the SACKed ones), then the rate sample.
 */
function recordDeliveries(tcb: Tcb, now: number, seg: Segment | undefined): void {
  const log = tcb.sent;
  const priorInflight = log.inFlight();
  deliverTcb = tcb;
  deliverScratch[TS_ECR] = seg === undefined ? -1 : echoedTimestamp(tcb, seg);
  // SND.UNA as a signed 32-bit value: a small integer, where a sequence number above 2^31 would be
  // boxed into a new heap number for the call (SentSegments.ack takes either form). `now` goes on
  // to `deliver` as this function received it.
  log.ack(tcb.sndUna | 0, deliver, now);
  if (tcb.scoreboard.sackedBytes > 0) markSacked(log, isSackedBy, deliver, tcb.finSent ? tcb.finSeq : undefined, now);
  deliverTcb = undefined;
  deliverySampleOnAck(tcb, now, priorInflight);
}

/**
 * F-RTO (RFC 5682 §3, the SACK-enhanced variant, with Linux's reading of step 3b) on an ACK after a
 * retransmission timeout: tells a spurious timeout (the flight was only delayed) from a real one
 * without timestamps. Data sent before the timeout and never retransmitted being acknowledged or
 * SACKed (by an ACK that does not reach the recovery point: step 2a) proves the timeout spurious:
 * the response is undone. Step 2: the first ACK advancing SND.UNA sends up to two new segments instead of more
 * retransmissions; step 3: the next ACK that SACKs data or is a duplicate, without such proof,
 * shows the loss was real and the conventional recovery (RACK's marks from the timeout, PRR)
 * resumes. Returns true while F-RTO holds the retransmissions back (RACK's response waits).
 */
function frtoOnAck(ctx: TcpRecoveryContext, tcb: Tcb, ackedBytes: number, sackedBytes: number): boolean {
  // Step 2a: the ACK covers the recovery point, so it cannot tell which copy arrived.
  if (!tcb.undoArmed || (tcb.frtoStep === 2 && ackedBytes > 0 && !seqLt(tcb.sndUna, tcb.recover))) {
    tcb.frtoStep = 0;
    return false;
  }
  if (deliveredOriginal) {
    tcb.stats.frtoSpuriousRtos++;
    ctx.countLossEvent('frtoSpuriousRtos');
    undoLossResponse(ctx, tcb);
    return false;
  }
  if (tcb.frtoStep === 3) {
    if (sackedBytes > 0 || ackedBytes === 0) {
      tcb.frtoStep = 0;
      return false;
    }
    return true;
  }
  if (ackedBytes === 0) return true;
  // Step 2b: new data, not retransmissions, draws the next ACK (none to send: conventional recovery).
  const goBack = tcb.sndNxt;
  tcb.sndNxt = tcb.sndMax;
  const sent = (ctx.sendNewSegment(tcb) ? 1 : 0) + (ctx.sendNewSegment(tcb) ? 1 : 0);
  if (sent > 0) {
    tcb.frtoStep = 3;
    return true;
  }
  tcb.sndNxt = goBack;
  tcb.frtoStep = 0;
  return false;
}

/** RACK's loss detection and what follows from it (after an ACK or the reordering timer). */
export function rackDetect(ctx: TcpRecoveryContext, tcb: Tcb, now: number, deliveredBytes: number): void {
  const log = tcb.sent;
  if (log.count === 0) return;
  const rack = tcb.rack;
  const srtt = tcb.rto.srttOr(rack.rtt);
  const reoWnd = rack.reoWnd(tcb.inRecovery, Math.floor(tcb.scoreboard.sackedBytes / tcb.sendMss), srtt, DUP_THRESHOLD);
  const marked = rack.detectLoss(log, now, reoWnd, reorderTimeout);
  if (marked > 0) {
    tcb.stats.rackLossMarks += marked;
    ctx.countLossEvent('rackLossMarks', marked);
  }
  if (tcb.inRecovery) prrSend(ctx, tcb, deliveredBytes);
  else if (log.nextLost(0) >= 0) enterRecovery(ctx, tcb, now);
  if (reorderTimeout.ms > 0) ctx.armReorder(tcb, reorderTimeout.ms);
}

/** Loss found by RACK outside recovery: fast recovery with PRR (RFC 6937). */
function enterRecovery(ctx: TcpRecoveryContext, tcb: Tcb, now: number): void {
  // RFC 6582 §3.2 step 2 (the data sent before an RTO is being resent already): no second
  // window reduction for it, but its lost segments are still repaired.
  if (!seqLt(tcb.sndUna, tcb.recover)) {
    armUndo(tcb, now, false);
    tcb.cc.onFastRetransmit(now, flightSize(tcb));
  }
  tcb.inRecovery = true;
  tcb.recover = tcb.sndMax;
  tcb.rttSeq = -1;
  tcb.highRxt = tcb.sndUna;
  tcb.stats.fastRetransmits++;
  ctx.countLossEvent('fastRecoveries');
  tcb.stats.prrRecoveries++;
  ctx.countLossEvent('prrRecoveries');
  tcb.prrDelivered = 0;
  tcb.prrOut = 0;
  tcb.recoverFs = Math.max(tcb.sendMss, flightSize(tcb) - tcb.scoreboard.sackedBytes);
  prrSend(ctx, tcb, 0);
  tcb.stats.cwnd = tcb.cc.cwnd;
  tcb.stats.ssthresh = tcb.cc.ssthresh;
}

/**
 * Proportional Rate Reduction (RFC 6937, with PRR-SSRB): how much may be sent on this ACK so that
 * the flight comes down to ssthresh by the end of recovery, in proportion to what the peer
 * received; lost segments go first (RACK's marks), then new data. The first ACK of a recovery
 * always lets one segment go (the fast retransmit).
 */
function prrSend(ctx: TcpRecoveryContext, tcb: Tcb, deliveredBytes: number): void {
  const mss = tcb.sendMss;
  const log = tcb.sent;
  tcb.prrDelivered += deliveredBytes;
  const pipeBytes = log.inFlight();
  const ssthresh = Number.isFinite(tcb.cc.ssthresh) ? tcb.cc.ssthresh : tcb.cc.cwnd;
  let sndcnt: number;
  if (tcb.cc.ownsRecoveryWindow === true) {
    sndcnt = tcb.cc.cwnd - pipeBytes; // the algorithm's own recovery window (BBR's packet conservation)
  } else if (pipeBytes > ssthresh) {
    sndcnt = Math.ceil((tcb.prrDelivered * ssthresh) / Math.max(1, tcb.recoverFs)) - tcb.prrOut;
  } else {
    sndcnt = Math.min(ssthresh - pipeBytes, Math.max(tcb.prrDelivered - tcb.prrOut, deliveredBytes) + mss);
  }
  if (tcb.prrOut === 0 && sndcnt < mss) sndcnt = mss;
  let cursor = 0;
  for (let guard = 0; guard < 64 && sndcnt > 0; guard++) {
    const i = log.nextLost(cursor);
    if (i >= 0) {
      const seq = log.seq(i);
      const sent = retransmitRange(ctx, tcb, seq, seqSub(log.end(i), seq));
      if (sent <= 0) {
        cursor = i + 1;
        continue;
      }
      if (seqGt(seqAdd(seq, sent), tcb.highRxt)) tcb.highRxt = seqAdd(seq, sent);
      // The head went again: its RTO counts from now (as Linux does), not from the last ACK.
      if (seq === tcb.sndUna) ctx.restartRetransmit(tcb);
      tcb.prrOut += sent;
      sndcnt -= sent;
      cursor = i;
      continue;
    }
    const before = tcb.sndNxt;
    if (unsentBytes(tcb) === 0 || !ctx.sendNewSegment(tcb)) break;
    const sent = seqSub(tcb.sndNxt, before);
    tcb.prrOut += sent;
    sndcnt -= sent;
  }
}

/**
 * The tail loss probe's retransmission when no new data can go (RFC 8985 §7.3): up to one MSS
 * ending where the last segment not SACKed ends. RFC 8985 resends the most recently sent segment so
 * that its ACK lets RACK see earlier losses; when that segment is SACKed already its ACK carries
 * nothing new, and the segment still missing (typically a lost retransmission with everything sent
 * after it SACKed) would wait for the RTO, so it is the one probed (before a FIN sent alone, which
 * our own receiver never SACKs). A FIN ending the range goes with the data before it. Returns the sequence space sent (0 when nothing could be).
 */
export function probeRetransmit(ctx: TcpOutputContext, tcb: Tcb): number {
  const log = tcb.sent;
  let pick = -1;
  for (let i = log.count - 1; i >= 0; i--) {
    if ((log.flags(i) & SEG_SACKED) !== 0) continue;
    if (pick < 0) pick = i;
    // A FIN sent alone may never show as SACKed: a data segment still missing before it goes first.
    if (!(tcb.finSent && log.seq(i) === tcb.finSeq)) {
      pick = i;
      break;
    }
  }
  const end = pick < 0 ? tcb.sndMax : log.end(pick);
  const start = seqMax(tcb.sndUna, seqAdd(end, -tcb.sendMss));
  const sent = retransmitRange(ctx, tcb, start, seqSub(end, start));
  if (sent > 0 && tcb.sackEnabled) {
    // RFC 8985 §7.4: the probe's ACKs will say whether it repaired a loss.
    tcb.tlpRetransPending = true;
    tcb.tlpHighSeq = tcb.sndMax;
    tcb.tlpProbeSeq = start;
    tcb.tlpProbeEnd = seqAdd(start, sent);
  }
  return sent;
}

/** After a retransmission timeout: everything not SACKed counts as lost (RFC 8985 §6.3). */
export function rackOnTimeout(tcb: Tcb): void {
  markAllLost(tcb.sent);
}

/**
 * The end of an ACK's delivery bookkeeping on a connection with a transmit log: makes the rate
 * sample (the pipe was `priorInflight` before the ACK) and hands it to a congestion control that
 * takes samples (BBR). Call after the ACK's deliveries were recorded and before loss detection sends.
 */
function deliverySampleOnAck(tcb: Tcb, now: number, priorInflight: number): void {
  const log = tcb.sent;
  const minRtt = Number.isFinite(tcb.rack.minRtt) ? tcb.rack.minRtt : 0;
  const rs = log.rate.finishAck(minRtt, log.inFlight(), priorInflight);
  tcb.cc.onRateSample?.(now, rs, log.rate);
}
