/**
 * The event-loop port's read-ahead policy on its own: it reads ahead at every wake-up while that
 * finds frames, and after each read-ahead that finds the queue empty it skips twice as many
 * wake-ups as the last time, up to READ_AHEAD_MAX_SKIP; one that finds frames halves that back-off. The port itself, reading a TAP under a
 * burst, is tested against the kernel in `tap.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { READ_AHEAD_MAX_SKIP, ReadAhead } from '../src/tap/read-ahead.js';

/** Runs `wakes` wake-ups; `waiting(i)` frames wait behind wake-up i. Returns the wake-ups that read ahead. */
function simulate(policy: ReadAhead, wakes: number, waiting: (i: number) => number): number[] {
  const readAhead: number[] = [];
  for (let i = 0; i < wakes; i++) {
    if (!policy.wanted()) continue;
    readAhead.push(i);
    policy.found(waiting(i));
  }
  return readAhead;
}

describe('ReadAhead', () => {
  it('reads ahead at every wake-up while frames wait behind each', () => {
    expect(simulate(new ReadAhead(), 100, () => 3)).toHaveLength(100);
  });

  it('backs off 1, 2, 4, ... wake-ups after empty read-aheads, up to the limit', () => {
    const tried = simulate(new ReadAhead(), 400, () => 0);
    const gaps = tried.slice(1).map((at, k) => at - tried[k]! - 1);
    expect(gaps.slice(0, 7)).toEqual([1, 2, 4, 8, 16, 32, 32]);
    expect(Math.max(...gaps)).toBe(READ_AHEAD_MAX_SKIP);
    // One empty read per READ_AHEAD_MAX_SKIP + 1 wake-ups at most, once backed off.
    expect(tried.filter((at) => at >= 200).length).toBeLessThanOrEqual(Math.ceil(200 / (READ_AHEAD_MAX_SKIP + 1)));
  });

  it('reads ahead as far as the last read-ahead found frames, so a steady batch ends without the empty read', () => {
    const policy = new ReadAhead();
    expect(policy.limit).toBeGreaterThanOrEqual(64); // unlimited until a read-ahead drained the queue
    /** One wake-up with `waiting` frames behind the announced one: the reads it makes and whether one failed. */
    const wake = (waiting: number): { reads: number; failed: boolean } => {
      expect(policy.wanted()).toBe(true);
      const frames = Math.min(waiting, policy.limit);
      const failed = frames < policy.limit; // the read after the last frame found the queue empty
      policy.found(frames, failed);
      return { reads: frames + (failed ? 1 : 0), failed };
    };
    expect(wake(5)).toEqual({ reads: 6, failed: true });
    expect(policy.limit).toBe(5);
    // The same batch again: all 5 read, no failing read; the limit doubles in case more were left.
    expect(wake(5)).toEqual({ reads: 5, failed: false });
    expect(policy.limit).toBe(10);
    const steady = Array.from({ length: 100 }, () => wake(5));
    // A steady batch pays the failing read at most every other wake-up (was: every wake-up).
    expect(steady.filter((w) => w.failed).length).toBeLessThanOrEqual(50);
    // A bigger batch than the limit: the read-ahead stops at the limit (epoll reports the rest at once).
    const limit = policy.limit;
    expect(wake(limit + 7)).toEqual({ reads: limit, failed: false });
    expect(policy.limit).toBe(limit * 2);
  });

  it('stopping at the limit never counts as finding the queue empty: no back-off', () => {
    const policy = new ReadAhead();
    policy.found(3, true);
    policy.found(3, false);
    expect(policy.wanted()).toBe(true);
    policy.found(0, false); // a read-ahead that was allowed nothing and read nothing
    expect(policy.wanted()).toBe(true);
  });

  it('a link where a frame only now and then waits behind another stays backed off', () => {
    // One client's short connections: at about one wake-up in four a second frame (the request behind
    // the ACK) already waits. A fixed linear congruential sequence says which.
    const policy = new ReadAhead();
    const wakes = 4_000;
    let empty = 0;
    let found = 0;
    let seed = 12_345;
    for (let i = 0; i < wakes; i++) {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      if (!policy.wanted()) continue;
      const frames = seed >>> 30 === 0 ? 1 : 0;
      policy.found(frames);
      if (frames === 0) empty++;
      else found++;
    }
    // Each empty read (a thrown EAGAIN) costs more than the wake-up a found frame saves: at most
    // about two empty reads per READ_AHEAD_MAX_SKIP wake-ups (resetting the back-off on every find
    // paid one at every other wake-up here).
    expect(empty).toBeLessThanOrEqual((2 * wakes) / READ_AHEAD_MAX_SKIP);
    expect(found).toBeGreaterThan(0);
  });

  it('reads ahead at every wake-up again once read-aheads keep finding frames', () => {
    const policy = new ReadAhead();
    simulate(policy, 100, () => 0); // backed off to the limit
    const tried = simulate(policy, 100, () => 5);
    // The first try comes within the limit; from then on every wake-up reads ahead.
    expect(tried[0]).toBeLessThanOrEqual(READ_AHEAD_MAX_SKIP);
    expect(tried).toEqual(Array.from({ length: 100 - tried[0]! }, (_, k) => tried[0]! + k));
    // ... and the back-off has worn off: one empty read-ahead then skips a single wake-up.
    const after = simulate(policy, 4, (i) => (i === 0 ? 0 : 5));
    expect(after).toEqual([0, 2, 3]);
  });
});
