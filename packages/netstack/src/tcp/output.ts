/**
 * Segment building and the send decision.
 *
 * {@link SegmentBuilder} writes one segment straight into the outgoing frame (header, options,
 * payload copied from the send buffer, checksum) through the IP port's zero-copy send; one builder
 * serves every connection of a `Tcp`. {@link tcpOutput} decides what a connection sends now:
 * new data within `min(peer window, cwnd)`, with sender-side silly-window avoidance and Nagle
 * (RFC 9293 §3.8.6.2.1, RFC 896), the FIN after the last byte, and an ACK when one is owed.
 *
 * Options: a SYN carries MSS, window scale, SACK-permitted and timestamps (on a SYN-ACK only the
 * ones the peer offered); later segments carry timestamps when negotiated and SACK blocks while
 * out-of-order data is held (3 blocks with timestamps, 4 without: 40 option bytes at most).
 */
import {
  IP_PROTO_TCP,
  TcpFlag,
  ipv4PseudoHeaderSum,
  onesComplementSumRange,
  type Ipv4Address,
  writeUint32,
} from '@postern/wire';
import type { TcpIpPort, TcpSegmentWriter } from './ip-port.js';
import { seqAdd, seqGt, seqLt, seqSub } from './seq.js';
import { AckUrgency, type Tcb } from './tcb.js';

/** TCP header without options. */
export const TCP_HEADER = 20;
/** Bytes the timestamps option takes on every segment when negotiated (NOP, NOP, kind 8). */
export const TCP_TIMESTAMP_OPTION_SPACE = 12;
/** Largest window shift we offer (RFC 7323 caps the shift at 14). */
export const TCP_MAX_WINDOW_SHIFT = 14;

/**
 * Stack-wide counters of the loss machinery (each also counted per connection in its stats):
 * retransmission timeouts, recovery episodes, RACK loss marks and reordering timeouts, tail loss
 * probes, undone (spurious) responses, PRR-paced recoveries, D-SACKs received and sent.
 */
export type TcpLossEventName =
  | 'rtoExpiries'
  | 'fastRecoveries'
  | 'rackLossMarks'
  | 'rackReorderTimeouts'
  | 'tailLossProbes'
  | 'spuriousUndos'
  | 'frtoSpuriousRtos'
  | 'dsackUndos'
  | 'tlpLossRecoveries'
  | 'tlpUnneeded'
  | 'prrRecoveries'
  | 'dsacksReceived'
  | 'dsacksSent';

/** The view of a `Tcp` that output needs. */
export interface TcpOutputContext {
  readonly port: TcpIpPort;
  readonly builder: SegmentBuilder;
  /** Current time, ms. */
  now(): number;
  /** Arms or re-arms the retransmission timer when it is not running (`now`: the time, if the caller has read it). */
  armRetransmit(tcb: Tcb, now?: number): void;
  /** Arms the persist timer (zero window, data waiting, nothing in flight). */
  armPersist(tcb: Tcb): void;
  /** An ACK just went out: the delayed-ACK timer stops, and nothing is owed at the end of the batch. */
  ackSent(tcb: Tcb): void;
  /** Counts a segment refused by the IP layer. */
  countSendFailure(): void;
  /** Counts the start of a Nagle hold (stack-wide; the caller counts it on the connection). */
  countNagleHold(): void;
  /** Counts a loss-recovery event stack-wide (the caller counts it on the connection). */
  countLossEvent(name: TcpLossEventName, by?: number): void;
}

/**
 * The timestamp clock (RFC 7323 §5.4): milliseconds of the scheduler clock plus the connection's
 * random offset, modulo 2^32.
 */
export function tsClock(now: number, offset: number): number {
  return (Math.floor(now) + offset) >>> 0;
}

/** Writes segments in place. Fields are set by {@link SegmentBuilder.send}, then the IP port calls `writeSegment`. */
export class SegmentBuilder implements TcpSegmentWriter {
  private srcPort = 0;
  private dstPort = 0;
  private seq = 0;
  private ack = 0;
  private flags = 0;
  private window = 0;
  private headerLength = TCP_HEADER;
  private tcb: Tcb | undefined;
  private dataOffset = 0;
  private dataLength = 0;
  private synOptions = false;
  private mss = 0;
  private windowShift = -1;
  private sackPermitted = false;
  private hasTimestamps = false;
  private tsVal = 0;
  private tsEcr = 0;
  private sackCount = 0;
  private readonly sackEdges = new Uint32Array(8);
  /** The edges after a D-SACK block (a view made once). */
  private readonly sackTail = this.sackEdges.subarray(2);

