/**
 * Waiting for the kernel: what a test starts in a namespace happens in another process, so a test
 * polls for its effect, bounded in time.
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
