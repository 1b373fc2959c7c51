/**
 * The classic libpcap capture file format (not pcapng): a 24-byte global header followed by records,
 * each a 16-byte record header and the captured bytes.
 *
 * - Reading accepts both byte orders and both timestamp precisions (microsecond magic `a1b2c3d4`,
 *   nanosecond magic `a1b23c4d`) and any link type; the link type is reported in {@link PcapHeader}
 *   and callers decide what to do with frames that are not Ethernet.
 * - Record data is a `subarray` of the input, never a copy (the streaming reader copies only a record
 *   that straddles two pushed chunks).
 * - Timestamps are whatever the caller gives the writer; nothing here reads a clock.
 *
 * Contract: given arbitrary bytes, every reader in this module throws only {@link DecodeError}:
 * {@link TruncatedError} when the input ends inside a structure (more bytes could make it valid),
 * {@link MalformedError} when it can never be valid, {@link UnsupportedError} for a pcapng file or a
 * pcap version other than 2.x.
 */
import { MalformedError, TruncatedError, UnsupportedError } from './errors.js';

/** The format name carried by every error this module throws. */
const FORMAT = 'pcap';

/** Length of the global (file) header. */
export const PCAP_HEADER_LENGTH = 24;
/** Length of each record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** Magic number of a file with microsecond timestamps (as read in the file's own byte order). */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
/** Magic number of a file with nanosecond timestamps (as read in the file's own byte order). */
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
/** Link type of IEEE 802.3 Ethernet frames without FCS (`LINKTYPE_ETHERNET`, `DLT_EN10MB`). */
export const LINKTYPE_ETHERNET = 1;
/**
 * Largest captured length a record may have by default, and the default snapshot length of
 * {@link PcapWriter}: libpcap's `MAXIMUM_SNAPLEN` (262,144). Anything longer is treated as malformed.
 */
export const PCAP_MAX_SNAPLEN = 262_144;
/** The file format version this module writes (2.4, the only one in use since 1998). */
export const PCAP_VERSION_MAJOR = 2;
/** Minor version written; any minor version of major version 2 is read. */
export const PCAP_VERSION_MINOR = 4;

// Global header field offsets.
const H_MAGIC = 0;
const H_VERSION_MAJOR = 4;
const H_VERSION_MINOR = 6;
const H_THISZONE = 8;
const H_SIGFIGS = 12;
const H_SNAPLEN = 16;
const H_LINKTYPE = 20;
// Record header field offsets.
const R_TS_SEC = 0;
const R_TS_FRAC = 4;
const R_CAPLEN = 8;
const R_ORIGLEN = 12;

/** The pcapng section header block type, recognised only to say clearly that it is not supported. */
const PCAPNG_MAGIC = 0x0a0d0d0a;
const PCAPNG_MAGIC_BYTES = [0x0a, 0x0d, 0x0d, 0x0a];

/** Timestamp resolution of a file: its sub-second field counts microseconds or nanoseconds. */
export type PcapPrecision = 'micro' | 'nano';

/** Sub-second units per second for each precision. */
export const PCAP_UNITS_PER_SECOND: Readonly<Record<PcapPrecision, number>> = { micro: 1_000_000, nano: 1_000_000_000 };

/** The global header of a pcap file, as read or as to be written. */
export interface PcapHeader {
  /** Timestamp resolution, from the magic number. */
  readonly precision: PcapPrecision;
  /** True when the file's integers are little-endian. */
  readonly littleEndian: boolean;
  /** Format major version (always 2 for a file that parsed). */
  readonly versionMajor: number;
  /** Format minor version (4 in practice). */
  readonly versionMinor: number;
  /** `thiszone`: GMT-to-local correction in seconds; 0 in practice, reported as read. */
  readonly thisZone: number;
  /** `sigfigs`: timestamp accuracy; 0 in practice, reported as read. */
  readonly sigFigs: number;
  /** Snapshot length: no record's captured length exceeds it. 0 means the writer stated no limit. */
  readonly snapLen: number;
  /** Link type of every record (`LINKTYPE_*`); {@link LINKTYPE_ETHERNET} is 1. */
  readonly linkType: number;
}