  /**
   * Sends one segment for `tcb`: `dataLength` bytes from its send buffer at `dataOffset` (bytes
   * past `sndUna`), with `flags` (ACK added in every state but SYN-SENT's first SYN), the current
   * receive window and the options that apply. `now`: the time, when the caller has read it already.
   * `seq` may be given unsigned or as a signed 32-bit value (`seq | 0`: a small integer, no heap
   * number for the call when it is above 2^31); the same segment goes either way.
   * @returns false if the IP layer refused it.
   */
  send(
    ctx: TcpOutputContext,
    tcb: Tcb,
    seq: number,
    flags: number,
    dataOffset: number,
    dataLength: number,
    now: number = ctx.now(),
  ): boolean {
    this.tcb = tcb;
    this.srcPort = tcb.localPort;
    this.dstPort = tcb.remotePort;
    this.seq = seq;
    const syn = (flags & TcpFlag.SYN) !== 0;
    if (tcb.state !== 'SYN-SENT' || !syn) flags |= TcpFlag.ACK;
    this.flags = flags;
    this.ack = (flags & TcpFlag.ACK) !== 0 ? tcb.rcvNxt : 0;
    if (syn) {
      // RFC 7323 §2.2: the window of a SYN is never scaled.
      this.window = Math.min(tcb.recvBuffer.window, 0xffff);
      if (tcb.state !== 'SYN-SENT') tcb.rcvAdvRight = seqAdd(tcb.rcvNxt, this.window);
    } else {
      this.window = advertiseWindow(tcb);
    }
    this.dataOffset = dataOffset;
    this.dataLength = dataLength;
    this.synOptions = syn;
    let options = 0;
    const active = tcb.state === 'SYN-SENT';
    if (syn) {
      this.mss = tcb.advertisedMss;
      options += 4;
      this.windowShift = active || tcb.wsEnabled ? tcb.rcvWndShift : -1;
      if (this.windowShift >= 0) options += 4;
      this.sackPermitted = active || tcb.sackEnabled;
      this.hasTimestamps = active || tcb.tsEnabled;
      options += this.hasTimestamps ? TCP_TIMESTAMP_OPTION_SPACE : this.sackPermitted ? 4 : 0;
    } else {
      this.sackPermitted = false;
      this.windowShift = -1;
      this.hasTimestamps = tcb.tsEnabled;
      if (this.hasTimestamps) options += TCP_TIMESTAMP_OPTION_SPACE;
    }
    this.sackCount = 0;
    if (this.hasTimestamps) {
      this.tsVal = tsClock(now, tcb.tsOffset);
      this.tsEcr = (flags & TcpFlag.ACK) !== 0 ? tcb.tsRecent : 0;
    }
    if (!syn && tcb.sackEnabled && (flags & TcpFlag.RST) === 0) {
      const max = this.hasTimestamps ? 3 : 4;
      let first = 0;
      if (tcb.dsackPending && (flags & TcpFlag.ACK) !== 0) {
        // RFC 2883: the duplicate range goes first, then the usual blocks.
        this.sackEdges[0] = tcb.dsackLeft;
        this.sackEdges[1] = tcb.dsackRight;
        first = 1;
        tcb.dsackPending = false;
        tcb.stats.dsacksSent++;
        ctx.countLossEvent('dsacksSent');
      }
      this.sackCount =
        first +
        (tcb.recvBuffer.outOfOrderRanges > 0
          ? tcb.recvBuffer.writeSackEdges(tcb.rcvNxt, first === 0 ? this.sackEdges : this.sackTail, max - first)
          : 0);
      if (this.sackCount > 0) options += 4 + 8 * this.sackCount;
    }
    this.headerLength = TCP_HEADER + options;
    if ((flags & TcpFlag.ACK) !== 0) {
      tcb.lastAckSent = tcb.rcvNxt;
      tcb.ackUrgency = AckUrgency.NONE;
      tcb.unackedSegments = 0;
      ctx.ackSent(tcb);
    }
    tcb.segmentsOut++;
    const seqSpace = dataLength + ((flags & TcpFlag.FIN) !== 0 ? 1 : 0);
    if (seqSpace > 0 && !syn && (flags & TcpFlag.RST) === 0 && tcb.sackEnabled) {
      const retransmission = seqLt(seq, tcb.sndMax);
      // Signed 32-bit values for the log (it takes either form): no heap number for the call.
      tcb.sent.sent(seq | 0, (seq + seqSpace) | 0, now, retransmission);
      if (retransmission && tcb.undoArmed) {
        tcb.undoRetrans++;
        tcb.undoLedger.note(seq >>> 0, seqAdd(seq, seqSpace));
      }
    }
    const ok = ctx.port.send(
      tcb.localAddress,
      tcb.remoteAddress,
      this.headerLength + dataLength,
      this,
      tcb.dontFragment,
    );
    this.tcb = undefined;
    if (!ok) ctx.countSendFailure();
    return ok;
  }

