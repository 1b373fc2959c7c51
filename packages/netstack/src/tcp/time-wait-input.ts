/**
 * Segment arrival for a TIME-WAIT record ({@link TimeWaitRecord}): the same answers, in the same
 * order, as a TIME-WAIT TCB gives in `input.ts` (RFC 9293 §3.10.7.4 with RFC 5961 and PAWS,
 * RFC 7323 §5): a segment PAWS rejects, one outside the window (a retransmitted FIN also restarts
 * the 2*MSL wait; duplicate bytes are reported as a D-SACK), a RST or SYN not exactly at RCV.NXT,
 * an ACK of something never sent or older than the peer could still send, and a FIN are each
 * answered with an ACK; a RST at RCV.NXT ends the record; a SYN newer than the old incarnation
 * (RFC 6191) ends it and goes on to the listener. A TIME-WAIT connection takes no data.
 */
import type { TcpContext } from './context.js';
import { PAWS_IDLE_MS, inReceiveWindow } from './input.js';
import { tsClock } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqGt, seqLe, seqLt } from './seq.js';
import { TimeWaitAckWriter } from './time-wait-ack.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** The one writer of record ACKs (fields set just before each synchronous send). */
const ackWriter = new TimeWaitAckWriter();

/**
 * A segment that found no TCB: when a TIME-WAIT record holds its 4-tuple, the record answers it.
 * Returns false when no record does, or when a new SYN ended the record (RFC 6191, counted
 * `timeWaitReused`): the segment then goes on to the listeners.
 */
export function timeWaitInput(ctx: TcpContext, seg: Segment): boolean {
  const record = ctx.table.findTimeWait(seg.destination, seg.dstPort, seg.source, seg.srcPort);
  if (record === undefined) return false;
  if (seg.syn && !seg.hasAck && !seg.rst && synMayReuse(record, seg)) {
    ctx.timeWaitRecords.end(record);
    ctx.counters.incSlot(ctx.slots.timeWaitReused);
    return false;
  }
  recordArrives(ctx, record, seg);
  return true;
}

/** RFC 6191 §2: with timestamps, the SYN's TSval must be newer; without, its sequence number must be above RCV.NXT. */
export function synMayReuse(record: TimeWaitRecord, seg: Segment): boolean {
  if (record.tsEnabled && seg.options.hasTimestamps) return seqGt(seg.options.tsVal, record.tsRecent);
  return seqGt(seg.seq, record.rcvNxt);
}

/** The checks of a synchronized state, in the RFC's order, as they fall out in TIME-WAIT. */
function recordArrives(ctx: TcpContext, record: TimeWaitRecord, seg: Segment): void {
  const now = ctx.now();
  const o = seg.options;
  if (
    record.tsEnabled &&
    o.hasTimestamps &&
    !seg.rst &&
    seqLt(o.tsVal, record.tsRecent) &&
    now - record.tsRecentAge < PAWS_IDLE_MS
  ) {
    sendAck(ctx, record, now, false);
    return;
  }
  if (!inReceiveWindow(record.rcvNxt, record.rcvWnd, seg)) {
    if (seg.rst) return;
    // Bytes received again draw a D-SACK (RFC 2883); a retransmitted FIN restarts the wait.
    const duplicate = record.sackEnabled && seg.payloadLength > 0;
    if (seg.fin) restart(ctx, record, now);
    sendAck(ctx, record, now, duplicate, seg.seq, seqAdd(seg.seq, seg.payloadLength));
    return;
  }
  if (seg.rst) {
    // RFC 5961 §3.2: only a RST exactly at RCV.NXT ends the wait, any other draws a challenge ACK.
    if (seg.seq === record.rcvNxt) ctx.timeWaitRecords.end(record);
    else sendAck(ctx, record, now, false);
    return;
  }
  if (seg.syn) {
    // RFC 5961 §4.2: a challenge ACK.
    sendAck(ctx, record, now, false);
    return;
  }
  if (!seg.hasAck) return;
  if (record.tsEnabled && o.hasTimestamps && seqLe(seg.seq, record.lastAckSent) && !seqLt(o.tsVal, record.tsRecent)) {
    record.tsRecent = o.tsVal;
    record.tsRecentAge = now;
  }
  // RFC 9293: an ACK of something never sent is answered; RFC 5961 §5.2: one older than the peer
  // could still send draws a challenge ACK. Either way nothing more of the segment is processed.
  if (seqGt(seg.ack, record.sndNxt) || seqLt(seg.ack, seqAdd(record.sndNxt, -Math.max(record.maxSndWnd, 1)))) {
    sendAck(ctx, record, now, false);
    return;
  }
  if (record.sackEnabled && o.sackBlockCount > 0 && carriesDsack(seg)) ctx.counters.inc('dsacksReceived');
  if (seg.fin) {
    restart(ctx, record, now);
    sendAck(ctx, record, now, false);
  }
}

/** True when the segment's first SACK block reports data received twice (RFC 2883 §4). */
function carriesDsack(seg: Segment): boolean {
  const o = seg.options;
  const left = o.sackEdges[0]!;
  const right = o.sackEdges[1]!;
  let dsack = seqLe(right, seg.ack);
  if (!dsack && o.sackBlockCount > 1) dsack = seqLe(o.sackEdges[2]!, left) && seqLe(right, o.sackEdges[3]!);
  return dsack && seqLt(left, right);
}

/** A repeated FIN: 2*MSL again from now (RFC 9293 §3.10.7.4). */
function restart(ctx: TcpContext, record: TimeWaitRecord, now: number): void {
  ctx.timeWaitRecords.restart(record, now + ctx.settings.timeWaitMs);
}

/**
 * Sends the record's ACK: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` with the announced window, the
 * timestamps when negotiated and, when `dsack`, the D-SACK block `[left, right)`.
 */
function sendAck(ctx: TcpContext, record: TimeWaitRecord, now: number, dsack: boolean, left = 0, right = 0): void {
  const w = ackWriter;
  w.srcPort = record.localPort;
  w.dstPort = record.remotePort;
  w.seq = record.sndNxt;
  w.ack = record.rcvNxt;
  w.window = record.windowField;
  w.timestamps = record.tsEnabled;
  if (record.tsEnabled) {
    w.tsVal = tsClock(now, record.tsOffset);
    w.tsEcr = record.tsRecent;
  }
  w.dsack = dsack && seqLt(left, right);
  w.dsackEdges[0] = left;
  w.dsackEdges[1] = right;
  if (w.dsack) ctx.counters.inc('dsacksSent');
  record.rcvWnd = record.rcvWndAnnounced;
  if (!ctx.port.send(record.localAddress, record.remoteAddress, w.length, w, record.dontFragment))
    ctx.counters.inc('sendFailures');
}
