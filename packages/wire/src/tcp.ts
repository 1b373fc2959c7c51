/**
 * TCP segments (RFC 9293) over IPv4, their options (RFC 9293 §3.2, RFC 7323 window scale and
 * timestamps, RFC 2018 SACK) and the checksum over the IPv4 pseudo-header.
 *
 * Two ways to read a segment:
 * - the hot path: {@link TcpPacket} getters and {@link TcpPacket.scanOptions}, which fill a reusable
 *   {@link TcpOptionSummary} and allocate nothing;
 * - the representation: {@link parseTcp} returns a {@link TcpRepr} whose options are an ordered
 *   array of tagged objects that {@link emitTcp} writes back byte for byte (unknown options kept).
 */
import type { Ipv4Address } from './address.js';
import { onesComplementSum } from './checksum.js';
import { copyPayloadUnlessInPlace, emitError, readUint16, readUint32, writeUint16, writeUint32 } from './emit-util.js';
import { MalformedError, TruncatedError, viewOf } from './errors.js';
import { IP_PROTO_TCP, ipv4PseudoHeaderSum } from './ipv4.js';

/** Length of a TCP header without options. */
export const TCP_MIN_HEADER_LENGTH = 20;
/** Length of a TCP header with the most options (data offset 15). */
export const TCP_MAX_HEADER_LENGTH = 60;
/** Most option bytes a header can carry. */
export const TCP_MAX_OPTIONS_LENGTH = TCP_MAX_HEADER_LENGTH - TCP_MIN_HEADER_LENGTH;
/** Most SACK blocks one SACK option can carry (4 fill 34 of the 40 option bytes). */
export const TCP_MAX_SACK_BLOCKS = 4;

/**
 * The TCP flag bits of header byte 13, to combine as a bitmask:
 * `(packet.flags & TcpFlag.SYN) !== 0`, `TcpFlag.SYN | TcpFlag.ACK`.
 */
export const TcpFlag = {
  /** No more data from the sender. */
  FIN: 0x01,
  /** Synchronize sequence numbers. */
  SYN: 0x02,
  /** Reset the connection. */
  RST: 0x04,
  /** Push function. */
  PSH: 0x08,
  /** The acknowledgment number is significant. */
  ACK: 0x10,
  /** The urgent pointer is significant. */
  URG: 0x20,
  /** ECN-Echo (RFC 3168). */
  ECE: 0x40,
  /** Congestion Window Reduced (RFC 3168). */
  CWR: 0x80,
} as const;

/** Option kind: End of Option List (one byte; the rest of the option space is padding). */
export const TCP_OPTION_EOL = 0;
/** Option kind: No-Operation (one byte, for alignment). */
export const TCP_OPTION_NOP = 1;
/** Option kind: Maximum Segment Size (length 4). */
export const TCP_OPTION_MSS = 2;
/** Option kind: Window Scale (length 3, RFC 7323). */
export const TCP_OPTION_WINDOW_SCALE = 3;
/** Option kind: SACK-Permitted (length 2, RFC 2018). */
export const TCP_OPTION_SACK_PERMITTED = 4;
/** Option kind: SACK (length 2 + 8n, n = 1..4, RFC 2018). */
export const TCP_OPTION_SACK = 5;
/** Option kind: Timestamps (length 10, RFC 7323). */
export const TCP_OPTION_TIMESTAMPS = 8;

const FORMAT = 'tcp';
const SOURCE_PORT_OFFSET = 0;
const DESTINATION_PORT_OFFSET = 2;
const SEQ_OFFSET = 4;
const ACK_OFFSET = 8;
const DATA_OFFSET_OFFSET = 12;
const FLAGS_OFFSET = 13;
const WINDOW_OFFSET = 14;
const CHECKSUM_OFFSET = 16;
const URGENT_OFFSET = 18;
const OPTIONS_OFFSET = 20;
const MIN_DATA_OFFSET = 5;
/** Largest segment whose length fits the 16-bit length of the IPv4 pseudo-header. */
const MAX_SEGMENT_LENGTH = 0xffff;

const MSS_LENGTH = 4;
const WINDOW_SCALE_LENGTH = 3;
const SACK_PERMITTED_LENGTH = 2;
const SACK_BASE_LENGTH = 2;
const SACK_BLOCK_LENGTH = 8;
const TIMESTAMPS_LENGTH = 10;
/** Type and length octets in front of every option but EOL and NOP. */
const OPTION_HEADER_LENGTH = 2;

