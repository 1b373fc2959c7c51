/**
 * IPv4 headers (RFC 791), their header checksum and the pseudo-header sum UDP and TCP checksums
 * start from (RFC 768, RFC 9293 §3.1).
 */
import type { Ipv4Address } from './address.js';
import { checksumUpdate16, foldSum, onesComplementSumRange } from './checksum.js';
import { MalformedError, ChecksumError, TruncatedError, viewOf } from './errors.js';
import { copyPayloadUnlessInPlace, emitError, readUint16, readUint32, writeUint16, writeUint32 } from './emit-util.js';

/** IP protocol number of ICMP. */
export const IP_PROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IP_PROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IP_PROTO_UDP = 17;

/** Length of an IPv4 header without options. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Length of an IPv4 header with the most options (IHL 15). */
export const IPV4_MAX_HEADER_LENGTH = 60;
/** Largest value of the total length field. */
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;
/** Largest fragment offset in bytes (the 13-bit field times 8). */
export const IPV4_MAX_FRAGMENT_OFFSET = 0x1fff * 8;

/** Option type: End of Option List (one byte; what follows is padding). */
export const IPV4_OPTION_END = 0;
/** Option type: No Operation (one byte, used for alignment). */
export const IPV4_OPTION_NOP = 1;
/** Option type: Record Route. */
export const IPV4_OPTION_RECORD_ROUTE = 7;
/** Option type: Internet Timestamp. */
export const IPV4_OPTION_TIMESTAMP = 68;
/** Option type: Loose Source and Record Route. */
export const IPV4_OPTION_LSRR = 131;
/** Option type: Strict Source and Record Route. */
export const IPV4_OPTION_SSRR = 137;
/** Option type: Router Alert (RFC 2113). */
export const IPV4_OPTION_ROUTER_ALERT = 148;

const FORMAT = 'ipv4';
const VERSION_IHL_OFFSET = 0;
const DSCP_ECN_OFFSET = 1;
const TOTAL_LENGTH_OFFSET = 2;
const IDENTIFICATION_OFFSET = 4;
const FLAGS_FRAGMENT_OFFSET = 6;
const TTL_OFFSET = 8;
const PROTOCOL_OFFSET = 9;
const CHECKSUM_OFFSET = 10;
const SOURCE_OFFSET = 12;
const DESTINATION_OFFSET = 16;
const OPTIONS_OFFSET = 20;

const FLAG_RESERVED = 0x8000;
const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;
const FRAGMENT_UNIT = 8;
const VERSION = 4;
const MIN_IHL = 5;

/** Whether a parser checks a checksum (`'verify'`, the default) or leaves it to the caller (`'ignore'`). */
export interface Ipv4ParseOptions {
  /** `'verify'` (default): a wrong header checksum throws {@link ChecksumError}. `'ignore'`: not checked. */
  checksum?: 'verify' | 'ignore';
}

/**
 * A checked view of an IPv4 packet.
 *
 * Invariant: after {@link Ipv4Packet.checked} returns, the version is 4, the IHL is at least 5, and
 * `IHL*4 <= total length <= bytes.byteLength`; no accessor throws. Bytes after the total length
 * (Ethernet padding) are outside the packet: {@link Ipv4Packet.payload} stops at the total length.
 * The header length and total length are fixed when the view is made; the setters change only the
 * TTL and the checksum.
 */
export class Ipv4Packet {
  /** The bytes given to the view, header first (may run past the total length). */
  readonly bytes: Uint8Array;
  /** Backs {@link Ipv4Packet.view}, made on first use: the accessors read the bytes directly. */
  private dataView: DataView | undefined = undefined;
  /** Header length in bytes (IHL times 4), 20..60. */
  readonly headerLength: number;
  /** Where the payload ends within {@link Ipv4Packet.bytes}: the total length, or less for a quoted header. */
  private readonly payloadEnd: number;

  private constructor(bytes: Uint8Array, headerLength: number, payloadEnd: number) {
    this.bytes = bytes;
    this.headerLength = headerLength;
    this.payloadEnd = payloadEnd;
  }

