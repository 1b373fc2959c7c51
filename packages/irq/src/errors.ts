/**
 * The one error class the scheduler throws. Callers branch on {@link SchedulerError.code}, never on
 * the message text.
 */

/**
 * Stable codes for scheduler failures:
 * - `LIVELOCK`: one run made more dispatches at one instant than `livelockLimit` allows (a handler
 *   re-raising its own line forever, a bottom half that always exhausts its budget, a timer re-arming
 *   itself at the current time forever).
 * - `WRONG_CLOCK`: a virtual-clock operation (`advance`, `runUntil`, `runUntilIdle`) on a real clock,
 *   or `start()` on a virtual one.
 * - `REENTRANT`: a run (`runPending`, `advance`, ...) was called from inside work the scheduler is running.
 * - `DUPLICATE_IRQ`: `requestIrq` with the name of a line that is still registered.
 * - `BAD_ARGUMENT`: a non-finite deadline or delay, a bad budget, seed, capacity or limit, a clock
 *   moved backwards.
 */
export type SchedulerErrorCode = 'LIVELOCK' | 'WRONG_CLOCK' | 'REENTRANT' | 'DUPLICATE_IRQ' | 'BAD_ARGUMENT';

/** Thrown by the scheduler, its clocks, rings and PRNG for misuse and livelock. */
export class SchedulerError extends Error {
  /** The stable code for this condition. */
  readonly code: SchedulerErrorCode;
  constructor(code: SchedulerErrorCode, message: string) {
    super(message);
    this.name = 'SchedulerError';
    this.code = code;
  }
}

/** Throws `BAD_ARGUMENT` unless `value` is a finite number; returns it. */
export function requireFinite(what: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SchedulerError('BAD_ARGUMENT', `${what} must be a finite number, got ${String(value)}`);
  }
  return value;
}

/** Throws `BAD_ARGUMENT` unless `value` is an integer of at least `min`; returns it. */
export function requireInteger(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SchedulerError('BAD_ARGUMENT', `${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
