import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkPool, SendBuffer } from '../src/tcp/index.js';

type Op =
  | { kind: 'write'; length: number; fill: number }
  | { kind: 'consume'; fraction: number }
  | { kind: 'copy'; a: number; b: number }
  | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      length: fc.integer({ min: 0, max: 300 }),
      fill: fc.nat(255),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('copy' as const),
      a: fc.double({ min: 0, max: 1, noNaN: true }),
      b: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
);

describe('SendBuffer', () => {
  it('behaves like a plain array FIFO under random operations (wrap, capacity, chunk release)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), fc.array(op, { maxLength: 120 }), (capacity, ops) => {
        const pool = new ChunkPool(64, 8);
        const buf = new SendBuffer(capacity, { pool });
        let model: number[] = [];
        let counter = 0;
        for (const o of ops) {
          if (o.kind === 'write') {
            const data = Uint8Array.from({ length: o.length }, () => (o.fill + counter++) & 0xff);
            const accepted = buf.write(data);
            expect(accepted).toBe(Math.min(o.length, capacity - model.length));
            model = model.concat([...data.subarray(0, accepted)]);
          } else if (o.kind === 'consume') {
            const n = Math.floor(o.fraction * model.length);
            buf.consume(n);
            model = model.slice(n);
          } else if (o.kind === 'copy') {
            const offset = Math.floor(o.a * model.length);
            const length = Math.floor(o.b * (model.length - offset));
            const dest = new Uint8Array(length + 3).fill(0xee);
            buf.copyOut(offset, length, dest, 2);
            expect([...dest.subarray(2, 2 + length)]).toEqual(model.slice(offset, offset + length));
            expect(dest[0]).toBe(0xee);
            expect(dest[length + 2]).toBe(0xee);
          } else {
            buf.clear();
            model = [];
          }
          expect(buf.length).toBe(model.length);
          expect(buf.free).toBe(capacity - model.length);
          // Memory follows the bytes held: the chunks spanned by the data, never more.
          expect(buf.allocatedBytes).toBeLessThanOrEqual((Math.ceil(model.length / 64) + 1) * 64);
          if (model.length === 0) expect(buf.allocatedBytes).toBe(0);
        }
        if (model.length > 0) {
          const all = new Uint8Array(model.length);
          buf.copyOut(0, model.length, all, 0);
          expect([...all]).toEqual(model);
        }
      }),
      { numRuns: 400, seed: 21 },
    );
  });

  it('holds no memory until written and gives it back when everything is acknowledged', () => {
    const pool = new ChunkPool(4096, 16);
    const buf = new SendBuffer(65_536, { pool });
    expect(buf.allocatedBytes).toBe(0);
    expect(buf.write(new Uint8Array(10_000))).toBe(10_000);
    expect(buf.allocatedBytes).toBe(3 * 4096);
    buf.consume(8192);
    expect(buf.allocatedBytes).toBe(4096);
    buf.consume(1808);
    expect(buf.allocatedBytes).toBe(0);
    expect(pool.retained).toBe(3);
    // Reuse comes from the pool: no new allocation.
    buf.write(new Uint8Array(100));
    expect(pool.allocated).toBe(3);
  });

  it('accepts a partial write when nearly full and refuses when full', () => {
    const buf = new SendBuffer(10);
    expect(buf.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(8);
    expect(buf.write(Uint8Array.of(9, 10, 11, 12), 1)).toBe(2);
    expect(buf.write(Uint8Array.of(1))).toBe(0);
    const out = new Uint8Array(10);
    buf.copyOut(0, 10, out, 0);
    expect([...out]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10, 11]);
  });

  it('rejects misuse with RangeError and no change', () => {
    const buf = new SendBuffer(100);
    buf.write(new Uint8Array(20));
    expect(() => buf.copyOut(10, 11, new Uint8Array(50), 0)).toThrow(RangeError);
    expect(() => buf.copyOut(0, 10, new Uint8Array(5), 0)).toThrow(RangeError);
    expect(() => buf.consume(21)).toThrow(RangeError);
    expect(() => buf.write(new Uint8Array(5), 3, 5)).toThrow(RangeError);
    expect(() => new SendBuffer(0)).toThrow(RangeError);
    expect(buf.length).toBe(20);
  });
});
