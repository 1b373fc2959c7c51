/**
 * Process groups a test starts (`spawn` with `detached: true`: the child leads a new group), made
 * so that none outlives the test run, even one killed with SIGKILL (whose `afterAll` never runs):
 *
 * - each group gets a watchdog, a small detached `sh` loop that kills the whole group once the
 *   process that started it (its owner) is gone, checked every second, and ends when the group ends;
 * - each group is recorded in a directory ({@link GROUPS_DIR}): one file per group naming the group,
 *   its owner, and both their start times (field 22 of /proc/PID/stat, so a reused PID never counts
 *   as the same process). The record goes when the leader exits. {@link reapLeftovers} (the vitest
 *   global setup, `reap-leftover-groups.ts`) kills every recorded group whose owner is gone and whose
 *   leader is still the recorded process: what a run killed together with its watchdogs left. Groups
 *   of a run still in progress (another engineer's, say) are left alone;
 * - the temporary directories such a run works in ({@link makeTempDir}: the programs' working and
 *   home directory) are recorded in the same directory with their owner, and
 *   {@link reapLeftoverDirs} (the same global setup) removes those whose owner is gone, so a run
 *   killed before its `afterAll` leaves none behind past the next run's start.
 *
 * Linux only (/proc).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Where the groups of every run are recorded, by default. */
export const GROUPS_DIR = join(tmpdir(), 'postern-test-process-groups');

/** One recorded group: `<pgid>.json` in the records directory. */
export interface GroupRecord {
  /** The group's ID: its leader's PID. */
  pgid: number;
  /** The leader's start time (clock ticks since boot). */
  leaderStart: string;
  /** The PID of the process that started the group, and its start time. */
  owner: number;
  ownerStart: string;
}

/** The start time of process `pid` (field 22 of /proc/PID/stat), or undefined if there is no such process. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Sends SIGKILL to every process of group `pgid`; false if there was none. */
export function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * The shell loop of a watchdog: `$1` the owner's PID, `$2` the group's ID. The owner counts as gone
 * once it is a zombie too (`kill -0` still reaches one, and a container's PID 1 may never reap it).
 */
const WATCHDOG = [
  'owner() { read -r s 2>/dev/null < /proc/"$1"/stat || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }',
  'while owner "$1" && kill -0 -"$2" 2>/dev/null; do sleep 1; done',
  'owner "$1" || kill -KILL -"$2" 2>/dev/null',
].join('; ');

/** Where and for whom {@link startGroup} records a group. */
export interface GroupOptions {
  /** The records directory ({@link GROUPS_DIR} by default). */
  dir?: string;
  /** The owner: the group dies when this process does (this process by default). */
  owner?: number;
}

/**
 * Spawns `command args` as the leader of a new process group (`options` as for `spawn`, `detached`
 * forced on), records the group and starts its watchdog. The record is removed when the leader exits.
 */
export function startGroup(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  { dir = GROUPS_DIR, owner = process.pid }: GroupOptions = {},
): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  const pgid = child.pid;
  if (pgid === undefined) return child; // spawning failed: the child emits 'error'
  const record: GroupRecord = {
    pgid,
    leaderStart: startTime(pgid) ?? '',
    owner,
    ownerStart: startTime(owner) ?? '',
  };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${pgid}.json`);
  writeFileSync(file, JSON.stringify(record));
  child.once('exit', () => rmSync(file, { force: true }));
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'postern-group-watchdog', String(owner), String(pgid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  return child;
}

/**
 * Kills every group recorded in `dir` whose owner is gone while its leader is still the recorded
 * process, and removes the records of groups that are over. Returns the IDs of the groups killed.
 */
export function reapLeftovers(dir: string = GROUPS_DIR): number[] {
  const reaped: number[] = [];
  for (const { file, record } of leftoverRecords<GroupRecord>(dir, /^\d+\.json$/)) {
    if (record.leaderStart !== '' && startTime(record.pgid) === record.leaderStart && killGroup(record.pgid))
      reaped.push(record.pgid);
    rmSync(file, { force: true });
  }
  return reaped;
}

/**
 * The records in `dir` whose file name matches `pattern` and whose owner is gone (a run still in
 * progress keeps its records), each with its file; none when there is no such directory. A record
 * that cannot be read (being written by its run, or gone meanwhile) is passed over.
 */
function leftoverRecords<T extends { owner: number; ownerStart: string }>(
  dir: string,
  pattern: RegExp,
): { file: string; record: T }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => pattern.test(name));
  } catch {
    return [];
  }
  const out: { file: string; record: T }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let record: T;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch {
      continue;
    }
    if (record.ownerStart !== '' && startTime(record.owner) === record.ownerStart) continue; // its run goes on
    out.push({ file, record });
  }
  return out;
}

/** One recorded temporary directory: `dir-<its name>.json` in the records directory. */
export interface TempDirRecord {
  /** The directory (absolute). */
  path: string;
  /** The PID of the process that made it, and its start time. */
  owner: number;
  ownerStart: string;
}

/** What a temporary directory's name starts with: the reaper removes no other. */
export const TEMP_DIR_PREFIX = 'postern-';

/** Where and for whom {@link makeTempDir} makes and records a directory. */
export interface TempDirOptions extends GroupOptions {
  /** The directory it is made in (the OS's temporary directory by default). */
  parent?: string;
}

const tempRecord = (dir: string, path: string) => join(dir, `dir-${basename(path)}.json`);

/**
 * Makes a fresh directory in `parent` whose name starts with `prefix` (which starts with
 * {@link TEMP_DIR_PREFIX}) and records it for `owner`, so that {@link reapLeftoverDirs} removes it
 * once the owner is gone. Returns its path; {@link removeTempDir} removes it and its record.
 */
export function makeTempDir(
  prefix: string,
  { dir = GROUPS_DIR, owner = process.pid, parent = tmpdir() }: TempDirOptions = {},
): string {
  if (!prefix.startsWith(TEMP_DIR_PREFIX))
    throw new Error(`a temporary directory's name starts with ${TEMP_DIR_PREFIX}`);
  mkdirSync(dir, { recursive: true });
  const path = mkdtempSync(join(parent, prefix));
  const record: TempDirRecord = { path, owner, ownerStart: startTime(owner) ?? '' };
  writeFileSync(tempRecord(dir, path), JSON.stringify(record));
  return path;
}

/** Removes a directory {@link makeTempDir} made (with everything in it) and its record. */
export function removeTempDir(path: string, { dir = GROUPS_DIR }: Pick<TempDirOptions, 'dir'> = {}): void {
  rmSync(path, { recursive: true, force: true });
  rmSync(tempRecord(dir, path), { force: true });
}

/**
 * Removes every directory recorded in `dir` whose owner is gone, with its record; a record naming a
 * path outside `parent`, or one whose name does not start with {@link TEMP_DIR_PREFIX}, goes
 * without removing anything. Returns the paths removed.
 */
export function reapLeftoverDirs(dir: string = GROUPS_DIR, parent: string = tmpdir()): string[] {
  const removed: string[] = [];
  for (const { file, record } of leftoverRecords<TempDirRecord>(dir, /^dir-.+\.json$/)) {
    const { path } = record;
    if (typeof path === 'string' && dirname(path) === parent && basename(path).startsWith(TEMP_DIR_PREFIX)) {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
    rmSync(file, { force: true });
  }
  return removed;
}
