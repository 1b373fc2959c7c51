/**
 * The two clocks. Only the scheduler reads them; everything else takes `now` from the scheduler.
 * {@link RealClock} is one of the two places in Postern that read the host's time (the other is
 * `entropy.ts`, for randomness): it reads the wall clock once, when it is created.
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
  /** The wall-clock time (ms since the Unix epoch) this clock stands for at time 0. */
  readonly epochMs: number;
  private time: Millis;

  /**
   * @param start The clock's first reading (default 0).
   * @param epochMs The Unix time in ms that clock time 0 stands for (default 0), so a simulated run
   *   can show plausible dates and still replay exactly. Both throw `BAD_ARGUMENT` when not finite.
   */
  constructor(start: Millis = 0, epochMs = 0) {
    this.time = requireFinite('VirtualClock start', start);
    this.epochMs = requireFinite('VirtualClock epochMs', epochMs);
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
 * and never decreases. Its {@link epochMs} is the host's wall clock read once at that moment.
 */
export class RealClock implements Clock {
  /** Always false: time passes on its own. */
  readonly virtual = false;
  private readonly origin = performance.now();
  /** The host's wall-clock time (ms since the Unix epoch) when this clock was created. */
  readonly epochMs = Date.now();

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
