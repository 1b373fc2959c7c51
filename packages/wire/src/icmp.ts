/**
 * ICMP for IPv4 (RFC 792): echo request and reply, destination unreachable (with the next-hop MTU
 * of RFC 1191), time exceeded, and every other type kept generically.
 *
 * The bytes handed to {@link Icmpv4Packet.checked} are exactly the ICMP message: the IPv4 payload,
 * bounded by the IPv4 total length. The checksum covers all of them.
 */
import { onesComplementSum, onesComplementSumRange } from './checksum.js';
import { ChecksumError, MalformedError, TruncatedError, viewOf } from './errors.js';
import { copyPayloadUnlessInPlace, emitError, readUint16, readUint32, writeUint16, writeUint32 } from './emit-util.js';
import { IPV4_MIN_HEADER_LENGTH } from './ipv4.js';

/** ICMP type: echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMP type: destination unreachable. */
export const ICMP_DEST_UNREACHABLE = 3;
/** ICMP type: redirect. */
export const ICMP_REDIRECT = 5;
/** ICMP type: echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** ICMP type: time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;
/** ICMP type: parameter problem. */
export const ICMP_PARAMETER_PROBLEM = 12;

/** Destination unreachable code: network unreachable. */
export const ICMP_UNREACH_NET = 0;
/** Destination unreachable code: host unreachable. */
export const ICMP_UNREACH_HOST = 1;
/** Destination unreachable code: protocol unreachable. */
export const ICMP_UNREACH_PROTOCOL = 2;
/** Destination unreachable code: port unreachable. */
export const ICMP_UNREACH_PORT = 3;
/** Destination unreachable code: fragmentation needed and DF set (carries the next-hop MTU, RFC 1191). */
export const ICMP_UNREACH_FRAG_NEEDED = 4;
/** Destination unreachable code: communication administratively prohibited (RFC 1812). */
export const ICMP_UNREACH_ADMIN_PROHIBITED = 13;
/** Time exceeded code: TTL exceeded in transit. */
export const ICMP_TIME_EXCEEDED_TTL = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMP_TIME_EXCEEDED_REASSEMBLY = 1;

/** Length of the ICMP header: type, code, checksum and the 4-byte rest of header. */
export const ICMP_HEADER_LENGTH = 8;

const FORMAT = 'icmpv4';
const TYPE_OFFSET = 0;
const CODE_OFFSET = 1;
const CHECKSUM_OFFSET = 2;
const REST_OF_HEADER_OFFSET = 4;
const IDENTIFIER_OFFSET = 4;
const SEQUENCE_OFFSET = 6;
const NEXT_HOP_MTU_OFFSET = 6;
const DATA_OFFSET = 8;

/** Whether {@link parseIcmpv4} checks the checksum (`'verify'`, the default) or not (`'ignore'`). */
export interface Icmpv4ParseOptions {
  /** `'verify'` (default): a wrong checksum throws {@link ChecksumError}. `'ignore'`: not checked. */
  checksum?: 'verify' | 'ignore';
}

/**
 * A checked view of an ICMPv4 message.
 *
 * Invariant: after {@link Icmpv4Packet.checked} returns, the bytes hold at least the 8-byte header
 * and no accessor throws. Every accessor reads the header whatever the type: callers pick the ones
 * the type defines.
 */
export class Icmpv4Packet {
  /** The ICMP message, type first, to its last byte. */
  readonly bytes: Uint8Array;
  /** Backs {@link Icmpv4Packet.view}, made on first use: the accessors read the bytes directly. */
  private dataView: DataView | undefined = undefined;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Wraps an ICMP message after checking that it holds the 8-byte header.
   * @throws {@link TruncatedError} if it is shorter than 8 bytes.
   */
  static checked(bytes: Uint8Array): Icmpv4Packet {
    if (bytes.length < ICMP_HEADER_LENGTH) throw new TruncatedError(FORMAT, ICMP_HEADER_LENGTH, bytes.length);
    return new Icmpv4Packet(bytes);
  }

  /**
   * A `DataView` over exactly {@link Icmpv4Packet.bytes}, made on first use and then kept. The field
   * accessors do not use it (they read the bytes directly, so checking a packet allocates no view).
   */
  get view(): DataView {
    return (this.dataView ??= viewOf(this.bytes));
  }

  /** The message type. */
  get type(): number {
    return this.bytes[TYPE_OFFSET]!;
  }

  /** The message code. */
  get code(): number {
    return this.bytes[CODE_OFFSET]!;
  }

  /** The checksum field as stored. */
  get checksum(): number {
    return readUint16(this.bytes, CHECKSUM_OFFSET);
  }

  /** The 4 bytes after the checksum as one unsigned 32-bit number, whatever the type. */
  get restOfHeader(): number {
    return readUint32(this.bytes, REST_OF_HEADER_OFFSET);
  }