  /**
   * Wraps a whole IPv4 packet (possibly followed by link-layer padding).
   * @throws {@link TruncatedError} if the bytes end before the header or before the total length.
   * @throws {@link MalformedError} if the version is not 4, the IHL is below 5 or the total length is
   * shorter than the header.
   */
  static checked(bytes: Uint8Array): Ipv4Packet {
    checkHeader(bytes);
    const headerLength = (bytes[VERSION_IHL_OFFSET]! & 0x0f) * 4;
    const totalLength = readUint16(bytes, TOTAL_LENGTH_OFFSET);
    if (totalLength > bytes.length) throw new TruncatedError(FORMAT, totalLength, bytes.length);
    return new Ipv4Packet(bytes, headerLength, totalLength);
  }

  /**
   * Wraps a packet whose header the caller has just checked itself, field by field, as
   * {@link Ipv4Packet.checked} would (version 4, `headerLength` = IHL * 4 >= 20, `headerLength` <=
   * `totalLength` = the total length field <= `bytes.byteLength`), so a receive path that validated
   * the header to count each kind of bad packet does not check it a second time. Nothing is
   * verified here: values that break the invariant void the accessors' guarantees.
   */
  static prechecked(bytes: Uint8Array, headerLength: number, totalLength: number): Ipv4Packet {
    return new Ipv4Packet(bytes, headerLength, totalLength);
  }

  /**
   * Wraps an IPv4 header whose payload may be cut short, as in the datagram an ICMP error quotes.
   * The header must be whole and consistent; {@link Ipv4Packet.payload} is then whatever follows
   * it, up to the total length.
   * @throws {@link TruncatedError} if the bytes end inside the header.
   * @throws {@link MalformedError} as {@link Ipv4Packet.checked} does.
   */
  static checkedHeader(bytes: Uint8Array): Ipv4Packet {
    checkHeader(bytes);
    const headerLength = (bytes[VERSION_IHL_OFFSET]! & 0x0f) * 4;
    const totalLength = readUint16(bytes, TOTAL_LENGTH_OFFSET);
    return new Ipv4Packet(bytes, headerLength, Math.min(totalLength, bytes.length));
  }

  /**
   * A `DataView` over exactly {@link Ipv4Packet.bytes}, made on first use and then kept. The field
   * accessors do not use it (they read the bytes directly, so checking a packet allocates no view).
   */
  get view(): DataView {
    return (this.dataView ??= viewOf(this.bytes));
  }

  /** The version field: always 4 after a check. */
  get version(): number {
    return this.bytes[VERSION_IHL_OFFSET]! >>> 4;
  }

  /** The IHL field: header length in 32-bit words, 5..15. */
  get ihl(): number {
    return this.bytes[VERSION_IHL_OFFSET]! & 0x0f;
  }

  /** Differentiated Services code point, 0..63. */
  get dscp(): number {
    return this.bytes[DSCP_ECN_OFFSET]! >>> 2;
  }

  /** Explicit Congestion Notification bits, 0..3. */
  get ecn(): number {
    return this.bytes[DSCP_ECN_OFFSET]! & 0x03;
  }

  /** The total length field: header plus payload, in bytes. */
  get totalLength(): number {
    return readUint16(this.bytes, TOTAL_LENGTH_OFFSET);
  }

  /** The identification field. */
  get identification(): number {
    return readUint16(this.bytes, IDENTIFICATION_OFFSET);
  }

  /** The reserved flag (must be zero; ignored by {@link parseIpv4Packet}). */
  get reservedFlag(): boolean {
    return (readUint16(this.bytes, FLAGS_FRAGMENT_OFFSET) & FLAG_RESERVED) !== 0;
  }

  /** The Don't Fragment flag. */
  get dontFragment(): boolean {
    return (readUint16(this.bytes, FLAGS_FRAGMENT_OFFSET) & FLAG_DONT_FRAGMENT) !== 0;
  }

  /** The More Fragments flag. */
  get moreFragments(): boolean {
    return (readUint16(this.bytes, FLAGS_FRAGMENT_OFFSET) & FLAG_MORE_FRAGMENTS) !== 0;
  }

  /** The fragment offset in bytes (the field times 8). */
  get fragmentOffset(): number {
    return (readUint16(this.bytes, FLAGS_FRAGMENT_OFFSET) & FRAGMENT_OFFSET_MASK) * FRAGMENT_UNIT;
  }

