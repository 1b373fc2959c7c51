/**
 * The event-loop port's read-ahead policy on its own: it reads ahead at every wake-up while that
 * finds frames, and after each read-ahead that finds the queue empty it skips twice as many
 * wake-ups as the last time, up to READ_AHEAD_MAX_SKIP; one that finds frames halves that back-off. It reads
 * ahead as far as the last read-ahead found, doubling that limit after a read-ahead that stopped at it (a
 * probe); a probe that found no more than the old limit delays the next doubling by 1, 2, 4, ... up to
 * READ_AHEAD_MAX_SKIP stops. The port itself, reading a TAP under a burst, is tested against the kernel in
 * `tap.test.ts`.
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
    // The same batch again: the probe at 10 finds the 5 and then the empty queue, so back to 5,
    // and the next doubling waits for one more read-ahead stopping at 5.
    expect(wake(5)).toEqual({ reads: 6, failed: true });
    expect(policy.limit).toBe(5);
    expect(wake(5)).toEqual({ reads: 5, failed: false });
    expect(policy.limit).toBe(5);
    expect(wake(5)).toEqual({ reads: 5, failed: false });
    expect(policy.limit).toBe(10);
    const steady = Array.from({ length: 200 }, () => wake(5));
    // A steady batch pays the failing read once per 1, 2, 4, ... up to READ_AHEAD_MAX_SKIP read-aheads
    // (was: at every other wake-up, each probe doubling at once).
    const failed = steady.filter((w) => w.failed).length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThanOrEqual(6 + 200 / (READ_AHEAD_MAX_SKIP + 2));
    // A bigger batch than the limit: the read-ahead stops at the limit (epoll reports the rest at
    // once); the limit doubles once the wait is over ...
    let limit = policy.limit;
    let waited = 0;
    while (policy.limit === limit) {
      expect(wake(1000)).toEqual({ reads: limit, failed: false });
      waited++;
    }
    expect(waited).toBeLessThanOrEqual(READ_AHEAD_MAX_SKIP + 1);
    expect(policy.limit).toBe(limit * 2);
    // ... and that probe found more than the old limit, so from then on it doubles at every stop.
    limit = policy.limit;
    expect(wake(1000)).toEqual({ reads: limit, failed: false });
    expect(policy.limit).toBe(limit * 2);
    expect(wake(1000)).toEqual({ reads: limit * 2, failed: false });
    expect(policy.limit).toBe(limit * 4);
  });

  it("two frames per wake-up (one client's short connections): the second is read ahead, almost never a failing read", () => {
    // The handshake's ACK and the request, the last frames of one connection and the next SYN: the
    // frame libuv read and exactly one behind it.
    const policy = new ReadAhead();
    const wakes = 300;
    let failed = 0;
    let readAhead = 0;
    for (let i = 0; i < wakes; i++) {
      expect(policy.wanted()).toBe(true);
      const frames = Math.min(1, policy.limit);
      const drained = frames < policy.limit;
      if (drained) failed++;
      readAhead += frames;
      policy.found(frames, drained);
    }
    expect(readAhead).toBe(wakes); // each second frame read ahead: no wake-up of its own
    // Doubling the limit at every stop paid a failing read at every other wake-up (150 here).
    expect(failed).toBeLessThanOrEqual(6 + wakes / (READ_AHEAD_MAX_SKIP + 2));
    expect(policy.limit).toBeLessThanOrEqual(2);
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
