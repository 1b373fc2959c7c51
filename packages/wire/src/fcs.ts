/**
 * The IEEE 802.3 frame check sequence: CRC-32 (polynomial 0x04C11DB7, reflected, initial value and
 * final XOR 0xFFFFFFFF), the same CRC as zlib, PNG and gzip. The FCS covers the frame from the
 * destination address to the end of the payload (padding included) and is transmitted
 * least-significant byte first, so it sits little-endian in the last 4 bytes of the frame.
 *
 * {@link crc32} uses Node's native `zlib.crc32` (Node >= 20.15) for buffers where the call pays for
 * itself and the portable slicing-by-8 table code ({@link crc32Portable}) otherwise. Both give the
 * same result for every input.
 */
import * as zlib from 'node:zlib';
import { emitError } from './emit-util.js';

/** Length of the Ethernet frame check sequence in bytes. */
export const FCS_LENGTH = 4;

const FORMAT = 'fcs';
/** The CRC-32 polynomial 0x04C11DB7 with its bits reversed (the reflected form). */
const POLYNOMIAL_REFLECTED = 0xedb88320;
/**
 * Below this length the table code beats the native call (its fixed cost is about 50 ns here); at
 * 1500 bytes native is about 3x faster. Measured on Node 20. Keeping short (and so empty) inputs
 * away from the native call also avoids a Node quirk: `zlib.crc32` of an empty view without a
 * backing store returns 0 instead of `value`.
 */
const NATIVE_MIN_LENGTH = 256;

/** CRC-32 of any byte string followed by its own CRC-32, least-significant byte first. */
const CRC32_RESIDUE = 0x2144df1c;

type Crc32Function = (data: Uint8Array, value?: number) => number;
/** `zlib.crc32` when this Node has it (added in 20.15 / 22.2), else undefined. */
const nativeCrc32: Crc32Function | undefined = (zlib as { crc32?: Crc32Function }).crc32;

/**
 * Slicing-by-8 tables: table t (entries t*256 .. t*256+255) holds the CRC of a byte followed by t
 * zero bytes, so eight bytes are folded in per step with eight look-ups.
 */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    tables[n] = c;
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const previous = tables[(t - 1) * 256 + n]!;
      tables[t * 256 + n] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
}

/**
 * CRC-32 of `bytes` in portable JavaScript (slicing-by-8), continuing from `initial`, the CRC of
 * the bytes before them (0 to start). Same contract and results as {@link crc32}; exported so the
 * fallback can be tested and measured where the native one exists.
 */
export function crc32Portable(bytes: Uint8Array, initial = 0): number {
  const t = TABLES;
  let c = ~initial;
  const length = bytes.length;
  const end8 = length - (length & 7);
  let i = 0;
  for (; i < end8; i += 8) {
    const low = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (low & 0xff)]! ^
      t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^
      t[1024 + (low >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < length; i++) c = (c >>> 8) ^ t[(c ^ bytes[i]!) & 0xff]!;
  return ~c >>> 0;
}

/**
 * The IEEE 802.3 CRC-32 of `bytes` as an unsigned 32-bit number. `initial` is the CRC of the bytes
 * that came before (0 to start), so `crc32(b, crc32(a))` equals the CRC of `a ++ b`.
 * `crc32(ascii("123456789")) === 0xcbf43926`.
 */
export function crc32(bytes: Uint8Array, initial = 0): number {
  if (nativeCrc32 !== undefined && bytes.length >= NATIVE_MIN_LENGTH) return nativeCrc32(bytes, initial >>> 0);
  return crc32Portable(bytes, initial);
}

/** The FCS of a frame given without its FCS (destination address through padding): its CRC-32. */
export function fcsOf(frameWithoutFcs: Uint8Array): number {
  return crc32(frameWithoutFcs);
}

/**
 * Computes the FCS over all but the last {@link FCS_LENGTH} bytes of `frame` and stores it in those
 * last 4 bytes, least-significant byte first (as Ethernet transmits it).
 * @throws RangeError if `frame` is shorter than {@link FCS_LENGTH}.
 */
export function writeFcs(frame: Uint8Array): void {
  const end = frame.length - FCS_LENGTH;
  if (end < 0) throw emitError(FORMAT, `frame of ${frame.length} bytes has no room for the FCS`);
  const fcs = crc32(frame.subarray(0, end));
  frame[end] = fcs & 0xff;
  frame[end + 1] = (fcs >>> 8) & 0xff;
  frame[end + 2] = (fcs >>> 16) & 0xff;
  frame[end + 3] = fcs >>> 24;
}

/**
 * True if the last {@link FCS_LENGTH} bytes of `frameWithFcs` hold, least-significant byte first,
 * the CRC-32 of the bytes before them. False (never a throw) for frames shorter than 4 bytes.
 */
export function checkFcs(frameWithFcs: Uint8Array): boolean {
  if (frameWithFcs.length < FCS_LENGTH) return false;
  // The CRC of bytes followed by their own CRC (least-significant byte first) is always this
  // residue, and for given bytes no other 4 trailing bytes give it: one pass over the whole
  // frame, no subarray.
  return crc32(frameWithFcs) === CRC32_RESIDUE;
}
