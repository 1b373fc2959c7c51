/**
 * Segment arrival for a connection that has a TCB (RFC 9293 §3.10.7.3 SYN-SENT and §3.10.7.4 the
 * other states), with the RFC 5961 defences (RST and SYN in the window draw a challenge ACK, ACKs
 * outside `[SND.UNA - MAX.SND.WND, SND.NXT]` are dropped) and PAWS (RFC 7323 §5).
 *
 * The order of the checks is the RFC's: PAWS, sequence acceptability, RST, SYN, ACK, data, FIN.
 * Application events are only queued on the TCB here ({@link Tcb.raise}); the `Tcp` module
 * delivers them after the segment, then runs output, so a callback that writes sees a consistent
 * TCB and its reply can carry the ACK.
 */
import { TcpFlag } from '@postern/wire';
import type { TcpError } from './errors.js';
import { advertiseWindow, tsClock } from './output.js';
import { onAckAdvanced, onDsackReceived, onDuplicateAck, rackOnAck, updateScoreboard, type TcpRecoveryContext } from './recovery.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from './seq.js';
import { AckUrgency, TcbEvent, type Tcb, type TcpCloseReason } from './tcb.js';

/** Ignore TS.Recent older than this for PAWS (RFC 7323 §5.5: 24 days). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Largest window shift honoured (RFC 7323 §2.3). */
const MAX_SHIFT = 14;

/** What input needs from the `Tcp` module beyond output. */
export interface TcpInputContext extends TcpRecoveryContext {
  /** Ends the connection: state CLOSED, timers off, out of the tables; `error` goes to `onError`. */
  closeTcb(tcb: Tcb, reason: TcpCloseReason, error?: TcpError): void;
  /** Enters (or restarts) TIME-WAIT for 2*MSL. */
  enterTimeWait(tcb: Tcb): void;
  /**
   * A passive connection finished its handshake. Returns false when its listener's accept queue is
   * full (the ACK is then dropped and the connection stays in SYN-RECEIVED).
   */
  passiveEstablished(tcb: Tcb): boolean;
  /** Arms the delayed-ACK timer if it is not running. */
  armDelayedAck(tcb: Tcb): void;
  /** Arms the FIN-WAIT-2 timeout (only after `close()`). */
  armFinWait2(tcb: Tcb): void;
  /** Restarts the keep-alive idle timer (when keep-alive is on). */
  touchKeepAlive(tcb: Tcb): void;
  /** Builds a typed error for the reason. */
  errorFor(reason: 'refused' | 'reset'): TcpError;
  /** Sends a RST in answer to `seg` (no TCB state used): `<SEQ=SEG.ACK><CTL=RST>` or `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. */
  sendResetFor(seg: Segment): void;
  /** Re-sends our SYN-ACK (SYN-RECEIVED, duplicate SYN). */
  resendSyn(tcb: Tcb): void;
}

/** Processes `seg` for `tcb` (any state but LISTEN and CLOSED). */
export function segmentArrives(ctx: TcpInputContext, tcb: Tcb, seg: Segment): void {
  tcb.stats.segmentsIn++;
  tcb.lastReceivedAt = ctx.now();
  if (tcb.state === 'SYN-SENT') {
    synSentArrives(ctx, tcb, seg);
    return;
  }
  synchronizedArrives(ctx, tcb, seg);
}

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