  /** True if this packet is a fragment: More Fragments set or a non-zero offset. */
  get isFragment(): boolean {
    return (readUint16(this.bytes, FLAGS_FRAGMENT_OFFSET) & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.bytes[TTL_OFFSET]!;
  }

  /** The protocol of the payload ({@link IP_PROTO_ICMP}, {@link IP_PROTO_TCP}, {@link IP_PROTO_UDP}, ...). */
  get protocol(): number {
    return this.bytes[PROTOCOL_OFFSET]!;
  }

  /** The header checksum field as stored. */
  get checksum(): number {
    return readUint16(this.bytes, CHECKSUM_OFFSET);
  }

  /** Source address. */
  get source(): Ipv4Address {
    return readUint32(this.bytes, SOURCE_OFFSET);
  }

  /** Destination address. */
  get destination(): Ipv4Address {
    return readUint32(this.bytes, DESTINATION_OFFSET);
  }

  /** The raw option bytes (0..40, padding included), as a view into the packet. */
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS_OFFSET, this.headerLength);
  }

  /** The payload, from the end of the header to the total length (padding excluded), as a view. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.payloadEnd);
  }

  /** True if the header checksum is correct. */
  verifyChecksum(): boolean {
    return onesComplementSumRange(this.bytes, 0, this.headerLength) === 0xffff;
  }

  /**
   * Sets the TTL in place and updates the checksum incrementally (RFC 1624), as a router does when it
   * forwards. A correct checksum stays correct; a wrong one stays wrong by the same amount.
   */
  setTtl(ttl: number): void {
    const protocol = this.bytes[PROTOCOL_OFFSET]!;
    const oldWord = (this.bytes[TTL_OFFSET]! << 8) | protocol;
    const newWord = ((ttl & 0xff) << 8) | protocol;
    this.bytes[TTL_OFFSET] = ttl & 0xff;
    writeUint16(this.bytes, CHECKSUM_OFFSET, checksumUpdate16(this.checksum, oldWord, newWord));
  }

  /** Recomputes the header checksum from the header and stores it. */
  fillChecksum(): void {
    writeUint16(this.bytes, CHECKSUM_OFFSET, 0);
    writeUint16(this.bytes, CHECKSUM_OFFSET, ~onesComplementSumRange(this.bytes, 0, this.headerLength) & 0xffff);
  }
}

/**
 * True when the `headerLength`-byte IPv4 header at `bytes[at]` has a correct checksum: what
 * {@link Ipv4Packet.verifyChecksum} checks, for a receive path that reads the header in place
 * (the bytes must exist; nothing else is checked).
 */
export function ipv4HeaderChecksumValid(bytes: Uint8Array, at: number, headerLength: number): boolean {
  if (headerLength !== IPV4_MIN_HEADER_LENGTH) return onesComplementSumRange(bytes, at, at + headerLength) === 0xffff;
  // The header without options (nearly every packet): its ten words unrolled, bytes at even
  // offsets added apart from those at odd ones (weighed by 256 once, at the end). Kept beside
  // onesComplementSumRange's loop on purpose: calling it here measured ~1.2 ns slower per header
  // (7.8 against 6.5 ns on Node 20, Buffer and Uint8Array frames mixed, both ways in one process).
  const high =
    bytes[at]! +
    bytes[at + 2]! +
    bytes[at + 4]! +
    bytes[at + 6]! +
    bytes[at + 8]! +
    bytes[at + 10]! +
    bytes[at + 12]! +
    bytes[at + 14]! +
    bytes[at + 16]! +
    bytes[at + 18]!;
  const low =
    bytes[at + 1]! +
    bytes[at + 3]! +
    bytes[at + 5]! +
    bytes[at + 7]! +
    bytes[at + 9]! +
    bytes[at + 11]! +
    bytes[at + 13]! +
    bytes[at + 15]! +
    bytes[at + 17]! +
    bytes[at + 19]!;
  return foldSum(high * 256 + low) === 0xffff;
}

/** Checks the header-only invariants of `bytes` (throws as {@link Ipv4Packet.checkedHeader} documents). */
function checkHeader(bytes: Uint8Array): void {
  if (bytes.length < IPV4_MIN_HEADER_LENGTH) throw new TruncatedError(FORMAT, IPV4_MIN_HEADER_LENGTH, bytes.length);
  const versionIhl = bytes[VERSION_IHL_OFFSET]!;
  const version = versionIhl >>> 4;
  const ihl = versionIhl & 0x0f;
  if (version !== VERSION) throw new MalformedError(FORMAT, `version ${version}`);
  if (ihl < MIN_IHL) throw new MalformedError(FORMAT, `IHL ${ihl} is below 5`);
  const headerLength = ihl * 4;
  const totalLength = readUint16(bytes, TOTAL_LENGTH_OFFSET);
  if (totalLength < headerLength)
    throw new MalformedError(FORMAT, `total length ${totalLength} is shorter than the ${headerLength}-byte header`);
  if (bytes.length < headerLength) throw new TruncatedError(FORMAT, headerLength, bytes.length);
}