/** One SACK block: the sequence numbers of the first byte received and of the byte after the last. */
export interface TcpSackBlock {
  /** Left edge (uint32). */
  left: number;
  /** Right edge (uint32). */
  right: number;
}

/**
 * One TCP option, tagged by `kind`. A {@link TcpRepr} keeps options in wire order, padding NOPs
 * and EOL included, so a parsed header is emitted again byte for byte.
 */
export type TcpOption =
  /** End of Option List: the last option; {@link emitTcp} writes zeros after it up to the header end. */
  | { kind: 'eol' }
  /** No-Operation, one byte. */
  | { kind: 'nop' }
  /** Maximum Segment Size, 0..65535. */
  | { kind: 'mss'; value: number }
  /** Window scale shift count as sent, 0..255 (RFC 7323 caps its use at 14; the stack applies that). */
  | { kind: 'windowScale'; shift: number }
  /** SACK-Permitted. */
  | { kind: 'sackPermitted' }
  /** SACK blocks, 1..{@link TCP_MAX_SACK_BLOCKS}. */
  | { kind: 'sack'; blocks: TcpSackBlock[] }
  /** Timestamps: TSval and TSecr, both uint32. */
  | { kind: 'timestamps'; tsVal: number; tsEcr: number }
  /**
   * Any other kind (2..255 except the ones above), with its data after the type and length octets.
   * From {@link parseTcp} `data` is a view into the packet: copy it to keep it past the buffer.
   */
  | { kind: 'unknown'; type: number; data: Uint8Array };

/**
 * The options of one segment, read without allocating by {@link TcpPacket.scanOptions}. Reuse one
 * instance for many packets. When an option appears twice, the last one wins.
 */
export class TcpOptionSummary {
  /** Maximum Segment Size, or -1 if absent. */
  mss = -1;
  /** Window scale shift count as sent (0..255), or -1 if absent. */
  windowScale = -1;
  /** True if SACK-Permitted is present. */
  sackPermitted = false;
  /** True if the Timestamps option is present ({@link TcpOptionSummary.tsVal}, {@link TcpOptionSummary.tsEcr} valid). */
  hasTimestamps = false;
  /** TSval (uint32), 0 if absent. */
  tsVal = 0;
  /** TSecr (uint32), 0 if absent. */
  tsEcr = 0;
  /** Number of SACK blocks, 0..4. */
  sackBlockCount = 0;
  /** SACK edges: block i spans `sackEdges[2i]` (left) to `sackEdges[2i+1]` (right). Only the first `2 * sackBlockCount` are valid. */
  readonly sackEdges = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);

  /** Clears every field to "absent". */
  reset(): this {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackBlockCount = 0;
    return this;
  }
}

/**
 * A checked view of a TCP segment.
 *
 * Invariant: after {@link TcpPacket.checked} returns, the data offset is 5..15, the header fits in the
 * bytes, and the options are well-formed (every option's length octet is present, at least 2, fits
 * the header, and matches its kind: MSS 4, window scale 3, SACK-Permitted 2, SACK 2+8n with n 1..4,
 * timestamps 10); no accessor throws. The segment runs to the end of the bytes given (TCP has no
 * length field: bound the bytes by the IPv4 total length).
 */
export class TcpPacket {
  /** The segment: header then payload. */
  readonly bytes: Uint8Array;
  /** Backs {@link TcpPacket.view}, made on first use: the accessors read the bytes directly. */
  private dataView: DataView | undefined = undefined;
  /** Header length in bytes (data offset times 4), 20..60. */
  readonly headerLength: number;

  private constructor(bytes: Uint8Array, headerLength: number) {
    this.bytes = bytes;
    this.headerLength = headerLength;
  }

  /**
   * Wraps a TCP segment (the whole IPv4 payload).
   * @throws {@link TruncatedError} if the bytes end before the fixed header or before the data offset.
   * @throws {@link MalformedError} if the data offset is below 5 or an option is malformed.
   */
  static checked(bytes: Uint8Array): TcpPacket {
    if (bytes.length < TCP_MIN_HEADER_LENGTH) throw new TruncatedError(FORMAT, TCP_MIN_HEADER_LENGTH, bytes.length);
    const dataOffset = bytes[DATA_OFFSET_OFFSET]! >>> 4;
    if (dataOffset < MIN_DATA_OFFSET) throw new MalformedError(FORMAT, `data offset ${dataOffset} is below 5`);
    const headerLength = dataOffset * 4;
    if (headerLength > bytes.length) throw new TruncatedError(FORMAT, headerLength, bytes.length);
    validateOptions(bytes, headerLength);
    return new TcpPacket(bytes, headerLength);
  }

