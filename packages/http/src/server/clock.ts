/**
 * Time for the server, taken from outside: the package never reads a clock or arms a host timer itself.
 * {@link schedulerClock} adapts an `@postern/irq` {@link Scheduler} (real clock for a live server, virtual
 * clock for simulation tests).
 */
import type { Scheduler } from '@postern/irq';

/** A cancellable one-shot timer armed through an {@link HttpClock}. */
export interface HttpTimer {
  /** Disarms; harmless after it fired or was cancelled. */
  cancel(): void;
}

/**
 * The server's source of time.
 *
 * - `now()` is monotonic milliseconds (any origin): timeouts and rate limiting use it.
 * - `setTimer(ms, cb)` calls `cb` once, no earlier than `ms` after now on the same clock.
 * - `wallTime()` (optional) is milliseconds since the Unix epoch, used only to write the `Date` header.
 *   Without it the server sends no `Date` header, as RFC 9110 §6.6.1 asks of a server without a
 *   reliable clock.
 */
export interface HttpClock {
  now(): number;
  setTimer(ms: number, callback: () => void): HttpTimer;
  wallTime?(): number;
}

/**
 * An {@link HttpClock} on a scheduler: `now()` is `scheduler.now`, `wallTime()` (when given) is
 * `wallTime()`, timers are scheduler timers. The scheduler must be driven (a real-clock one
 * `start()`ed, a virtual one advanced by the test).
 *
 * No reading is kept here: inside a scheduler run (where a socket's events and the requests they
 * complete arrive) the scheduler itself reads its clock once per run; elsewhere each call reads it
 * (a host clock read costs less than the microtask a per-turn cache needs to forget its reading, and
 * a short connection touched the time in about four separate turns). On a virtual clock a test that
 * advances the clock sees the new time at once.
 *
 * @param wallTime Optional epoch-milliseconds source for the `Date` header.
 */
export function schedulerClock(scheduler: Scheduler, wallTime?: () => number): HttpClock {
  const clock: HttpClock = {
    now: () => scheduler.now,
    setTimer: (ms, callback) => scheduler.timerAfter(ms, callback),
  };
  if (wallTime !== undefined) clock.wallTime = wallTime;
  return clock;
}