/**
 * A reusable, allocation-free cursor over IPv4 options.
 *
 * It stops at End of Option List or at the end of the bytes and skips No Operation, so each
 * {@link Ipv4OptionReader.next} that returns true stands on a real option. After {@link parseIpv4Packet}
 * accepted a packet, reading its options never throws.
 *
 * ```ts
 * const reader = new Ipv4OptionReader(packet.options);
 * while (reader.next()) if (reader.type === IPV4_OPTION_ROUTER_ALERT) { ... reader.data ... }
 * ```
 */
export class Ipv4OptionReader {
  private bytes: Uint8Array;
  private nextOffset = 0;
  /** Type octet of the current option (copied flag, class and number together). */
  type = -1;
  /** Offset of the current option's type octet within the option bytes. */
  offset = -1;
  /** Length of the current option, type and length octets included. */
  length = 0;

  /** Starts before the first option of `options` (the bytes after the fixed 20-byte header). */
  constructor(options: Uint8Array = new Uint8Array(0)) {
    this.bytes = options;
  }

  /** Restarts the cursor on other option bytes, so one reader can serve many packets. */
  reset(options: Uint8Array): this {
    this.bytes = options;
    this.nextOffset = 0;
    this.type = -1;
    this.offset = -1;
    this.length = 0;
    return this;
  }

  /**
   * Moves to the next option.
   * @returns false at End of Option List or at the end of the bytes.
   * @throws {@link MalformedError} if an option's length octet is missing, below 2 or runs past the end.
   */
  next(): boolean {
    const bytes = this.bytes;
    let at = this.nextOffset;
    while (at < bytes.length && bytes[at] === IPV4_OPTION_NOP) at++;
    if (at >= bytes.length || bytes[at] === IPV4_OPTION_END) {
      this.nextOffset = bytes.length;
      this.type = -1;
      this.offset = -1;
      this.length = 0;
      return false;
    }
    const type = bytes[at]!;
    if (at + 1 >= bytes.length) throw new MalformedError(FORMAT, `option ${type} has no length octet`);
    const length = bytes[at + 1]!;
    if (length < 2 || at + length > bytes.length)
      throw new MalformedError(FORMAT, `option ${type} has bad length ${length}`);
    this.type = type;
    this.offset = at;
    this.length = length;
    this.nextOffset = at + length;
    return true;
  }

  /** The current option's data (after its type and length octets), as a view into the options; empty when there is no current option. */
  get data(): Uint8Array {
    if (this.offset < 0) return this.bytes.subarray(0, 0);
    return this.bytes.subarray(this.offset + 2, this.offset + this.length);
  }
}

const EMPTY = new Uint8Array(0);
const validationReader = new Ipv4OptionReader(EMPTY);

/** Throws {@link MalformedError} unless every option in `options` is well-formed. */
function validateOptions(options: Uint8Array): void {
  if (options.length === 0) return;
  validationReader.reset(options);
  try {
    while (validationReader.next());
  } finally {
    validationReader.reset(EMPTY);
  }
}

/** The validated contents of an IPv4 header. */
export interface Ipv4Repr {
  /** Differentiated Services code point, 0..63. */
  dscp: number;
  /** Explicit Congestion Notification, 0..3. */
  ecn: number;
  /** Identification, 0..65535. */
  identification: number;
  /** Don't Fragment. */
  dontFragment: boolean;
  /** More Fragments. */
  moreFragments: boolean;
  /** Fragment offset in bytes: a multiple of 8, at most {@link IPV4_MAX_FRAGMENT_OFFSET}. */
  fragmentOffset: number;
  /** Time to live, 0..255. */
  ttl: number;
  /** Protocol of the payload, 0..255. */
  protocol: number;
  /** Source address. */
  source: Ipv4Address;
  /** Destination address. */
  destination: Ipv4Address;
  /**
   * Raw option bytes, padding included: a multiple of 4, at most 40 bytes. From {@link parseIpv4Packet}
   * it is a view into the packet (copy it to keep it past the packet's buffer), or a shared empty
   * array when there are no options.
   */
  options: Uint8Array;
  /** Payload length in bytes (total length minus header length). */
  payloadLength: number;
}

