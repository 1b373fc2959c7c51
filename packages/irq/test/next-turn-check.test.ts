/**
 * The next-turn check (scheduleNextTurn on a started real clock): inside a run it is queued at the run's
 * end, so work withdrawn within the run costs no promise reaction, and every way a run can end still
 * asks for the check while work waits, so nothing saved for the next turn is stranded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LATE_TIMER_MS, SchedulerError, type BottomHalf } from '../src/index.js';
import { realScheduler, stopSchedulers, until } from './real-clock-helpers.js';

afterEach(stopSchedulers);

/** Lets queued microtasks run `n` hops deep without making a promise reaction through `Promise.prototype.then`. */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

/**
 * Counts `Promise.prototype.then` calls made by the scheduler's own code (each is one promise reaction:
 * a microtask wake or a next-turn check hop) until `restore()`.
 */
function countSchedulerReactions(): { readonly count: number; restore(): void } {
  const then = Promise.prototype.then;
  let count = 0;
  Promise.prototype.then = function (this: Promise<unknown>, ...args: Parameters<typeof then>) {
    const caller = new Error().stack?.split('\n')[2] ?? '';
    if (/scheduler\.[tj]s/.test(caller)) count++;
    return then.apply(this, args);
  } as typeof then;
  return {
    get count() {
      return count;
    },
    restore() {
      Promise.prototype.then = then;
    },
  };
}

/** A bottom half that counts its polls. */
function counter(name: string): BottomHalf & { polled: number } {
  const bh = {
    name,
    polled: 0,
    poll: () => {
      bh.polled++;
      return 0;
    },
  };
  return bh;
}

