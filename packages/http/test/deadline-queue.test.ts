/**
 * {@link DeadlineQueue}: many entries' deadlines on one clock timer (the server's connections). Every
 * entry is reached at its own instant, in (deadline, arming) order, once per arming; removed entries
 * never are; the one clock timer is armed lazily and left disarmed by `clear()`.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { schedulerClock, type HttpClock, type HttpTimer } from '../src/server/clock.js';
import { DeadlineQueue, type Deadlined } from '../src/server/deadlines.js';

class Entry implements Deadlined {
  deadlineAt = Number.POSITIVE_INFINITY;
  deadlineSlot = -1;
  deadlineSeq = 0;
  constructor(
    readonly name: number,
    private readonly reached: Array<[name: number, at: number]>,
    private readonly clock: HttpClock,
  ) {}
  deadlineReached(): void {
    this.reached.push([this.name, this.clock.now()]);
  }
}

/** A scheduler clock that counts the timers armed through it. */
function countingClock(sched: Scheduler): { clock: HttpClock; armed: () => number } {
  const inner = schedulerClock(sched);
  let armed = 0;
  return {
    clock: {
      now: () => inner.now(),
      setTimer: (ms: number, cb: () => void): HttpTimer => {
        armed++;
        return inner.setTimer(ms, cb);
      },
    },
    armed: () => armed,
  };
}

describe('DeadlineQueue', () => {
  it('reaches each entry at its deadline, in (deadline, arming) order, and never a removed one', () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 1 });
    const { clock } = countingClock(sched);
    const queue = new DeadlineQueue(clock);
    const reached: Array<[number, number]> = [];
    const entries = Array.from({ length: 200 }, (_, i) => new Entry(i, reached, clock));
    /** The model: entry name -> [deadline, arming order] while armed. */
    const model = new Map<number, [number, number]>();
    let order = 0;
    const random = (): number => sched.random();
    const expected: Array<[number, number]> = [];
    for (let step = 0; step < 3000; step++) {
      const entry = entries[Math.floor(random() * entries.length)]!;
      const r = random();
      if (r < 0.6) {
        const deadline = clock.now() + Math.floor(random() * 50);
        queue.arm(entry, deadline);
        model.set(entry.name, [deadline, order++]);
      } else if (r < 0.8) {
        queue.remove(entry);
        model.delete(entry.name);
      } else {
        const to = clock.now() + Math.floor(random() * 20);
        const due = [...model].filter(([, [at]]) => at <= to).sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]);
        for (const [name, [at]] of due) {
          expected.push([name, at]);
          model.delete(name);
        }
        sched.advance(to - clock.now());
      }
      expect(queue.size).toBe(model.size);
    }
    expect(reached).toEqual(expected);
    expect(expected.length).toBeGreaterThan(300);
  });

  it('arms one clock timer for entries that come and go one after another, and clear() disarms it', () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 1 });
    const { clock, armed } = countingClock(sched);
    const queue = new DeadlineQueue(clock);
    const reached: Array<[number, number]> = [];
    // Like short connections: an idle deadline 5 s out, then a linger deadline 2 s out, then gone.
    for (let i = 0; i < 100; i++) {
      const entry = new Entry(i, reached, clock);
      queue.arm(entry, clock.now() + 5000);
      queue.arm(entry, clock.now() + 2000);
      queue.remove(entry);
      sched.advance(1);
    }
    // The first entry arms the timer for its idle deadline, then again for its earlier linger one; every
    // later entry finds it armed for an earlier instant (it fires once for nothing, then nothing is queued).
    expect(armed()).toBe(2);
    expect(reached).toEqual([]);
    const last = new Entry(100, reached, clock);
    queue.arm(last, clock.now() + 3000);
    queue.clear();
    expect(sched.nextDeadline()).toBeUndefined();
    sched.advance(10_000);
    expect(reached).toEqual([]);
    expect(last.deadlineSlot).toBe(-1);
  });

  it('an entry re-armed from its own callback is reached again at its new deadline', () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 1 });
    const clock = schedulerClock(sched);
    const queue = new DeadlineQueue(clock);
    const times: number[] = [];
    const entry: Deadlined = {
      deadlineAt: 0,
      deadlineSlot: -1,
      deadlineSeq: 0,
      deadlineReached() {
        times.push(clock.now());
        if (times.length < 3) queue.arm(entry, clock.now() + 100);
      },
    };
    const start = clock.now();
    queue.arm(entry, start + 100);
    sched.advance(1000);
    expect(times).toEqual([start + 100, start + 200, start + 300]);
    expect(queue.size).toBe(0);
  });
});
