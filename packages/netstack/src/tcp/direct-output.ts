/**
 * Segments sent outside the output loop (`tcpOutput`): one new segment when recovery or a probe
 * asks for it, our SYN (or SYN-ACK) again, and RSTs in answer to a segment no TCB owns (written
 * by the context's one `ResetWriter`, filled before each send: no allocation per segment).
 */
import { TcpFlag } from '@postern/wire';
import type { TcpContext } from './context.js';
import { TCP_HEADER, segmentPayloadLimit, unsentBytes } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqSub } from './seq.js';
import type { Tcb } from './tcb.js';

/** See {@link TcpContext.sendResetFor}. Counted `resetsSent` (and `sendFailures` when refused). */
export function sendResetFor(ctx: TcpContext, seg: Segment): void {
  const r = ctx.resets;
  r.srcPort = seg.dstPort;
  r.dstPort = seg.srcPort;
  if (seg.hasAck) {
    r.seq = seg.ack;
    r.ack = 0;
    r.flags = TcpFlag.RST;
  } else {
    r.seq = 0;
    r.ack = seqAdd(seg.seq, seg.length);
    r.flags = TcpFlag.RST | TcpFlag.ACK;
  }
  ctx.counters.inc('resetsSent');
  if (!ctx.port.send(seg.destination, seg.source, TCP_HEADER, r)) ctx.counters.inc('sendFailures');
}

/** See {@link TcpContext.resendSyn}. */
export function resendSyn(ctx: TcpContext, tcb: Tcb): void {
  ctx.builder.send(ctx, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
  ctx.armRetransmit(tcb);
}

/**
 * Sends one new segment if the usable window allows it, ignoring Nagle (limited transmit,
 * recovery, tail loss probes); returns whether one went.
 */
export function sendNewSegment(ctx: TcpContext, tcb: Tcb): boolean {
  const unsent = unsentBytes(tcb);
  if (unsent === 0) return false;
  const usable = seqSub(seqAdd(tcb.sndUna, tcb.sndWnd), tcb.sndNxt);
  const length = Math.min(unsent, segmentPayloadLimit(tcb), usable);
  if (length <= 0) return false;
  const offset = seqSub(tcb.sndNxt, tcb.sndUna);
  ctx.builder.send(ctx, tcb, tcb.sndNxt, length === unsent ? TcpFlag.PSH : 0, offset, length);
  tcb.bytesOut += length;
  tcb.nagleHolding = false;
  tcb.sndNxt = seqAdd(tcb.sndNxt, length);
  if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
  ctx.armRetransmit(tcb);
  return true;
}