  /** @inheritDoc */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
    this.writeInto(segment, 0, segment.length, source, destination);
  }

  /** @inheritDoc */
  writeSegmentAt(segment: Uint8Array, at: number, length: number, source: Ipv4Address, destination: Ipv4Address): void {
    this.writeInto(segment, at, length, source, destination);
  }

  /** Both writers: the `length`-byte segment at `segment[base]`. */
  private writeInto(
    segment: Uint8Array,
    base: number,
    length: number,
    source: Ipv4Address,
    destination: Ipv4Address,
  ): void {
    // The 32-bit fields go to the writers as signed 32-bit values (`| 0`, the same bytes written):
    // small integers, where a sequence number or timestamp above 2^31 would be a new heap number per
    // call when the writer is not inlined.
    writeHeader(
      segment,
      base,
      this.srcPort,
      this.dstPort,
      this.seq | 0,
      this.ack | 0,
      this.headerLength,
      this.flags,
      this.window,
    );
    let at = base + TCP_HEADER;
    if (this.synOptions) {
      segment[at] = 2;
      segment[at + 1] = 4;
      segment[at + 2] = this.mss >>> 8;
      segment[at + 3] = this.mss & 0xff;
      at += 4;
      if (this.sackPermitted && this.hasTimestamps) {
        segment[at] = 4;
        segment[at + 1] = 2;
        at = writeTimestamps(segment, at + 2, this.tsVal, this.tsEcr);
      } else if (this.hasTimestamps) {
        segment[at] = 1;
        segment[at + 1] = 1;
        at = writeTimestamps(segment, at + 2, this.tsVal, this.tsEcr);
      } else if (this.sackPermitted) {
        segment[at] = 1;
        segment[at + 1] = 1;
        segment[at + 2] = 4;
        segment[at + 3] = 2;
        at += 4;
      }
      if (this.windowShift >= 0) {
        segment[at] = 1;
        segment[at + 1] = 3;
        segment[at + 2] = 3;
        segment[at + 3] = this.windowShift;
        at += 4;
      }
    } else {
      writeSegmentOptions(
        segment,
        at,
        this.hasTimestamps,
        this.tsVal | 0,
        this.tsEcr | 0,
        this.sackEdges,
        this.sackCount,
      );
    }
    if (this.dataLength > 0) {
      this.tcb!.sendBuffer.copyOut(this.dataOffset, this.dataLength, segment, base + this.headerLength);
    }
    finishChecksumAt(segment, base, length, source, destination);
  }
}

/**
 * Writes the fixed 20-byte header of the segment that starts at `b[base]`, with a zero checksum (`seq` and `ack`
 * unsigned or as signed 32-bit values).
 */
export function writeHeader(
  b: Uint8Array,
  base: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLength: number,
  flags: number,
  window: number,
): void {
  b[base] = srcPort >>> 8;
  b[base + 1] = srcPort & 0xff;
  b[base + 2] = dstPort >>> 8;
  b[base + 3] = dstPort & 0xff;
  writeUint32(b, base + 4, seq);
  writeUint32(b, base + 8, ack);
  b[base + 12] = (headerLength >>> 2) << 4;
  b[base + 13] = flags;
  b[base + 14] = window >>> 8;
  b[base + 15] = window & 0xff;
  b[base + 16] = 0;
  b[base + 17] = 0;
  b[base + 18] = 0;
  b[base + 19] = 0;
}

/** Fills the checksum of a complete segment. */
export function finishChecksum(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
  finishChecksumAt(segment, 0, segment.length, source, destination);
}

