/**
 * The two clocks. Only the scheduler reads them; everything else takes `now` from the scheduler.
 */
import { performance } from 'node:perf_hooks';
import type { Clock, Millis } from './api.js';
import { SchedulerError, requireFinite } from './errors.js';

/**
 * A clock that only moves when told to. Starts at `start` (default 0). A scheduler built on it jumps
 * it from one timer deadline to the next, so simulated minutes pass in microseconds.
 *
 * Move it yourself only when no scheduler drives it (a scheduler's `advance` does it for you); a
 * timer that becomes due that way fires at the scheduler's next run.
 */
export class VirtualClock implements Clock {
  /** Always true: tests advance this clock by hand. */
  readonly virtual = true;
  private time: Millis;

  constructor(start: Millis = 0) {
    this.time = requireFinite('VirtualClock start', start);
  }

  /** The current virtual time. */
  now(): Millis {
    return this.time;
  }

  /** Moves the clock to `time`. Throws `BAD_ARGUMENT` for a non-finite time or one before {@link now}. */
  advanceTo(time: Millis): void {
    requireFinite('VirtualClock time', time);
    if (time < this.time) {
      throw new SchedulerError('BAD_ARGUMENT', `VirtualClock cannot go back from ${this.time} to ${time}`);
    }
    this.time = time;
  }

  /** Moves the clock forward by `ms` (at least 0). */
  advanceBy(ms: Millis): void {
    this.advanceTo(this.time + requireFinite('VirtualClock step', ms));
  }
}

/**
 * Wall time: `performance.now()` relative to the moment this clock was created, so it starts near 0
 * and never decreases.
 */
export class RealClock implements Clock {
  /** Always false: time passes on its own. */
  readonly virtual = false;
  private readonly origin = performance.now();

  /** Milliseconds (fractional) since this clock was created. */
  now(): Millis {
    return performance.now() - this.origin;
  }
}

/** A clock the scheduler can move: a virtual clock with `advanceTo`. */
export interface SteerableClock extends Clock {
  advanceTo(time: Millis): void;
}

/** True when `clock` is virtual and can be moved by the scheduler. */
export function isSteerable(clock: Clock): clock is SteerableClock {
  return clock.virtual && typeof (clock as Partial<SteerableClock>).advanceTo === 'function';
}
