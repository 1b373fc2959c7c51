/**
 * Removing what crashed runs left behind. Only objects whose owning process (the pid in their name)
 * is gone are removed, so a cleanup never pulls a device out from under a test running beside it.
 */
import { isGone } from './lab.js';
import { NETLAB_PREFIX, parseLabName } from './names.js';
import { tryCommand } from './run.js';

/** Options for {@link cleanupLeftovers}. */
export interface LeftoverOptions {
  /**
   * Also remove objects whose name starts with the prefix but does not follow the lab's naming
   * scheme, and objects of live processes. For manual use on a machine where nothing else runs.
   */
  all?: boolean;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Should a `pst-` object named `name` be removed? */
export function isLeftover(name: string, options: LeftoverOptions = {}): boolean {
  if (!name.startsWith(NETLAB_PREFIX)) return false;
  if (options.all) return true;
  const parsed = parseLabName(name);
  return parsed !== undefined && parsed.pid !== process.pid && !processAlive(parsed.pid);
}

/**
 * Deletes `pst-` namespaces and root-namespace links left by processes that no longer run, and
 * resolves with the names it removed. Never throws (a missing `ip` or no root removes nothing).
 */
export async function cleanupLeftovers(options: LeftoverOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  const links = await tryCommand('ip', ['-o', 'link', 'show']);
  if (links.code === 0) {
    for (const line of links.stdout.split('\n')) {
      const m = /^\d+:\s+([^:@\s]+)/.exec(line);
      const name = m?.[1];
      if (name === undefined || !isLeftover(name, options)) continue;
      const r = await tryCommand('ip', ['link', 'del', 'dev', name]);
      if (r.code === 0 || isGone(r.stderr)) removed.push(name);
    }
  }
  const namespaces = await tryCommand('ip', ['netns', 'list']);
  if (namespaces.code === 0) {
    for (const line of namespaces.stdout.split('\n')) {
      const name = line.trim().split(/\s+/)[0];
      if (!name || !isLeftover(name, options)) continue;
      const r = await tryCommand('ip', ['netns', 'del', name]);
      if (r.code === 0 || isGone(r.stderr)) removed.push(name);
    }
  }
  return removed;
}
