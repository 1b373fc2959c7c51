/**
 * The ACK field of a segment in a synchronized state (RFC 9293 §3.10.7.4 "fifth, check the ACK
 * field"), in named steps: the range check (RFC 5961 §5.2), the loss signals of the ACK (SND.UNA
 * advanced, a duplicate ACK, SACK and D-SACK blocks, RACK: handed to recovery), the send window
 * update (the SND.WL1/SND.WL2 rule), and what the acknowledgement of our FIN does to the state.
 */
import type { TcpContext } from './context.js';
import {
  deliveryDone,
  onAckAdvanced,
  onDsackReceived,
  onDuplicateAck,
  rackOnAck,
  rackOnFinalAck,
  updateScoreboard,
} from './recovery.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from './seq.js';
import { AckUrgency, type Tcb } from './tcb.js';

/** A challenge ACK (RFC 5961): an immediate ACK that a blind attacker cannot see. */
export function challengeAck(tcb: Tcb): void {
  tcb.stats.challengeAcks++;
  tcb.owe(AckUrgency.NOW);
}

/**
 * Processes the ACK of a synchronized-state segment. Returns false when the segment must be
 * dropped (RFC 5961 out-of-range ACK, ACK of data never sent) or the connection ended (LAST-ACK).
 */
export function processAck(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  if (!ackInRange(tcb, seg.ack)) return false;
  const window = seg.window << tcb.sndWndShift;
  ackSignals(ctx, tcb, seg, now, window);
  updateSendWindow(ctx, tcb, seg, window);
  tcb.lastAckWindow = tcb.sndWnd;
  return finAckedStep(ctx, tcb);
}

/**
 * False (and an ACK owed) when `ack` acknowledges something not yet sent (RFC 9293), or is older
 * than anything the peer could still acknowledge (RFC 5961 §5.2: a challenge ACK).
 */
function ackInRange(tcb: Tcb, ack: number): boolean {
  if (seqGt(ack, tcb.sndMax)) {
    tcb.owe(AckUrgency.NOW);
    return false;
  }
  if (seqLt(ack, seqAdd(tcb.sndUna, -Math.max(tcb.maxSndWnd, 1)))) {
    challengeAck(tcb);
    return false;
  }
  return true;
}

/**
 * What the ACK says about delivery: SACK blocks to the scoreboard (and D-SACKs to undo), SND.UNA
 * advanced or a duplicate ACK, then RACK's loss detection over what was delivered (once our FIN
 * and everything before it is acknowledged, only the transmit log is emptied: see `deliveryDone`).
 */
function ackSignals(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number, window: number): void {
  const ack = seg.ack;
  const hasSack = tcb.sackEnabled && seg.options.sackBlockCount > 0;
  const newlySacked = hasSack ? updateScoreboard(tcb, seg.options) : 0;
  if (hasSack) onDsackReceived(ctx, tcb, seg);
  const unaBefore = tcb.sndUna;
  if (seqGt(ack, tcb.sndUna)) {
    onAckAdvanced(ctx, tcb, seg, now);
  } else if (
    ack === tcb.sndUna &&
    seg.payloadLength === 0 &&
    !seg.fin &&
    seqGt(tcb.sndMax, tcb.sndUna) &&
    // RFC 5681's "same window" test, or (RFC 6675 §2) an ACK that SACKs new data: a receiver that
    // queues out-of-order data (Linux) advertises a window that moves with every duplicate ACK.
    (window === tcb.sndWnd || newlySacked > 0)
  ) {
    tcb.stats.dupAcks++;
    onDuplicateAck(ctx, tcb, seg);
  }
  if (tcb.sackEnabled && tcb.state !== 'CLOSED') {
    if (deliveryDone(tcb)) {
      rackOnFinalAck(tcb);
      return;
    }
    const acked = seqSub(tcb.sndUna, unaBefore);
    rackOnAck(ctx, tcb, now, acked + newlySacked, seg, acked);
  }
}

/** TS.Recent update (RFC 7323 §4.3): the segment covers the last ACK we sent. */
export function updateTsRecent(tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.options;
  if (tcb.tsEnabled && o.hasTimestamps && seqLe(seg.seq, tcb.lastAckSent) && !seqLt(o.tsVal, tcb.tsRecent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }
}

/**
 * The send window update (RFC 9293 §3.10.7.4): only from a segment newer than the last update.
 * `window` is the segment's window field scaled by our SND.WND shift.
 */
export function updateSendWindow(ctx: TcpContext, tcb: Tcb, seg: Segment, window: number): void {
  if (!(seqLt(tcb.sndWl1, seg.seq) || (tcb.sndWl1 === seg.seq && seqLe(tcb.sndWl2, seg.ack)))) return;
  const opened = tcb.sndWnd === 0 && window > 0;
  tcb.sndWnd = window;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  if (window > tcb.maxSndWnd) tcb.maxSndWnd = window;
  if (opened) {
    tcb.probeCount = 0;
    if (tcb.rtxMode === 'persist') ctx.cancelRetransmit(tcb);
  }
}

/**
 * Our FIN acknowledged: FIN-WAIT-1 becomes FIN-WAIT-2, CLOSING becomes TIME-WAIT, LAST-ACK ends
 * the connection (returns false: nothing more to process).
 */
function finAckedStep(ctx: TcpContext, tcb: Tcb): boolean {
  const finAcked = tcb.finSent && seqGt(tcb.sndUna, tcb.finSeq);
  if (!finAcked) return true;
  switch (tcb.state) {
    case 'FIN-WAIT-1':
      tcb.state = 'FIN-WAIT-2';
      if (tcb.appClosed) ctx.armFinWait2(tcb);
      return true;
    case 'CLOSING':
      ctx.enterTimeWait(tcb);
      return true;
    case 'LAST-ACK':
      ctx.closeTcb(tcb, 'normal');
      return false;
    default:
      return true;
  }
}
