/**
 * Temporary directories for tests that outlive no test run, even one killed with SIGKILL (whose
 * `afterAll` never runs). Each directory made here holds a marker naming the process that made it
 * (its PID and start time, so a reused PID is not mistaken for it); {@link reapOrphanedTempDirs},
 * called by the next run before it makes its own, removes every directory of the same prefix whose
 * owner is gone. A directory without a marker (made before markers, or by a run killed in the instant
 * between making it and marking it) is removed once it is older than {@link UNMARKED_GRACE_MS}.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The marker's file name inside an owned directory. */
export const OWNER_MARKER = '.postern-owner.json';
/** How old a directory without a marker must be before it is taken for a leftover. */
export const UNMARKED_GRACE_MS = 10 * 60_000;

/** What the marker records. */
interface OwnerMarker {
  readonly pid: number;
  /** The owner's start time (field 22 of /proc/PID/stat), '' when it could not be read. */
  readonly start: string;
}

/** The start time of process `pid`, or undefined when there is no such process (or only its zombie). */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Where and for whom a directory is made or reaped. */
export interface OwnedTempDirOptions {
  /** The directory it is made in (the OS's temporary directory by default). */
  readonly parent?: string;
  /** The owning process (this one by default). */
  readonly owner?: number;
}

/**
 * Makes a fresh directory named `prefix` plus six random characters in `parent`, marked as owned by
 * `owner`. Remove it with `rmSync(path, { recursive: true, force: true })` when done; if the owner is
 * killed first, the next {@link reapOrphanedTempDirs} of the same prefix removes it.
 */
export function makeOwnedTempDir(
  prefix: string,
  { parent = tmpdir(), owner = process.pid }: OwnedTempDirOptions = {},
): string {
  const path = mkdtempSync(join(parent, prefix));
  const marker: OwnerMarker = { pid: owner, start: processStart(owner) ?? '' };
  writeFileSync(join(path, OWNER_MARKER), JSON.stringify(marker));
  return path;
}

/**
 * Removes every directory in `parent` whose name starts with `prefix` and whose owner is gone: its
 * marker names a process that no longer runs (or a PID now held by a later process), or it has no
 * readable marker and was last changed more than {@link UNMARKED_GRACE_MS} before `now`. Directories of
 * a run still going are kept. Returns the paths removed.
 */
export function reapOrphanedTempDirs(prefix: string, parent: string = tmpdir(), now: number = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const path = join(parent, name);
    if (ownerGone(path, now)) {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
  }
  return removed;
}

/** Whether the directory at `path` is a leftover (see {@link reapOrphanedTempDirs}); false for a non-directory. */
function ownerGone(path: string, now: number): boolean {
  let mtimeMs: number;
  try {
    const stat = statSync(path);
    if (!stat.isDirectory()) return false;
    mtimeMs = stat.mtimeMs;
  } catch {
    return false;
  }
  let marker: OwnerMarker;
  try {
    marker = JSON.parse(readFileSync(join(path, OWNER_MARKER), 'utf8')) as OwnerMarker;
  } catch {
    return now - mtimeMs > UNMARKED_GRACE_MS;
  }
  if (!Number.isInteger(marker.pid) || typeof marker.start !== 'string') return now - mtimeMs > UNMARKED_GRACE_MS;
  const start = processStart(marker.pid);
  return start === undefined || (marker.start !== '' && start !== marker.start);
}
