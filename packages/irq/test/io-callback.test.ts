/**
 * I/O callbacks (`beginIo` .. `endIo`): the turn that raises inside one owe runs at its end, before
 * the callback returns, with the microtask wake (no promise reaction), and the clock is read once for
 * the whole callback; with the `setImmediate` wake the turn is still asked for as before; nesting,
 * an unmatched `endIo`, a stopped or virtual scheduler.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BottomHalf } from '../src/index.js';
import { Scheduler } from '../src/index.js';
import { realScheduler, schedulers, stopSchedulers, until } from './real-clock-helpers.js';

afterEach(stopSchedulers);

/** A clock that is not virtual and counts its reads; every read sees 0.25 ms pass. */
function countingClock() {
  const clock = { virtual: false, reads: 0, time: 100, now: () => (clock.reads++, (clock.time += 0.25)) };
  return clock;
}

describe('I/O callbacks', () => {
  it('microtask wake: the turn runs at endIo, before the callback returns; one clock read for raise and run', async () => {
    const clock = countingClock();
    const s = new Scheduler({ clock, hostWake: 'microtask' });
    schedulers.push(s);
    const seen: number[] = [];
    const bh: BottomHalf = { name: 'rx', poll: () => (seen.push(s.now), 0) };
    const line = s.requestIrq('eth0', 1, () => {
      seen.push(s.now);
      s.schedule(bh);
    });
    s.start();
    const readsBefore = clock.reads;
    s.beginIo();
    line.raise();
    line.raise(); // coalesces
    expect(seen).toEqual([]); // nothing runs inside the callback
    s.endIo();
    expect(seen).toHaveLength(2); // ran synchronously, at endIo
    expect(new Set(seen).size).toBe(1);
    expect(clock.reads - readsBefore).toBe(1); // the raise's reading is the run's time
    expect(line.stats).toMatchObject({ raised: 2, handled: 1, latencyTotalMs: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.stats.hostTurns).toMatchObject({ microtask: 1, immediate: 0 });
    expect(seen).toHaveLength(2); // no second turn from a microtask
  });

  it('microtask wake: a callback that raised nothing runs no turn and reads no clock', () => {
    const clock = countingClock();
    const s = new Scheduler({ clock, hostWake: 'microtask' });
    schedulers.push(s);
    s.start();
    const readsBefore = clock.reads;
    s.beginIo();
    s.endIo();
    expect(clock.reads).toBe(readsBefore);
    expect(s.stats.hostTurns.microtask).toBe(0);
  });

  it('the clock stands still inside the callback and moves again after it', () => {
    const clock = countingClock();
    const s = new Scheduler({ clock, hostWake: 'microtask' });
    schedulers.push(s);
    s.start();
    s.beginIo();
    const first = s.now;
    expect(s.now).toBe(first);
    s.endIo();
    expect(s.now).toBeGreaterThan(first);
  });

  it('nested callbacks: only the outermost endIo runs the turn; an unmatched endIo does nothing', () => {
    const s = realScheduler({ hostWake: 'microtask' });
    let handled = 0;
    const line = s.requestIrq('eth0', 1, () => handled++);
    s.start();
    s.endIo(); // unmatched: no effect, and the next pair still works
    s.beginIo();
    s.beginIo();
    line.raise();
    s.endIo();
    expect(handled).toBe(0);
    s.endIo();
    expect(handled).toBe(1);
  });

  it('immediate wake: endIo asks for the setImmediate turn, which runs after the callback', async () => {
    const s = realScheduler({ hostWake: 'immediate' });
    let handled = 0;
    const line = s.requestIrq('eth0', 1, () => handled++);
    s.start();
    s.beginIo();
    line.raise();
    s.endIo();
    expect(handled).toBe(0);
    await until(() => handled === 1);
    expect(s.stats.hostTurns).toMatchObject({ microtask: 0, immediate: 1 });
  });

  it('a stopped scheduler runs nothing at endIo; the work waits for start', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    let handled = 0;
    const line = s.requestIrq('eth0', 1, () => handled++);
    s.beginIo();
    line.raise();
    s.endIo();
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled).toBe(0);
    s.start();
    await until(() => handled === 1);
  });

  it('a virtual clock: the bracket changes nothing (time is the clock, work waits for a run)', () => {
    const s = new Scheduler();
    let at = -1;
    const line = s.requestIrq('eth0', 1, () => (at = s.now));
    s.beginIo();
    line.raise();
    s.advance(5);
    expect(s.now).toBe(5); // not frozen by the open callback
    s.endIo();
    expect(at).toBe(0); // the run inside advance handled it at the current instant
  });
});
