import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '@postern/wire';
import { IcmpRateLimiter, TokenBucket } from '../src/index.js';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate', () => {
    const b = new TokenBucket(10, 5, 0);
    let n = 0;
    while (b.take(0)) n++;
    expect(n).toBe(5);
    expect(b.take(99)).toBe(false); // 0.99 tokens
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
    expect(b.available(10_000)).toBe(5); // capped at the burst
  });

  it('treats a clock going backwards as no time passing', () => {
    const b = new TokenBucket(1000, 1, 1000);
    expect(b.take(1000)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.take(1001)).toBe(true);
  });

  it('refuses nonsense parameters', () => {
    expect(() => new TokenBucket(-1, 5)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
  });
});

describe('IcmpRateLimiter', () => {
  const a = parseIpv4('198.18.0.2');
  const b = parseIpv4('198.18.0.3');

  it('limits each destination separately', () => {
    const l = new IcmpRateLimiter({ perDestinationRate: 1, perDestinationBurst: 2 });
    expect([l.allow(0, a), l.allow(0, a), l.allow(0, a)]).toEqual([true, true, false]);
    expect(l.allow(0, b)).toBe(true);
    expect(l.allow(999, a)).toBe(false);
    expect(l.allow(1000, a)).toBe(true);
    expect(l.stats.snapshot()).toMatchObject({ allowed: 4, limitedPerDestination: 2, limitedGlobal: 0 });
  });

  it('caps the total across destinations', () => {
    const l = new IcmpRateLimiter({ globalRate: 10, globalBurst: 3, perDestinationBurst: 100 });
    const results = Array.from({ length: 5 }, (_, i) => l.allow(0, a + i));
    expect(results).toEqual([true, true, true, false, false]);
    expect(l.stats.get('limitedGlobal')).toBe(2);
    expect(l.allow(100, a + 9)).toBe(true);
    // A global refusal spends no per-destination token.
    const g = new IcmpRateLimiter({ globalRate: 0, globalBurst: 1, perDestinationRate: 0, perDestinationBurst: 1 });
    expect(g.allow(0, a)).toBe(true);
    expect(g.allow(0, b)).toBe(false);
    expect(g.stats.get('limitedGlobal')).toBe(1);
  });

  it('remembers a bounded number of destinations, forgetting the least recent', () => {
    const l = new IcmpRateLimiter({ maxDestinations: 2, perDestinationRate: 0, perDestinationBurst: 1 });
    expect(l.allow(0, a)).toBe(true);
    expect(l.allow(0, b)).toBe(true);
    expect(l.allow(0, a)).toBe(false); // a is now the most recent
    expect(l.allow(0, a + 100)).toBe(true); // evicts b
    expect(l.trackedDestinations).toBe(2);
    expect(l.stats.get('destinationsEvicted')).toBe(1);
    expect(l.allow(0, a)).toBe(false); // a was kept
    expect(l.allow(0, b)).toBe(true); // b was forgotten: a fresh bucket
  });
});