/** Options for {@link PcapReader} and {@link PcapStreamReader}. */
export interface PcapReaderOptions {
  /**
   * Largest captured length accepted for a record, whatever the header's snapshot length says;
   * a longer record is {@link MalformedError}. Default {@link PCAP_MAX_SNAPLEN}. This bounds the
   * memory a streaming reader holds for one record.
   */
  readonly maxCaptureLength?: number;
}

/**
 * One captured packet. `data` is a view of the reader's input (or of the caller's buffer for a
 * record built to be written): it aliases those bytes and stays valid only as long as they do.
 */
export class PcapRecord {
  /** Whole seconds since the Unix epoch (unsigned 32-bit). */
  readonly seconds: number;
  /** Sub-second part in {@link PcapRecord.precision} units: 0 <= fraction < units per second. */
  readonly fraction: number;
  /** Unit of {@link PcapRecord.fraction}. */
  readonly precision: PcapPrecision;
  /** Length of the packet on the wire; at least `data.byteLength`. */
  readonly originalLength: number;
  /** The captured bytes (`capturedLength` of them). */
  readonly data: Uint8Array;

  /**
   * Builds a record. Validates nothing: the readers have validated every field already, and
   * {@link PcapWriter} validates what it writes.
   */
  constructor(seconds: number, fraction: number, precision: PcapPrecision, originalLength: number, data: Uint8Array) {
    this.seconds = seconds;
    this.fraction = fraction;
    this.precision = precision;
    this.originalLength = originalLength;
    this.data = data;
  }

  /** Number of captured bytes (`incl_len`): `data.byteLength`. */
  get capturedLength(): number {
    return this.data.length;
  }

  /** The timestamp in nanoseconds since the epoch, exactly. */
  timestampNanos(): bigint {
    const scale = this.precision === 'micro' ? 1000n : 1n;
    return BigInt(this.seconds) * 1_000_000_000n + BigInt(this.fraction) * scale;
  }

  /**
   * The timestamp in nanoseconds as a number: exact below 2^53 ns (about 104 days, e.g. for
   * timestamps relative to the start of a simulation); for epoch times it is rounded to the nearest
   * representable double (a few hundred nanoseconds). Use {@link PcapRecord.timestampNanos} when exactness matters.
   */
  timestampNanosNumber(): number {
    return this.seconds * 1e9 + (this.precision === 'micro' ? this.fraction * 1000 : this.fraction);
  }
}

/** Splits a nanosecond timestamp into pcap's seconds and sub-second units (truncating to microseconds for `'micro'`). */
export function pcapTimestampFromNanos(nanos: bigint, precision: PcapPrecision): { seconds: number; fraction: number } {
  if (nanos < 0n || nanos >= 0x1_0000_0000n * 1_000_000_000n)
    throw new RangeError(`pcap: timestamp ${nanos} ns is outside 0..2^32 s`);
  const seconds = Number(nanos / 1_000_000_000n);
  const ns = Number(nanos % 1_000_000_000n);
  return { seconds, fraction: precision === 'micro' ? Math.floor(ns / 1000) : ns };
}

/** The four magic numbers as their first four file bytes, and what each means. */
const MAGICS: ReadonlyArray<{ bytes: readonly number[]; precision: PcapPrecision; littleEndian: boolean }> = [
  { bytes: [0xa1, 0xb2, 0xc3, 0xd4], precision: 'micro', littleEndian: false },
  { bytes: [0xd4, 0xc3, 0xb2, 0xa1], precision: 'micro', littleEndian: true },
  { bytes: [0xa1, 0xb2, 0x3c, 0x4d], precision: 'nano', littleEndian: false },
  { bytes: [0x4d, 0x3c, 0xb2, 0xa1], precision: 'nano', littleEndian: true },
];

type Magic = (typeof MAGICS)[number];