  /**
   * A `DataView` over exactly {@link TcpPacket.bytes}, made on first use and then kept. The field
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

  /** Sequence number (uint32). */
  get seq(): number {
    return readUint32(this.bytes, SEQ_OFFSET);
  }

  /** Acknowledgment number (uint32), significant only with {@link TcpFlag.ACK}. */
  get ack(): number {
    return readUint32(this.bytes, ACK_OFFSET);
  }

  /** Data offset: header length in 32-bit words, 5..15. */
  get dataOffset(): number {
    return this.bytes[DATA_OFFSET_OFFSET]! >>> 4;
  }

  /** The flag bits of byte 13 (see {@link TcpFlag}). The four reserved bits of byte 12 are not included. */
  get flags(): number {
    return this.bytes[FLAGS_OFFSET]!;
  }

  /** Receive window as sent (unscaled). */
  get window(): number {
    return readUint16(this.bytes, WINDOW_OFFSET);
  }

  /** The checksum field as stored. */
  get checksum(): number {
    return readUint16(this.bytes, CHECKSUM_OFFSET);
  }

  /** Urgent pointer, significant only with {@link TcpFlag.URG}. */
  get urgentPointer(): number {
    return readUint16(this.bytes, URGENT_OFFSET);
  }

  /** The raw option bytes (0..40, padding included), as a view into the segment. */
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS_OFFSET, this.headerLength);
  }

  /** Payload length in bytes. */
  get payloadLength(): number {
    return this.bytes.length - this.headerLength;
  }

  /** The payload, from the end of the header to the end of the bytes, as a view. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }

  /** Sequence space the segment occupies: payload length, plus 1 for SYN, plus 1 for FIN. */
  get segmentLength(): number {
    const flags = this.bytes[FLAGS_OFFSET]!;
    return this.bytes.length - this.headerLength + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
  }

  /** True if the checksum is correct for a segment from `src` to `dst`. */
  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    return onesComplementSum(this.bytes, ipv4PseudoHeaderSum(src, dst, IP_PROTO_TCP, this.bytes.length)) === 0xffff;
  }

  /**
   * Reads MSS, window scale, SACK-Permitted, timestamps and SACK blocks into `out` (reset first)
   * without allocating, and returns `out`. Unknown options are skipped; nothing after EOL is read.
   * Never throws.
   */
  scanOptions(out: TcpOptionSummary): TcpOptionSummary {
    out.reset();
    const bytes = this.bytes;
    const end = this.headerLength;
    let at = OPTIONS_OFFSET;
    while (at < end) {
      const kind = bytes[at]!;
      if (kind === TCP_OPTION_EOL) break;
      if (kind === TCP_OPTION_NOP) {
        at++;
        continue;
      }
      const length = bytes[at + 1]!;
      switch (kind) {
        case TCP_OPTION_MSS:
          out.mss = readUint16(bytes, at + 2);
          break;
        case TCP_OPTION_WINDOW_SCALE:
          out.windowScale = bytes[at + 2]!;
          break;
        case TCP_OPTION_SACK_PERMITTED:
          out.sackPermitted = true;
          break;
        case TCP_OPTION_TIMESTAMPS:
          out.hasTimestamps = true;
          out.tsVal = readUint32(bytes, at + 2);
          out.tsEcr = readUint32(bytes, at + 6);
          break;
        case TCP_OPTION_SACK: {
          const count = (length - SACK_BASE_LENGTH) / SACK_BLOCK_LENGTH;
          for (let i = 0; i < count; i++) {
            const block = at + SACK_BASE_LENGTH + i * SACK_BLOCK_LENGTH;
            out.sackEdges[2 * i] = readUint32(bytes, block);
            out.sackEdges[2 * i + 1] = readUint32(bytes, block + 4);
          }
          out.sackBlockCount = count;
          break;
        }
      }
      at += length;
    }
    return out;
  }
}

