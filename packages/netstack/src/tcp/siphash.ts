/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
 * PRF, used for the ISN offset (RFC 6528) and SYN cookies.
 *
 * JavaScript has no fast 64-bit integers, so each 64-bit word is a pair of uint32 halves. Hashing
 * allocates nothing: the state lives in a preallocated array.
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
  /** v0..v3 as high/low pairs: [v0h, v0l, v1h, v1l, v2h, v2l, v3h, v3l]. */
  private readonly v = new Uint32Array(8);

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
    const v = this.v;
    v[0] = this.k0h ^ 0x736f6d65;
    v[1] = this.k0l ^ 0x70736575;
    v[2] = this.k1h ^ 0x646f7261;
    v[3] = this.k1l ^ 0x6e646f6d;
    v[4] = this.k0h ^ 0x6c796765;
    v[5] = this.k0l ^ 0x6e657261;
    v[6] = this.k1h ^ 0x74656462;
    v[7] = this.k1l ^ 0x79746573;
    const end = offset + length;
    const blocksEnd = offset + (length & ~7);
    for (let at = offset; at < blocksEnd; at += 8) {
      compress(v, readLe32(data, at + 4), readLe32(data, at));
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
    compress(v, lastHigh >>> 0, lastLow >>> 0);
    v[5] = v[5]! ^ 0xff;
    round(v);
    round(v);
    round(v);
    round(v);
    const high = (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0;
    const low = (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0;
    if (out !== undefined) {
      out[0] = low;
      out[1] = high;
    }
    return low;
  }
}

function readLe32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** One message word m (high, low): v3 ^= m; two SipRounds; v0 ^= m. */
function compress(v: Uint32Array, mh: number, ml: number): void {
  v[6] = v[6]! ^ mh;
  v[7] = v[7]! ^ ml;
  round(v);
  round(v);
  v[0] = v[0]! ^ mh;
  v[1] = v[1]! ^ ml;
}

/** One SipRound over the state (64-bit adds with carry, rotations of high/low pairs). */
function round(v: Uint32Array): void {
  let v0h = v[0]!,
    v0l = v[1]!,
    v1h = v[2]!,
    v1l = v[3]!,
    v2h = v[4]!,
    v2l = v[5]!,
    v3h = v[6]!,
    v3l = v[7]!;
  let l: number, h: number;
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
  v[0] = v0h;
  v[1] = v0l;
  v[2] = v1h;
  v[3] = v1l;
  v[4] = v2h;
  v[5] = v2l;
  v[6] = v3h;
  v[7] = v3l;
}