function synSentArrives(ctx: TcpInputContext, tcb: Tcb, seg: Segment): void {
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

function takeHandshakeRtt(tcb: Tcb, seg: Segment, now: number): void {
  if (tcb.rttSeq >= 0 && seqGt(seg.ack, tcb.rttSeq)) {
    tcb.rto.sample(now - tcb.rttSentAt);
  }
  tcb.rttSeq = -1;
  tcb.rto.resetBackoff();
  tcb.backoffCount = 0;
  rtoAfterSynRetransmit(tcb);
}

/** RTO once data flows after a retransmitted SYN or SYN-ACK without an RTT sample (RFC 6298 §5.7). */
export const TCP_RTO_AFTER_SYN_RETRANSMIT_MS = 3000;

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

/** RFC 9293 §3.10.7.4 segment acceptability against the window we advertised. */
function acceptable(tcb: Tcb, seg: Segment): boolean {
  const window = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  const length = seg.length;
  if (length === 0) {
    if (window === 0) return seg.seq === tcb.rcvNxt;
    return seqLe(tcb.rcvNxt, seg.seq) && seqLt(seg.seq, seqAdd(tcb.rcvNxt, window));
  }
  if (window === 0) return false;
  const end = seqAdd(tcb.rcvNxt, window);
  const last = seqAdd(seg.seq, length - 1);
  return (seqLe(tcb.rcvNxt, seg.seq) && seqLt(seg.seq, end)) || (seqLe(tcb.rcvNxt, last) && seqLt(last, end));
}

function challengeAck(ctx: TcpInputContext, tcb: Tcb): void {
  tcb.stats.challengeAcks++;
  tcb.owe(AckUrgency.NOW);
}

function synchronizedArrives(ctx: TcpInputContext, tcb: Tcb, seg: Segment): void {
  const now = ctx.now();
  const o = seg.options;

  // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost, send it again.
  if (tcb.state === 'SYN-RECEIVED' && seg.syn && !seg.hasAck && !seg.rst && seg.seq === tcb.irs) {
    ctx.resendSyn(tcb);
    return;
  }

  // PAWS (RFC 7323 §5.3).
  if (tcb.tsEnabled && o.hasTimestamps && !seg.rst && seqLt(o.tsVal, tcb.tsRecent) && now - tcb.tsRecentAge < PAWS_IDLE_MS) {
    tcb.stats.pawsDrops++;
    tcb.owe(AckUrgency.NOW);
    return;
  }

  if (!acceptable(tcb, seg)) {
    if (!seg.rst && seg.payload.byteLength > 0) noteDuplicate(tcb, seg.seq, seqAdd(seg.seq, seg.payload.byteLength));
    if (!seg.rst) {
      if (tcb.state === 'TIME-WAIT' && seg.fin) ctx.enterTimeWait(tcb);
      tcb.owe(AckUrgency.NOW);
    }
    return;
  }

  if (seg.rst) {
    if (seg.seq !== tcb.rcvNxt) {
      challengeAck(ctx, tcb);
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

  if (seg.syn) {
    // RFC 5961 §4.2: any SYN in a synchronized state (or SYN-RECEIVED) draws a challenge ACK.
    challengeAck(ctx, tcb);
    return;
  }

  if (!seg.hasAck) return;

  // TS.Recent update (RFC 7323 §4.3): the segment covers the last ACK we sent.
  if (tcb.tsEnabled && o.hasTimestamps && seqLe(seg.seq, tcb.lastAckSent) && !seqLt(o.tsVal, tcb.tsRecent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }

  if (tcb.state === 'SYN-RECEIVED') {
    if (!(seqLt(tcb.sndUna, seg.ack) && seqLe(seg.ack, tcb.sndNxt))) {
      ctx.sendResetFor(seg);
      return;
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
      if (tcb.released) return; // the application's onConnection closed it at once
      if (!queued) {
        // Accept queue full: forget this ACK; the peer's next segment completes the handshake.
        tcb.state = 'SYN-RECEIVED';
        tcb.sndUna = tcb.iss;
        ctx.restartRetransmit(tcb);
        return;
      }
    } else {
      tcb.raise(TcbEvent.CONNECTED | TcbEvent.WRITABLE);
    }
    tcb.raise(TcbEvent.WRITABLE);
  } else {
    if (!processAck(ctx, tcb, seg, now)) return;
    if (tcb.state === 'CLOSED') return;
  }

  ctx.touchKeepAlive(tcb);
  tcb.keepAliveProbes = 0;

  // Segment text.
  const payload = seg.payload;
  if (payload.byteLength > 0) {
    if (tcb.state === 'ESTABLISHED' || tcb.state === 'FIN-WAIT-1' || tcb.state === 'FIN-WAIT-2') {
      if (tcb.appClosed) {
        // Nobody will read this (RFC 2525 §2.17, Linux): reset.
        ctx.sendResetFor(seg);
        ctx.closeTcb(tcb, 'aborted');
        return;
      }
      receiveData(ctx, tcb, seg);
    }
  }

  // FIN.
  if (seg.fin) {
    const finSeq = seqAdd(seg.seq, payload.byteLength);
    if (tcb.peerFinReceived) {
      if (tcb.state === 'TIME-WAIT') ctx.enterTimeWait(tcb);
      tcb.owe(AckUrgency.NOW);
    } else if (finSeq === tcb.rcvNxt) {
      peerFin(ctx, tcb);
    } else if (seqGt(finSeq, tcb.rcvNxt)) {
      tcb.pendingPeerFin = finSeq;
      tcb.owe(AckUrgency.NOW);
    }
  } else if (tcb.pendingPeerFin >= 0 && tcb.pendingPeerFin === tcb.rcvNxt && !tcb.peerFinReceived) {
    peerFin(ctx, tcb);
  }
}

/**
 * The ACK field of a synchronized-state segment. Returns false when the segment must be dropped
 * (RFC 5961 out-of-range ACK, ACK of data never sent).
 */
function processAck(ctx: TcpInputContext, tcb: Tcb, seg: Segment, now: number): boolean {
  const ack = seg.ack;
  if (seqGt(ack, tcb.sndMax)) {
    // Acknowledges something not yet sent (RFC 9293: send an ACK, drop the segment).
    tcb.owe(AckUrgency.NOW);
    return false;
  }
  if (seqLt(ack, seqAdd(tcb.sndUna, -Math.max(tcb.maxSndWnd, 1)))) {
    // RFC 5961 §5.2: older than anything the peer could still acknowledge.
    challengeAck(ctx, tcb);
    return false;
  }
  const window = seg.window << tcb.sndWndShift;
  const hasSack = tcb.sackEnabled && seg.options.sackBlockCount > 0;
  const newlySacked = hasSack ? updateScoreboard(tcb, seg.options) : 0;
  if (hasSack) onDsackReceived(ctx, tcb, seg);
  const unaBefore = tcb.sndUna;
  if (seqGt(ack, tcb.sndUna)) {
    onAckAdvanced(ctx, tcb, seg, now);
  } else if (
    ack === tcb.sndUna && seg.payload.byteLength === 0 && !seg.fin && seqGt(tcb.sndMax, tcb.sndUna) &&
    // RFC 5681's "same window" test, or (RFC 6675 §2) an ACK that SACKs new data: a receiver that
    // queues out-of-order data (Linux) advertises a window that moves with every duplicate ACK.
    (window === tcb.sndWnd || newlySacked > 0)
  ) {
    tcb.stats.dupAcks++;
    onDuplicateAck(ctx, tcb, seg);
  }
  if (tcb.sackEnabled && tcb.state !== 'CLOSED') {
    const o = seg.options;
    const tsEcr = tcb.tsEnabled && o.hasTimestamps && o.tsEcr !== 0 ? o.tsEcr : -1;
    rackOnAck(ctx, tcb, now, seqSub(tcb.sndUna, unaBefore) + newlySacked, tsEcr);
  }
  // Window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2 rule).
  if (seqLt(tcb.sndWl1, seg.seq) || (tcb.sndWl1 === seg.seq && seqLe(tcb.sndWl2, ack))) {
    const opened = tcb.sndWnd === 0 && window > 0;
    tcb.sndWnd = window;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = ack;
    if (window > tcb.maxSndWnd) tcb.maxSndWnd = window;
    if (opened) {
      tcb.probeCount = 0;
      if (tcb.rtxMode === 'persist') ctx.cancelRetransmit(tcb);
    }
  }
  tcb.lastAckWindow = tcb.sndWnd;

  const finAcked = tcb.finSent && seqGt(tcb.sndUna, tcb.finSeq);
  switch (tcb.state) {
    case 'FIN-WAIT-1':
      if (finAcked) {
        tcb.state = 'FIN-WAIT-2';
        if (tcb.appClosed) ctx.armFinWait2(tcb);
      }
      break;
    case 'CLOSING':
      if (finAcked) ctx.enterTimeWait(tcb);
      break;
    case 'LAST-ACK':
      if (finAcked) {
        ctx.closeTcb(tcb, 'normal');
        return false;
      }
      break;
    case 'TIME-WAIT':
      break;
    default:
      break;
  }
  return true;
}

/** Puts the payload of an acceptable segment into the receive buffer and decides how soon to ACK. */
function receiveData(ctx: TcpInputContext, tcb: Tcb, seg: Segment): void {
  let data = seg.payload;
  let offset = seqSub(seg.seq, tcb.rcvNxt);
  if (offset < 0) {
    noteDuplicate(tcb, seg.seq, tcb.rcvNxt);
    data = data.subarray(-offset);
    offset = 0;
  }
  const room = tcb.recvBuffer.window - offset;
  if (room <= 0) {
    tcb.owe(AckUrgency.NOW);
    return;
  }
  if (data.byteLength > room) data = data.subarray(0, room);
  const hadHoles = tcb.recvBuffer.outOfOrderRanges > 0;
  const advanced = tcb.recvBuffer.insert(offset, data);
  if (advanced > 0) {
    tcb.rcvNxt = seqAdd(tcb.rcvNxt, advanced);
    tcb.stats.bytesIn += advanced;
    tcb.raise(TcbEvent.READABLE);
  }
  if (offset > 0) {
    tcb.stats.outOfOrder++;
    tcb.owe(AckUrgency.NOW);
  } else if (hadHoles) {
    // Filled (part of) a hole: ACK at once so the sender's recovery moves on (RFC 5681 §4.2).
    tcb.owe(AckUrgency.NOW);
  } else if (tcb.quickAcks > 0) {
    tcb.quickAcks--;
    tcb.owe(AckUrgency.SOON);
  } else {
    if (data.byteLength >= tcb.advertisedMss - 64 || data.byteLength >= tcb.sendMss) tcb.unackedSegments++;
    if (tcb.unackedSegments >= 2) tcb.owe(AckUrgency.NOW);
    else if ((seg.flags & TcpFlag.PSH) !== 0) tcb.owe(AckUrgency.SOON);
    else {
      tcb.owe(AckUrgency.DELAYED);
      ctx.armDelayedAck(tcb);
    }
  }
  if (tcb.pendingPeerFin >= 0 && tcb.pendingPeerFin === tcb.rcvNxt && !seg.fin) peerFin(ctx, tcb);
  // Keep the advertised edge consistent when the buffer filled to the edge.
  if (seqGt(tcb.rcvNxt, tcb.rcvAdvRight)) advertiseWindow(tcb);
}

/**
 * Bytes `[left, right)` arrived that were already received: with SACK, the next ACK carries them as
 * a D-SACK block (RFC 2883 §4), so the sender can tell a spurious retransmission (or a duplicating
 * network) from a loss. Only the latest duplicate is reported.
 */
function noteDuplicate(tcb: Tcb, left: number, right: number): void {
  if (!tcb.sackEnabled || !seqLt(left, right)) return;
  tcb.dsackPending = true;
  tcb.dsackLeft = left;
  tcb.dsackRight = right;
  tcb.owe(AckUrgency.NOW);
}

/** The peer's FIN is next in sequence: consume it and move the state on. */
function peerFin(ctx: TcpInputContext, tcb: Tcb): void {
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, 1);
  if (seqGt(tcb.rcvNxt, tcb.rcvAdvRight)) tcb.rcvAdvRight = tcb.rcvNxt;
  tcb.peerFinReceived = true;
  tcb.pendingPeerFin = -1;
  tcb.owe(AckUrgency.NOW);
  tcb.raise(TcbEvent.READABLE);
  switch (tcb.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      tcb.state = 'CLOSE-WAIT';
      break;
    case 'FIN-WAIT-1':
      if (tcb.finSent && seqGt(tcb.sndUna, tcb.finSeq)) ctx.enterTimeWait(tcb);
      else tcb.state = 'CLOSING';
      break;
    case 'FIN-WAIT-2':
      ctx.enterTimeWait(tcb);
      break;
    case 'TIME-WAIT':
      ctx.enterTimeWait(tcb);
      break;
    default:
      break;
  }
}
