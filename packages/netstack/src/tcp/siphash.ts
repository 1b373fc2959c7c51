/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
 * PRF, used for the ISN offset (RFC 6528) and SYN cookies.
 *
 * JavaScript has no fast 64-bit integers, so each 64-bit word is a pair of uint32 halves. The state
 * lives in local variables; the message is read into a preallocated array of words first (grown
 * only for a message longer than any before), so hashing allocates nothing in the steady state.
 */

/** Bytes in a SipHash key. */
export const SIPHASH_KEY_LENGTH = 16;

/**
 * SipHash-2-4 with a fixed key (parsed once).
 *
 * Contract: {@link SipHash24.hash} of the same bytes under the same key always gives the same 64
 * bits, matching the reference implementation (its output bytes are the little-endian encoding of
 * `high:low`).
 */
export class SipHash24 {
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;
  /** The message as 64-bit words, each a (low, high) pair of uint32 halves; grown for a longer message. */
  private words = new Uint32Array(8);
  /** The high 32 bits of the last result (a typed array: an unsigned value stored unboxed). */
  private readonly last = new Uint32Array(1);

  /** @throws RangeError unless `key` has exactly 16 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== SIPHASH_KEY_LENGTH) throw new RangeError(`SipHash key must be 16 bytes, got ${key.length}`);
    this.k0l = readLe32(key, 0);
    this.k0h = readLe32(key, 4);
    this.k1l = readLe32(key, 8);
    this.k1h = readLe32(key, 12);
  }

  /**
   * Hashes `data[offset, offset + length)` and writes the 64-bit result into `out` as
   * `out[0] = low 32 bits`, `out[1] = high 32 bits`. Returns the low 32 bits.
   */
  hash(data: Uint8Array, out?: Uint32Array, offset = 0, length: number = data.length - offset): number {
    const blocks = (length >>> 3) + 1;
    if (this.words.length < 2 * blocks) this.words = new Uint32Array(4 * blocks);
    const words = this.words;
    const end = offset + length;
    const blocksEnd = offset + (length & ~7);
    let w = 0;
    for (let at = offset; at < blocksEnd; at += 8) {
      words[w++] = readLe32(data, at);
      words[w++] = readLe32(data, at + 4);
    }
    // Last block: the remaining 0..7 bytes, then the length's low byte in the top byte.
    let lastLow = 0;
    let lastHigh = (length & 0xff) << 24;
    const rest = end - blocksEnd;
    for (let i = 0; i < rest; i++) {
      const b = data[blocksEnd + i]!;
      if (i < 4) lastLow |= b << (8 * i);
      else lastHigh |= b << (8 * (i - 4));
    }
    words[w++] = lastLow;
    words[w] = lastHigh;
    const low = this.compressWords(words, blocks);
    if (out !== undefined) {
      out[0] = low;
      out[1] = this.last[0]!;
    }
    return low;
  }

  /**
   * SipHash-2-4 of exactly 12 bytes given as their three little-endian 32-bit words (`w0` holds
   * bytes 0..3, byte 0 in its low 8 bits; `w1` bytes 4..7; `w2` bytes 8..11): the same 64 bits as
   * {@link SipHash24.hash} of those bytes, with no bytes to read (the per-connection 4-tuple hash).
   * Returns the low 32 bits; the high 32 bits are left in {@link SipHash24.high}.
   */
  hash12(w0: number, w1: number, w2: number): number {
    const words = this.words;
    words[0] = w0;
    words[1] = w1;
    words[2] = w2;
    words[3] = 0x0c00_0000; // the length, 12, in the last block's top byte
    return this.compressWords(words, 2);
  }

  /** The high 32 bits (unsigned) of the last result of {@link SipHash24.hash} or {@link SipHash24.hash12}. */
  get high(): number {
    return this.last[0]!;
  }

  /**
   * The SipHash-2-4 rounds over `blocks` message words (`words[2i]` low, `words[2i + 1]` high; the
   * last one carries the length), the state in local variables: two rounds per word, then four to
   * finalize. Returns the low 32 bits of the result and leaves the high 32 bits in `last`.
   */
  private compressWords(words: Uint32Array, blocks: number): number {
    let v0h = (this.k0h ^ 0x736f6d65) >>> 0;
    let v0l = (this.k0l ^ 0x70736575) >>> 0;
    let v1h = (this.k1h ^ 0x646f7261) >>> 0;
    let v1l = (this.k1l ^ 0x6e646f6d) >>> 0;
    let v2h = (this.k0h ^ 0x6c796765) >>> 0;
    let v2l = (this.k0l ^ 0x6e657261) >>> 0;
    let v3h = (this.k1h ^ 0x74656462) >>> 0;
    let v3l = (this.k1l ^ 0x79746573) >>> 0;
    const compressing = 2 * blocks;
    let mh = 0;
    let ml = 0;
    let l: number, h: number;
    for (let r = 0; r < compressing + 4; r++) {
      if ((r & 1) === 0 && r <= compressing) {
        // Between words: v0 ^= the word just compressed; then v3 ^= the next one (or, after the
        // last, v2 ^= 0xff to finalize).
        v0h = (v0h ^ mh) >>> 0;
        v0l = (v0l ^ ml) >>> 0;
        if (r < compressing) {
          ml = words[r]!;
          mh = words[r + 1]!;
          v3h = (v3h ^ mh) >>> 0;
          v3l = (v3l ^ ml) >>> 0;
        } else {
          v2l = (v2l ^ 0xff) >>> 0;
        }
      }
      // One SipRound: 64-bit adds with carry and rotations of high/low pairs.
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      l = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
      v1h = (h ^ v0h) >>> 0;
      v1l = (l ^ v0l) >>> 0;
      h = v0h;
      v0h = v0l;
      v0l = h;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      l = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
      v3h = (h ^ v2h) >>> 0;
      v3l = (l ^ v2l) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      l = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
      v3h = (h ^ v0h) >>> 0;
      v3l = (l ^ v0l) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      l = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
      v1h = (h ^ v2h) >>> 0;
      v1l = (l ^ v2l) >>> 0;
      h = v2h;
      v2h = v2l;
      v2l = h;
    }
    this.last[0] = v0h ^ v1h ^ v2h ^ v3h;
    return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }
}

function readLe32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}
