/** Helpers of the tests that run a scheduler on Node's event loop (real clock or a hand-moved clock that is not virtual). */
import { setTimeout as sleep } from 'node:timers/promises';
import { Scheduler, type SchedulerOptions } from '../src/index.js';

/** Schedulers to detach after each test ({@link stopSchedulers}); push one made by hand to have it stopped too. */
export const schedulers: Scheduler[] = [];

/** A scheduler on a real clock (unless `options.clock` says otherwise), stopped after the test. */
export function realScheduler(options: SchedulerOptions = {}): Scheduler {
  const s = new Scheduler({ clock: 'real', ...options });
  schedulers.push(s);
  return s;
}

/** Stops every scheduler in {@link schedulers} and forgets them (an `afterEach` hook). */
export function stopSchedulers(): void {
  for (const s of schedulers.splice(0)) s.stop();
}

/** Resolves when `check()` holds, polling the event loop; rejects after `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(2);
  }
}