const DEFAULT_PARSE_OPTIONS: Ipv4ParseOptions = {};

/**
 * Reads a checked IPv4 packet. The reserved flag is ignored.
 * @throws {@link ChecksumError} if `config.checksum` is `'verify'` (the default) and the header checksum is wrong.
 * @throws {@link MalformedError} if the options are not well-formed (see {@link Ipv4OptionReader}).
 */
export function parseIpv4Packet(packet: Ipv4Packet, config: Ipv4ParseOptions = DEFAULT_PARSE_OPTIONS): Ipv4Repr {
  if (config.checksum !== 'ignore' && !packet.verifyChecksum())
    throw new ChecksumError(FORMAT, 'header checksum mismatch');
  // No allocation for the common header without options.
  const options = packet.headerLength === IPV4_MIN_HEADER_LENGTH ? EMPTY : packet.options;
  validateOptions(options);
  return {
    dscp: packet.dscp,
    ecn: packet.ecn,
    identification: packet.identification,
    dontFragment: packet.dontFragment,
    moreFragments: packet.moreFragments,
    fragmentOffset: packet.fragmentOffset,
    ttl: packet.ttl,
    protocol: packet.protocol,
    source: packet.source,
    destination: packet.destination,
    options,
    payloadLength: packet.totalLength - packet.headerLength,
  };
}

/** Header length `repr` emits: 20 plus the option bytes. */
export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LENGTH + repr.options.length;
}

/** Buffer length needed to emit `repr` and its payload: the total length, header plus `repr.payloadLength`. */
export function ipv4BufferLength(repr: Ipv4Repr): number {
  return ipv4HeaderLength(repr) + repr.payloadLength;
}

/**
 * Writes the header of `repr` (checksum filled) at offset `at` (default 0) of `buffer`, then `payload` after it
 * unless the payload already sits there (same underlying buffer, right offset). The payload or the
 * options may overlap the header (they are moved first), but not each other's destination. Without `payload`,
 * the caller places the `repr.payloadLength` payload bytes itself (before or after this call). With
 * `at`, a sender writes the header straight into its frame (after the link header) without making a
 * view of the packet first.
 * @returns the packet length, {@link ipv4BufferLength}.
 * @throws RangeError if `buffer` cannot hold the header and the given payload from `at` on, if `payload`'s length
 * is not `repr.payloadLength`, if the options are not a multiple of 4 up to 40 bytes, if the
 * fragment offset is not a multiple of 8 up to {@link IPV4_MAX_FRAGMENT_OFFSET}, or if the total
 * length exceeds 65535.
 */