/**
 * The magic number `bytes` starts with, or `undefined` when fewer than 4 bytes are present and they
 * could still grow into one. Throws {@link UnsupportedError} for pcapng, {@link MalformedError} otherwise.
 */
function magicOf(bytes: Uint8Array): Magic | undefined {
  const n = Math.min(bytes.length, 4);
  const magic = MAGICS.find((m) => {
    for (let i = 0; i < n; i++) if (bytes[i] !== m.bytes[i]) return false;
    return true;
  });
  if (magic !== undefined) return n === 4 ? magic : undefined;
  if (n < 4 && PCAPNG_MAGIC_BYTES.slice(0, n).every((b, i) => bytes[i] === b)) return undefined; // wait: it may be pcapng
  if (n === 4) {
    const magicBe = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    if (magicBe === PCAPNG_MAGIC)
      throw new UnsupportedError(FORMAT, 'pcapng files are not supported, only classic pcap');
    throw new MalformedError(FORMAT, `not a pcap file (magic 0x${magicBe.toString(16).padStart(8, '0')})`);
  }
  throw new MalformedError(FORMAT, 'not a pcap file (bad magic number)');
}

/**
 * Parses the 24-byte global header at the start of `bytes`.
 * Throws {@link TruncatedError} when fewer than 24 bytes are present and those present could still
 * start a pcap file, {@link UnsupportedError} for pcapng or a version other than 2.x, and
 * {@link MalformedError} for anything else that is not a pcap header.
 */
export function parsePcapHeader(bytes: Uint8Array): PcapHeader {
  const magic = magicOf(bytes);
  if (magic === undefined) throw new TruncatedError(FORMAT, PCAP_HEADER_LENGTH, bytes.length);
  if (bytes.length < PCAP_HEADER_LENGTH) throw new TruncatedError(FORMAT, PCAP_HEADER_LENGTH, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, PCAP_HEADER_LENGTH);
  const le = magic.littleEndian;
  const versionMajor = view.getUint16(H_VERSION_MAJOR, le);
  const versionMinor = view.getUint16(H_VERSION_MINOR, le);
  if (versionMajor !== PCAP_VERSION_MAJOR)
    throw new UnsupportedError(FORMAT, `version ${versionMajor}.${versionMinor} is not supported (only 2.x)`);
  return {
    precision: magic.precision,
    littleEndian: le,
    versionMajor,
    versionMinor,
    thisZone: view.getInt32(H_THISZONE, le),
    sigFigs: view.getUint32(H_SIGFIGS, le),
    snapLen: view.getUint32(H_SNAPLEN, le),
    linkType: view.getUint32(H_LINKTYPE, le),
  };
}

/**
 * Validates the 16-byte record header at `offset` of `view` (which the caller guarantees holds it)
 * and returns its captured length. Throws {@link MalformedError} when the captured length exceeds the
 * snapshot length or `maxCaptureLength`, when the original length is below the captured length, or
 * when the sub-second field is not below one second.
 */
function checkRecordHeader(view: DataView, offset: number, header: PcapHeader, maxCaptureLength: number): number {
  const le = header.littleEndian;
  const capLen = view.getUint32(offset + R_CAPLEN, le);
  const origLen = view.getUint32(offset + R_ORIGLEN, le);
  const fraction = view.getUint32(offset + R_TS_FRAC, le);
  if (header.snapLen !== 0 && capLen > header.snapLen)
    throw new MalformedError(FORMAT, `record captured length ${capLen} exceeds the snapshot length ${header.snapLen}`);
  if (capLen > maxCaptureLength)
    throw new MalformedError(FORMAT, `record captured length ${capLen} exceeds the limit ${maxCaptureLength}`);
  if (origLen < capLen)
    throw new MalformedError(FORMAT, `record original length ${origLen} is below its captured length ${capLen}`);
  if (fraction >= PCAP_UNITS_PER_SECOND[header.precision])
    throw new MalformedError(FORMAT, `record sub-second field ${fraction} is not below one second`);
  return capLen;
}

