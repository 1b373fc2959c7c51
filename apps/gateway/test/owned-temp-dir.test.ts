/**
 * The test temporary directories of support/owned-temp-dir.ts: a directory whose owner was killed with
 * SIGKILL is removed by the next reap, one of a live owner is kept, a PID reused by another process
 * does not keep a leftover alive, an unmarked directory goes only after its grace, and nothing of
 * another prefix is touched.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OWNER_MARKER,
  UNMARKED_GRACE_MS,
  makeOwnedTempDir,
  processStart,
  reapOrphanedTempDirs,
} from './support/owned-temp-dir.js';

const PREFIX = 'postern-owned-';
const parents: string[] = [];
afterEach(() => {
  for (const parent of parents.splice(0)) rmSync(parent, { recursive: true, force: true });
});

/** A private parent directory standing in for the OS temp directory. */
function parent(): string {
  const path = mkdtempSync(join(tmpdir(), 'postern-owned-test-'));
  parents.push(path);
  return path;
}

describe('owned test temporary directories', () => {
  it('a directory whose owner was killed with SIGKILL is removed by the next reap', async () => {
    const root = parent();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = child.pid!;
    const dir = makeOwnedTempDir(PREFIX, { parent: root, owner: pid });
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(reapOrphanedTempDirs(PREFIX, root)).toEqual([]); // its owner still runs
    expect(existsSync(dir)).toBe(true);

    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    expect(processStart(pid)).toBeUndefined();
    expect(reapOrphanedTempDirs(PREFIX, root)).toEqual([dir]);
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps the directory of a live owner, and removes one whose PID now belongs to another process', () => {
    const root = parent();
    const mine = makeOwnedTempDir(PREFIX, { parent: root });
    const reused = mkdtempSync(join(root, PREFIX));
    // The marker names this process's PID with another start time: the PID was reused.
    writeFileSync(join(reused, OWNER_MARKER), JSON.stringify({ pid: process.pid, start: '1' }));
    expect(processStart(process.pid)).not.toBe('1');
    expect(reapOrphanedTempDirs(PREFIX, root)).toEqual([reused]);
    expect(existsSync(mine)).toBe(true);
    expect(existsSync(reused)).toBe(false);
  });

  it('removes an unmarked directory only after its grace, and leaves other names and files alone', () => {
    const root = parent();
    const unmarked = mkdtempSync(join(root, PREFIX));
    const changed = Date.now();
    utimesSync(unmarked, changed / 1000, changed / 1000);
    const other = join(root, 'postern-other-1');
    mkdirSync(other);
    writeFileSync(join(other, OWNER_MARKER), JSON.stringify({ pid: 999_999_999, start: '1' }));
    const file = join(root, `${PREFIX}file`);
    writeFileSync(file, 'not a directory');

    expect(reapOrphanedTempDirs(PREFIX, root, changed + UNMARKED_GRACE_MS - 1000)).toEqual([]);
    expect(existsSync(unmarked)).toBe(true);
    expect(reapOrphanedTempDirs(PREFIX, root, changed + UNMARKED_GRACE_MS + 1000)).toEqual([unmarked]);
    expect(existsSync(unmarked)).toBe(false);
    expect(existsSync(other)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it('a missing parent reaps nothing', () => {
    expect(reapOrphanedTempDirs(PREFIX, join(parent(), 'absent'))).toEqual([]);
  });
});