export function emitIpv4(repr: Ipv4Repr, buffer: Uint8Array, payload?: Uint8Array, at = 0): number {
  const optionsLength = repr.options.length;
  if (optionsLength % 4 !== 0 || optionsLength > IPV4_MAX_HEADER_LENGTH - IPV4_MIN_HEADER_LENGTH) {
    throw emitError(FORMAT, `options of ${optionsLength} bytes (need a multiple of 4 up to 40)`);
  }
  const { fragmentOffset } = repr;
  if (!(fragmentOffset >= 0 && fragmentOffset <= IPV4_MAX_FRAGMENT_OFFSET && fragmentOffset % FRAGMENT_UNIT === 0)) {
    throw emitError(
      FORMAT,
      `fragment offset ${fragmentOffset} (need a multiple of 8 up to ${IPV4_MAX_FRAGMENT_OFFSET})`,
    );
  }
  const headerLength = IPV4_MIN_HEADER_LENGTH + optionsLength;
  const totalLength = headerLength + repr.payloadLength;
  if (!(repr.payloadLength >= 0 && totalLength <= IPV4_MAX_TOTAL_LENGTH))
    throw emitError(FORMAT, `total length ${totalLength}`);
  if (payload !== undefined && payload.length !== repr.payloadLength) {
    throw emitError(FORMAT, `payload of ${payload.length} bytes, repr says ${repr.payloadLength}`);
  }
  const needed = payload === undefined ? headerLength : totalLength;
  if (!(at >= 0 && buffer.length - at >= needed))
    throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${needed} from offset ${at}`);

  // Payload, then options, then the fixed header: a source may overlap the header it is moved out of.
  if (payload !== undefined) copyPayloadUnlessInPlace(buffer, at + headerLength, payload);
  if (optionsLength > 0) copyPayloadUnlessInPlace(buffer, at + OPTIONS_OFFSET, repr.options);
  buffer[at + VERSION_IHL_OFFSET] = (VERSION << 4) | (headerLength >>> 2);
  buffer[at + DSCP_ECN_OFFSET] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & 0x03);
  writeUint16(buffer, at + TOTAL_LENGTH_OFFSET, totalLength);
  writeUint16(buffer, at + IDENTIFICATION_OFFSET, repr.identification);
  writeUint16(
    buffer,
    at + FLAGS_FRAGMENT_OFFSET,
    (repr.dontFragment ? FLAG_DONT_FRAGMENT : 0) |
      (repr.moreFragments ? FLAG_MORE_FRAGMENTS : 0) |
      (fragmentOffset / FRAGMENT_UNIT),
  );
  buffer[at + TTL_OFFSET] = repr.ttl & 0xff;
  buffer[at + PROTOCOL_OFFSET] = repr.protocol & 0xff;
  writeUint16(buffer, at + CHECKSUM_OFFSET, 0);
  writeUint32(buffer, at + SOURCE_OFFSET, repr.source);
  writeUint32(buffer, at + DESTINATION_OFFSET, repr.destination);
  writeUint16(buffer, at + CHECKSUM_OFFSET, ~onesComplementSumRange(buffer, at, at + headerLength) & 0xffff);
  return totalLength;
}

/**
 * Writes a 20-byte IPv4 header without options and not a fragment (More Fragments clear, offset 0)
 * at `buffer[at]`, its checksum computed from the field values rather than read back from the
 * bytes: the same bytes {@link emitIpv4} writes for such a header, for a sender that builds one
 * header per datagram. Nothing is validated: `tos`, `ttl` and `protocol` must be 0..255,
 * `identification` and `totalLength` 0..65535 (`totalLength` at least 20), `source` and
 * `destination` IPv4 addresses, and the 20 bytes from `at` must exist.
 */
export function writeIpv4Header(
  buffer: Uint8Array,
  at: number,
  tos: number,
  totalLength: number,
  identification: number,
  dontFragment: boolean,
  ttl: number,
  protocol: number,
  source: Ipv4Address,
  destination: Ipv4Address,
): void {
  const flags = dontFragment ? FLAG_DONT_FRAGMENT : 0;
  const srcHigh = source >>> 16;
  const srcLow = source & 0xffff;
  const dstHigh = destination >>> 16;
  const dstLow = destination & 0xffff;
  // Ten 16-bit words (the checksum's own is zero): the sum stays below 2^20, two folds suffice.
  let sum =
    ((VERSION << 12) | (MIN_IHL << 8) | tos) +
    totalLength +
    identification +
    flags +
    ((ttl << 8) | protocol) +
    srcHigh +
    srcLow +
    dstHigh +
    dstLow;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  buffer[at] = (VERSION << 4) | MIN_IHL;
  buffer[at + 1] = tos;
  buffer[at + 2] = totalLength >>> 8;
  buffer[at + 3] = totalLength & 0xff;
  buffer[at + 4] = identification >>> 8;
  buffer[at + 5] = identification & 0xff;
  buffer[at + 6] = flags >>> 8;
  buffer[at + 7] = 0;
  buffer[at + 8] = ttl;
  buffer[at + 9] = protocol;
  buffer[at + 10] = checksum >>> 8;
  buffer[at + 11] = checksum & 0xff;
  buffer[at + 12] = srcHigh >>> 8;
  buffer[at + 13] = srcHigh & 0xff;
  buffer[at + 14] = srcLow >>> 8;
  buffer[at + 15] = srcLow & 0xff;
  buffer[at + 16] = dstHigh >>> 8;
  buffer[at + 17] = dstHigh & 0xff;
  buffer[at + 18] = dstLow >>> 8;
  buffer[at + 19] = dstLow & 0xff;
}

/**
 * The ones'-complement sum of the IPv4 pseudo-header that UDP and TCP checksums cover: source,
 * destination, a zero octet, `protocol`, and `length` (the UDP or TCP length, header plus data).
 * Returns the folded 16-bit sum before inversion, to pass as the `initial` argument of
 * `onesComplementSum` / `internetChecksum` over the segment.
 */
export function ipv4PseudoHeaderSum(src: Ipv4Address, dst: Ipv4Address, protocol: number, length: number): number {
  return foldSum((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff));
}