/** Builds the record whose (already checked) header is at `offset` of `view`, with `data` as its bytes. */
function recordFrom(view: DataView, offset: number, header: PcapHeader, data: Uint8Array): PcapRecord {
  const le = header.littleEndian;
  return new PcapRecord(
    view.getUint32(offset + R_TS_SEC, le),
    view.getUint32(offset + R_TS_FRAC, le),
    header.precision,
    view.getUint32(offset + R_ORIGLEN, le),
    data,
  );
}

function maxCaptureLengthOf(options: PcapReaderOptions | undefined): number {
  const max = options?.maxCaptureLength ?? PCAP_MAX_SNAPLEN;
  if (!Number.isInteger(max) || max < 0)
    throw new RangeError(`pcap: maxCaptureLength must be a non-negative integer, got ${max}`);
  return max;
}

/**
 * Reads a whole pcap file held in memory. The constructor parses the global header (and throws as
 * {@link parsePcapHeader} does); iterating yields each record in order, its `data` a subarray of
 * `bytes`. Iteration throws {@link TruncatedError} when the file ends inside a record and
 * {@link MalformedError} at the first invalid record header; records before it have been yielded.
 */
export class PcapReader implements Iterable<PcapRecord> {
  /** The file's global header. */
  readonly header: PcapHeader;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly maxCaptureLength: number;

  constructor(bytes: Uint8Array, options?: PcapReaderOptions) {
    this.maxCaptureLength = maxCaptureLengthOf(options);
    this.header = parsePcapHeader(bytes);
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Yields every record in file order (see the class contract for errors). */
  *[Symbol.iterator](): Iterator<PcapRecord> {
    const { bytes, view, header } = this;
    const end = bytes.length;
    let offset = PCAP_HEADER_LENGTH;
    while (offset < end) {
      if (end - offset < PCAP_RECORD_HEADER_LENGTH)
        throw new TruncatedError(FORMAT, offset + PCAP_RECORD_HEADER_LENGTH, end);
      const capLen = checkRecordHeader(view, offset, header, this.maxCaptureLength);
      const dataStart = offset + PCAP_RECORD_HEADER_LENGTH;
      if (end - dataStart < capLen) throw new TruncatedError(FORMAT, dataStart + capLen, end);
      yield recordFrom(view, offset, header, bytes.subarray(dataStart, dataStart + capLen));
      offset = dataStart + capLen;
    }
  }

  /** All records as an array (throws as iteration does). */
  readAll(): PcapRecord[] {
    return [...this];
  }
}

/**
 * An incremental pcap reader for a file that arrives in chunks (a stream, a socket). Push chunks
 * with {@link PcapStreamReader.push}, take records with {@link PcapStreamReader.next} until it
 * returns `undefined` ("need more bytes"), and call {@link PcapStreamReader.end} when the input is
 * over to learn whether it stopped inside a structure.
 *
 * Zero-copy: a record wholly inside one pushed chunk is a subarray of that chunk, so pushed chunks
 * must not be reused while their records are in use; a record split across chunks is copied into a
 * fresh buffer of exactly its length. Memory held is the unconsumed input, of which at most one
 * record ({@link PcapReaderOptions.maxCaptureLength} bytes plus its header) is waiting for bytes.
 *
 * Errors are sticky: once {@link PcapStreamReader.next} has thrown {@link MalformedError} or
 * {@link UnsupportedError} for some input, it throws the same for every later call.
 */
export class PcapStreamReader implements Iterable<PcapRecord> {
  private readonly chunks: Uint8Array[] = [];
  /** Offset of the first unconsumed byte in `chunks[0]`. */
  private head = 0;
  /** Unconsumed bytes across all chunks. */
  private buffered = 0;
  private parsedHeader: PcapHeader | undefined;
  private readonly maxCaptureLength: number;
  private readonly scratch = new Uint8Array(PCAP_HEADER_LENGTH);
  private readonly scratchView = new DataView(this.scratch.buffer);

  constructor(options?: PcapReaderOptions) {
    this.maxCaptureLength = maxCaptureLengthOf(options);
  }

