/**
 * `support/process-groups.ts`, which keeps the process groups tests start (bins.test.ts) from
 * outliving the run: a recorded group whose owner was killed (a "previous run" SIGKILLed before its
 * `afterAll`) is reaped with all its processes; a group whose owner still runs is left alone; a
 * record whose leader is gone, or whose PID now belongs to another process, goes without a kill; and
 * a started group's watchdog kills it when its owner dies, without waiting for a later run. The
 * owners and leaders are `sleep` processes; each test has its own records directory. The same for
 * the temporary directories a run works in: a recorded one whose owner is gone is removed, one whose
 * owner runs stays, and a record naming anything else removes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  killGroup,
  makeTempDir,
  reapLeftoverDirs,
  reapLeftovers,
  removeTempDir,
  startGroup,
  startTime,
  type GroupRecord,
} from './support/process-groups.js';

let dir = '';
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-process-groups-'));
});
afterEach(() => {
  for (const c of children.splice(0)) {
    // A group this test made (with any member left) goes whole; a leader that is gone leads no group.
    if (c.exitCode === null && c.signalCode === null) {
      if (!killGroup(c.pid!)) c.kill('SIGKILL');
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A `sleep` long enough to outlast the test; `detached` makes it lead its own group. */
function sleeper(detached = false): ChildProcess {
  const child = spawn('sleep', ['300'], { detached, stdio: 'ignore' });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
}