  /** Echo identifier (bytes 4-5). */
  get identifier(): number {
    return readUint16(this.bytes, IDENTIFIER_OFFSET);
  }

  /** Echo sequence number (bytes 6-7). */
  get sequenceNumber(): number {
    return readUint16(this.bytes, SEQUENCE_OFFSET);
  }

  /** Next-hop MTU of a "fragmentation needed" destination unreachable (bytes 6-7; 0 from pre-RFC 1191 routers). */
  get nextHopMtu(): number {
    return readUint16(this.bytes, NEXT_HOP_MTU_OFFSET);
  }

  /** Everything after the 8-byte header (echo data, or the quoted datagram of an error), as a view. */
  get data(): Uint8Array {
    return this.bytes.subarray(DATA_OFFSET);
  }

  /** True if the checksum over the whole message is correct. */
  verifyChecksum(): boolean {
    return onesComplementSum(this.bytes) === 0xffff;
  }

  /** Recomputes the checksum over the whole message and stores it. */
  fillChecksum(): void {
    writeUint16(this.bytes, CHECKSUM_OFFSET, 0);
    writeUint16(this.bytes, CHECKSUM_OFFSET, ~onesComplementSum(this.bytes) & 0xffff);
  }
}

/** An echo request or reply. */
export interface Icmpv4EchoRepr {
  /** Request (type 8) or reply (type 0). */
  kind: 'echoRequest' | 'echoReply';
  /** Identifier, 0..65535. */
  identifier: number;
  /** Sequence number, 0..65535. */
  sequenceNumber: number;
  /** The echo data; from {@link parseIcmpv4}, a view into the packet. */
  data: Uint8Array;
}

/** A destination unreachable error (type 3). */
export interface Icmpv4DestinationUnreachableRepr {
  /** Discriminant: type 3. */
  kind: 'destinationUnreachable';
  /** Why ({@link ICMP_UNREACH_PORT}, {@link ICMP_UNREACH_FRAG_NEEDED}, ...), 0..255. */
  code: number;
  /** Next-hop MTU for code {@link ICMP_UNREACH_FRAG_NEEDED}; 0 for every other code (not emitted). */
  nextHopMtu: number;
  /**
   * The offending datagram as quoted: its IPv4 header (whole, at least 20 bytes, version 4) and the
   * first bytes of its payload, usually cut short of its total length; read it with
   * `Ipv4Packet.checkedHeader`. From {@link parseIcmpv4}, a view into the packet.
   */
  quoted: Uint8Array;
}

/** A time exceeded error (type 11). */
export interface Icmpv4TimeExceededRepr {
  /** Discriminant: type 11. */
  kind: 'timeExceeded';
  /** {@link ICMP_TIME_EXCEEDED_TTL} or {@link ICMP_TIME_EXCEEDED_REASSEMBLY}, 0..255. */
  code: number;
  /** The offending datagram as quoted, as in {@link Icmpv4DestinationUnreachableRepr.quoted}. */
  quoted: Uint8Array;
}

/** Any other message, kept as its raw fields. */
export interface Icmpv4OtherRepr {
  /** Discriminant: any type without its own repr. */
  kind: 'other';
  /** Type, 0..255, never one of the types with their own repr (0, 3, 8, 11). */
  type: number;
  /** Code, 0..255. */
  code: number;
  /** The 4 bytes after the checksum, as an unsigned 32-bit number. */
  restOfHeader: number;
  /** Everything after the header; from {@link parseIcmpv4}, a view into the packet. */
  data: Uint8Array;
}

/** The validated contents of an ICMPv4 message; `kind` tells which. */
export type Icmpv4Repr = Icmpv4EchoRepr | Icmpv4DestinationUnreachableRepr | Icmpv4TimeExceededRepr | Icmpv4OtherRepr;

const DEFAULT_PARSE_OPTIONS: Icmpv4ParseOptions = {};

/** Throws {@link MalformedError} unless `quoted` starts with a whole IPv4 header. */
function checkQuoted(quoted: Uint8Array): void {
  if (quoted.length < IPV4_MIN_HEADER_LENGTH)
    throw new MalformedError(FORMAT, `quoted datagram of ${quoted.length} bytes is shorter than an IPv4 header`);
  const versionIhl = quoted[0]!;
  if (versionIhl >>> 4 !== 4) throw new MalformedError(FORMAT, `quoted datagram has IP version ${versionIhl >>> 4}`);
  const headerLength = (versionIhl & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength > quoted.length) {
    throw new MalformedError(FORMAT, `quoted datagram has a ${headerLength}-byte header in ${quoted.length} bytes`);
  }
  const totalLength = (quoted[2]! << 8) | quoted[3]!;
  if (totalLength < headerLength)
    throw new MalformedError(FORMAT, `quoted datagram has total length ${totalLength} below its header length`);
}