  /** The global header, once enough bytes have arrived and {@link PcapStreamReader.next} has run. */
  get header(): PcapHeader | undefined {
    return this.parsedHeader;
  }

  /** Bytes pushed but not yet returned as part of a header or record. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Appends a chunk of the file. The chunk is referenced, not copied (see the class contract). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * Returns the next record, or `undefined` when more bytes are needed for it. Parses the global
   * header first. Throws {@link MalformedError} / {@link UnsupportedError} for invalid input, never
   * {@link TruncatedError} (that is {@link PcapStreamReader.end}'s job).
   */
  next(): PcapRecord | undefined {
    if (this.parsedHeader === undefined) {
      const n = Math.min(this.buffered, PCAP_HEADER_LENGTH);
      this.peek(this.scratch, n);
      if (n < PCAP_HEADER_LENGTH) {
        magicOf(this.scratch.subarray(0, n)); // throws early for a prefix that can never start a pcap file
        return undefined;
      }
      this.parsedHeader = parsePcapHeader(this.scratch);
      this.consume(PCAP_HEADER_LENGTH);
    }
    const header = this.parsedHeader;
    if (this.buffered < PCAP_RECORD_HEADER_LENGTH) return undefined;
    // The record header, viewed in place when it lies in the first chunk, else copied to scratch.
    const first = this.chunks[0]!;
    let view: DataView;
    let at: number;
    if (first.length - this.head >= PCAP_RECORD_HEADER_LENGTH) {
      view = new DataView(first.buffer, first.byteOffset, first.length);
      at = this.head;
    } else {
      this.peek(this.scratch, PCAP_RECORD_HEADER_LENGTH);
      view = this.scratchView;
      at = 0;
    }
    const capLen = checkRecordHeader(view, at, header, this.maxCaptureLength);
    if (this.buffered < PCAP_RECORD_HEADER_LENGTH + capLen) return undefined;
    const seconds = view.getUint32(at + R_TS_SEC, header.littleEndian);
    const fraction = view.getUint32(at + R_TS_FRAC, header.littleEndian);
    const origLen = view.getUint32(at + R_ORIGLEN, header.littleEndian);
    this.consume(PCAP_RECORD_HEADER_LENGTH);
    const data = this.take(capLen);
    return new PcapRecord(seconds, fraction, header.precision, origLen, data);
  }

  /** Yields every record that the bytes pushed so far complete (throws as {@link PcapStreamReader.next} does). */
  *[Symbol.iterator](): Iterator<PcapRecord> {
    for (let r = this.next(); r !== undefined; r = this.next()) yield r;
  }

  /**
   * Declares the input finished. Throws {@link TruncatedError} when it stopped inside the global
   * header (including an empty input) or inside a record, with `needed` and `available` counted
   * from the start of that structure; otherwise returns normally. Call after draining with `next()`.
   */
  end(): void {
    if (this.parsedHeader === undefined) {
      if (this.buffered < PCAP_HEADER_LENGTH) throw new TruncatedError(FORMAT, PCAP_HEADER_LENGTH, this.buffered);
      return; // a complete header that next() has not parsed yet: not truncated
    }
    if (this.buffered === 0) return;
    if (this.buffered < PCAP_RECORD_HEADER_LENGTH)
      throw new TruncatedError(FORMAT, PCAP_RECORD_HEADER_LENGTH, this.buffered);
    this.peek(this.scratch, PCAP_RECORD_HEADER_LENGTH);
    const capLen = this.scratchView.getUint32(R_CAPLEN, this.parsedHeader.littleEndian);
    const needed = PCAP_RECORD_HEADER_LENGTH + capLen;
    if (this.buffered < needed) throw new TruncatedError(FORMAT, needed, this.buffered);
  }

  /** Copies the first `n` unconsumed bytes (n <= buffered) into `dst` without consuming them. */
  private peek(dst: Uint8Array, n: number): void {
    let copied = 0;
    let offset = this.head;
    for (let i = 0; copied < n; i++) {
      const c = this.chunks[i]!;
      const take = Math.min(n - copied, c.length - offset);
      dst.set(c.subarray(offset, offset + take), copied);
      copied += take;
      offset = 0;
    }
  }

