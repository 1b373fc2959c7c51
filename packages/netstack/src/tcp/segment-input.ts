/**
 * The entry of every segment from the IP layer: checked (length, options, checksum), then
 * demultiplexed to its connection ({@link segmentArrives}), to a listener ({@link listenerInput}),
 * or answered with RST. One {@link Segment} view is filled per segment; nothing is allocated.
 */
import { IP_PROTO_TCP, TcpPacket, ipv4PseudoHeaderSum, onesComplementSum, type Ipv4Address } from '@postern/wire';
import type { TcpContext } from './context.js';
import { segmentArrives } from './input.js';
import { listenerInput } from './passive-open.js';
import type { Segment } from './segment.js';
import { seqGt } from './seq.js';
import type { Tcb } from './tcb.js';
import { timeWaitInput } from './time-wait-input.js';

/**
 * Receives one TCP segment (the IPv4 payload) from `source` to `destination`. Bad segments are
 * counted and dropped; nothing throws.
 */
export function receiveSegment(
  ctx: TcpContext,
  source: Ipv4Address,
  destination: Ipv4Address,
  bytes: Uint8Array,
): void {
  ctx.counters.incSlot(ctx.segmentsReceivedSlot);
  const seg = ctx.segment;
  if (!seg.fillCommon(bytes, source, destination)) {
    let packet: TcpPacket;
    try {
      packet = TcpPacket.checked(bytes);
    } catch {
      ctx.counters.inc('malformed');
      return;
    }
    seg.fill(packet, source, destination);
  }
  // `length`, not `byteLength`: equal for a Uint8Array, but Node 20's optimizing compiler inlines only
  // the first (`byteLength` is a generic property-load call per segment).
  if (
    ctx.settings.verifyChecksums &&
    onesComplementSum(bytes, ipv4PseudoHeaderSum(source, destination, IP_PROTO_TCP, bytes.length)) !== 0xffff
  ) {
    ctx.counters.inc('badChecksum');
    return;
  }
  let tcb = ctx.table.find(destination, seg.dstPort, source, seg.srcPort);
  if (tcb !== undefined && tcb.state === 'TIME-WAIT' && seg.syn && !seg.hasAck && !seg.rst && synMayReuse(tcb, seg)) {
    // RFC 6191: a new incarnation may take over a TIME-WAIT 4-tuple.
    ctx.release(tcb, 'normal');
    ctx.counters.incSlot(ctx.slots.timeWaitReused);
    tcb = undefined;
  }
  if (tcb !== undefined) {
    segmentArrives(ctx, tcb, seg);
    ctx.afterSegment(tcb);
    return;
  }
  if (timeWaitInput(ctx, seg)) return;
  const listener = ctx.listeners.find(destination, seg.dstPort);
  if (listener !== undefined) {
    listenerInput(ctx, listener, seg);
    return;
  }
  ctx.counters.inc('noSocket');
  if (!seg.rst) ctx.sendResetFor(seg);
}

/** RFC 6191 §2: with timestamps, the SYN's TSval must be newer; without, its sequence number must be above RCV.NXT. */
function synMayReuse(tcb: Tcb, seg: Segment): boolean {
  if (tcb.tsEnabled && seg.options.hasTimestamps) return seqGt(seg.options.tsVal, tcb.tsRecent);
  return seqGt(seg.seq, tcb.rcvNxt);
}