/**
 * Reads a checked ICMPv4 message. The code of an echo is ignored (it should be 0), as are the unused
 * rest-of-header bytes of the errors.
 * @throws {@link ChecksumError} if `config.checksum` is `'verify'` (the default) and the checksum is wrong.
 * @throws {@link MalformedError} if a destination unreachable or time exceeded does not quote at
 * least a whole IPv4 header (version 4, IHL at least 5, total length at least the header).
 */
export function parseIcmpv4(packet: Icmpv4Packet, config: Icmpv4ParseOptions = DEFAULT_PARSE_OPTIONS): Icmpv4Repr {
  if (config.checksum !== 'ignore' && !packet.verifyChecksum()) throw new ChecksumError(FORMAT);
  const type = packet.type;
  switch (type) {
    case ICMP_ECHO_REQUEST:
    case ICMP_ECHO_REPLY:
      return {
        kind: type === ICMP_ECHO_REQUEST ? 'echoRequest' : 'echoReply',
        identifier: packet.identifier,
        sequenceNumber: packet.sequenceNumber,
        data: packet.data,
      };
    case ICMP_DEST_UNREACHABLE: {
      const quoted = packet.data;
      checkQuoted(quoted);
      const code = packet.code;
      return {
        kind: 'destinationUnreachable',
        code,
        nextHopMtu: code === ICMP_UNREACH_FRAG_NEEDED ? packet.nextHopMtu : 0,
        quoted,
      };
    }
    case ICMP_TIME_EXCEEDED: {
      const quoted = packet.data;
      checkQuoted(quoted);
      return { kind: 'timeExceeded', code: packet.code, quoted };
    }
    default:
      return { kind: 'other', type, code: packet.code, restOfHeader: packet.restOfHeader, data: packet.data };
  }
}

/** The bytes after the header that `repr` carries. */
function bodyOf(repr: Icmpv4Repr): Uint8Array {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
    case 'other':
      return repr.data;
    case 'destinationUnreachable':
    case 'timeExceeded':
      return repr.quoted;
  }
}

/** Buffer length needed to emit `repr`: 8 plus its data or quoted datagram. */
export function icmpv4BufferLength(repr: Icmpv4Repr): number {
  return ICMP_HEADER_LENGTH + bodyOf(repr).length;
}

/**
 * Writes `repr` at the start of `buffer`: the header, then its data (or quoted datagram) unless it
 * already sits right after the header in the same underlying buffer, then the checksum over both.
 * @returns the message length, {@link icmpv4BufferLength}.
 * @throws RangeError if `buffer` is too short, or if an `'other'` repr has a type that has its own repr.
 */
export function emitIcmpv4(repr: Icmpv4Repr, buffer: Uint8Array): number {
  const body = bodyOf(repr);
  const length = ICMP_HEADER_LENGTH + body.length;
  if (buffer.length < length) throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${length}`);
  // The body first: it may overlap the header it is about to be moved out of.
  copyPayloadUnlessInPlace(buffer, DATA_OFFSET, body);
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      buffer[TYPE_OFFSET] = repr.kind === 'echoRequest' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY;
      buffer[CODE_OFFSET] = 0;
      writeUint16(buffer, IDENTIFIER_OFFSET, repr.identifier);
      writeUint16(buffer, SEQUENCE_OFFSET, repr.sequenceNumber);
      break;
    case 'destinationUnreachable':
      buffer[TYPE_OFFSET] = ICMP_DEST_UNREACHABLE;
      buffer[CODE_OFFSET] = repr.code;
      writeUint16(buffer, REST_OF_HEADER_OFFSET, 0);
      writeUint16(buffer, NEXT_HOP_MTU_OFFSET, repr.code === ICMP_UNREACH_FRAG_NEEDED ? repr.nextHopMtu : 0);
      break;
    case 'timeExceeded':
      buffer[TYPE_OFFSET] = ICMP_TIME_EXCEEDED;
      buffer[CODE_OFFSET] = repr.code;
      writeUint32(buffer, REST_OF_HEADER_OFFSET, 0);
      break;
    case 'other':
      if (
        repr.type === ICMP_ECHO_REQUEST ||
        repr.type === ICMP_ECHO_REPLY ||
        repr.type === ICMP_DEST_UNREACHABLE ||
        repr.type === ICMP_TIME_EXCEEDED
      ) {
        throw emitError(FORMAT, `type ${repr.type} has its own repr kind`);
      }
      buffer[TYPE_OFFSET] = repr.type;
      buffer[CODE_OFFSET] = repr.code;
      writeUint32(buffer, REST_OF_HEADER_OFFSET, repr.restOfHeader);
      break;
  }
  writeUint16(buffer, CHECKSUM_OFFSET, 0);
  writeUint16(buffer, CHECKSUM_OFFSET, ~onesComplementSumRange(buffer, 0, length) & 0xffff);
  return length;
}