  /** Drops the first `n` unconsumed bytes (n <= buffered). */
  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Removes and returns the first `n` unconsumed bytes (n <= buffered): a subarray when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first === undefined || first.length - this.head >= n) {
      const data = first === undefined ? new Uint8Array(0) : first.subarray(this.head, this.head + n);
      if (n > 0) this.consume(n);
      return data;
    }
    const data = new Uint8Array(n);
    this.peek(data, n);
    this.consume(n);
    return data;
  }
}

/** Options for {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** Link type written in the header. Default {@link LINKTYPE_ETHERNET}. */
  readonly linkType?: number;
  /** Snapshot length: longer packets are truncated to it. 1..{@link PCAP_MAX_SNAPLEN}; default {@link PCAP_MAX_SNAPLEN}. */
  readonly snapLen?: number;
  /** Timestamp precision. Default `'micro'` (what tcpdump writes). */
  readonly precision?: PcapPrecision;
  /** Byte order of the file. Default little-endian (what x86 and ARM hosts write). */
  readonly littleEndian?: boolean;
}

/** What the writer records about one packet; timestamps come from the caller. */
export interface PcapRecordInput {
  /** Whole seconds (integer, 0..2^32-1). */
  readonly seconds: number;
  /** Sub-second part in the writer's precision units (integer, below one second). */
  readonly fraction: number;
  /** The packet. Bytes beyond the snapshot length are not written. */
  readonly data: Uint8Array;
  /** Length on the wire; default `data.byteLength`; must be at least `data.byteLength`. */
  readonly originalLength?: number;
}

/**
 * Produces pcap bytes: {@link PcapWriter.header} once, then one {@link PcapWriter.record} (or
 * {@link PcapWriter.recordInto}, which writes into a caller's buffer without allocating) per packet.
 * The writer keeps no state between records; callers write the bytes wherever they like. Invalid
 * arguments (caller bugs, not decode errors) throw `RangeError`.
 */
export class PcapWriter {
  /** The header this writer writes (version 2.4, `thiszone` and `sigfigs` 0). */
  readonly fileHeader: PcapHeader;
  private readonly unitsPerSecond: number;

