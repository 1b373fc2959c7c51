/**
 * {@link TcpSegmentCoalescer}: merges consecutive TCP/IPv4 frames of one flow into one GSO
 * super-frame behind a virtio-net header, so that a TAP descriptor opened with `IFF_VNET_HDR` takes
 * them in one `write` and the kernel runs its receive path once for all of them (TCP segmentation
 * offload, seen from the NIC's side).
 *
 * The TAP driver feeds it the frames of one TX flush in order: {@link TcpSegmentCoalescer.start}
 * copies a frame into the reused buffer behind the header; {@link TcpSegmentCoalescer.append} adds
 * the next frame's payload when it continues the same run, else returns false (the caller then
 * writes the run with {@link TcpSegmentCoalescer.finish} and starts a new one with that frame).
 * Frames are never reordered: a frame that does not merge ends the run before it.
 *
 * A frame can head a run when it is Ethernet + IPv4 without options, not a fragment, with a valid
 * header checksum, carrying TCP with only ACK (+ PSH) set and a payload of even length; the run is
 * closed by a frame with PSH or a payload shorter than the first's. A frame joins a run when its
 * Ethernet header, IPv4 header (but for length, ID and checksum) and TCP header (but for sequence
 * number, PSH and checksum) equal the first frame's, its sequence number continues the run, its
 * payload is no longer than the first's, and the merged IP packet stays within 65,535 bytes.
 *
 * Checksums: the super-frame's IPv4 header checksum is computed afresh; its TCP checksum is the
 * full, correct one of the merged segment, derived from each frame's own checksum (the sum over a
 * segment's header, pseudo-header and payload is known from its checksum, so the payload's share
 * follows without reading the payload). The kernel still verifies it (no NEEDS_CSUM, no
 * DATA_VALID): a frame whose checksum was wrong (damaged on its way to the driver, by a fault
 * injector say) spoils the super-frame's and the kernel drops the merged segment, as it would
 * have dropped the frame; nothing damaged is ever vouched for.
 */
import { VNET_GSO_TCPV4, VNET_HDR_LEN, writeVnetHeader } from './vnet-header.js';
import { copyInto, viewOf } from '../byte-views.js';

const ETH_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IPV4_HEADER = 20;
const IP_PROTO_TCP = 6;
const TCP_HEADER_MIN = 20;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
/** Where the TCP header starts in a frame that can be merged (Ethernet + IPv4 without options). */
const TCP_AT = ETH_HEADER + IPV4_HEADER;
/** The largest IPv4 packet. */
const MAX_IP_PACKET = 0xffff;

