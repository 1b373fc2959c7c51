import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatCensus, loadedAsPreload, siteKey, type Census } from '../src/async-census.js';

const CENSUS = fileURLToPath(new URL('../src/async-census.ts', import.meta.url));

describe('siteKey', () => {
  it('keeps the type and the first frames of the program, without the message, hook frames or file URL dirs', () => {
    const stack = [
      'Error',
      '    at AsyncHook.init (file:///w/tools/bench/src/async-census.ts:80:23)',
      '    at emitInitNative (node:internal/async_hooks:202:43)',
      '    at process.nextTick (node:internal/process/task_queues:132:5)',
      '    at _Socket._destroy (file:///tmp/x/dist/bin/gw.js:31160:13)',
      '    at third (/tmp/x/dist/bin/gw.js:3:1)',
    ].join('\n');
    expect(siteKey('TickObject', stack, 2)).toBe(
      'TickObject\nprocess.nextTick (node:internal/process/task_queues:132:5)\n_Socket._destroy (gw.js:31160:13)',
    );
    expect(siteKey('TickObject', stack, 3).split('\n')[3]).toBe('third (gw.js:3:1)');
    expect(siteKey('PROMISE', 'Error', 3)).toBe('PROMISE');
  });
});

describe('formatCensus', () => {
  it('lists types by created + entered, per unit when asked, then the top creating sites with their frames', () => {
    const c: Census = {
      windowMs: 12.4,
      init: { TickObject: 9, PROMISE: 13 },
      before: { PROMISE: 13, PIPEWRAP: 2 },
      sites: { 'TickObject\na (x.js:1:1)': 6, 'PROMISE\nb (y.js:2:2)\nc (z.js:3:3)': 13 },
    };
    const lines = formatCensus(c, 2, 1);
    expect(lines[0]).toBe('window 12 ms per 2 units');
    expect(lines.slice(2, 5).map((l) => l.trim().split(/\s+/))).toEqual([
      ['6.500', '6.500', 'PROMISE'],
      ['4.500', '0.000', 'TickObject'],
      ['0.000', '1.000', 'PIPEWRAP'],
    ]);
    expect(lines.slice(6).map((l) => l.trim())).toEqual([
      'creating sites (top 1 of 2):',
      '6.500  PROMISE',
      'b (y.js:2:2)',
      'c (z.js:3:3)',
    ]);
  });
});

describe('loadedAsPreload', () => {
  it('is true only when the module was given to --import/--require', () => {
    expect(loadedAsPreload(['--import', 'tsx', '--import', '/w/tools/bench/src/async-census.ts'])).toBe(true);
    expect(loadedAsPreload(['--import', 'tsx'])).toBe(false);
  });
});

describe('async-census as a preload', () => {
  it('counts exactly the nextTicks, promises and immediates made inside a window, with their sites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'async-census-'));
    try {
      const script = [
        'const early = setTimeout(() => {}, 0);',
        "setImmediate(() => process.emit('SIGUSR2'));",
        'setImmediate(() => { makeTicks(); makePromises(); });',
        "setTimeout(() => setImmediate(() => process.emit('SIGUSR2')), 20);",
        'function makeTicks() { for (let i = 0; i < 10; i++) process.nextTick(() => {}); }',
        'function makePromises() { for (let i = 0; i < 5; i++) void Promise.resolve().then(() => {}); }',
        'void early;',
      ].join('\n');
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--import', CENSUS, '--input-type=module', '-e', script],
        {
          encoding: 'utf8',
          env: { ...process.env, POSTERN_CENSUS_OUT: join(dir, 'c'), POSTERN_CENSUS_STACKS: '2' },
        },
      );
      expect(r.status).toBe(0);
      const c = JSON.parse(readFileSync(join(dir, 'c-0.json'), 'utf8')) as Census;
      // Ours are exactly the 10 of makeTicks (by site, below); Node 24 adds two of its own inside the
      // window (fs/dir request completions of the loader), so the total is at least 10, each one run.
      expect(c.init.TickObject).toBeGreaterThanOrEqual(10);
      expect(c.before.TickObject).toBe(c.init.TickObject);
      // Inside the window: the second and the last immediates; the timeout made before it but run inside it.
      expect(c.init.Immediate).toBe(1);
      expect(c.before.Timeout).toBeGreaterThanOrEqual(1);
      const madeIn = (type: string, fn: string) =>
        Object.entries(c.sites)
          .filter(([k]) => k.startsWith(`${type}\n`) && k.includes(fn))
          .reduce((n, [, v]) => n + v, 0);
      expect(madeIn('TickObject', 'makeTicks')).toBe(10);
      // 5 resolved promises + the 5 promises their .then made.
      expect(madeIn('PROMISE', 'makePromises')).toBe(10);
      const report = spawnSync(
        process.execPath,
        ['--import', 'tsx', CENSUS, 'report', join(dir, 'c-0.json'), '--per', '10'],
        {
          encoding: 'utf8',
        },
      );
      expect(report.status).toBe(0);
      // Per 10 units: the window's ticks made and run (10 on Node 20; Node 24 may add its own, above).
      const perTen = (n: number) => (n / 10).toFixed(3).replace('.', '\\.');
      expect(report.stdout).toMatch(
        new RegExp(`\\n\\s+${perTen(c.init.TickObject!)}\\s+${perTen(c.before.TickObject!)}\\s+TickObject\\n`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  it('report: exit 2 with one usage line on a bad command line or an unreadable file', () => {
    for (const args of [[], ['report'], ['report', 'x.json', '--per', '0'], ['report', '/nonexistent/x.json']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CENSUS, ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});