/** The only valid length of a fixed-length known option kind, 0 for a variable or unknown kind. */
function fixedLengthOf(kind: number): number {
  switch (kind) {
    case TCP_OPTION_MSS:
      return MSS_LENGTH;
    case TCP_OPTION_WINDOW_SCALE:
      return WINDOW_SCALE_LENGTH;
    case TCP_OPTION_SACK_PERMITTED:
      return SACK_PERMITTED_LENGTH;
    case TCP_OPTION_TIMESTAMPS:
      return TIMESTAMPS_LENGTH;
    default:
      return 0;
  }
}

/** Throws {@link MalformedError} unless the options in `bytes[20, end)` are well-formed. */
function validateOptions(bytes: Uint8Array, end: number): void {
  let at = OPTIONS_OFFSET;
  while (at < end) {
    const kind = bytes[at]!;
    if (kind === TCP_OPTION_EOL) return;
    if (kind === TCP_OPTION_NOP) {
      at++;
      continue;
    }
    if (at + 1 >= end) throw new MalformedError(FORMAT, `option ${kind} has no length octet`);
    const length = bytes[at + 1]!;
    if (length < OPTION_HEADER_LENGTH || at + length > end)
      throw new MalformedError(FORMAT, `option ${kind} has bad length ${length}`);
    const fixed = fixedLengthOf(kind);
    if (fixed !== 0 && length !== fixed)
      throw new MalformedError(FORMAT, `option ${kind} has length ${length}, need ${fixed}`);
    if (
      kind === TCP_OPTION_SACK &&
      (length < SACK_BASE_LENGTH + SACK_BLOCK_LENGTH || (length - SACK_BASE_LENGTH) % SACK_BLOCK_LENGTH !== 0)
    ) {
      throw new MalformedError(FORMAT, `SACK option has length ${length}, need 2 + 8n`);
    }
    at += length;
  }
}

/** The validated contents of a TCP header (the data offset and checksum follow from the rest). */
export interface TcpRepr {
  /** Source port, 0..65535. */
  srcPort: number;
  /** Destination port, 0..65535. */
  dstPort: number;
  /** Sequence number (uint32). */
  seq: number;
  /** Acknowledgment number (uint32), kept as sent even without {@link TcpFlag.ACK}. */
  ack: number;
  /** Flag bits, 0..255 (see {@link TcpFlag}). */
  flags: number;
  /** Receive window as sent (unscaled), 0..65535. */
  window: number;
  /** Urgent pointer, 0..65535. */
  urgentPointer: number;
  /** Options in wire order. */
  options: TcpOption[];
}

/**
 * Reads a checked segment's header and options. Never throws (the options were validated by
 * {@link TcpPacket.checked}). Does not verify the checksum: call {@link TcpPacket.verifyChecksum}
 * with the addresses from the IPv4 header. Bytes after an EOL option are padding and are not read;
 * the four reserved bits of byte 12 are ignored.
 */
export function parseTcp(packet: TcpPacket): TcpRepr {
  return {
    srcPort: packet.srcPort,
    dstPort: packet.dstPort,
    seq: packet.seq,
    ack: packet.ack,
    flags: packet.flags,
    window: packet.window,
    urgentPointer: packet.urgentPointer,
    options: parseOptions(packet.bytes, packet.headerLength),
  };
}

function parseOptions(bytes: Uint8Array, end: number): TcpOption[] {
  const options: TcpOption[] = [];
  let at = OPTIONS_OFFSET;
  while (at < end) {
    const kind = bytes[at]!;
    if (kind === TCP_OPTION_EOL) {
      options.push({ kind: 'eol' });
      break;
    }
    if (kind === TCP_OPTION_NOP) {
      options.push({ kind: 'nop' });
      at++;
      continue;
    }
    const length = bytes[at + 1]!;
    switch (kind) {
      case TCP_OPTION_MSS:
        options.push({ kind: 'mss', value: readUint16(bytes, at + 2) });
        break;
      case TCP_OPTION_WINDOW_SCALE:
        options.push({ kind: 'windowScale', shift: bytes[at + 2]! });
        break;
      case TCP_OPTION_SACK_PERMITTED:
        options.push({ kind: 'sackPermitted' });
        break;
      case TCP_OPTION_TIMESTAMPS:
        options.push({ kind: 'timestamps', tsVal: readUint32(bytes, at + 2), tsEcr: readUint32(bytes, at + 6) });
        break;
      case TCP_OPTION_SACK: {
        const blocks: TcpSackBlock[] = [];
        for (let block = at + SACK_BASE_LENGTH; block < at + length; block += SACK_BLOCK_LENGTH) {
          blocks.push({ left: readUint32(bytes, block), right: readUint32(bytes, block + 4) });
        }
        options.push({ kind: 'sack', blocks });
        break;
      }
      default:
        options.push({ kind: 'unknown', type: kind, data: bytes.subarray(at + OPTION_HEADER_LENGTH, at + length) });
    }
    at += length;
  }
  return options;
}

