/**
 * {@link Segment}: one received segment as the TCP input path reads it. The `Tcp` module keeps ONE
 * instance and refills it for every packet, so input allocates nothing: the payload is read in
 * place (`bytes` from `payloadStart`), and a view of it is made only when a reader asks for one.
 */
import { TcpFlag, TcpOptionSummary, type Ipv4Address, type TcpPacket, readUint32 } from '@postern/wire';

const EMPTY = new Uint8Array(0);
/** A header without options. */
const TCP_MIN_HEADER = 20;
/** A header with NOP, NOP and the timestamps option (RFC 7323 Appendix A's layout). */
const TCP_TIMESTAMPS_HEADER = 32;

/** A received segment's fields (valid only during the input call that filled it). */
export class Segment {
  source: Ipv4Address = 0;
  destination: Ipv4Address = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The window field as sent (unscaled). */
  window = 0;
  /** The whole segment (header, options, payload): a view into the received frame. */
  bytes: Uint8Array = EMPTY;
  /** Where the payload starts in `bytes` (the header length). */
  payloadStart = 0;
  /** Payload bytes (sequence space without SYN and FIN). */
  payloadLength = 0;
  /** The view {@link Segment.payload} made for this segment, if any. */
  private payloadView: Uint8Array | undefined = undefined;
  /** Sequence space: payload plus SYN plus FIN. */
  length = 0;
  /** The options, scanned without allocating. */
  readonly options = new TcpOptionSummary();

  /** Fills every field from a checked packet. */
  fill(packet: TcpPacket, source: Ipv4Address, destination: Ipv4Address): this {
    this.source = source;
    this.destination = destination;
    this.srcPort = packet.srcPort;
    this.dstPort = packet.dstPort;
    this.seq = packet.seq;
    this.ack = packet.ack;
    this.flags = packet.flags;
    this.window = packet.window;
    const bytes = packet.bytes;
    this.bytes = bytes;
    this.payloadStart = packet.headerLength;
    this.payloadLength = bytes.length - packet.headerLength;
    this.payloadView = undefined;
    this.length = packet.segmentLength;
    packet.scanOptions(this.options);
    return this;
  }

  /**
   * Fills every field straight from the raw segment `bytes` when its header is one of the two every
   * established connection sends (no options, or exactly NOP, NOP, timestamps) and returns true:
   * one pass, no packet object, the same fields {@link Segment.fill} would set. Returns false for
   * any other header (SYNs, SACK blocks, a short or malformed segment); the caller then checks it
   * with `TcpPacket.checked` and calls {@link Segment.fill}. Does not verify the checksum.
   */
  fillCommon(bytes: Uint8Array, source: Ipv4Address, destination: Ipv4Address): boolean {
    const size = bytes.length;
    if (size < TCP_MIN_HEADER) return false;
    const headerLength = (bytes[12]! >>> 4) << 2;
    const options = this.options;
    if (headerLength === TCP_TIMESTAMPS_HEADER) {
      if (size < TCP_TIMESTAMPS_HEADER || bytes[20] !== 1 || bytes[21] !== 1 || bytes[22] !== 8 || bytes[23] !== 10)
        return false;
      options.reset();
      options.hasTimestamps = true;
      options.tsVal = readUint32(bytes, 24);
      options.tsEcr = readUint32(bytes, 28);
    } else if (headerLength === TCP_MIN_HEADER) {
      options.reset();
    } else {
      return false;
    }
    const flags = bytes[13]!;
    this.source = source;
    this.destination = destination;
    this.srcPort = (bytes[0]! << 8) | bytes[1]!;
    this.dstPort = (bytes[2]! << 8) | bytes[3]!;
    this.seq = readUint32(bytes, 4);
    this.ack = readUint32(bytes, 8);
    this.flags = flags;
    this.window = (bytes[14]! << 8) | bytes[15]!;
    this.bytes = bytes;
    this.payloadStart = headerLength;
    const payloadLength = size - headerLength;
    this.payloadLength = payloadLength;
    this.payloadView = undefined;
    this.length = payloadLength + ((flags & TcpFlag.SYN) !== 0 ? 1 : 0) + ((flags & TcpFlag.FIN) !== 0 ? 1 : 0);
    return true;
  }

  /** The payload as a view into the received frame (made on first use; empty segments share one empty view). */
  get payload(): Uint8Array {
    if (this.payloadView === undefined)
      this.payloadView =
        this.payloadLength === 0
          ? EMPTY
          : this.bytes.subarray(this.payloadStart, this.payloadStart + this.payloadLength);
    return this.payloadView;
  }

  /** True if every bit of `flag` is set. */
  has(flag: number): boolean {
    return (this.flags & flag) === flag;
  }

  /** True for a SYN. */
  get syn(): boolean {
    return (this.flags & TcpFlag.SYN) !== 0;
  }

  /** True for a RST. */
  get rst(): boolean {
    return (this.flags & TcpFlag.RST) !== 0;
  }

  /** True when the ACK bit is set. */
  get hasAck(): boolean {
    return (this.flags & TcpFlag.ACK) !== 0;
  }

  /** True for a FIN. */
  get fin(): boolean {
    return (this.flags & TcpFlag.FIN) !== 0;
  }
}
