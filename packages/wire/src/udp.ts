/**
 * UDP datagrams (RFC 768) over IPv4, with the checksum over the IPv4 pseudo-header.
 *
 * A checksum field of 0 means "no checksum" (allowed over IPv4); a computed checksum of 0 is
 * therefore transmitted as 0xffff, its other ones'-complement form.
 */
import type { Ipv4Address } from './address.js';
import { onesComplementSum } from './checksum.js';
import { copyPayloadUnlessInPlace, emitError, readUint16, writeUint16 } from './emit-util.js';
import { MalformedError, TruncatedError, viewOf } from './errors.js';
import { IP_PROTO_UDP, ipv4PseudoHeaderSum } from './ipv4.js';

/** Length of the UDP header. */
export const UDP_HEADER_LENGTH = 8;
/** Largest UDP length field: header plus payload. */
export const UDP_MAX_LENGTH = 0xffff;

const FORMAT = 'udp';
const SOURCE_PORT_OFFSET = 0;
const DESTINATION_PORT_OFFSET = 2;
const LENGTH_OFFSET = 4;
const CHECKSUM_OFFSET = 6;
/** The checksum field value that means "the sender computed no checksum". */
const NO_CHECKSUM = 0;

/**
 * A checked view of a UDP datagram.
 *
 * Invariant: after {@link UdpPacket.checked} returns, `8 <= length field <= bytes given`, and
 * {@link UdpPacket.bytes} holds exactly the datagram (trailing bytes past the length field are left
 * out); no accessor throws.
 */
export class UdpPacket {
  /** The datagram: header then payload, exactly as long as the length field says. */
  readonly bytes: Uint8Array;
  /** Backs {@link UdpPacket.view}, made on first use: the accessors read the bytes directly. */
  private dataView: DataView | undefined = undefined;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Wraps a UDP datagram (the IPv4 payload). Bytes after the length field's end are ignored.
   * @throws {@link TruncatedError} if the bytes end before the header or before the length field's end.
   * @throws {@link MalformedError} if the length field is below 8.
   */
  static checked(bytes: Uint8Array): UdpPacket {
    if (bytes.length < UDP_HEADER_LENGTH) throw new TruncatedError(FORMAT, UDP_HEADER_LENGTH, bytes.length);
    const length = (bytes[LENGTH_OFFSET]! << 8) | bytes[LENGTH_OFFSET + 1]!;
    if (length < UDP_HEADER_LENGTH)
      throw new MalformedError(FORMAT, `length field ${length} is below the 8-byte header`);
    if (length > bytes.length) throw new TruncatedError(FORMAT, length, bytes.length);
    const datagram = length === bytes.length ? bytes : bytes.subarray(0, length);
    return new UdpPacket(datagram);
  }

  /**
   * A `DataView` over exactly {@link UdpPacket.bytes}, made on first use and then kept. The field
   * accessors do not use it (they read the bytes directly, so checking a packet allocates no view).
   */
  get view(): DataView {
    return (this.dataView ??= viewOf(this.bytes));
  }

  /** Source port. */
  get srcPort(): number {
    return readUint16(this.bytes, SOURCE_PORT_OFFSET);
  }

  /** Destination port. */
  get dstPort(): number {
    return readUint16(this.bytes, DESTINATION_PORT_OFFSET);
  }

  /** The length field: header plus payload, in bytes (equals `bytes.byteLength`). */
  get length(): number {
    return readUint16(this.bytes, LENGTH_OFFSET);
  }

  /** The checksum field as stored (0: the sender computed none). */
  get checksum(): number {
    return readUint16(this.bytes, CHECKSUM_OFFSET);
  }

  /** True if the sender filled in a checksum (the field is not 0). */
  get hasChecksum(): boolean {
    return readUint16(this.bytes, CHECKSUM_OFFSET) !== NO_CHECKSUM;
  }

  /** Payload length in bytes. */
  get payloadLength(): number {
    return this.bytes.length - UDP_HEADER_LENGTH;
  }

