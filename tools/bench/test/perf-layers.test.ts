import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleModules } from '../src/bundle-profile.js';
import {
  bundleFrame,
  busiestThread,
  formatPerfMap,
  frameClass,
  latestPerfMap,
  outsideCategory,
  parsePerfScript,
  summarizePerf,
} from '../src/perf-layers.js';

const B = 'file:///tmp/h/dist/bin/gw.js';
const SCRIPT = `node 100 5.1:     500250 cpu-clock:ppp: 
\t    ffffffff81000000 pvm_irq_enable+0x10 ([kernel.kallsyms])
\t         f82ec __GI___libc_write+0x4c (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t    7f0000001000 JS:*write ${B}:5:10+0x27a (/tmp/perf-100.map)
\t    7f0000002000 JS:^onImmediate node:internal/timers:438:28+0x779 (/tmp/perf-100.map)

node 100 5.2:     500250 cpu-clock:ppp: 
\t         14ce0dc Builtins_CreateTypedArray+0x5c (/usr/bin/node)
\t    7f0000003000 JS:*portFrame ${B}:3:15+0x10 (/tmp/perf-100.map)

node 100 5.3:     500250 cpu-clock:ppp: 
\t    7f0000003000 JS:*portFrame ${B}:3:15+0x10 (/tmp/perf-100.map)

node 101 5.4:     500250 cpu-clock:ppp: 
\t          c494db v8::internal::compiler::GraphReducer::ReduceTop+0x12b (/usr/bin/node)
`;
const BUNDLE = [
  'x',
  '// packages/nic/src/tap/tap-driver.ts',
  'function portFrame(){}',
  '// packages/nic/src/tap/event-loop-port.ts',
  'function write(){}',
].join('\n');

describe('parsePerfScript / bundleFrame / frameClass', () => {
  it('reads samples leaf first, without offsets, and recognizes bundle JIT frames', () => {
    const samples = parsePerfScript(SCRIPT);
    expect(samples).toHaveLength(4);
    expect(samples[0]!.map((f) => f.symbol)).toEqual([
      'pvm_irq_enable',
      '__GI___libc_write',
      `JS:*write ${B}:5:10`,
      'JS:^onImmediate node:internal/timers:438:28',
    ]);
    expect(bundleFrame(samples[0]![2]!, '/gw.js')).toEqual({ name: 'write', line: 5 });
    expect(bundleFrame(samples[0]![3]!, '/gw.js')).toBeUndefined();
    expect(samples.map((s) => frameClass(s[0]!, '/gw.js'))).toEqual([
      'kernel',
      'V8 builtins',
      'JIT: bundle',
      'node binary: runtime, GC, libuv',
    ]);
    expect(frameClass(samples[0]![1]!, '/gw.js')).toBe('libc');
    expect(frameClass(samples[0]![3]!, '/gw.js')).toBe('JIT: node internals');
  });
});

describe('summarizePerf', () => {
  it('charges every sample to its nearest bundle frame and lists the callers of matching leaves', () => {
    const s = summarizePerf(parsePerfScript(SCRIPT), '/gw.js', bundleModules(BUNDLE), /^Builtins_/);
    expect(s.samples).toBe(4);
    expect(Object.fromEntries(s.byClass)).toEqual({
      kernel: 1,
      'V8 builtins': 1,
      'JIT: bundle': 1,
      'node binary: runtime, GC, libuv': 1,
    });
    expect(Object.fromEntries(s.chargedModule)).toEqual({
      'packages/nic/src/tap/event-loop-port.ts': 1,
      'packages/nic/src/tap/tap-driver.ts': 2,
      '(no bundle frame) node binary: runtime, GC, libuv': 1,
    });
    expect(s.chargedDirectory.get('packages/nic/src/tap')).toBe(3);
    expect(Object.fromEntries(s.callers)).toEqual({
      'Builtins_CreateTypedArray <- portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)': 1,
    });
    expect(s.leaf.get('portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)')).toBe(1);
  });
});

describe('latestPerfMap', () => {
  it('lets a later entry replace every earlier one it overlaps, keeping the others, in address order', () => {
    const text = ['1000 100 JS:~old a', '2000 10 JS:*keep', '1080 40 JS:*new', '3000 10 JS:*far', 'junk'].join('\n');
    const live = latestPerfMap(text);
    expect(live.map((e) => e.name)).toEqual(['JS:*new', 'JS:*keep', 'JS:*far']);
    expect(formatPerfMap(live)).toBe('1080 40 JS:*new\n2000 10 JS:*keep\n3000 10 JS:*far\n');
  });
  it('keeps entries that only touch (end == start) and drops a run of older ones one new entry covers', () => {
    const live = latestPerfMap(['100 10 a', '110 10 b', '120 10 c', '105 20 d'].join('\n'));
    expect(live.map((e) => e.name)).toEqual(['d']);
    const touching = latestPerfMap(['100 10 a', '110 10 b'].join('\n'));
    expect(touching.map((e) => e.name)).toEqual(['a', 'b']);
  });
});

