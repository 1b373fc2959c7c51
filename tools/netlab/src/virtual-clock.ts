/**
 * Waiting on the virtual clock: a scheduler with a virtual clock (the IRQ package's `Scheduler`)
 * does nothing until the test advances it, so awaiting a stack's promise alone would hang. These
 * helpers advance the clock until the promise settles. Two meanings, two names:
 *
 * - {@link outcomeOnVirtualClock} reports what happened (value, error, or neither in time) and never
 *   throws: for tests that assert on an expected failure, or on a timeout.
 * - {@link awaitOnVirtualClock} is `await` on the virtual clock: the value, or the promise's own
 *   error thrown, or an error when it did not settle in time.
 */

/** The one thing these helpers need of a scheduler: advancing its virtual clock. */
export interface AdvanceableClock {
  /** Moves the virtual clock `ms` forward, running what falls due on the way. */
  advance(ms: number): void;
}

/** What became of a promise: `value` when it fulfilled, `error` when it rejected, neither when it did not settle in time. */
export interface Outcome<T> {
  /** The fulfilled value. */
  value?: T;
  /** The rejection reason. */
  error?: unknown;
}

/** Steps of {@link outcomeOnVirtualClock}, in virtual milliseconds. */
export const OUTCOME_STEP_MS = 10;

/**
 * Advances `clock` in {@link OUTCOME_STEP_MS} steps, letting promise callbacks run after each,
 * until `promise` settles or `limitMs` of virtual time have passed; resolves with its
 * {@link Outcome} (empty when it had not settled). Never rejects.
 */
export async function outcomeOnVirtualClock<T>(
  clock: AdvanceableClock,
  promise: Promise<T>,
  limitMs = 10_000,
): Promise<Outcome<T>> {
  let done = false;
  const outcome: Outcome<T> = {};
  promise.then(
    (v) => ((outcome.value = v), (done = true)),
    (e: unknown) => ((outcome.error = e), (done = true)),
  );
  for (let t = 0; t < limitMs && !done; t += OUTCOME_STEP_MS) {
    clock.advance(OUTCOME_STEP_MS);
    await Promise.resolve();
    await Promise.resolve();
  }
  return outcome;
}

/**
 * Awaits `promise` while advancing `clock` `stepMs` (1 unless told) at a time, letting promise
 * callbacks run before each step, for at most `limitMs` of virtual time (10 s unless told).
 * Resolves with the value; rejects with the promise's own error, or with
 * `promise did not settle within <limitMs> virtual ms`.
 */
export async function awaitOnVirtualClock<T>(
  clock: AdvanceableClock,
  promise: Promise<T>,
  limitMs = 10_000,
  stepMs = 1,
): Promise<T> {
  let done = false;
  let failed = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      failed = true;
      error = e;
    },
  );
  for (let t = 0; t <= limitMs && !done; t += stepMs) {
    await flushMicrotasks();
    if (done) break;
    clock.advance(stepMs);
  }
  await flushMicrotasks();
  if (!done) throw new Error(`promise did not settle within ${limitMs} virtual ms`);
  if (failed) throw error;
  return value as T;
}

/** Lets already queued promise callbacks run (five turns of the microtask queue, so short chains finish). */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
