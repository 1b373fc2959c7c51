/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The sum is byte-order independent (RFC 1071 §2(B)): the result is defined over big-endian 16-bit
 * words as the wire defines them, but {@link onesComplementSum} is free to add the bytes in whatever
 * grouping is fastest and rotate the folded result into place. {@link onesComplementSum} returns a
 * partial sum so callers can chain a pseudo-header and a payload without copying them together.
 */

/**
 * Below this length the byte loop beats the 32-bit word loop: reaching the word view costs a call
 * into the runtime per sum (`bytes.buffer` is not inlined on Node 20), and a new `Uint32Array` when
 * the buffer differs from the last word-path sum's. Measured on Node 20 (frame-like Buffer and
 * Uint8Array views, thresholds compiled apart in one process, alternated): with every view in one
 * slab the word loop wins from ~170 bytes (260 B: 60 against 78 ns; 300 B: 66 against 90); with
 * every other view in a second buffer it loses at 200 bytes (69 against 59 ns), ties at 260 and
 * wins at 300 (80 against 88). 256 loses in neither case (it was 320).
 */
const WORD_PATH_MIN_LENGTH = 256;
/**
 * Words added per chunk before folding: each of the four accumulators then stays below
 * 2^20 * 2^32 / 4 < 2^53, so a Number holds it exactly.
 */
const WORDS_PER_CHUNK = 1 << 20;
/** True on a little-endian host: a `Uint32Array` element then weighs its first byte by 1. */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/*
 * The typed-array accessors the word path needs, called directly. Sums are asked of views of
 * different shapes (plain `Uint8Array`s, Node `Buffer`s): `bytes.byteOffset` and `bytes.buffer`
 * then compile to a generic property load and a call of the accessor per sum, while a call of the
 * known accessor skips the lookup. The length is read as `bytes.length`, which the optimizing
 * compiler inlines for either shape (measured on Node 20 with Buffer and Uint8Array views of one
 * slab mixed, both ways in one process: `.length` 14.5 ns per 20-byte sum against 17.6 with the
 * byteLength accessor, 28 against 31 at 60 bytes, 76 against 80 over a mix of 20 to 1480 bytes).
 */
const TYPED_ARRAY_PROTOTYPE = Object.getPrototypeOf(Uint8Array.prototype) as object;
const byteOffsetOf = accessor<number>('byteOffset');
const bufferOf = accessor<ArrayBufferLike>('buffer');

function accessor<T>(name: string): (this: Uint8Array) => T {
  const get = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTOTYPE, name)?.get;
  if (get === undefined) throw new Error(`no TypedArray.prototype.${name} accessor`);
  return get as (this: Uint8Array) => T;
}

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
  return onesComplementSumRange(bytes, 0, bytes.length, initial);
}

/**
 * {@link onesComplementSum} of `bytes[start, end)` without a view of them: `bytes[start]` is the
 * high byte of the first word. `0 <= start <= end <= bytes.length` (not checked); the rest as
 * {@link onesComplementSum}.
 */
export function onesComplementSumRange(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  const len = end - start;
  if (len >= WORD_PATH_MIN_LENGTH) return wordPathSum(bytes, start, len, initial);
  // Indices as 32-bit integers (`| 0`) below: from plain Number parameters the optimizing compiler
  // otherwise checks every index computation for overflow (measured on Node 20: 15% slower at 200
  // bytes). Exact up to 2^31; a short range beyond (a buffer above 2 GiB) is summed through a view.
  if (end > 0x7fff_ffff) return onesComplementSumRange(bytes.subarray(start, end), 0, len, initial);
  // Short input (segments of requests, answers, ACKs; IP headers): a byte loop. Bytes at even
  // distances from `start` weigh 256, at odd ones 1: they are added apart, with no shift or mask per
  // word, and weighed once at the end (below 2^21 each for fewer than WORD_PATH_MIN_LENGTH bytes,
  // so the sum stays exact).
  let high = 0;
  let low = 0;
  let i = start | 0;
  const end16 = (i + (len & ~15)) | 0;
  for (; i < end16; i += 16) {
    high +=
      bytes[i]! +
      bytes[i + 2]! +
      bytes[i + 4]! +
      bytes[i + 6]! +
      bytes[i + 8]! +
      bytes[i + 10]! +
      bytes[i + 12]! +
      bytes[i + 14]!;
    low +=
      bytes[i + 1]! +
      bytes[i + 3]! +
      bytes[i + 5]! +
      bytes[i + 7]! +
      bytes[i + 9]! +
      bytes[i + 11]! +
      bytes[i + 13]! +
      bytes[i + 15]!;
  }
  const even = (start + (len & ~1)) | 0;
  for (; i < even; i += 2) {
    high += bytes[i]!;
    low += bytes[i + 1]!;
  }
  if (len & 1) high += bytes[end - 1]!;
  return foldSum(initial + high * 256 + low);
}