  constructor(options: PcapWriterOptions = {}) {
    const snapLen = options.snapLen ?? PCAP_MAX_SNAPLEN;
    const linkType = options.linkType ?? LINKTYPE_ETHERNET;
    const precision = options.precision ?? 'micro';
    if (!Number.isInteger(snapLen) || snapLen < 1 || snapLen > PCAP_MAX_SNAPLEN)
      throw new RangeError(`pcap: snapLen must be 1..${PCAP_MAX_SNAPLEN}, got ${snapLen}`);
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff_ffff)
      throw new RangeError(`pcap: bad link type ${linkType}`);
    if (precision !== 'micro' && precision !== 'nano') throw new RangeError(`pcap: bad precision ${String(precision)}`);
    this.fileHeader = {
      precision,
      littleEndian: options.littleEndian ?? true,
      versionMajor: PCAP_VERSION_MAJOR,
      versionMinor: PCAP_VERSION_MINOR,
      thisZone: 0,
      sigFigs: 0,
      snapLen,
      linkType,
    };
    this.unitsPerSecond = PCAP_UNITS_PER_SECOND[precision];
  }

  /** The 24-byte global header, freshly allocated. */
  header(): Uint8Array {
    const out = new Uint8Array(PCAP_HEADER_LENGTH);
    const h = this.fileHeader;
    const view = new DataView(out.buffer);
    const le = h.littleEndian;
    view.setUint32(H_MAGIC, h.precision === 'micro' ? PCAP_MAGIC_MICROS : PCAP_MAGIC_NANOS, le);
    view.setUint16(H_VERSION_MAJOR, h.versionMajor, le);
    view.setUint16(H_VERSION_MINOR, h.versionMinor, le);
    view.setInt32(H_THISZONE, h.thisZone, le);
    view.setUint32(H_SIGFIGS, h.sigFigs, le);
    view.setUint32(H_SNAPLEN, h.snapLen, le);
    view.setUint32(H_LINKTYPE, h.linkType, le);
    return out;
  }

  /** Bytes {@link PcapWriter.recordInto} writes for a packet of `dataLength` bytes (header plus the part within the snapshot length). */
  recordLength(dataLength: number): number {
    return PCAP_RECORD_HEADER_LENGTH + Math.min(dataLength, this.fileHeader.snapLen);
  }

  /** One record (header and captured bytes), freshly allocated. */
  record(input: PcapRecordInput): Uint8Array {
    const out = new Uint8Array(this.recordLength(input.data.length));
    this.recordInto(input, out, 0);
    return out;
  }

  /**
   * Writes one record into `buffer` at `offset` and returns the number of bytes written
   * ({@link PcapWriter.recordLength}). Throws `RangeError` when the buffer is too small or a field is out of range.
   */
  recordInto(input: PcapRecordInput, buffer: Uint8Array, offset: number): number {
    const { seconds, fraction, data } = input;
    const capLen = Math.min(data.length, this.fileHeader.snapLen);
    const origLen = input.originalLength ?? data.length;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffff_ffff)
      throw new RangeError(`pcap: seconds ${seconds} is not an unsigned 32-bit integer`);
    if (!Number.isInteger(fraction) || fraction < 0 || fraction >= this.unitsPerSecond)
      throw new RangeError(`pcap: fraction ${fraction} is not an integer in 0..${this.unitsPerSecond - 1}`);
    if (!Number.isInteger(origLen) || origLen < data.length || origLen > 0xffff_ffff)
      throw new RangeError(`pcap: originalLength ${origLen} is below the data length ${data.length} or too large`);
    const total = PCAP_RECORD_HEADER_LENGTH + capLen;
    if (!Number.isInteger(offset) || offset < 0 || buffer.length - offset < total)
      throw new RangeError(`pcap: need ${total} bytes at offset ${offset}, buffer has ${buffer.length}`);
    const view = new DataView(buffer.buffer, buffer.byteOffset + offset, PCAP_RECORD_HEADER_LENGTH);
    const le = this.fileHeader.littleEndian;
    view.setUint32(R_TS_SEC, seconds, le);
    view.setUint32(R_TS_FRAC, fraction, le);
    view.setUint32(R_CAPLEN, capLen, le);
    view.setUint32(R_ORIGLEN, origLen, le);
    buffer.set(capLen === data.length ? data : data.subarray(0, capLen), offset + PCAP_RECORD_HEADER_LENGTH);
    return total;
  }
}

/** Anything that accepts byte chunks in order, e.g. a Node `fs.WriteStream` or `net.Socket`. */
export interface PcapByteSink {
  /** Accepts one chunk. The sink may keep a reference to it: {@link PcapSink} never reuses a chunk. */
  write(chunk: Uint8Array): unknown;
}

/**
 * Writes a pcap file to a byte sink: the global header on construction, then one chunk per
 * {@link PcapSink.write}. Each record is a freshly allocated chunk (sinks such as Node streams keep
 * a reference until flushed, so chunks are never reused). Knows nothing of files or streams beyond
 * `write`; the caller opens and closes the sink and handles its back-pressure.
 */
export class PcapSink {
  /** The writer that formats the records. */
  readonly writer: PcapWriter;
  private readonly out: PcapByteSink;
  private count = 0;

  constructor(out: PcapByteSink, options?: PcapWriterOptions) {
    this.writer = new PcapWriter(options);
    this.out = out;
    out.write(this.writer.header());
  }

  /** Records written so far. */
  get records(): number {
    return this.count;
  }

  /** Writes one record; returns what the sink's `write` returned (a Node stream's back-pressure flag). */
  write(input: PcapRecordInput): unknown {
    const result = this.out.write(this.writer.record(input));
    this.count++;
    return result;
  }
}
