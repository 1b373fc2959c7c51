/**
 * The vitest global setup of this project (vitest.config.ts): before any test starts a process
 * group, kill the groups a previous run left behind (see `process-groups.ts`), saying so on stderr.
 */
import { reapLeftovers } from './process-groups.js';

/** Reaps the leftover groups of runs that are gone. */
export default function setup(): void {
  const reaped = reapLeftovers();
  if (reaped.length > 0)
    process.stderr.write(
      `workspace-checks: killed ${reaped.length} process group(s) a previous run left: ${reaped.join(' ')}\n`,
    );
}
