/**
 * Waiting in real time: what a test starts in a namespace, a child process or Node's event loop
 * happens elsewhere, so a test polls for its effect, bounded in time. (On the virtual clock, use
 * `virtual-clock.ts` instead: there nothing happens unless the test advances the clock.)
 */

/** How often {@link eventually} asks unless told, in milliseconds. */
export const EVENTUALLY_INTERVAL_MS = 5;

/**
 * Asks `predicate` at once, then every `everyMs` ({@link EVENTUALLY_INTERVAL_MS} unless told),
 * the last time at the deadline `limitMs` (5 s unless told) after the first ask; resolves whether
 * it held. A slow predicate (a command it runs) does not stretch the budget: no ask starts after
 * the deadline. A predicate that throws rejects the wait.
 */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  limitMs = 5000,
  everyMs = EVENTUALLY_INTERVAL_MS,
): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    if (await predicate()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false; // the last ask ended at or after the deadline
    if (left <= everyMs) {
      await sleep(left);
      return predicate(); // the ask at the deadline
    }
    await sleep(everyMs);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * {@link eventually} that fails loudly: resolves once `predicate` holds, rejects with
 * `timed out after <limitMs> ms waiting for <what>` when it has not within the budget (5 s unless
 * told, asking every `everyMs`). `what` names the awaited event for that message.
 */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  limitMs = 5000,
  everyMs = EVENTUALLY_INTERVAL_MS,
): Promise<void> {
  if (!(await eventually(predicate, limitMs, everyMs)))
    throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
}
