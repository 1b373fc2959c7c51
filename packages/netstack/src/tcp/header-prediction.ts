/**
 * Header prediction (the fast path of the BSD stacks' `tcp_input`, described by Van Jacobson in
 * 1990): on an ESTABLISHED connection in steady state, nearly every segment is one of two kinds,
 * and for them most of RFC 9293's checks are settled by a few comparisons:
 * - a pure ACK of new data (ACK, maybe PSH; no text; SND.UNA < SEG.ACK <= SND.MAX): the
 *   acknowledged bytes are freed, the RTT, round and delivery are sampled, the writer is woken;
 * - in-order text (SND.UNA <= SEG.ACK <= SND.MAX): what it acknowledges is processed as for a pure
 *   ACK, then the text is appended to the receive buffer and acknowledged as the full path would.
 *   The classic prediction takes text only with SEG.ACK = SND.UNA (a one-way transfer); like Linux's
 *   fast path, this one also takes text that acknowledges new data, which is every segment of a
 *   request/response exchange on a kept-alive connection (each request acknowledges the previous
 *   response).
 *
 * The common conditions: SEG.SEQ = RCV.NXT, no flag but ACK and PSH, the options the connection
 * uses and no other that matters (timestamps exactly when they were negotiated, not older than
 * TS.Recent; no SACK block), and no loss episode open (not in recovery, no undo armed, F-RTO idle,
 * no tail loss probe awaiting its verdict), our FIN not sent and no FIN of the peer waiting. The
 * window may change: the classic prediction wants it unchanged, but a Linux client's window moves
 * on about a third of its kept-alive requests, and the full path uses the window only for what
 * neither predicted kind is (a duplicate ACK, a TLP verdict) and in the send window update, which
 * the predicted path runs the same. Any other segment takes the full path ({@link ./input.ts}). The predicted path
 * calls the same steps as the full one in the same order, so its frames, timers and counters are
 * the full path's (test/tcp-header-prediction.test.ts compares whole seeded runs both ways).
 */
import { TcpFlag } from '@postern/wire';
import { updateSendWindow, updateTsRecent } from './ack-input.js';
import type { TcpContext } from './context.js';
import { receiveInOrder } from './data-input.js';
import { onAckAdvancedOpen, openAckRecordsNothing, rackOnAckOpen } from './recovery.js';
import type { Segment } from './segment.js';
import { seqGt, seqLe, seqLt, seqSub } from './seq.js';
import type { Tcb } from './tcb.js';

/** What {@link predict} found a segment to be. */
export const Prediction = {
  /** Neither kind: the full path. */
  NONE: 0,
  /** A pure ACK of new data. */
  ACK: 1,
  /** In-order text (acknowledging new data or not). */
  DATA: 2,
} as const;

/** One of {@link Prediction}'s values. */
export type PredictionKind = (typeof Prediction)[keyof typeof Prediction];

/** The flags a predicted segment may carry besides ACK. */
const ACK_ONLY_MASK = ~TcpFlag.PSH & 0xff;

/**
 * Classifies `seg` for `tcb` without changing anything: {@link Prediction.ACK} or
 * {@link Prediction.DATA} when the predicted path gives the full path's result, else
 * {@link Prediction.NONE}. See the module comment for the conditions.
 */
export function predict(tcb: Tcb, seg: Segment): PredictionKind {
  if (tcb.state !== 'ESTABLISHED' || (seg.flags & ACK_ONLY_MASK) !== TcpFlag.ACK || seg.seq !== tcb.rcvNxt) {
    return Prediction.NONE;
  }
  const o = seg.options;
  if (o.sackBlockCount !== 0 || o.hasTimestamps !== tcb.tsEnabled) return Prediction.NONE;
  if (o.hasTimestamps && seqLt(o.tsVal, tcb.tsRecent)) return Prediction.NONE;
  if (
    tcb.inRecovery ||
    tcb.undoArmed ||
    tcb.frtoStep !== 0 ||
    tcb.tlpRetransPending ||
    tcb.finSent ||
    tcb.pendingPeerFin >= 0
  ) {
    return Prediction.NONE;
  }
  const ack = seg.ack;
  const length = seg.payloadLength;
  if (length === 0) return seqGt(ack, tcb.sndUna) && seqLe(ack, tcb.sndMax) ? Prediction.ACK : Prediction.NONE;
  if (!seqLe(tcb.sndUna, ack) || !seqLe(ack, tcb.sndMax) || tcb.appClosed) return Prediction.NONE;
  const buffer = tcb.recvBuffer;
  if (buffer.outOfOrderRanges !== 0 || length > buffer.window || !seqLt(tcb.rcvNxt, tcb.rcvAdvRight)) {
    return Prediction.NONE;
  }
  return Prediction.DATA;
}

/**
 * Processes `seg` (arrived at `now`) on the predicted path and returns true when {@link predict}
 * accepts it; returns false, having changed nothing, for the full path to process it.
 */
export function predictedArrives(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  const kind = predict(tcb, seg);
  if (kind === Prediction.NONE) return false;
  const window = seg.window << tcb.sndWndShift;
  updateTsRecent(tcb, seg, now);
  const unaBefore = tcb.sndUna;
  if (seg.ack !== unaBefore) onAckAdvancedOpen(ctx, tcb, seg, now);
  if (tcb.sackEnabled && !openAckRecordsNothing(tcb, unaBefore))
    rackOnAckOpen(ctx, tcb, now, seqSub(tcb.sndUna, unaBefore), seg);
  updateSendWindow(ctx, tcb, seg, window);
  tcb.lastAckWindow = tcb.sndWnd;
  ctx.touchKeepAlive(tcb);
  tcb.keepAliveProbes = 0;
  if (kind === Prediction.DATA) receiveInOrder(ctx, tcb, seg);
  return true;
}