/** {@link finishChecksum} for the complete `length`-byte segment at `b[base]` (summed in place, no view). */
export function finishChecksumAt(
  b: Uint8Array,
  base: number,
  length: number,
  source: Ipv4Address,
  destination: Ipv4Address,
): void {
  const sum =
    ~onesComplementSumRange(b, base, base + length, ipv4PseudoHeaderSum(source, destination, IP_PROTO_TCP, length)) &
    0xffff;
  b[base + 16] = sum >>> 8;
  b[base + 17] = sum & 0xff;
}

function writeTimestamps(b: Uint8Array, at: number, tsVal: number, tsEcr: number): number {
  b[at] = 8;
  b[at + 1] = 10;
  writeUint32(b, at + 2, tsVal);
  writeUint32(b, at + 6, tsEcr);
  return at + 10;
}

/**
 * Writes the options of a segment other than a SYN at `at` (just after the fixed header): NOP, NOP
 * and the timestamps option when `timestamps`; then, when `sackCount > 0`, NOP, NOP and a SACK option
 * with that many blocks, their left and right edges in turn from `sackEdges`. Returns the offset after
 * the options. The segment's data offset must already count them. `tsVal` and `tsEcr` may be given
 * unsigned or as signed 32-bit values (the same bytes are written).
 */
export function writeSegmentOptions(
  segment: Uint8Array,
  at: number,
  timestamps: boolean,
  tsVal: number,
  tsEcr: number,
  sackEdges: ArrayLike<number>,
  sackCount: number,
): number {
  if (timestamps) {
    segment[at] = 1;
    segment[at + 1] = 1;
    at = writeTimestamps(segment, at + 2, tsVal, tsEcr);
  }
  if (sackCount > 0) {
    segment[at] = 1;
    segment[at + 1] = 1;
    segment[at + 2] = 5;
    segment[at + 3] = 2 + 8 * sackCount;
    at += 4;
    for (let i = 0; i < 2 * sackCount; i++) {
      writeUint32(segment, at, sackEdges[i]!);
      at += 4;
    }
  }
  return at;
}

/**
 * The window field to send now, with receiver-side silly-window avoidance (RFC 9293 §3.8.6.2.2):
 * the right edge moves only by at least `min(buffer / 2, MSS)`, and it never moves left. Updates
 * `tcb.rcvAdvRight`.
 */
export function advertiseWindow(tcb: Tcb): number {
  const free = tcb.recvBuffer.window;
  const current = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  const step = Math.min(tcb.recvBuffer.capacity >>> 1, tcb.advertisedMss);
  let offered = free >= current + step || free === tcb.recvBuffer.capacity ? free : current;
  const field = Math.min(offered >>> tcb.rcvWndShift, 0xffff);
  offered = field << tcb.rcvWndShift;
  if (offered < current) {
    // Rounding by the scale must not shrink the window: round up instead.
    const up = Math.min(Math.ceil(current / (1 << tcb.rcvWndShift)), 0xffff);
    tcb.rcvAdvRight = seqAdd(tcb.rcvNxt, up << tcb.rcvWndShift);
    return up;
  }
  tcb.rcvAdvRight = seqAdd(tcb.rcvNxt, offered);
  return field;
}

/** How much the window would open if we advertised now (for window-update decisions after a read). */
export function windowOpening(tcb: Tcb): number {
  const current = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  return tcb.recvBuffer.window - current;
}

/**
 * Largest payload of the next segment: the send MSS minus the SACK option it will carry (the
 * timestamps option is already counted in `sendMss`), so a segment never outgrows the MTU.
 */
export function segmentPayloadLimit(tcb: Tcb): number {
  if (!tcb.sackEnabled) return tcb.sendMss;
  const ranges = tcb.recvBuffer.outOfOrderRanges + (tcb.dsackPending ? 1 : 0);
  if (ranges === 0) return tcb.sendMss;
  const blocks = Math.min(ranges, tcb.tsEnabled ? 3 : 4);
  return Math.max(1, tcb.sendMss - 4 - 8 * blocks);
}

/**
 * Bytes that may be sent from `sndNxt` now: the peer's window beyond `sndNxt`, and the congestion
 * window's room. With SACK, outside loss recovery and when sending new data, the room is cwnd minus
 * the pipe (bytes neither SACKed nor deemed lost, as Linux counts its packets in flight), so every
 * SACK that reveals a delivery lets new data go out while RACK waits out its reordering window: the
 * ACK clock keeps running and a loss never drains the flight down to the lost segment alone. In
 * recovery (PRR paces sending) and when going back over the flight, the room is
 * `SND.UNA + cwnd - SND.NXT`. Negative when the flight exceeds a window.
 */
