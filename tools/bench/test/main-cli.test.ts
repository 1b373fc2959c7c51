/**
 * The command line of `npm run bench` (`src/main.ts`, run as the npm script runs it): `--help` prints
 * the usage and exits 0 without running anything; a bad command line exits 2 with exactly one line
 * on stderr that names the offending argument, and nothing on stdout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function bench(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@postern/source', '--import', 'tsx', 'tools/bench/src/main.ts', ...args],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run bench -- <args>', () => {
  it.each(['--help', '-h'])('%s prints the usage with every option and exits 0', (flag) => {
    const r = bench(flag);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run bench -- \[options\]/);
    for (const option of ['--filter', '--json', '--samples', '--sample-ms', '--max-seconds', '--help'])
      expect(r.stdout).toContain(option);
  });

  it('bounds a whole run by 480 s and a filtered one by 900 s unless --max-seconds says otherwise', () => {
    // A filter that matches nothing: the header line is printed, then the run ends with status 1.
    const filtered = bench('--filter', 'no-such-figure-zzz');
    expect(filtered.status).toBe(1);
    expect(filtered.stdout).toContain('at most 900 s');
    const bounded = bench('--filter', 'no-such-figure-zzz', '--max-seconds', '30');
    expect(bounded.stdout).toContain('at most 30 s');
    const usage = bench('--help').stdout.replace(/\s+/g, ' ');
    expect(usage).toContain('default 480, so that the whole run stays under 10 minutes; with --filter 900');
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--samples', 'many'], '--samples'],
    [['--max-seconds', '-3'], '--max-seconds'],
    [['--filter'], '--filter'],
    [['stray'], 'stray'],
  ])('%j exits 2 with one line naming %s', (args, named) => {
    const r = bench(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(named);
  });
});