/** The 16-bit big-endian words of `buf[start, end)` added up (an odd last byte is the high half of a word); not folded. */
function sumWords(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** A ones'-complement sum folded to 16 bits. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** True when `a[aAt, aAt + n)` equals `b[bAt, bAt + n)`. */
function sameBytes(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/**
 * Builds virtio-net frames for a TAP opened with `IFF_VNET_HDR`, merging runs of TCP segments into
 * GSO super-frames (see the module documentation). One instance per driver; it owns one buffer of
 * `VNET_HDR_LEN + max(14 + 65,535, maxFrame)` bytes, reused for every frame written.
 */
export class TcpSegmentCoalescer {
  /** See {@link buffer}. */
  private frameBuffer: Uint8Array;
  private segmentCount = 0;
  /** Bytes of the first frame (no FCS). */
  private firstLength = 0;
  /** Whether more frames may join the run. */
  private open = false;
  /** Ethernet + IPv4 + TCP header bytes of the run's frames. */
  private headerLength = 0;
  /** The first frame's payload bytes: every frame but the last has this many. */
  private segmentSize = 0;
  /** The sequence number the next frame must have. */
  private nextSeq = 0;
  /** Payload bytes in the run. */
  private payloadBytes = 0;
  /** The TCP flags of the run's last frame. */
  private lastFlags = 0;
  /** The pseudo-header's sum without the TCP length: addresses and protocol. */
  private pseudoBase = 0;
  /** The payloads' share of the TCP checksum, added up over the run (not folded). */
  private payloadSum = 0;
  /** False once {@link stopMerging} was called: every frame then goes out alone. */
  private merging = true;

  /** @param maxFrame the longest frame (no FCS) the driver writes; the buffer holds it or a 64 KiB super-frame. */
  constructor(maxFrame: number) {
    this.frameBuffer = new Uint8Array(VNET_HDR_LEN + Math.max(ETH_HEADER + MAX_IP_PACKET, maxFrame));
  }

  /**
   * The frame being built: the virtio-net header, then the frame. Valid up to what {@link finish}
   * returns. The same buffer for every frame, until {@link replaceBuffer}.
   */
  get buffer(): Uint8Array {
    return this.frameBuffer;
  }

  /**
   * Builds the next frames in a fresh buffer of the same size, leaving the current one (and the frame
   * {@link finish} completed in it) to whoever holds it: for a write the kernel did not take at once,
   * which still reads the frame later. Call between {@link finish} and the next {@link start}.
   */
  replaceBuffer(): void {
    this.frameBuffer = new Uint8Array(this.frameBuffer.length);
  }

  /**
   * From now on every frame goes out alone, behind a header of zeros: for a kernel that refuses
   * GSO frames (the driver calls this when a super-frame's `write` fails with EINVAL).
   */
  stopMerging(): void {
    this.merging = false;
  }

  /** Whether runs are still merged (true until {@link stopMerging}). */
  get mergingEnabled(): boolean {
    return this.merging;
  }

  /** Frames in the run being built (0 before the first {@link start} and after {@link finish}). */
  get segments(): number {
    return this.segmentCount;
  }

  /**
   * Starts a run with the first `length` bytes of `frame` (a whole frame without FCS), copied into
   * {@link buffer}. Whether later frames may join is decided here (see the module documentation).
   */
  start(frame: Uint8Array, length: number): void {
    const buffer = this.buffer;
    // The whole frame when it fits (its FCS room lands past `length`, never written): no view to make.
    if (frame.length <= buffer.length - VNET_HDR_LEN) copyInto(buffer, frame, VNET_HDR_LEN);
    else copyInto(buffer, viewOf(frame, 0, length), VNET_HDR_LEN);
    this.segmentCount = 1;
    this.firstLength = length;
    this.open = this.merging && this.canHeadRun(frame, length);
  }

  /** Decides whether `frame` can head a run, and if so records what the next frames must match. */
  private canHeadRun(frame: Uint8Array, length: number): boolean {
    if (length < TCP_AT + TCP_HEADER_MIN + 1) return false;
    if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return false;
    // The flags first: most frames that cannot head a run (a request's answer with PSH, a SYN) end here, before the header sum.
    const tcpFlags = frame[TCP_AT + 13]!;
    if (tcpFlags !== TCP_ACK) return false; // SYN, FIN, RST, URG, ECN bits, or PSH (which ends a run at once)
    if (!this.plainIpv4Tcp(frame, length)) return false;
    const tcpHeader = (frame[TCP_AT + 12]! >>> 4) * 4;
    if (tcpHeader < TCP_HEADER_MIN) return false;
    const headerLength = TCP_AT + tcpHeader;
    const payload = length - headerLength;
    if (payload <= 0 || (payload & 1) !== 0) return false; // an odd payload would shift the next one's words
    this.headerLength = headerLength;
    this.segmentSize = payload;
    this.payloadBytes = payload;
    this.lastFlags = tcpFlags;
    this.nextSeq = (this.seqOf(frame) + payload) >>> 0;
    this.pseudoBase = sumWords(frame, ETH_HEADER + 12, ETH_HEADER + 20) + IP_PROTO_TCP;
    this.payloadSum = this.payloadShare(frame, length);
    return true;
  }

  /**
   * The IPv4 part of the checks, for a frame whose Ethertype is IPv4: version 4 without options,
   * total length exactly the rest of the frame, not a fragment (DF allowed), TCP, a valid header checksum.
   */
  private plainIpv4Tcp(frame: Uint8Array, length: number): boolean {
    if (frame[ETH_HEADER] !== 0x45) return false;
    if (((frame[ETH_HEADER + 2]! << 8) | frame[ETH_HEADER + 3]!) !== length - ETH_HEADER) return false;
    if ((frame[ETH_HEADER + 6]! & 0x3f) !== 0 || frame[ETH_HEADER + 7] !== 0) return false; // MF or an offset
    if (frame[ETH_HEADER + 9] !== IP_PROTO_TCP) return false;
    return fold(sumWords(frame, ETH_HEADER, TCP_AT)) === 0xffff;
  }

  private seqOf(frame: Uint8Array): number {
    const at = TCP_AT + 4;
    return ((frame[at]! << 24) | (frame[at + 1]! << 16) | (frame[at + 2]! << 8) | frame[at + 3]!) >>> 0;
  }

  /**
   * The payload's share of a TCP checksum, from the frame's own: the sum over pseudo-header, header
   * (checksum field included) and payload of a correct segment is 0xffff (negative zero), so the
   * payload's sum is the negation of the other two.
   */
  private payloadShare(frame: Uint8Array, length: number): number {
    const tcpLength = length - TCP_AT;
    return 0xffff - fold(this.pseudoBase + tcpLength + sumWords(frame, TCP_AT, this.headerLength));
  }

  /**
   * Adds the first `length` bytes of `frame` (a whole frame without FCS) to the run when it
   * continues it (see the module documentation): its payload is copied into {@link buffer}.
   * Returns false, changing nothing, when it does not; the caller then finishes this run first.
   */
  append(frame: Uint8Array, length: number): boolean {
    if (!this.open) return false;
    const first = this.buffer;
    const b = VNET_HDR_LEN;
    const headerLength = this.headerLength;
    const payload = length - headerLength;
    if (payload <= 0 || payload > this.segmentSize) return false;
    if (headerLength - ETH_HEADER + this.payloadBytes + payload > MAX_IP_PACKET) return false;
    // Same Ethernet header; IPv4: same TOS, flags/offset, TTL, addresses (length, ID, checksum may differ).
    if (!sameBytes(frame, 0, first, b, ETH_HEADER + 2)) return false;
    if (!this.plainIpv4Tcp(frame, length)) return false;
    if (frame[ETH_HEADER + 1] !== first[b + ETH_HEADER + 1]) return false;
    if (!sameBytes(frame, ETH_HEADER + 6, first, b + ETH_HEADER + 6, 3)) return false;
    if (!sameBytes(frame, ETH_HEADER + 12, first, b + ETH_HEADER + 12, 8)) return false;
    // TCP: same ports, acknowledgment, data offset, window, urgent pointer and options; the next sequence number.
    if (!sameBytes(frame, TCP_AT, first, b + TCP_AT, 4)) return false;
    if (this.seqOf(frame) !== this.nextSeq) return false;
    if (!sameBytes(frame, TCP_AT + 8, first, b + TCP_AT + 8, 5)) return false;
    const tcpFlags = frame[TCP_AT + 13]!;
    if ((tcpFlags & ~TCP_PSH) !== TCP_ACK) return false;
    if (!sameBytes(frame, TCP_AT + 14, first, b + TCP_AT + 14, 2)) return false;
    if (!sameBytes(frame, TCP_AT + 18, first, b + TCP_AT + 18, headerLength - TCP_AT - 18)) return false;
    copyInto(first, viewOf(frame, headerLength, length), b + headerLength + this.payloadBytes);
    this.payloadBytes += payload;
    this.segmentCount++;
    this.nextSeq = (this.nextSeq + payload) >>> 0;
    this.lastFlags = tcpFlags;
    this.payloadSum += this.payloadShare(frame, length);
    if (payload < this.segmentSize || tcpFlags !== TCP_ACK) this.open = false;
    return true;
  }

  /**
   * Completes the frame in {@link buffer} and returns how many of its bytes to write (header
   * included). A run of one frame goes out as it came, behind a header of zeros. A longer run
   * becomes a GSO TCPv4 frame: the first frame's headers with the run's total length, a fresh IPv4
   * checksum, the last frame's flags and the merged segment's TCP checksum, then all payloads; the
   * header says `gso_size` = the first payload's length and `hdr_len` = the headers' length.
   * Afterwards {@link segments} is 0 until the next {@link start}.
   */
  finish(): number {
    const count = this.segmentCount;
    this.segmentCount = 0;
    this.open = false;
    const buf = this.buffer;
    if (count <= 1) {
      writeVnetHeader(buf, 0);
      return VNET_HDR_LEN + this.firstLength;
    }
    const ip = VNET_HDR_LEN + ETH_HEADER;
    const tcp = VNET_HDR_LEN + TCP_AT;
    const headerLength = this.headerLength;
    const ipLength = headerLength - ETH_HEADER + this.payloadBytes;
    buf[ip + 2] = ipLength >>> 8;
    buf[ip + 3] = ipLength & 0xff;
    buf[ip + 10] = 0;
    buf[ip + 11] = 0;
    const ipSum = ~fold(sumWords(buf, ip, ip + IPV4_HEADER)) & 0xffff;
    buf[ip + 10] = ipSum >>> 8;
    buf[ip + 11] = ipSum & 0xff;
    buf[tcp + 13] = this.lastFlags;
    buf[tcp + 16] = 0;
    buf[tcp + 17] = 0;
    const tcpLength = ipLength - IPV4_HEADER;
    const headerSum = sumWords(buf, tcp, VNET_HDR_LEN + headerLength);
    const tcpSum = ~fold(this.pseudoBase + tcpLength + headerSum + this.payloadSum) & 0xffff;
    buf[tcp + 16] = tcpSum >>> 8;
    buf[tcp + 17] = tcpSum & 0xff;
    writeVnetHeader(buf, 0, 0, VNET_GSO_TCPV4, headerLength, this.segmentSize);
    return VNET_HDR_LEN + headerLength + this.payloadBytes;
  }
}