/** Bounded wait (20 s) for `child` to end; its signal or status, or 'alive'. */
async function endOf(child: ChildProcess): Promise<NodeJS.Signals | number | null | 'alive'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'alive'>((resolve) => (timer = setTimeout(() => resolve('alive'), 20_000)));
  try {
    return await Promise.race([exited(child), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first output of `child` on stdout, as a number (a PID the child prints). */
function printedPid(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
}

/** Records `leader`'s group as started by `owner`, the way startGroup does. */
function record(leader: ChildProcess, owner: number, overrides: Partial<GroupRecord> = {}): string {
  const entry: GroupRecord = {
    pgid: leader.pid!,
    leaderStart: startTime(leader.pid!)!,
    owner,
    ownerStart: startTime(owner)!,
    ...overrides,
  };
  const file = join(dir, `${entry.pgid}.json`);
  writeFileSync(file, JSON.stringify(entry));
  return file;
}

describe('process groups started by tests', () => {
  it('a leftover group of a previous run (its owner killed) is reaped, every process of it, and its record goes', async () => {
    const oldRun = sleeper();
    // The leader, a shell, and a second member of its group, a sleep it starts (its PID on stdout).
    const leader = spawn('sh', ['-c', 'sleep 300 & echo $!; wait'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(leader);
    const member = await printedPid(leader);
    expect(startTime(member)).toBeDefined();
    const file = record(leader, oldRun.pid!);
    oldRun.kill('SIGKILL');
    await exited(oldRun);
    expect(reapLeftovers(dir)).toEqual([leader.pid]);
    expect(await endOf(leader)).toBe('SIGKILL');
    for (let i = 0; i < 100 && startTime(member) !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
    expect(startTime(member)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it('a group whose owner still runs (another run in progress) is left alone, record and all', async () => {
    const leader = sleeper(true);
    const file = record(leader, process.pid);
    expect(reapLeftovers(dir)).toEqual([]);
    expect(startTime(leader.pid!)).toBeDefined();
    expect(existsSync(file)).toBe(true);
  });

  it('a record whose leader is gone or is another process now (a reused PID) is dropped without a kill', async () => {
    const oldRun = sleeper();
    const gone = sleeper(true);
    const reused = sleeper(true);
    record(gone, oldRun.pid!);
    record(reused, oldRun.pid!, { leaderStart: '1' });
    gone.kill('SIGKILL');
    await exited(gone);
    oldRun.kill('SIGKILL');
    await exited(oldRun);
    expect(reapLeftovers(dir)).toEqual([]);
    expect(startTime(reused.pid!)).toBeDefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('startGroup records the group until its leader exits, and its watchdog kills the group when the owner dies', async () => {
    const owner = sleeper();
    const leader = startGroup('sleep', ['300'], { stdio: 'ignore' }, { dir, owner: owner.pid! });
    children.push(leader);
    expect(readdirSync(dir)).toEqual([`${leader.pid}.json`]);
    expect(startTime(leader.pid!)).toBeDefined();
    owner.kill('SIGKILL');
    expect(await endOf(leader)).toBe('SIGKILL');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an owner that is a zombie no one reaps counts as gone: the watchdog kills the group', async () => {
    // A shell starts a child and becomes a sleep that never waits for it: the child stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 300'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(parent);
    const zombie = await printedPid(parent);
    const state = (): string | undefined => {
      try {
        const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      } catch {
        return undefined;
      }
    };
    for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(state()).toBe('Z');
    expect(startTime(zombie)).toBeUndefined(); // so the reaper counts it as gone too
    const leader = startGroup('sleep', ['300'], { stdio: 'ignore' }, { dir, owner: zombie });
    children.push(leader);
    expect(await endOf(leader)).toBe('SIGKILL');
  });

  it('a group that ends by itself while its owner runs: record removed, nothing to reap', async () => {
    const leader = startGroup('sleep', ['0'], { stdio: 'ignore' }, { dir });
    children.push(leader);
    expect(await endOf(leader)).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    expect(reapLeftovers(dir)).toEqual([]);
  });
});

describe('temporary directories of test runs', () => {
  /** A scratch parent for the directories (inside this test's records directory, which afterEach removes). */
  function parentDir(): string {
    const parent = join(dir, 'parent');
    mkdirSync(parent, { recursive: true });
    return parent;
  }

  it('a leftover directory of a previous run (its owner killed) is removed with its record at the next start', async () => {
    const parent = parentDir();
    const oldRun = sleeper();
    const path = makeTempDir('postern-bins-', { dir, owner: oldRun.pid!, parent });
    writeFileSync(join(path, 'config.json'), '{}');
    expect(readdirSync(dir).filter((n) => n.startsWith('dir-'))).toHaveLength(1);
    expect(reapLeftoverDirs(dir, parent)).toEqual([]); // its run goes on
    expect(existsSync(path)).toBe(true);
    oldRun.kill('SIGKILL');
    await exited(oldRun);
    expect(reapLeftoverDirs(dir, parent)).toEqual([path]);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('dir-'))).toEqual([]);
  });

  it('removeTempDir removes the directory and its record; makeTempDir takes only names the reaper may remove', () => {
    const parent = parentDir();
    const path = makeTempDir('postern-bins-', { dir, parent });
    expect(path.startsWith(join(parent, 'postern-bins-'))).toBe(true);
    removeTempDir(path, { dir });
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('dir-'))).toEqual([]);
    expect(() => makeTempDir('bins-', { dir, parent })).toThrow(/starts with postern-/);
  });

  it('a record naming a path outside the parent, or a name without the prefix, goes without removing anything', async () => {
    const parent = parentDir();
    const oldRun = sleeper();
    const ownerStart = startTime(oldRun.pid!)!;
    const outside = mkdtempSync(join(dir, 'postern-outside-'));
    const unprefixed = join(parent, 'keep-me');
    mkdirSync(unprefixed);
    for (const [i, path] of [outside, unprefixed].entries())
      writeFileSync(join(dir, `dir-x${i}.json`), JSON.stringify({ path, owner: oldRun.pid, ownerStart }));
    oldRun.kill('SIGKILL');
    await exited(oldRun);
    expect(reapLeftoverDirs(dir, parent)).toEqual([]);
    expect(existsSync(outside) && existsSync(unprefixed)).toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('dir-'))).toEqual([]);
  });
});
