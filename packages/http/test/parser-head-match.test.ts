import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeadPattern } from '../src/parser/head-match.js';

/** The comparison the pattern replaces, byte by byte. */
function naive(chunk: Uint8Array, i: number, end: number, text: string): boolean {
  if (end - i < text.length) return false;
  for (let k = 0; k < text.length; k++) if (chunk[i + k] !== text.charCodeAt(k)) return false;
  return true;
}

describe('HeadPattern', () => {
  it('agrees with the byte-by-byte comparison on random heads, chunks, offsets and views', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 70 }),
        fc.nat(12),
        fc.nat(12),
        fc.nat(12),
        fc.integer({ min: -1, max: 80 }),
        fc.boolean(),
        (head, before, after, viewOffset, flip, asBuffer) => {
          const text = Buffer.from(head).toString('latin1');
          const pattern = new HeadPattern(text);
          // The head at `before` in a chunk that is itself a view at `viewOffset` of a larger buffer.
          const backing = new Uint8Array(viewOffset + before + head.length + after);
          for (let k = 0; k < backing.length; k++) backing[k] = (k * 37 + 11) & 0xff;
          const chunk = asBuffer
            ? Buffer.from(backing.buffer, viewOffset, before + head.length + after)
            : backing.subarray(viewOffset);
          chunk.set(head, before);
          if (flip >= 0 && flip < head.length) chunk[before + flip] = chunk[before + flip]! ^ (1 << (flip % 8));
          for (const end of [chunk.length, before + head.length, before + head.length - 1]) {
            if (end < before) continue;
            expect(pattern.matchesAt(chunk, before, end)).toBe(naive(chunk, before, end, text));
          }
          // Every other start, too (mostly mismatches, and the short tail).
          for (let i = 0; i <= chunk.length; i++)
            expect(pattern.matchesAt(chunk, i, chunk.length)).toBe(naive(chunk, i, chunk.length, text));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('finds a request head in chunks of different buffers, one after another', () => {
    const text = 'GET /small HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n';
    const pattern = new HeadPattern(text);
    for (let round = 0; round < 5; round++) {
      const a = Buffer.from(`xx${text}GET`, 'latin1');
      const b = new Uint8Array(Buffer.from(text, 'latin1'));
      expect(pattern.matchesAt(a, 2, a.length)).toBe(true);
      expect(pattern.matchesAt(a, 1, a.length)).toBe(false);
      expect(pattern.matchesAt(b, 0, b.length)).toBe(true);
      expect(pattern.matchesAt(b, 0, b.length - 1)).toBe(false);
      b[text.length - 1] = 0x0d;
      expect(pattern.matchesAt(b, 0, b.length)).toBe(false);
    }
  });

  it('refuses an empty head', () => {
    expect(() => new HeadPattern('')).toThrow(RangeError);
  });
});
