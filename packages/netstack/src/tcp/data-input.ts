/**
 * The text and FIN of an acceptable segment in a synchronized state (RFC 9293 §3.10.7.4 "seventh,
 * process the segment text" and "eighth, check the FIN bit"): bytes into the receive buffer (in
 * order or held out of order), how soon they are acknowledged, duplicates reported as D-SACK
 * (RFC 2883: below RCV.NXT or of bytes already held out of order), and the peer's FIN, in order or waiting for the bytes before it. (The urgent pointer
 * is not implemented: urgent bytes are ordinary data.)
 */
import { TcpFlag } from '@postern/wire';
import type { TcpContext } from './context.js';
import type { SackRange } from './recv-buffer.js';
import { advertiseWindow } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqLt, seqSub } from './seq.js';
import { AckUrgency, TcbEvent, type Tcb } from './tcb.js';

/**
 * The segment's text. Returns false when the connection was reset because the application
 * closed and will read nothing (RFC 2525 §2.17): nothing more is processed.
 */
export function textStep(ctx: TcpContext, tcb: Tcb, seg: Segment): boolean {
  if (seg.payloadLength === 0) return true;
  if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'FIN-WAIT-1' && tcb.state !== 'FIN-WAIT-2') return true;
  if (tcb.appClosed) {
    // Nobody will read this (RFC 2525 §2.17, Linux): reset.
    ctx.sendResetFor(seg);
    ctx.closeTcb(tcb, 'aborted');
    return false;
  }
  receiveData(ctx, tcb, seg);
  return true;
}

/**
 * The FIN bit: a FIN in order is consumed, one ahead of missing bytes waits, a repeated one is
 * acknowledged again (restarting TIME-WAIT). Without a FIN, one that waited is consumed once the
 * bytes before it arrived.
 */
export function finStep(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  if (seg.fin) {
    const finSeq = seqAdd(seg.seq, seg.payloadLength);
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

/** Scratch for the part of a segment already held out of order (no allocation per segment). */
const heldTwice: SackRange = { left: 0, right: 0 };

/** Puts the payload of an acceptable segment into the receive buffer and decides how soon to ACK. */
function receiveData(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  // The payload is read in place, bytes [start, end) of the segment: no view per segment.
  let start = seg.payloadStart;
  const end = start + seg.payloadLength;
  let offset = seqSub(seg.seq, tcb.rcvNxt);
  if (offset < 0) {
    noteDuplicate(tcb, seg.seq, tcb.rcvNxt);
    start = Math.min(end, start - offset);
    offset = 0;
  }
  const room = tcb.recvBuffer.window - offset;
  if (room <= 0) {
    tcb.owe(AckUrgency.NOW);
    return;
  }
  const length = Math.min(end - start, room);
  const hadHoles = tcb.recvBuffer.outOfOrderRanges > 0;
  const belowNoted = seqLt(seg.seq, tcb.rcvNxt);
  if (hadHoles && !belowNoted && tcb.recvBuffer.heldOverlap(offset, length, heldTwice)) {
    // Bytes already held out of order arrived again (RFC 2883 §4.1.2): a D-SACK names them.
    noteDuplicate(tcb, seqAdd(tcb.rcvNxt, heldTwice.left), seqAdd(tcb.rcvNxt, heldTwice.right));
  }
  const advanced = tcb.recvBuffer.insert(offset, seg.bytes, start, start + length);
  if (advanced > 0) deliverInOrder(tcb, advanced);
  if (offset > 0) {
    tcb.stats.outOfOrder++;
    tcb.owe(AckUrgency.NOW);
  } else if (hadHoles) {
    // Filled (part of) a hole: ACK at once so the sender's recovery moves on (RFC 5681 §4.2).
    tcb.owe(AckUrgency.NOW);
  } else {
    ackInOrder(ctx, tcb, seg, length);
  }
  if (tcb.pendingPeerFin >= 0 && tcb.pendingPeerFin === tcb.rcvNxt && !seg.fin) peerFin(ctx, tcb);
  keepEdgeConsistent(tcb);
}

/**
 * The text of a segment header prediction accepted (after its ACK): the whole payload starts at RCV.NXT and fits
 * the receive window, nothing is held out of order and no FIN waits, so it is appended and
 * acknowledged exactly as {@link textStep} would, without the checks those guarantees settle.
 */
export function receiveInOrder(ctx: TcpContext, tcb: Tcb, seg: Segment): void {
  const start = seg.payloadStart;
  const length = seg.payloadLength;
  const advanced = tcb.recvBuffer.insert(0, seg.bytes, start, start + length);
  if (advanced > 0) deliverInOrder(tcb, advanced);
  ackInOrder(ctx, tcb, seg, length);
  keepEdgeConsistent(tcb);
}

/** `advanced` bytes became readable in order: RCV.NXT moves and the reader hears of them. */
function deliverInOrder(tcb: Tcb, advanced: number): void {
  tcb.rcvNxt = seqAdd(tcb.rcvNxt, advanced);
  tcb.bytesIn += advanced;
  tcb.raise(TcbEvent.READABLE);
}

/**
 * How soon `length` bytes that arrived in order with no hole before or after them are
 * acknowledged: "soon" during quick ACKs or on PSH, at once every second full-sized segment
 * (RFC 9293 §3.8.6.3), otherwise delayed.
 */
function ackInOrder(ctx: TcpContext, tcb: Tcb, seg: Segment, length: number): void {
  if (tcb.quickAcks > 0) {
    tcb.quickAcks--;
    tcb.owe(AckUrgency.SOON);
    return;
  }
  if (length >= tcb.advertisedMss - 64 || length >= tcb.sendMss) tcb.unackedSegments++;
  if (tcb.unackedSegments >= 2) tcb.owe(AckUrgency.NOW);
  else if ((seg.flags & TcpFlag.PSH) !== 0) tcb.owe(AckUrgency.SOON);
  else {
    tcb.owe(AckUrgency.DELAYED);
    ctx.armDelayedAck(tcb);
  }
}

/** Keeps the advertised edge consistent when the buffer filled to the edge. */
function keepEdgeConsistent(tcb: Tcb): void {
  if (seqGt(tcb.rcvNxt, tcb.rcvAdvRight)) advertiseWindow(tcb);
}

/**
 * Bytes `[left, right)` arrived that were already received: with SACK, the next ACK carries them as
 * a D-SACK block (RFC 2883 §4), so the sender can tell a spurious retransmission (or a duplicating
 * network) from a loss. Only the latest duplicate is reported.
 */
export function noteDuplicate(tcb: Tcb, left: number, right: number): void {
  if (!tcb.sackEnabled || !seqLt(left, right)) return;
  tcb.dsackPending = true;
  tcb.dsackLeft = left;
  tcb.dsackRight = right;
  tcb.owe(AckUrgency.NOW);
}

/** The peer's FIN is next in sequence: consume it and move the state on. */
function peerFin(ctx: TcpContext, tcb: Tcb): void {
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
