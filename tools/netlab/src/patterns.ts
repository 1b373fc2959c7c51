/**
 * Test payloads: bytes that look random (so a lost, doubled or reordered piece changes the digest)
 * but are the same on every run for the same seed (so a failure can be replayed).
 */

/**
 * `length` pseudo-random bytes from `seed`: xorshift32 (shifts 13, 17, 5) started at `seed >>> 0`
 * (0 counts as 1, xorshift's one forbidden state), one step per byte, the low 8 bits of each state.
 * Equal seeds give equal bytes; the bytes for a shorter length are a prefix of those for a longer
 * one. Returns a fresh array the caller owns. Throws `RangeError` for a negative or fractional length.
 */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
