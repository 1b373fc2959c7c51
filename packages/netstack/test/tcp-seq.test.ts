import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub } from '../src/tcp/index.js';

const TWO_32 = 2 ** 32;
const u32 = fc.integer({ min: 0, max: TWO_32 - 1 });
/** A distance TCP can compare: |d| < 2^31. */
const distance = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

describe('sequence arithmetic', () => {
  it('wraps at 2^32', () => {
    expect(seqAdd(0xffff_ffff, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(0xffff_ffff);
    expect(seqAdd(0xffff_fff0, 0x20)).toBe(0x10);
    expect(seqSub(0x10, 0xffff_fff0)).toBe(0x20);
    expect(seqSub(0xffff_fff0, 0x10)).toBe(-0x20);
    expect(seqLt(0xffff_fff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xffff_fff0)).toBe(true);
    expect(seqMax(0xffff_fff0, 0x10)).toBe(0x10);
    expect(seqMin(0xffff_fff0, 0x10)).toBe(0xffff_fff0);
  });

  it('gives the half-way distance as +2^31 (the range is (-2^31, 2^31])', () => {
    expect(seqSub(0x8000_0000, 0)).toBe(2 ** 31);
    expect(seqSub(0, 0x8000_0000)).toBe(2 ** 31);
  });

  it('seqAdd(b, seqSub(a, b)) recovers a for every pair', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        const d = seqSub(a, b);
        expect(d).toBeGreaterThan(-(2 ** 31));
        expect(d).toBeLessThanOrEqual(2 ** 31);
        expect(seqAdd(b, d)).toBe(a);
      }),
      { numRuns: 2000, seed: 1 },
    );
  });

  it('orders numbers less than 2^31 apart like integers, across the wrap', () => {
    fc.assert(
      fc.property(u32, distance, (a, d) => {
        const b = seqAdd(a, d);
        expect(seqSub(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqLe(a, b)).toBe(d >= 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqGe(a, b)).toBe(d <= 0);
        expect(seqMax(a, b)).toBe(d > 0 ? b : a);
        expect(seqMin(a, b)).toBe(d < 0 ? b : a);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(TWO_32);
      }),
      { numRuns: 2000, seed: 2 },
    );
  });

  it('compares every pair as the sign of seqSub, the half-way pairs included (after each other both ways)', () => {
    const check = (a: number, b: number): void => {
      const d = seqSub(a, b);
      expect(seqLt(a, b)).toBe(d < 0);
      expect(seqLe(a, b)).toBe(d <= 0);
      expect(seqGt(a, b)).toBe(d > 0);
      expect(seqGe(a, b)).toBe(d >= 0);
      expect(seqMax(a, b)).toBe(seqSub(b, a) > 0 ? b : a);
      expect(seqMin(a, b)).toBe(seqSub(b, a) < 0 ? b : a);
    };
    fc.assert(
      fc.property(u32, u32, (a, b) => check(a, b)),
      { numRuns: 2000, seed: 4 },
    );
    const edges = [0, 1, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff];
    for (const a of edges) {
      for (const b of edges) check(a, b);
      check(a, seqAdd(a, 2 ** 31));
      check(seqAdd(a, 2 ** 31), a);
    }
    // Half-way: each is after the other (seqSub gives +2^31 both ways).
    expect(seqGt(0x8000_0000, 0)).toBe(true);
    expect(seqGt(0, 0x8000_0000)).toBe(true);
    expect(seqLt(0x8000_0000, 0)).toBe(false);
    expect(seqLt(0, 0x8000_0000)).toBe(false);
    expect(seqMax(0, 0x8000_0000)).toBe(0x8000_0000);
    expect(seqMin(0, 0x8000_0000)).toBe(0);
  });

  it('tests window membership like a model of integers modulo 2^32', () => {
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: TWO_32 }), (x, start, len) => {
        const offset = (((x - start) % TWO_32) + TWO_32) % TWO_32;
        expect(seqInWindow(x, start, len)).toBe(offset < len);
      }),
      { numRuns: 2000, seed: 3 },
    );
    expect(seqInWindow(5, 0xffff_fffe, 8)).toBe(true);
    expect(seqInWindow(6, 0xffff_fffe, 8)).toBe(false);
    expect(seqInWindow(0xffff_fffe, 0xffff_fffe, 0)).toBe(false);
    expect(seqInWindow(0xffff_fffd, 0xffff_fffe, 8)).toBe(false);
  });
});
