/**
 * Segment arrival for a connection that has a TCB (RFC 9293 §3.10.7.3 SYN-SENT and §3.10.7.4 the
 * other states), with the RFC 5961 defences (RST and SYN in the window draw a challenge ACK, ACKs
 * outside `[SND.UNA - MAX.SND.WND, SND.NXT]` are dropped) and PAWS (RFC 7323 §5).
 *
 * The order of the checks is the RFC's: PAWS, sequence acceptability, RST, SYN, ACK, data, FIN;
 * {@link synchronizedArrives} runs them as named steps, each in one function: the checks here,
 * the handshake in {@link ./handshake-input.ts}, the ACK in {@link ./ack-input.ts}, text and FIN in
 * {@link ./data-input.ts}. Application events are only queued on the TCB here ({@link Tcb.raise});
 * the caller delivers them after the segment, then runs output, so a callback that writes sees a
 * consistent TCB and its reply can carry the ACK. An ESTABLISHED connection's steady-state segments
 * take the predicted path first ({@link ./header-prediction.ts}), with the same effects.
 */
import { challengeAck, processAck, updateTsRecent } from './ack-input.js';
import type { TcpContext } from './context.js';
import { finStep, noteDuplicate, textStep } from './data-input.js';
import { handshakeAckArrives, synSentArrives } from './handshake-input.js';
import { predictedArrives } from './header-prediction.js';
import type { Segment } from './segment.js';
import { seqAdd, seqLe, seqLt, seqSub } from './seq.js';
import { AckUrgency, type Tcb } from './tcb.js';

/** Ignore TS.Recent older than this for PAWS (RFC 7323 §5.5: 24 days). */
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** Processes `seg` for `tcb` (any state but LISTEN and CLOSED). */
export function segmentArrives(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  tcb.segmentsIn++;
  const now = ctx.now();
  tcb.lastReceivedAt = now;
  if (tcb.state === 'SYN-SENT') {
    synSentArrives(ctx, tcb, seg);
    return;
  }
  if (ctx.settings.headerPrediction && predictedArrives(ctx, tcb, seg, now)) return;
  synchronizedArrives(ctx, tcb, seg, now);
}

/** A segment in SYN-RECEIVED or a synchronized state: the RFC's checks in order, each a step (`now`: the arrival time). */
function synchronizedArrives(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  if (synRepeated(ctx, tcb, seg)) return;
  if (pawsRejects(tcb, seg, now)) return;
  if (!acceptable(tcb, seg)) {
    unacceptableArrives(ctx, tcb, seg);
    return;
  }
  if (seg.rst) {
    resetArrives(ctx, tcb, seg);
    return;
  }
  if (seg.syn) {
    // RFC 5961 §4.2: any SYN in a synchronized state (or SYN-RECEIVED) draws a challenge ACK.
    challengeAck(tcb);
    return;
  }
  if (!seg.hasAck) return;
  updateTsRecent(tcb, seg, now);
  if (tcb.state === 'SYN-RECEIVED') {
    if (!handshakeAckArrives(ctx, tcb, seg, now)) return;
  } else if (!processAck(ctx, tcb, seg, now) || tcb.state === 'CLOSED') {
    return;
  }
  ctx.touchKeepAlive(tcb);
  tcb.keepAliveProbes = 0;
  if (!textStep(ctx, tcb, seg)) return;
  finStep(ctx, tcb, seg);
}

/** A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost, it goes again. Returns true when handled. */
function synRepeated(ctx: TcpContext, tcb: Tcb, seg: Segment): boolean {
  if (tcb.state !== 'SYN-RECEIVED' || !seg.syn || seg.hasAck || seg.rst || seg.seq !== tcb.irs) return false;
  ctx.resendSyn(tcb);
  return true;
}

/** PAWS (RFC 7323 §5.3): true (and an ACK owed) when the segment's timestamp is older than TS.Recent. */
function pawsRejects(tcb: Tcb, seg: Segment, now: number): boolean {
  const o = seg.options;
  if (!(
    tcb.tsEnabled &&
    o.hasTimestamps &&
    !seg.rst &&
    seqLt(o.tsVal, tcb.tsRecent) &&
    now - tcb.tsRecentAge < PAWS_IDLE_MS
  ))
    return false;
  tcb.stats.pawsDrops++;
  tcb.owe(AckUrgency.NOW);
  return true;
}

/** RFC 9293 §3.10.7.4 segment acceptability against the window we advertised. */
function acceptable(tcb: Tcb, seg: Segment): boolean {
  return inReceiveWindow(tcb.rcvNxt, Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt)), seg);
}

/**
 * RFC 9293 §3.10.7.4's acceptability test: true when `seg` (or a part of it) lies in the receive
 * window `[rcvNxt, rcvNxt + window)`; with a zero window only an empty segment at `rcvNxt` does.
 */
export function inReceiveWindow(rcvNxt: number, window: number, seg: Segment): boolean {
  const length = seg.length;
  if (length === 0) {
    if (window === 0) return seg.seq === rcvNxt;
    return seqLe(rcvNxt, seg.seq) && seqLt(seg.seq, seqAdd(rcvNxt, window));
  }
  if (window === 0) return false;
  const end = seqAdd(rcvNxt, window);
  const last = seqAdd(seg.seq, length - 1);
  return (seqLe(rcvNxt, seg.seq) && seqLt(seg.seq, end)) || (seqLe(rcvNxt, last) && seqLt(last, end));
}

/** A segment outside the window: an ACK (unless it is a RST), and a D-SACK for bytes received twice. */
function unacceptableArrives(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  if (seg.rst) return;
  if (seg.payloadLength > 0) noteDuplicate(tcb, seg.seq, seqAdd(seg.seq, seg.payloadLength));
  if (tcb.state === 'TIME-WAIT' && seg.fin) ctx.enterTimeWait(tcb);
  tcb.owe(AckUrgency.NOW);
}

/** An acceptable RST (RFC 9293 §3.10.7.4 "second", RFC 5961 §3.2: exactly at RCV.NXT, else a challenge ACK). */
function resetArrives(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  if (seg.seq !== tcb.rcvNxt) {
    challengeAck(tcb);
    return;
  }
  switch (tcb.state) {
    case 'SYN-RECEIVED':
      // Passive: back to LISTEN, i.e. the copy of the listener just goes away. Active: refused.
      ctx.closeTcb(tcb, tcb.passive ? 'aborted' : 'refused', tcb.passive ? undefined : ctx.errorFor('refused'));
      return;
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
      ctx.closeTcb(tcb, 'reset', ctx.errorFor('reset'));
      return;
    default:
      // CLOSING, LAST-ACK, TIME-WAIT: the connection was ending anyway.
      ctx.closeTcb(tcb, tcb.state === 'TIME-WAIT' ? 'normal' : 'reset');
      return;
  }
}
