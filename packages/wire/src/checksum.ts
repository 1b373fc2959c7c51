/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The sum is byte-order independent (RFC 1071 §2(B)): the result is defined over big-endian 16-bit
 * words as the wire defines them, but {@link onesComplementSum} is free to add the bytes in whatever
 * grouping is fastest and rotate the folded result into place. {@link onesComplementSum} returns a
 * partial sum so callers can chain a pseudo-header and a payload without copying them together.
 */

/** Below this length the byte loop beats setting up the 32-bit word loop (measured on Node 20). */
const WORD_PATH_MIN_LENGTH = 128;
/**
 * Words added per chunk before folding: each of the four accumulators then stays below
 * 2^20 * 2^32 / 4 < 2^53, so a Number holds it exactly.
 */
const WORDS_PER_CHUNK = 1 << 20;
/** True on a little-endian host: a `Uint32Array` element then weighs its first byte by 1. */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/*
 * A 32-bit view over the whole ArrayBuffer of the last buffer summed, so that summing packets that
 * live in one pool or ring allocates nothing. It keeps the last buffer reachable until another one
 * is summed (one reference, never more). Rebuilt when the buffer or its length changes (resizable
 * buffers).
 */
let cachedBuffer: ArrayBufferLike | null = null;
let cachedByteLength = -1;
let cachedWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOver(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer !== cachedBuffer || buffer.byteLength !== cachedByteLength) {
    cachedBuffer = buffer;
    cachedByteLength = buffer.byteLength;
    cachedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return cachedWords;
}

/**
 * Adds the big-endian 16-bit words of `bytes` to `initial` and returns the folded 16-bit
 * ones'-complement sum (not yet inverted). An odd trailing byte is padded with zero, as RFC 1071 says.
 * Chaining: `onesComplementSum(b, onesComplementSum(a))` equals the sum over `a ++ b` only when
 * `a` has even length. `initial` must be a non-negative integer below 2^52.
 *
 * The result is 0 only when `initial` and every word are 0; otherwise it lies in 1..0xffff.
 * Allocates nothing while successive calls sum bytes of the same ArrayBuffer.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  const len = bytes.byteLength;
  if (len >= WORD_PATH_MIN_LENGTH) return wordPathSum(bytes, initial);
  // Short input (headers, pseudo-headers): a plain byte loop, small enough to be inlined by callers.
  let sum = initial;
  const even = len & ~1;
  const end8 = even & ~7;
  let i = 0;
  for (; i < end8; i += 8) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!);
  }
  for (; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (len & 1) sum += bytes[len - 1]! << 8;
  return foldSum(sum);
}

/** {@link onesComplementSum} for inputs of at least {@link WORD_PATH_MIN_LENGTH} bytes. */
function wordPathSum(bytes: Uint8Array, initial: number): number {
  const len = bytes.byteLength;
  // Bytes before the first 4-byte-aligned address, added by position (even positions weigh 256).
  const offset = bytes.byteOffset;
  const head = (4 - (offset & 3)) & 3;
  let edges = 0;
  if (head > 0) {
    edges = bytes[0]! << 8;
    if (head > 1) edges += bytes[1]!;
    if (head > 2) edges += bytes[2]! << 8;
  }
  const wordCount = (len - head) >>> 2;
  const tail = head + wordCount * 4;
  for (let i = tail; i < len; i++) edges += (i & 1) === 0 ? bytes[i]! << 8 : bytes[i]!;

  // Aligned 32-bit words in host order. 2^16 = 1 (mod 0xffff), so a word adds its two halves; each
  // half is a 16-bit word whose bytes may be in the wrong order for the wire. RFC 1071 §2(B): such
  // a sum is the byte swap of the right one, so fix it once after folding.
  const words = wordsOver(bytes.buffer);
  let k = (offset + head) >>> 2;
  const end = k + wordCount;
  let wordSum = 0;
  while (k < end) {
    const chunkEnd = Math.min(end, k + WORDS_PER_CHUNK);
    const end4 = chunkEnd - ((chunkEnd - k) & 3);
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (; k < end4; k += 4) {
      a += words[k]!;
      b += words[k + 1]!;
      c += words[k + 2]!;
      d += words[k + 3]!;
    }
    for (; k < chunkEnd; k++) a += words[k]!;
    wordSum = foldSum(wordSum + foldSum(a + b + c + d));
  }
  // On a little-endian host a word's first byte weighs 1; that byte is at an even wire position
  // exactly when `head` is even, and an even position must weigh 256: swap. Big-endian: the reverse.
  if (((head & 1) === 0) === HOST_LITTLE_ENDIAN) wordSum = ((wordSum & 0xff) << 8) | (wordSum >>> 8);
  return foldSum(initial + edges + wordSum);
}

/** Folds a non-negative integer sum of 16-bit words (below 2^53) to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) {
    const high = Math.floor(sum / 0x10000);
    sum = sum - high * 0x10000 + high;
  }
  return sum;
}

/** The Internet checksum of `bytes`: the ones'-complement of their ones'-complement sum. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}

/**
 * RFC 1624 eqn. 3 incremental update: the new checksum after one 16-bit word of the covered data
 * changes from `oldWord` to `newWord`. `HC' = ~(~HC + ~m + m')`.
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (e.g. an IPv4 address in a pseudo-header) changing value. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const c = checksumUpdate16(checksum, (oldValue >>> 16) & 0xffff, (newValue >>> 16) & 0xffff);
  return checksumUpdate16(c, oldValue & 0xffff, newValue & 0xffff);
}