export function usableWindow(tcb: Tcb): number {
  const peer = seqSub(seqAdd(tcb.sndUna, tcb.sndWnd), tcb.sndNxt);
  const room =
    tcb.sackEnabled && !tcb.inRecovery && tcb.sndNxt === tcb.sndMax
      ? tcb.cc.cwnd - tcb.sent.inFlight()
      : seqSub(seqAdd(tcb.sndUna, tcb.cc.cwnd), tcb.sndNxt);
  return Math.min(peer, room);
}

/** Bytes in the send buffer not sent yet (from `sndNxt`). */
export function unsentBytes(tcb: Tcb): number {
  const sent = seqSub(tcb.sndNxt, tcb.sndUna);
  return Math.max(0, tcb.sendBuffer.length - sent);
}

/** Bytes in flight: sent (or retransmitted after a timeout) and not acknowledged. */
export function flightSize(tcb: Tcb): number {
  return seqSub(tcb.sndMax, tcb.sndUna);
}

/**
 * Sends what the connection may send now: new data (and the FIN) within the usable window, then an
 * ACK if one is owed at urgency `ackLevel` or higher and no data segment carried it. `force`
 * overrides Nagle (used for the last segment of a persist probe, never needed otherwise).
 * @returns the number of segments sent.
 */
export function tcpOutput(ctx: TcpOutputContext, tcb: Tcb, ackLevel: number = AckUrgency.NOW): number {
  const state = tcb.state;
  let sent = 0;
  if (
    state === 'ESTABLISHED' ||
    state === 'CLOSE-WAIT' ||
    state === 'FIN-WAIT-1' ||
    state === 'CLOSING' ||
    state === 'LAST-ACK'
  ) {
    sent = sendData(ctx, tcb);
  }
  if (
    sent === 0 &&
    tcb.ackUrgency >= ackLevel &&
    tcb.ackUrgency !== AckUrgency.NONE &&
    state !== 'SYN-SENT' &&
    state !== 'CLOSED'
  ) {
    ctx.builder.send(ctx, tcb, tcb.sndMax, 0, 0, 0);
    sent = 1;
  }
  return sent;
}

function sendData(ctx: TcpOutputContext, tcb: Tcb): number {
  let sent = 0;
  // Nothing unsent and no FIN to come (the usual case once a reply went out): the loop would stop
  // at once, and nothing was sent past SND.NXT that SACKs could let it skip.
  if (tcb.finQueued || tcb.sendBuffer.length > seqSub(tcb.sndNxt, tcb.sndUna)) sent = sendSegments(ctx, tcb);
  // Data waits, nothing is in flight to bring an ACK: the window (zero, or too small to use) must be
  // probed or forced open by the persist timer (RFC 9293 §3.8.6.1, §3.8.6.2.1).
  if (unsentBytes(tcb) > 0 && flightSize(tcb) === 0) ctx.armPersist(tcb);
  // Out of data with room in the window: rate samples of what follows are application-limited.
  else if (tcb.sackEnabled && unsentBytes(tcb) === 0 && tcb.sent.inFlight() < tcb.cc.cwnd)
    tcb.sent.rate.markAppLimited(tcb.sent.inFlight());
  return sent;
}

