import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  allowedCpus,
  parseAllowedCpus,
  parseCpuList,
  pinPlan,
  pinProcess,
  pinnedCommand,
  threadCpus,
} from '../src/cpu-pinning.js';

describe('CPU lists', () => {
  it('parses ranges and single CPUs, ascending, without repeats', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('5,0-2,1\n')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('3')).toEqual([3]);
  });
  it('refuses what is not a CPU list', () => {
    for (const bad of ['', 'a', '2-1', '0-', '0,,1', '0x3']) expect(() => parseCpuList(bad)).toThrow(/not a CPU list/);
  });
  it('reads Cpus_allowed_list out of a status text', () => {
    const status = 'Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t1\n';
    expect(parseAllowedCpus(status)).toEqual([0, 1]);
    expect(() => parseAllowedCpus('Name:\tnode\n')).toThrow(/Cpus_allowed_list/);
  });
  it('reads this process and none for a process that is gone', () => {
    expect(allowedCpus()!.length).toBeGreaterThan(0);
    expect(allowedCpus(2 ** 22 + 1)).toBeUndefined();
    expect(threadCpus(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('pin plan and pinned command', () => {
  it('puts the server on the first allowed CPU and the client on the second', () => {
    expect(pinPlan([2, 3, 7])).toEqual({ server: 2, client: 3 });
  });
  it('says why not with one CPU or none known', () => {
    expect(pinPlan([0])).toMatch(/^one CPU \(0\) allowed/);
    expect(pinPlan(undefined)).toMatch(/cannot be read/);
  });
  it('starts the program through taskset -c only when given a CPU', () => {
    expect(pinnedCommand('wrk', ['-t1', 'http://x/'], 1)).toEqual(['taskset', ['-c', '1', 'wrk', '-t1', 'http://x/']]);
    expect(pinnedCommand('wrk', ['-t1'], undefined)).toEqual(['wrk', ['-t1']]);
  });
});

const hasTaskset = spawnSync('sh', ['-c', 'command -v taskset']).status === 0;
const cpus = allowedCpus() ?? [];

describe.skipIf(!hasTaskset || cpus.length < 2)('pinProcess (taskset, two CPUs or more)', () => {
  it('pins every thread of a process to one CPU and gives them back their CPUs', async () => {
    // A Node child: several threads (V8's platform workers), all of which must move.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      await new Promise<void>((resolve) => child.once('spawn', () => resolve()));
      const pid = child.pid!;
      // Its threads start shortly after the process: wait for more than one.
      for (let i = 0; i < 100 && (threadCpus(pid)?.size ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 20));
      const before = threadCpus(pid)!;
      expect(before.size).toBeGreaterThan(1);
      const target = cpus[cpus.length - 1]!;
      const pinned = await pinProcess(pid, target);
      const during = threadCpus(pid)!;
      expect(pinned.threads).toBe(during.size);
      for (const list of during.values()) expect(list).toEqual([target]);
      await pinned.unpin();
      const after = threadCpus(pid)!;
      for (const [tid, list] of after) expect(list).toEqual(before.get(tid) ?? allowedCpus(pid));
    } finally {
      child.kill('SIGKILL');
    }
  });
  it('rejects for a process that is gone', async () => {
    await expect(pinProcess(2 ** 22 + 1, cpus[0]!)).rejects.toThrow(/gone/);
  });
});