describe('perf-layers and bundle-profile command lines', () => {
  const run = (tool: string, args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL(`../src/${tool}`, import.meta.url)), ...args],
      {
        encoding: 'utf8',
      },
    );
  it('exit 2 with one usage line on missing files or a bad --per', () => {
    for (const [tool, args] of [
      ['perf-layers.ts', ['only-one-file']],
      ['perf-layers.ts', ['a.js', 'b.txt', '--per', '0']],
      ['perf-layers.ts', ['a.js', 'b.txt', '--callers', '(']],
      ['perf-layers.ts', ['--latest-map']],
      ['bundle-profile.ts', ['a.js']],
      ['bundle-profile.ts', ['a.js', 'b.cpuprofile', '--top', 'x']],
    ] as const) {
      const r = run(tool, [...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
  it('--latest-map rewrites the map with its live entries and keeps the original beside it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perf-layers-'));
    try {
      const map = join(dir, 'perf-1.map');
      writeFileSync(map, '1000 100 JS:~old\n1010 10 JS:*new\n');
      const r = run('perf-layers.ts', ['--latest-map', map]);
      expect(r.status).toBe(0);
      expect(readFileSync(map, 'utf8')).toBe('1010 10 JS:*new\n');
      expect(readFileSync(`${map}.all`, 'utf8')).toBe('1000 100 JS:~old\n1010 10 JS:*new\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('summarizePerf split', () => {
  it('breaks the samples charged to matching bundle functions down by class and leaf', () => {
    const s = summarizePerf(parsePerfScript(SCRIPT), '/gw.js', bundleModules(BUNDLE), undefined, /portFrame|write/);
    expect([...s.split.keys()].sort()).toEqual([
      'portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)',
      'write packages/nic/src/tap/event-loop-port.ts (bundle:5)',
    ]);
    const pf = s.split.get('portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)')!;
    expect(Object.fromEntries(pf.byClass)).toEqual({ 'V8 builtins': 1, 'JIT: bundle': 1 });
    expect(pf.leaves.get('Builtins_CreateTypedArray')).toBe(1);
    const w = s.split.get('write packages/nic/src/tap/event-loop-port.ts (bundle:5)')!;
    expect(Object.fromEntries(w.byClass)).toEqual({ kernel: 1 });
    expect(w.leaves.get('pvm_irq_enable')).toBe(1);
  });
});

describe('threads, charged functions and the machinery outside the bundle', () => {
  const f = (symbol: string, dso = '/usr/bin/node') => ({ symbol, dso });
  const MAIN_ROOT = [f('uv_run'), f('node::Start'), f('__libc_start_call_main', 'libc.so.6')];
  it("parsePerfScript reports each sample's thread id (pid/tid or tid headers), -1 without one", () => {
    const threads: number[] = [];
    const text = SCRIPT + '\nnode 7/102 5.5:     500250 cpu-clock:ppp: \n\t    1 epoll_pwait+0x1 ([kernel.kallsyms])\n';
    const samples = parsePerfScript(text, threads);
    expect(samples).toHaveLength(5);
    expect(threads).toEqual([100, 100, 100, 101, 102]);
    const none: number[] = [];
    parsePerfScript('\t    1 f+0x1 (/usr/bin/node)\n', none);
    expect(none).toEqual([-1]);
  });
  it('busiestThread is the thread with the most samples', () => {
    expect(busiestThread([5, 7, 7, 5, 7])).toBe(7);
    expect(busiestThread([])).toBeUndefined();
  });
  it('outsideCategory names the Node machinery a sample ran in, first match wins, kernel leaves marked', () => {
    expect(outsideCategory([f('v8::internal::compiler::GraphReducer::ReduceTop'), f('start_thread', 'libc')])).toBe(
      'helper thread (compiler, GC, pool)',
    );
    expect(outsideCategory([f('x'), ...MAIN_ROOT], true)).toBe('helper thread (compiler, GC, pool)');
    expect(
      outsideCategory([f('v8::internal::ScavengerCollector::CollectGarbage'), f('RunMicrotasks'), ...MAIN_ROOT]),
    ).toBe('GC');
    expect(
      outsideCategory([
        f('Builtins_PromiseFulfillReactionJob'),
        f('v8::internal::MicrotaskQueue::RunMicrotasks'),
        f('node::InternalCallbackScope::Close'),
        ...MAIN_ROOT,
      ]),
    ).toBe('microtask queue');
    expect(
      outsideCategory([
        f('JS:*processTicksAndRejections node:internal/process/task_queues:67:35'),
        f('node::InternalCallbackScope::Close'),
        ...MAIN_ROOT,
      ]),
    ).toBe('nextTick queue');
    expect(outsideCategory([f('uv__run_check'), ...MAIN_ROOT])).toBe('immediates (check phase)');
    expect(outsideCategory([f('uv__run_timers'), ...MAIN_ROOT])).toBe('timers phase');
    expect(outsideCategory([f('node::LibuvStreamWrap::OnUvRead'), f('uv__io_poll'), ...MAIN_ROOT])).toBe(
      'I/O callback glue',
    );
    expect(
      outsideCategory([f('ep_poll', '[kernel.kallsyms]'), f('epoll_pwait', 'libc'), f('uv__io_poll'), ...MAIN_ROOT]),
    ).toBe('kernel: epoll / I/O poll');
    expect(outsideCategory([f('malloc', 'libc'), ...MAIN_ROOT], false)).toBe('other main thread');
  });
  it('summarizePerf charges each sample to its nearest bundle function and sorts the rest by machinery', () => {
    const threads: number[] = [];
    const s = summarizePerf(
      parsePerfScript(SCRIPT, threads),
      '/gw.js',
      bundleModules(BUNDLE),
      undefined,
      undefined,
      threads,
    );
    expect(Object.fromEntries(s.chargedFunction)).toEqual({
      'write packages/nic/src/tap/event-loop-port.ts (bundle:5)': 1,
      'portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)': 2,
      '(no bundle frame)': 1,
    });
    expect(Object.fromEntries(s.outside)).toEqual({ 'helper thread (compiler, GC, pool)': 1 });
  });
});
