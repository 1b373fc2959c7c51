import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RtoEstimator } from '../src/tcp/index.js';

describe('RtoEstimator (RFC 6298)', () => {
  it('starts at the initial RTO with no estimate', () => {
    const r = new RtoEstimator();
    expect(r.rtoMs).toBe(1000);
    expect(r.srttMs).toBeUndefined();
    expect(r.rttvarMs).toBeUndefined();
  });

  it('srttOr gives the fallback before the first sample and the smoothed RTT after', () => {
    const r = new RtoEstimator({ minRtoMs: 0 });
    expect(r.srttOr(-1)).toBe(-1);
    r.sample(100.5);
    r.sample(20.25);
    expect(r.srttOr(-1)).toBe(r.srttMs);
    expect(r.srttOr(-1)).toBe((7 / 8) * 100.5 + (1 / 8) * 20.25);
  });

  it('follows a hand-computed sequence of samples', () => {
    const r = new RtoEstimator({ minRtoMs: 0 });
    r.sample(100); // SRTT 100, RTTVAR 50, RTO 100 + 4*50
    expect([r.srttMs, r.rttvarMs, r.rtoMs]).toEqual([100, 50, 300]);
    r.sample(200); // RTTVAR 3/4*50 + 1/4*100 = 62.5; SRTT 7/8*100 + 1/8*200 = 112.5
    expect([r.srttMs, r.rttvarMs, r.rtoMs]).toEqual([112.5, 62.5, 362.5]);
    r.sample(50); // RTTVAR 3/4*62.5 + 1/4*62.5 = 62.5; SRTT 7/8*112.5 + 1/8*50 = 104.6875
    expect([r.srttMs, r.rttvarMs, r.rtoMs]).toEqual([104.6875, 62.5, 354.6875]);
    r.sample(104.6875); // RTTVAR 3/4*62.5 = 46.875; SRTT unchanged
    expect([r.srttMs, r.rttvarMs, r.rtoMs]).toEqual([104.6875, 46.875, 104.6875 + 187.5]);
  });

  it('uses the clock granularity when the variance term is smaller', () => {
    const r = new RtoEstimator({ minRtoMs: 0, clockGranularityMs: 100 });
    r.sample(10); // 10 + max(100, 4 * 5)
    expect(r.rtoMs).toBe(110);
  });

  it('applies the configured minimum (default 200 ms, 1 s per the RFC if asked)', () => {
    const dflt = new RtoEstimator();
    dflt.sample(1);
    expect(dflt.rtoMs).toBe(200);
    const rfc = new RtoEstimator({ minRtoMs: 1000 });
    rfc.sample(1);
    expect(rfc.rtoMs).toBe(1000);
    const low = new RtoEstimator({ minRtoMs: 10 });
    low.sample(1); // 1 + max(1, 2) = 3, floored to 10
    expect(low.rtoMs).toBe(10);
    low.sample(1);
    expect(low.rtoMs).toBe(10);
  });

  it('doubles on backoff up to the cap, and resets', () => {
    const r = new RtoEstimator({ maxRtoMs: 10_000 });
    r.sample(100); // RTO 300
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      r.backoff();
      seen.push(r.rtoMs);
    }
    expect(seen).toEqual([600, 1200, 2400, 4800, 9600, 10_000, 10_000, 10_000]);
    expect(r.backoffCount).toBe(6);
    r.resetBackoff();
    expect(r.backoffCount).toBe(0);
    expect(r.rtoMs).toBe(300);
  });

  it('backs off the initial RTO before any sample (SYN retransmissions)', () => {
    const r = new RtoEstimator();
    r.backoff();
    r.backoff();
    expect(r.rtoMs).toBe(4000);
    r.sample(50); // a sample does not end backoff: the caller does
    expect(r.rtoMs).toBe(800);
    r.reset(3000);
    expect(r.rtoMs).toBe(3000);
    expect(r.srttMs).toBeUndefined();
  });

  it('ignores samples that are negative or not finite', () => {
    const r = new RtoEstimator();
    r.sample(-5);
    r.sample(Number.NaN);
    r.sample(Number.POSITIVE_INFINITY);
    expect(r.srttMs).toBeUndefined();
    expect(r.rejectedSamples).toBe(3);
  });

  it('refuses nonsense options', () => {
    expect(() => new RtoEstimator({ minRtoMs: 5000, maxRtoMs: 1000 })).toThrow(RangeError);
    expect(() => new RtoEstimator({ initialRtoMs: 0 })).toThrow(RangeError);
    expect(() => new RtoEstimator({ clockGranularityMs: -1 })).toThrow(RangeError);
  });

  it('matches the RFC recurrence and stays within [min, max] for any samples and backoffs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ min: 0, max: 100_000, noNaN: true }),
            fc.constant('backoff' as const),
            fc.constant('reset' as const),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const r = new RtoEstimator({ minRtoMs: 50, maxRtoMs: 30_000 });
          let srtt: number | undefined;
          let rttvar = 0;
          let shifts = 0;
          for (const op of ops) {
            if (op === 'backoff') {
              r.backoff();
              const base = srtt === undefined ? 1000 : Math.min(30_000, Math.max(50, srtt + Math.max(1, 4 * rttvar)));
              if (base * 2 ** shifts < 30_000) shifts++;
            } else if (op === 'reset') {
              r.resetBackoff();
              shifts = 0;
            } else {
              r.sample(op);
              if (srtt === undefined) {
                srtt = op;
                rttvar = op / 2;
              } else {
                rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - op);
                srtt = 0.875 * srtt + 0.125 * op;
              }
            }
            const base = srtt === undefined ? 1000 : Math.min(30_000, Math.max(50, srtt + Math.max(1, 4 * rttvar)));
            expect(r.rtoMs).toBeCloseTo(Math.min(30_000, base * 2 ** shifts), 6);
            expect(r.rtoMs).toBeGreaterThanOrEqual(50);
            expect(r.rtoMs).toBeLessThanOrEqual(30_000);
          }
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
