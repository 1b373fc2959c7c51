/**
 * The handshake as input sees it (RFC 9293 §3.10.7.3 and §3.5): the peer's SYN options applied to
 * a TCB, a segment arriving in SYN-SENT (our SYN answered, refused, or crossed by theirs), and the
 * ACK that completes a handshake in SYN-RECEIVED, with the handshake's RTT sample (RFC 6298).
 */
import type { TcpContext } from './context.js';
import { tsClock } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from './seq.js';
import { AckUrgency, TcbEvent, type Tcb } from './tcb.js';

/** Largest window shift honoured (RFC 7323 §2.3). */
const MAX_SHIFT = 14;

/** RTO once data flows after a retransmitted SYN or SYN-ACK without an RTT sample (RFC 6298 §5.7). */
export const TCP_RTO_AFTER_SYN_RETRANSMIT_MS = 3000;

/** Applies the options of the peer's SYN (MSS, window scale, SACK-permitted, timestamps) to `tcb`. */
export function negotiateOptions(tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.options;
  const peerMss = o.mss > 0 ? o.mss : 536;
  tcb.tsEnabled = o.hasTimestamps;
  if (o.hasTimestamps) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }
  tcb.sackEnabled = o.sackPermitted;
  if (!tcb.sackEnabled) tcb.cc.onNoRateSamples?.(); // no transmit log: no delivery rate samples
  if (o.windowScale >= 0) {
    tcb.wsEnabled = true;
    tcb.sndWndShift = Math.min(o.windowScale, MAX_SHIFT);
  } else {
    tcb.wsEnabled = false;
    tcb.sndWndShift = 0;
    tcb.rcvWndShift = 0;
  }
  const optionSpace = tcb.tsEnabled ? 12 : 0;
  // The path MTU may already be lower than the interface's (ICMP fragmentation needed for the SYN).
  tcb.sendMss = Math.max(64, Math.min(peerMss, tcb.advertisedMss, tcb.pathMtu - 40) - optionSpace);
  tcb.cc.setMss(tcb.sendMss);
  tcb.scoreboard.mss = tcb.sendMss;
}

/** A segment for a connection in SYN-SENT (RFC 9293 §3.10.7.3). */
export function synSentArrives(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  let ackAcceptable = false;
  if (seg.hasAck) {
    if (seqLe(seg.ack, tcb.iss) || seqGt(seg.ack, tcb.sndNxt)) {
      if (!seg.rst) ctx.sendResetFor(seg);
      return;
    }
    ackAcceptable = seqLe(tcb.sndUna, seg.ack);
  }
  if (seg.rst) {
    if (ackAcceptable) ctx.closeTcb(tcb, 'refused', ctx.errorFor('refused'));
    return;
  }
  if (!seg.syn) return;
  const now = ctx.now();
  tcb.irs = seg.seq;
  tcb.rcvNxt = seqAdd(seg.seq, 1);
  // The window our SYN offered (unscaled).
  tcb.rcvAdvRight = seqAdd(tcb.rcvNxt, Math.min(tcb.recvBuffer.window, 0xffff));
  negotiateOptions(tcb, seg, now);
  if (ackAcceptable) {
    tcb.sndUna = seg.ack;
    tcb.state = 'ESTABLISHED';
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    setSendWindow(tcb, seg.window, seg.seq, seg.ack);
    takeHandshakeRtt(tcb, seg, now);
    tcb.quickAcks = 16;
    tcb.raise(TcbEvent.CONNECTED | TcbEvent.WRITABLE);
    ctx.cancelRetransmit(tcb);
    ctx.touchKeepAlive(tcb);
    tcb.owe(AckUrgency.NOW);
    return;
  }
  // Simultaneous open (RFC 9293 figure 7): our SYN crossed theirs.
  tcb.state = 'SYN-RECEIVED';
  setSendWindow(tcb, seg.window, seg.seq, seg.ack);
  ctx.resendSyn(tcb);
}

/**
 * The ACK of a segment in SYN-RECEIVED: when it acknowledges our SYN the connection is
 * ESTABLISHED (a passive one goes to its listener). Returns false when processing of the segment
 * stops here: a bad ACK (answered with RST), a full accept queue (the ACK is forgotten), or an
 * application that closed the new connection at once.
 */
export function handshakeAckArrives(ctx: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  const o = seg.options;
  if (!(seqLt(tcb.sndUna, seg.ack) && seqLe(seg.ack, tcb.sndNxt))) {
    ctx.sendResetFor(seg);
    return false;
  }
  tcb.sndUna = seg.ack;
  tcb.state = 'ESTABLISHED';
  tcb.sndWnd = seg.window << tcb.sndWndShift;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  tcb.maxSndWnd = Math.max(tcb.maxSndWnd, tcb.sndWnd);
  tcb.lastAckWindow = tcb.sndWnd;
  if (o.hasTimestamps && tcb.tsEnabled && o.tsEcr !== 0) tcb.rto.sample(seqSub(tsClock(now, tcb.tsOffset), o.tsEcr));
  else takeHandshakeRtt(tcb, seg, now);
  tcb.rttSeq = -1;
  tcb.rto.resetBackoff();
  tcb.backoffCount = 0;
  rtoAfterSynRetransmit(tcb);
  tcb.quickAcks = 16;
  ctx.cancelRetransmit(tcb);
  ctx.touchKeepAlive(tcb);
  if (tcb.passive) {
    const queued = ctx.passiveEstablished(tcb);
    if (tcb.released) return false; // the application's onConnection closed it at once
    if (!queued) {
      // Accept queue full: forget this ACK; the peer's next segment completes the handshake.
      tcb.state = 'SYN-RECEIVED';
      tcb.sndUna = tcb.iss;
      ctx.restartRetransmit(tcb);
      return false;
    }
  } else {
    tcb.raise(TcbEvent.CONNECTED | TcbEvent.WRITABLE);
  }
  tcb.raise(TcbEvent.WRITABLE);
  return true;
}

function takeHandshakeRtt(tcb: Tcb, seg: Segment, now: number): void {
  if (tcb.rttSeq >= 0 && seqGt(seg.ack, tcb.rttSeq)) {
    tcb.rto.sample(now - tcb.rttSentAt);
  }
  tcb.rttSeq = -1;
  tcb.rto.resetBackoff();
  tcb.backoffCount = 0;
  rtoAfterSynRetransmit(tcb);
}

/**
 * RFC 6298 §5.7: if the SYN or SYN-ACK was retransmitted and the handshake gave no RTT sample (Karn:
 * the answer may belong to either copy), the RTO is re-initialised to 3 s when data transfer
 * begins, unless it is already larger.
 */
function rtoAfterSynRetransmit(tcb: Tcb): void {
  if (!tcb.synRetransmitted || tcb.rto.srttMs !== undefined) return;
  if (tcb.rto.rtoMs < TCP_RTO_AFTER_SYN_RETRANSMIT_MS) tcb.rto.reset(TCP_RTO_AFTER_SYN_RETRANSMIT_MS);
}

function setSendWindow(tcb: Tcb, window: number, seq: number, ack: number): void {
  tcb.sndWnd = window;
  tcb.sndWl1 = seq;
  tcb.sndWl2 = ack;
  if (tcb.sndWnd > tcb.maxSndWnd) tcb.maxSndWnd = tcb.sndWnd;
  tcb.lastAckWindow = tcb.sndWnd;
}
