import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RealClock, Scheduler, SchedulerError, VirtualClock, hostSeed } from '../src/index.js';

describe('wall time from the scheduler', () => {
  it('a virtual clock counts from its epoch origin and moves only with the scheduler', () => {
    const epoch = Date.UTC(2026, 0, 2, 3, 4, 5);
    const s = new Scheduler({ clock: new VirtualClock(0, epoch) });
    expect(s.epochMs).toBe(epoch);
    expect(s.wallTime()).toBe(epoch);
    s.advance(1500);
    expect(s.wallTime()).toBe(epoch + 1500);
    expect(new Date(s.wallTime()).toISOString()).toBe('2026-01-02T03:04:06.500Z');
  });

  it('the default virtual clock stands at the Unix epoch; the epochMs option overrides the clock', () => {
    const plain = new Scheduler();
    plain.advance(42);
    expect(plain.wallTime()).toBe(42);
    const given = new Scheduler({ epochMs: 1_000_000 });
    given.advance(5);
    expect(given.wallTime()).toBe(1_000_005);
    const overridden = new Scheduler({ clock: new VirtualClock(10, 7), epochMs: 100 });
    expect(overridden.wallTime()).toBe(110);
  });

  it('bad origins are refused', () => {
    expect(() => new VirtualClock(0, Number.NaN)).toThrow(SchedulerError);
    expect(() => new Scheduler({ epochMs: Number.POSITIVE_INFINITY })).toThrow(SchedulerError);
  });

  it('a real clock reads the host once at creation and advances with its monotonic time', async () => {
    const before = Date.now();
    const clock = new RealClock();
    const after = Date.now();
    expect(clock.epochMs).toBeGreaterThanOrEqual(before);
    expect(clock.epochMs).toBeLessThanOrEqual(after);
    const s = new Scheduler({ clock });
    expect(s.epochMs).toBe(clock.epochMs);
    const first = s.wallTime();
    await sleep(20);
    const nowBefore = s.now;
    const second = s.wallTime();
    const nowAfter = s.now;
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThanOrEqual(clock.epochMs + nowBefore);
    expect(second).toBeLessThanOrEqual(clock.epochMs + nowAfter);
  });
});

describe('hostSeed', () => {
  it('gives 32-bit seeds that are never 0 and differ between calls', () => {
    const seeds = Array.from({ length: 64 }, () => hostSeed());
    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true);
      expect(seed).toBeGreaterThan(0);
      expect(seed).toBeLessThan(2 ** 32);
    }
    // 64 draws of 32 bits: a repeat has probability below 1e-6.
    expect(new Set(seeds).size).toBe(seeds.length);
  });

  it('seeds a scheduler like any other seed', () => {
    const seed = hostSeed();
    const a = new Scheduler({ seed });
    const b = new Scheduler({ seed });
    expect([a.randomUint32(), a.randomUint32()]).toEqual([b.randomUint32(), b.randomUint32()]);
  });
});