describe('next-turn check', () => {
  it('work saved for the next turn and withdrawn in the same run costs no promise reaction and no host turn', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const flush = counter('flush');
    // As TCP's receive path with the reply written in the same run: the owed ACK's flush is saved for the
    // next turn, then withdrawn because the reply carried the ACK.
    const line = s.requestIrq('eth0', 1, () => {
      s.scheduleNextTurn(flush);
      s.scheduleNextTurn(flush);
      s.cancelNextTurn(flush);
    });
    s.start();
    const reactions = countSchedulerReactions();
    try {
      line.raise();
      expect(reactions.count, 'the microtask wake').toBe(1);
      await microtasks(12);
      expect(reactions.count, 'no next-turn check').toBe(1);
    } finally {
      reactions.restore();
    }
    await sleep(5);
    expect(flush.polled).toBe(0);
    expect(s.stats.hostTurns).toMatchObject({ microtask: 1, immediate: 0, immediateCancelled: 0 });
  });

  it('work saved for the next turn and still waiting at the run end gets its check and runs in the next host turn', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const flush = counter('flush');
    const line = s.requestIrq('eth0', 1, () => {
      s.scheduleNextTurn(flush);
      s.scheduleNextTurn(flush); // coalesced
    });
    s.start();
    const reactions = countSchedulerReactions();
    try {
      line.raise();
      await microtasks(12);
      // The wake, then the check's hops: one check for the run, however many times the work was saved.
      expect(reactions.count).toBeGreaterThan(1);
    } finally {
      reactions.restore();
    }
    await until(() => flush.polled === 1);
    await sleep(5);
    expect(flush.polled).toBe(1);
    expect(s.stats.hostTurns).toMatchObject({ microtask: 1, immediate: 1 });
  });

  it('a handler that throws after saving next-turn work ends the run (runPending rethrows): the work still runs in the next host turn', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const flush = counter('flush');
    const line = s.requestIrq('eth0', 1, () => {
      s.scheduleNextTurn(flush);
      throw new Error('handler bug');
    });
    s.start();
    line.raise(); // queues the microtask wake, which finds nothing left to run
    expect(() => s.runPending()).toThrow('handler bug');
    await until(() => flush.polled === 1);
    expect(s.stats.errors).toBe(1);
    expect(s.stats.hostTurns.immediate).toBe(1);
  });

  it('a run ended by LIVELOCK after saving next-turn work: the work and the line left pending run in the next host turn', async () => {
    const s = realScheduler({ hostWake: 'microtask', livelockLimit: 50 });
    const flush = counter('flush');
    let storming = true;
    let handled = 0;
    const storm = s.requestIrq('storm', 0, (l) => {
      handled++;
      s.scheduleNextTurn(flush);
      if (storming) l.raise();
    });
    s.start();
    storm.raise();
    expect(() => s.runPending()).toThrow(SchedulerError);
    storming = false;
    const before = handled;
    await until(() => flush.polled === 1);
    expect(handled).toBe(before + 1); // the pending line ran in the check's turn
    expect(storm.pending).toBe(false);
  });

  it('a handler that tries a nested run (REENTRANT) after saving next-turn work: the outer run ends normally and the work runs', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const flush = counter('flush');
    const errors: unknown[] = [];
    const line = s.requestIrq('eth0', 1, () => {
      s.scheduleNextTurn(flush);
      try {
        s.runPending();
      } catch (error) {
        errors.push(error);
      }
    });
    s.start();
    line.raise();
    await until(() => flush.polled === 1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'REENTRANT' });
    expect(s.stats.hostTurns).toMatchObject({ microtask: 1, immediate: 1 });
  });

  it('next-turn work saved by a bottom half, a tasklet and a timer callback runs in the next host turn', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const flushes = [counter('after bottom half'), counter('after tasklet'), counter('after timer')];
    const [afterBottomHalf, afterTasklet, afterTimer] = flushes as [
      ReturnType<typeof counter>,
      ReturnType<typeof counter>,
      ReturnType<typeof counter>,
    ];
    const rx: BottomHalf = { name: 'rx', poll: () => (s.scheduleNextTurn(afterBottomHalf), 0) };
    s.start();
    s.schedule(rx);
    await until(() => afterBottomHalf.polled === 1);
    s.defer(() => s.scheduleNextTurn(afterTasklet));
    await until(() => afterTasklet.polled === 1);
    s.timerAfter(1, () => s.scheduleNextTurn(afterTimer));
    await until(() => afterTimer.polled === 1);
    await sleep(5);
    expect(flushes.map((f) => f.polled)).toEqual([1, 1, 1]);
  });

  it('next-turn work saved by a timer held for a stall (fired by the late-timer turn) runs in the next host turn', async () => {
    // The clock (not the host's load) says how late the host timer came: it moves only when told to.
    let time = 0;
    const s = realScheduler({ clock: { virtual: false, now: () => time } });
    const flush = counter('flush');
    s.start();
    const fired = new Promise<void>((resolve) => {
      s.timerAt(2, () => {
        s.scheduleNextTurn(flush);
        resolve();
      });
    });
    setTimeout(() => {
      time = 2 + LATE_TIMER_MS + 100; // the host timer's turn, next, finds the timer overdue
    }, 2);
    await fired;
    expect(s.stats.hostTurns.timerDeferred).toBe(1);
    await until(() => flush.polled === 1);
  });

  it('a chain of microtask wakes past the streak guard, each saving next-turn work: the last work saved still runs', async () => {
    const s = realScheduler({ hostWake: 'microtask' });
    const events: string[] = [];
    const flush: BottomHalf = { name: 'flush', poll: () => (events.push('flush'), 0) };
    let left = 200;
    const line = s.requestIrq('eth0', 1, () => {
      events.push('irq');
      s.scheduleNextTurn(flush);
      if (--left > 0) void Promise.resolve().then(() => line.raise());
    });
    s.start();
    line.raise();
    await until(() => left === 0 && events.at(-1) === 'flush');
    await sleep(5);
    expect(events.filter((e) => e === 'irq')).toHaveLength(200);
    expect(events.at(-1)).toBe('flush');
    expect(s.stats.hostTurns.immediate).toBeGreaterThan(0); // the guard let the event loop run
  });
});
