import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldSum, internetChecksum, onesComplementSum, onesComplementSumRange } from '../src/index.js';

/** RFC 1071 read literally: add big-endian 16-bit words one at a time with end-around carry. */
function referenceSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.byteLength; i += 2) {
    sum += (bytes[i]! << 8) | (i + 1 < bytes.byteLength ? bytes[i + 1]! : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The byte loop this module used before its bytes were summed by parity (kept as an oracle): big-endian
 * 16-bit words from byte pairs, eight bytes per step, folded by division.
 */
function previousByteLoopSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const len = bytes.byteLength;
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
  while (sum > 0xffff) {
    const high = Math.floor(sum / 0x10000);
    sum = sum - high * 0x10000 + high;
  }
  return sum;
}

/** A buffer of `length` bytes from a deterministic generator seeded by `seed`. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('onesComplementSum', () => {
  it('equals the RFC 1071 reference on random buffers, offsets, odd lengths and initial values', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(7),
        fc.nat(7),
        fc.nat(0xffff_ffff),
        (data, skipStart, skipEnd, initial) => {
          const end = Math.max(skipStart, data.byteLength - skipEnd);
          const view = data.subarray(Math.min(skipStart, data.byteLength), end);
          expect(onesComplementSum(view, initial)).toBe(referenceSum(view, initial));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('equals the previous byte loop on random buffers, offsets and lengths of either path', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 700 }),
        fc.nat(17),
        fc.nat(17),
        fc.oneof(fc.nat(0xffff), fc.nat(0xffff_ffff), fc.constant(0)),
        (data, skipStart, skipEnd, initial) => {
          const start = Math.min(skipStart, data.byteLength);
          const view = data.subarray(start, Math.max(start, data.byteLength - skipEnd));
          expect(onesComplementSum(view, initial)).toBe(previousByteLoopSum(view, initial));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('equals the previous byte loop on all-0xff input of every short length (largest byte sums)', () => {
    const ones = new Uint8Array(512).fill(0xff);
    for (let length = 0; length <= 512; length++) {
      for (const initial of [0, 0xffff, 0xffff_ffff, 2 ** 52 - 1]) {
        const view = ones.subarray(512 - length);
        expect(onesComplementSum(view, initial)).toBe(previousByteLoopSum(view, initial));
      }
    }
  });

  it('equals the reference at every alignment of every length around the word-path threshold', () => {
    const backing = pseudoRandomBytes(1024, 42);
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 100; length < 460; length++) {
        const view = backing.subarray(offset, offset + length);
        expect(onesComplementSum(view, 3)).toBe(referenceSum(view, 3));
      }
    }
  });

  it('equals the reference on 64 KiB buffers at odd and even offsets', () => {
    const backing = pseudoRandomBytes(65536 + 8, 7);
    for (const offset of [0, 1, 2, 3, 5]) {
      for (const length of [65536, 65535, 65533]) {
        const view = backing.subarray(offset, offset + length);
        expect(onesComplementSum(view)).toBe(referenceSum(view));
      }
    }
  });

  it('folds correctly past the internal chunk size (buffers above 4 MiB)', () => {
    const big = new Uint8Array(9 * 1024 * 1024 + 3).fill(0xff);
    big[12345] = 0x12;
    const view = big.subarray(1);
    expect(onesComplementSum(view)).toBe(referenceSum(view));
    const random = pseudoRandomBytes(5 * 1024 * 1024 + 1, 99);
    expect(onesComplementSum(random)).toBe(referenceSum(random));
  });

  it('gives the same result when consecutive calls switch between buffers, including shared memory', () => {
    const a = pseudoRandomBytes(2000, 1);
    const b = pseudoRandomBytes(3000, 2);
    const shared = new Uint8Array(new SharedArrayBuffer(2048));
    shared.set(a.subarray(0, 2048));
    for (let round = 0; round < 3; round++) {
      expect(onesComplementSum(a.subarray(3, 1503))).toBe(referenceSum(a.subarray(3, 1503)));
      expect(onesComplementSum(b.subarray(2, 1502))).toBe(referenceSum(b.subarray(2, 1502)));
      expect(onesComplementSum(shared.subarray(1, 1501))).toBe(referenceSum(shared.subarray(1, 1501)));
    }
  });

  it('returns 0 only for all-zero input and 0xffff (not 0) for a sum that is negative zero', () => {
    expect(onesComplementSum(new Uint8Array(1000))).toBe(0);
    expect(onesComplementSum(new Uint8Array(1000).fill(0xff))).toBe(0xffff);
    const cancel = new Uint8Array(400);
    cancel[200] = 0x12;
    cancel[201] = 0x34;
    cancel[300] = 0xed;
    cancel[301] = 0xcb; // 0x1234 + 0xedcb = 0xffff
    expect(onesComplementSum(cancel)).toBe(0xffff);
  });

  it('chains over an even-length prefix as the sum over the concatenation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 600 }), (a0, b) => {
        const a = a0.subarray(0, a0.byteLength & ~1);
        const both = new Uint8Array(a.byteLength + b.byteLength);
        both.set(a);
        both.set(b, a.byteLength);
        expect(onesComplementSum(b, onesComplementSum(a))).toBe(onesComplementSum(both));
      }),
    );
  });

  it('matches the RFC 1071 example wherever it sits in memory', () => {
    const example = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    for (let offset = 0; offset < 4; offset++) {
      const backing = new Uint8Array(offset + 8 * 32);
      for (let i = 0; i < 8 * 32; i++) backing[offset + i] = example[i % 8]!;
      // 32 copies of the example: 32 * 0xddf2 folded.
      expect(onesComplementSum(backing.subarray(offset))).toBe(foldSum(32 * 0xddf2));
      expect(internetChecksum(backing.subarray(offset, offset + 8))).toBe(0x220d);
    }
  });
});

describe('onesComplementSumRange', () => {
  it('equals the reference over the range as a view, for ranges of either path in Buffers and Uint8Arrays', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 1600 }),
        fc.nat(9),
        fc.nat(1600),
        fc.nat(1600),
        fc.boolean(),
        fc.oneof(fc.nat(0xffff), fc.nat(0xffff_ffff), fc.constant(0)),
        (data, viewStart, a, b, asBuffer, initial) => {
          const offset = Math.min(viewStart, data.length);
          const bytes = asBuffer
            ? Buffer.from(data.buffer, data.byteOffset + offset, data.length - offset)
            : data.subarray(offset);
          const start = Math.min(a, b, bytes.length);
          const end = Math.min(Math.max(a, b), bytes.length);
          const expected = referenceSum(bytes.subarray(start, end), initial);
          expect(onesComplementSumRange(bytes, start, end, initial)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('equals the reference at every start alignment of every length around the word-path threshold', () => {
    const backing = pseudoRandomBytes(1024, 9);
    for (let start = 0; start < 8; start++) {
      for (let length = 100; length < 460; length += 3) {
        const expected = referenceSum(backing.subarray(start, start + length), 5);
        expect(onesComplementSumRange(backing, start, start + length, 5)).toBe(expected);
      }
    }
  });

  it('is onesComplementSum of the whole view for the range 0..length, and 0 for an empty range', () => {
    const bytes = pseudoRandomBytes(333, 3);
    expect(onesComplementSumRange(bytes, 0, bytes.length)).toBe(onesComplementSum(bytes));
    expect(onesComplementSumRange(bytes, 17, 17)).toBe(0);
    expect(onesComplementSumRange(bytes, 17, 17, 0x1234)).toBe(0x1234);
  });
});

describe('foldSum', () => {
  it('folds sums around the 32-bit boundary of its integer path exactly', () => {
    const edges = [0, 1, 0xffff, 0x1_0000, 0x1_fffe, 0x1_ffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
    for (const n of [...edges, 2 ** 32, 2 ** 32 + 1, 2 ** 48 - 1, 2 ** 53 - 1]) {
      const folded = foldSum(n);
      expect(folded).toBeLessThanOrEqual(0xffff);
      expect(folded === 0).toBe(n === 0);
      expect(BigInt(folded) % 0xffffn).toBe(BigInt(n) % 0xffffn);
    }
  });

  it('keeps the value modulo 0xffff and maps only 0 to 0', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const folded = foldSum(n);
        expect(folded).toBeLessThanOrEqual(0xffff);
        if (n === 0) expect(folded).toBe(0);
        else {
          expect(folded).toBeGreaterThan(0);
          expect(BigInt(folded) % 0xffffn).toBe(BigInt(n) % 0xffffn);
        }
      }),
    );
  });
});