/** Encoded length of one option in bytes. */
function optionLength(option: TcpOption): number {
  switch (option.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return MSS_LENGTH;
    case 'windowScale':
      return WINDOW_SCALE_LENGTH;
    case 'sackPermitted':
      return SACK_PERMITTED_LENGTH;
    case 'timestamps':
      return TIMESTAMPS_LENGTH;
    case 'sack':
      return SACK_BASE_LENGTH + SACK_BLOCK_LENGTH * option.blocks.length;
    case 'unknown':
      return OPTION_HEADER_LENGTH + option.data.length;
  }
}

/** Encoded length of `options` in bytes, before padding to a multiple of 4. */
export function tcpOptionsLength(options: readonly TcpOption[]): number {
  let length = 0;
  for (const option of options) length += optionLength(option);
  return length;
}

/**
 * Header length `repr` emits: 20 plus its options padded with zeros to a multiple of 4. A result
 * above {@link TCP_MAX_HEADER_LENGTH} means the options do not fit; {@link emitTcp} rejects them.
 */
export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_MIN_HEADER_LENGTH + ((tcpOptionsLength(repr.options) + 3) & ~3);
}

/** Buffer length needed to emit `repr` with `payloadLength` payload bytes. */
export function tcpBufferLength(repr: TcpRepr, payloadLength: number): number {
  return tcpHeaderLength(repr) + payloadLength;
}

/**
 * Writes the header of `repr` at the start of `buffer` (options in order, then zero padding to a
 * multiple of 4), copies `payload` after it unless it already sits there (same underlying buffer,
 * right offset), then fills the checksum over the pseudo-header for `src` -> `dst`, the header and
 * the payload.
 *
 * Without `payload`, everything in `buffer` after the header is the payload and must be in place
 * before the call (size `buffer` with {@link tcpBufferLength}).
 *
 * `parseTcp(TcpPacket.checked(segment))` gives back `repr` exactly when the options end with an
 * `eol` or fill a multiple of 4 bytes (otherwise the zero padding reads back as a trailing `eol`).
 * @returns the segment length: header plus payload.
 * @throws RangeError if `buffer` is too short, the segment exceeds 65535 bytes, the options exceed
 * 40 bytes, a field is out of range (ports, window and urgent pointer 0..65535, seq, ack, SACK
 * edges and timestamps uint32, flags 0..255), an `eol` is not last, a SACK option has no block or
 * more than 4, or an `unknown` option uses a kind this module decodes (0, 1, 2, 3, 4, 5, 8).
 */