  /** The payload, bounded by the length field, as a view into the datagram. */
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LENGTH);
  }

  /**
   * True if the checksum is correct for a datagram from `src` to `dst`, or if there is none
   * (field 0, see {@link UdpPacket.hasChecksum}): a checksum is optional over IPv4.
   */
  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    if (readUint16(this.bytes, CHECKSUM_OFFSET) === NO_CHECKSUM) return true;
    const length = this.bytes.length;
    return onesComplementSum(this.bytes, ipv4PseudoHeaderSum(src, dst, IP_PROTO_UDP, length)) === 0xffff;
  }
}

/** The validated contents of a UDP header (the length and checksum follow from the payload). */
export interface UdpRepr {
  /** Source port, 0..65535 (0: no reply expected). */
  srcPort: number;
  /** Destination port, 0..65535. */
  dstPort: number;
}

/**
 * Reads the ports of a checked datagram. Does not verify the checksum: call
 * {@link UdpPacket.verifyChecksum} with the addresses from the IPv4 header. Never throws.
 */
export function parseUdp(packet: UdpPacket): UdpRepr {
  return { srcPort: packet.srcPort, dstPort: packet.dstPort };
}

/** Header length `repr` emits: always {@link UDP_HEADER_LENGTH}. */
export function udpHeaderLength(_repr: UdpRepr): number {
  return UDP_HEADER_LENGTH;
}

/** Buffer length needed to emit `repr` with `payloadLength` payload bytes: 8 plus the payload. */
export function udpBufferLength(_repr: UdpRepr, payloadLength: number): number {
  return UDP_HEADER_LENGTH + payloadLength;
}

/**
 * Writes the header of `repr` at the start of `buffer`, copies `payload` after it unless it already
 * sits there (same underlying buffer, right offset), then fills the checksum over the pseudo-header
 * for `src` -> `dst`, the header and the payload (a computed 0 is sent as 0xffff).
 *
 * Without `payload`, everything in `buffer` after the header is the payload and must be in place
 * before the call (size `buffer` with {@link udpBufferLength}).
 * @returns the datagram length: 8 plus the payload length.
 * @throws RangeError if `buffer` cannot hold the datagram, if the datagram would exceed
 * {@link UDP_MAX_LENGTH} bytes, or if a port is not an integer in 0..65535.
 */
export function emitUdp(
  repr: UdpRepr,
  buffer: Uint8Array,
  src: Ipv4Address,
  dst: Ipv4Address,
  payload?: Uint8Array,
): number {
  checkPort(repr.srcPort);
  checkPort(repr.dstPort);
  const length = payload === undefined ? buffer.length : UDP_HEADER_LENGTH + payload.length;
  if (buffer.length < length || length < UDP_HEADER_LENGTH)
    throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${Math.max(length, UDP_HEADER_LENGTH)}`);
  if (length > UDP_MAX_LENGTH) throw emitError(FORMAT, `datagram of ${length} bytes exceeds ${UDP_MAX_LENGTH}`);
  writeUint16(buffer, SOURCE_PORT_OFFSET, repr.srcPort);
  writeUint16(buffer, DESTINATION_PORT_OFFSET, repr.dstPort);
  writeUint16(buffer, LENGTH_OFFSET, length);
  writeUint16(buffer, CHECKSUM_OFFSET, 0);
  if (payload !== undefined) copyPayloadUnlessInPlace(buffer, UDP_HEADER_LENGTH, payload);
  const datagram = length === buffer.length ? buffer : buffer.subarray(0, length);
  const checksum = ~onesComplementSum(datagram, ipv4PseudoHeaderSum(src, dst, IP_PROTO_UDP, length)) & 0xffff;
  writeUint16(buffer, CHECKSUM_OFFSET, checksum === 0 ? 0xffff : checksum);
  return length;
}

function checkPort(port: number): void {
  if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff))
    throw emitError(FORMAT, `port ${port} is not in 0..65535`);
}
