/**
 * Waiting in real time: what a test starts in a namespace, a child process or Node's event loop
 * happens elsewhere, so a test polls for its effect, bounded in time. (On the virtual clock, use
 * `virtual-clock.ts` instead: there nothing happens unless the test advances the clock.)
 */

/** How often {@link eventually} asks, in milliseconds. */
export const EVENTUALLY_INTERVAL_MS = 5;

/**
 * Asks `predicate` every {@link EVENTUALLY_INTERVAL_MS} ms, at most `limitMs / 5` times after the
 * first, and resolves whether it held (true as soon as it does, false when the budget is spent).
 * A predicate that throws rejects the wait.
 */
export async function eventually(predicate: () => boolean | Promise<boolean>, limitMs = 5000): Promise<boolean> {
  for (let i = 0; i <= limitMs / EVENTUALLY_INTERVAL_MS; i++) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, EVENTUALLY_INTERVAL_MS));
  }
  return false;
}

/**
 * {@link eventually} that fails loudly: resolves once `predicate` holds, rejects with
 * `timed out after <limitMs> ms waiting for <what>` when it has not within the budget (5 s unless
 * told). `what` names the awaited event for that message.
 */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  if (!(await eventually(predicate, limitMs))) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
}