/** The segments of {@link sendData}: data (and the FIN) while the windows, Nagle and SWS avoidance allow. */
function sendSegments(ctx: TcpOutputContext, tcb: Tcb): number {
  const mss = segmentPayloadLimit(tcb);
  let sent = 0;
  // The time, read once for every segment of this call (a clock read outside a scheduler run costs).
  let now: number | undefined;
  for (;;) {
    const holeEnd = skipSacked(tcb);
    const offset = seqSub(tcb.sndNxt, tcb.sndUna);
    const buffered = tcb.sendBuffer.length;
    const unsent = Math.max(0, buffered - offset);
    const finPosition = seqAdd(tcb.sndUna, buffered);
    const finDue = tcb.finQueued && !seqGt(tcb.sndNxt, finPosition) && !(tcb.finSent && seqLt(tcb.finSeq, tcb.sndNxt));
    const usable = usableWindow(tcb);
    let length = Math.min(
      unsent,
      mss,
      Math.max(0, usable),
      holeEnd === undefined ? unsent : seqSub(holeEnd, tcb.sndNxt),
    );
    const retransmission = seqLt(tcb.sndNxt, tcb.sndMax);
    if (length > 0 && !retransmission) {
      if (length < unsent && length < mss) {
        // Window-limited runt: send only if it is at least half the largest window seen (sender
        // SWS), or when the persist timer forces it.
        if (length < tcb.maxSndWnd >>> 1 && !tcb.forceSend) length = 0;
        tcb.forceSend = false;
      } else if (length < mss && !tcb.noDelay && flightSize(tcb) > 0 && !finDue) {
        length = 0; // Nagle: a small segment waits while data is unacknowledged.
        if (!tcb.nagleHolding) {
          tcb.nagleHolding = true;
          tcb.stats.nagleHeld++;
          ctx.countNagleHold();
        }
      }
    }
    const fin = finDue && length === unsent && (usable > length || tcb.sndWnd === 0 || length > 0 || usable >= 0);
    if (length === 0 && !fin) break;
    let flags = 0;
    if (length > 0 && length === unsent) flags |= TcpFlag.PSH;
    if (fin) flags |= TcpFlag.FIN;
    const seq = tcb.sndNxt;
    now ??= ctx.now();
    if (!retransmission && length > 0 && tcb.rttSeq < 0 && !tcb.tsEnabled) {
      tcb.rttSeq = seq;
      tcb.rttSentAt = now;
    }
    ctx.builder.send(ctx, tcb, seq | 0, flags, offset, length, now);
    if (retransmission) tcb.stats.retransmits++;
    else {
      tcb.bytesOut += length;
      if (length > 0) tcb.nagleHolding = false;
    }
    tcb.sndNxt = seqAdd(seq, length + (fin ? 1 : 0));
    if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
    if (fin) {
      tcb.finSent = true;
      tcb.finSeq = seqAdd(seq, length);
    }
    ctx.armRetransmit(tcb, now);
    sent++;
    // The FIN went, or everything buffered did and no FIN is queued (SND.NXT reached SND.MAX: no
    // SACKed bytes to skip): another round would find nothing to send.
    if (fin || (length === unsent && !tcb.finQueued)) break;
  }
  return sent;
}

/**
 * Going back over the flight after a timeout or a path MTU drop (`sndNxt < sndMax`), moves `sndNxt`
 * past bytes the peer SACKed (RFC 6675 §5.1: they are not resent) and returns where the hole it
 * stops in ends (the next SACKed byte), or `undefined` when nothing is SACKed ahead. Counts the
 * bytes skipped in `rtoSackedSkipped`.
 */
function skipSacked(tcb: Tcb): number | undefined {
  const sb = tcb.scoreboard;
  if (!tcb.sackEnabled || sb.sackedBytes === 0 || !seqLt(tcb.sndNxt, tcb.sndMax)) return undefined;
  const hole = sb.nextUnsackedHole(tcb.sndNxt, tcb.sndMax);
  const start = hole === undefined ? tcb.sndMax : hole.start;
  const end = hole === undefined ? undefined : hole.end;
  if (seqGt(start, tcb.sndNxt)) {
    tcb.stats.rtoSackedSkipped += seqSub(start, tcb.sndNxt);
    tcb.sndNxt = start;
  }
  return end !== undefined && seqLt(end, tcb.sndMax) ? end : undefined;
}

/**
 * Retransmits up to one MSS starting at `seq` (inside the flight), without moving `sndNxt`.
 * Used by fast retransmit and loss recovery. The FIN is resent when the range reaches it.
 * @returns the sequence space retransmitted (0 if nothing was there).
 */
export function retransmitRange(ctx: TcpOutputContext, tcb: Tcb, seq: number, maxLength: number): number {
  const offset = seqSub(seq, tcb.sndUna);
  const buffered = tcb.sendBuffer.length;
  const length = Math.max(0, Math.min(maxLength, segmentPayloadLimit(tcb), buffered - offset, seqSub(tcb.sndMax, seq)));
  const fin = tcb.finSent && seqAdd(seq, length) === tcb.finSeq && seqLt(tcb.finSeq, tcb.sndMax);
  if (length === 0 && !fin) return 0;
  ctx.builder.send(ctx, tcb, seq, fin ? TcpFlag.FIN : 0, offset, length);
  tcb.stats.retransmits++;
  ctx.armRetransmit(tcb);
  return length + (fin ? 1 : 0);
}