/** {@link onesComplementSumRange} of the `len` bytes from `start`, at least {@link WORD_PATH_MIN_LENGTH} of them. */
function wordPathSum(bytes: Uint8Array, start: number, len: number, initial: number): number {
  // Bytes before the first 4-byte-aligned address, added by position (even positions weigh 256).
  const offset = byteOffsetOf.call(bytes) + start;
  const head = (4 - (offset & 3)) & 3;
  let edges = 0;
  if (head > 0) {
    edges = bytes[start]! << 8;
    if (head > 1) edges += bytes[start + 1]!;
    if (head > 2) edges += bytes[start + 2]! << 8;
  }
  const wordCount = (len - head) >>> 2;
  const tail = head + wordCount * 4;
  for (let i = tail; i < len; i++) edges += (i & 1) === 0 ? bytes[start + i]! << 8 : bytes[start + i]!;

  // Aligned 32-bit words in host order. 2^16 = 1 (mod 0xffff), so a word adds its two halves; each
  // half is a 16-bit word whose bytes may be in the wrong order for the wire. RFC 1071 §2(B): such
  // a sum is the byte swap of the right one, so fix it once after folding.
  const words = wordsOver(bufferOf.call(bytes));
  const first = (offset + head) >>> 2;
  let wordSum =
    wordCount <= WORDS_PER_CHUNK
      ? sumWords(words, first, first + wordCount)
      : sumWordsChunked(words, first, first + wordCount);
  // On a little-endian host a word's first byte weighs 1; that byte is at an even wire position
  // exactly when `head` is even, and an even position must weigh 256: swap. Big-endian: the reverse.
  if (((head & 1) === 0) === HOST_LITTLE_ENDIAN) wordSum = ((wordSum & 0xff) << 8) | (wordSum >>> 8);
  return foldSum(initial + edges + wordSum);
}

/**
 * The folded sum of the 32-bit words `words[k, end)`, at most {@link WORDS_PER_CHUNK} of them, each
 * word adding its two 16-bit halves (2^16 = 1 modulo 0xffff). Four accumulators, each below 2^50.
 */
function sumWords(words: Uint32Array<ArrayBufferLike>, k: number, end: number): number {
  const end4 = end - ((end - k) & 3);
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
  for (; k < end; k++) a += words[k]!;
  return foldSum(a + b + c + d);
}

/** {@link sumWords} over any number of words: chunk by chunk, folding in between. */
function sumWordsChunked(words: Uint32Array<ArrayBufferLike>, k: number, end: number): number {
  let sum = 0;
  while (k < end) {
    const chunkEnd = Math.min(end, k + WORDS_PER_CHUNK);
    sum = foldSum(sum + sumWords(words, k, chunkEnd));
    k = chunkEnd;
  }
  return sum;
}

/** Folds a non-negative integer sum of 16-bit words (below 2^53) to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  if (sum <= 0xffff_ffff) {
    // Every sum of a packet up to 64 KiB: two folds of 32-bit integer arithmetic bring it to
    // 16 bits (the first leaves at most 0x1fffe), with no division.
    sum = (sum >>> 16) + (sum & 0xffff);
    return (sum >>> 16) + (sum & 0xffff);
  }
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
