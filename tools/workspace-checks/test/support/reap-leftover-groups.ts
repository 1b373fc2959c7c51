/**
 * The vitest global setup of this project (vitest.config.ts): before any test starts a process
 * group, kill the groups a previous run left behind and remove the temporary directories it left
 * (see `process-groups.ts`), saying so on stderr.
 */
import { reapLeftoverDirs, reapLeftovers } from './process-groups.js';

/** Reaps the leftover groups and temporary directories of runs that are gone. */
export default function setup(): void {
  const reaped = reapLeftovers();
  if (reaped.length > 0)
    process.stderr.write(
      `workspace-checks: killed ${reaped.length} process group(s) a previous run left: ${reaped.join(' ')}\n`,
    );
  const removed = reapLeftoverDirs();
  if (removed.length > 0)
    process.stderr.write(
      `workspace-checks: removed ${removed.length} temporary director${removed.length === 1 ? 'y' : 'ies'} a previous run left: ${removed.join(' ')}\n`,
    );
}