export function emitTcp(
  repr: TcpRepr,
  buffer: Uint8Array,
  src: Ipv4Address,
  dst: Ipv4Address,
  payload?: Uint8Array,
): number {
  checkRange('source port', repr.srcPort, 0xffff);
  checkRange('destination port', repr.dstPort, 0xffff);
  checkRange('seq', repr.seq, 0xffff_ffff);
  checkRange('ack', repr.ack, 0xffff_ffff);
  checkRange('flags', repr.flags, 0xff);
  checkRange('window', repr.window, 0xffff);
  checkRange('urgent pointer', repr.urgentPointer, 0xffff);
  const optionsLength = tcpOptionsLength(repr.options);
  if (optionsLength > TCP_MAX_OPTIONS_LENGTH)
    throw emitError(FORMAT, `options of ${optionsLength} bytes exceed ${TCP_MAX_OPTIONS_LENGTH}`);
  const headerLength = TCP_MIN_HEADER_LENGTH + ((optionsLength + 3) & ~3);
  const length = payload === undefined ? buffer.length : headerLength + payload.length;
  if (buffer.length < length || length < headerLength)
    throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${Math.max(length, headerLength)}`);
  if (length > MAX_SEGMENT_LENGTH) throw emitError(FORMAT, `segment of ${length} bytes exceeds ${MAX_SEGMENT_LENGTH}`);

  writeUint16(buffer, SOURCE_PORT_OFFSET, repr.srcPort);
  writeUint16(buffer, DESTINATION_PORT_OFFSET, repr.dstPort);
  writeUint32(buffer, SEQ_OFFSET, repr.seq);
  writeUint32(buffer, ACK_OFFSET, repr.ack);
  buffer[DATA_OFFSET_OFFSET] = (headerLength >>> 2) << 4;
  buffer[FLAGS_OFFSET] = repr.flags;
  writeUint16(buffer, WINDOW_OFFSET, repr.window);
  writeUint16(buffer, CHECKSUM_OFFSET, 0);
  writeUint16(buffer, URGENT_OFFSET, repr.urgentPointer);
  let at = writeOptions(buffer, repr.options);
  while (at < headerLength) buffer[at++] = TCP_OPTION_EOL;
  if (payload !== undefined) copyPayloadUnlessInPlace(buffer, headerLength, payload);

  const segment = length === buffer.length ? buffer : buffer.subarray(0, length);
  writeUint16(
    buffer,
    CHECKSUM_OFFSET,
    ~onesComplementSum(segment, ipv4PseudoHeaderSum(src, dst, IP_PROTO_TCP, length)) & 0xffff,
  );
  return length;
}

/** Writes `options` from offset 20 and returns the offset after the last one. */
function writeOptions(buffer: Uint8Array, options: readonly TcpOption[]): number {
  let at = OPTIONS_OFFSET;
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    switch (option.kind) {
      case 'eol':
        if (i !== options.length - 1) throw emitError(FORMAT, 'eol must be the last option');
        buffer[at++] = TCP_OPTION_EOL;
        break;
      case 'nop':
        buffer[at++] = TCP_OPTION_NOP;
        break;
      case 'mss':
        checkRange('MSS', option.value, 0xffff);
        buffer[at] = TCP_OPTION_MSS;
        buffer[at + 1] = MSS_LENGTH;
        writeUint16(buffer, at + 2, option.value);
        at += MSS_LENGTH;
        break;
      case 'windowScale':
        checkRange('window scale', option.shift, 0xff);
        buffer[at] = TCP_OPTION_WINDOW_SCALE;
        buffer[at + 1] = WINDOW_SCALE_LENGTH;
        buffer[at + 2] = option.shift;
        at += WINDOW_SCALE_LENGTH;
        break;
      case 'sackPermitted':
        buffer[at] = TCP_OPTION_SACK_PERMITTED;
        buffer[at + 1] = SACK_PERMITTED_LENGTH;
        at += SACK_PERMITTED_LENGTH;
        break;
      case 'timestamps':
        checkRange('TSval', option.tsVal, 0xffff_ffff);
        checkRange('TSecr', option.tsEcr, 0xffff_ffff);
        buffer[at] = TCP_OPTION_TIMESTAMPS;
        buffer[at + 1] = TIMESTAMPS_LENGTH;
        writeUint32(buffer, at + 2, option.tsVal);
        writeUint32(buffer, at + 6, option.tsEcr);
        at += TIMESTAMPS_LENGTH;
        break;
      case 'sack': {
        const count = option.blocks.length;
        if (count < 1 || count > TCP_MAX_SACK_BLOCKS)
          throw emitError(FORMAT, `SACK option with ${count} blocks (need 1..4)`);
        buffer[at] = TCP_OPTION_SACK;
        buffer[at + 1] = SACK_BASE_LENGTH + SACK_BLOCK_LENGTH * count;
        at += SACK_BASE_LENGTH;
        for (const block of option.blocks) {
          checkRange('SACK left edge', block.left, 0xffff_ffff);
          checkRange('SACK right edge', block.right, 0xffff_ffff);
          writeUint32(buffer, at, block.left);
          writeUint32(buffer, at + 4, block.right);
          at += SACK_BLOCK_LENGTH;
        }
        break;
      }
      case 'unknown': {
        const { type, data } = option;
        checkRange('option kind', type, 0xff);
        if (type <= TCP_OPTION_SACK || type === TCP_OPTION_TIMESTAMPS)
          throw emitError(FORMAT, `option kind ${type} cannot be emitted as unknown`);
        buffer[at] = type;
        buffer[at + 1] = OPTION_HEADER_LENGTH + data.length;
        buffer.set(data, at + OPTION_HEADER_LENGTH);
        at += OPTION_HEADER_LENGTH + data.length;
        break;
      }
    }
  }
  return at;
}

function checkRange(field: string, value: number, max: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= max))
    throw emitError(FORMAT, `${field} ${value} is not an integer in 0..${max}`);
}
