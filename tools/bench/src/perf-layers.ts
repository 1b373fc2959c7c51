/**
 * Where the CPU of a bundled Node program goes, by source module, from `perf script` output of a
 * `perf record -g` run of a process started with `node --perf-basic-prof` (which names JIT frames
 * `JS:*name file:///.../bundle.js:LINE:COL`). Every sample is put in a class by its leaf frame: kernel,
 * JIT code of the bundle, JIT code of Node's own `node:` JavaScript, V8 builtins (`Builtins_*`), the rest
 * of the node binary (runtime, GC, libuv), libc, other. Every sample is also CHARGED to the nearest
 * bundle frame on its stack (its source file by bundle-profile.ts's markers), so a builtin, a runtime call
 * (CreateTypedArray, RecordWrite, NewFixedArray, FindOrderedHashMapEntry...) or a syscall's kernel time
 * counts for the module whose code made it. `--callers REGEX` lists, for leaf symbols matching REGEX, the
 * nearest bundle functions that called them. `--split REGEX` shows, for each bundle function whose label
 * matches REGEX, what its samples ran below it (kernel, libc, node binary, builtins) and its top leaves.
 * Samples are also charged to the nearest bundle FUNCTION (what a function costs with the runtime calls and
 * syscalls it made), and the samples with no bundle frame at all are sorted by the Node machinery they ran
 * in ({@link outsideCategory}: helper threads, GC, the microtask and nextTick queues, immediates, timers,
 * libuv's I/O callback glue, epoll): the fixed cost of each event-loop wake-up, whatever the program does.
 *
 *   node --import tsx tools/bench/src/perf-layers.ts --latest-map /tmp/perf-PID.map   # before perf script: see latestPerfMap
 *   perf script -i perf.data > perf.txt
 *   node --import tsx tools/bench/src/perf-layers.ts BUNDLE.js perf.txt [--per N] [--top 30] [--callers 'Builtins_CreateTypedArray|RecordWrite'] [--split 'event-loop-port']
 *
 * With `--per N` (e.g. requests served while recording) shares also show as samples per unit; multiply by
 * the sampling period to get time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bundleModules, directoryOf, moduleAt, type BundleModule } from './bundle-profile.js';

/** One frame of a perf callchain: its symbol (without `+0xOFFSET`) and its object (DSO). */
export interface PerfFrame {
  readonly symbol: string;
  readonly dso: string;
}

/** One sample of `perf script` output: its frames, leaf first. */
export type PerfSample = readonly PerfFrame[];

/** A callchain line: address, symbol (may contain spaces), `(dso)`. */
const FRAME_LINE = /^\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)$/;

/**
 * Parses `perf script` text (samples separated by blank lines, header line first, frames indented). When
 * `threads` is given, the thread id of each sample (the number after the command name in its header line,
 * or -1 when the header shows none) is pushed to it, in the order of the samples returned.
 */
export function parsePerfScript(text: string, threads?: number[]): PerfSample[] {
  const out: PerfSample[] = [];
  let cur: PerfFrame[] | undefined;
  let tid = -1;
  const end = () => {
    if (cur !== undefined && cur.length > 0) {
      out.push(cur);
      threads?.push(tid);
    }
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      end();
      cur = undefined;
      tid = -1;
      continue;
    }
    const m = FRAME_LINE.exec(line);
    if (m === null) {
      end();
      cur = [];
      const h = /^\S+\s+(?:\d+\/)?(\d+)\s/.exec(line);
      tid = h === null ? -1 : Number(h[1]);
      continue;
    }
    cur ??= [];
    cur.push({ symbol: m[1]!.replace(/\+0x[0-9a-f]+$/, ''), dso: m[2]! });
  }
  end();
  return out;
}

/** A JIT frame of `bundleName`: its function name and 1-based bundle line, or undefined. */
export function bundleFrame(frame: PerfFrame, bundleName: string): { name: string; line: number } | undefined {
  if (!frame.symbol.startsWith('JS:')) return undefined;
  const m = /^JS:[*^~]?(.*?) ?file:\/\/(\S+):(\d+):\d+$/.exec(frame.symbol);
  if (m === null || !m[2]!.endsWith(bundleName)) return undefined;
  return { name: m[1] === '' ? '(anonymous)' : m[1]!, line: Number(m[3]) };
}

/** The class of a leaf frame (see the file's comment). */
export function frameClass(frame: PerfFrame, bundleName: string): string {
  if (frame.dso.includes('kernel')) return 'kernel';
  if (frame.symbol.startsWith('JS:')) return bundleFrame(frame, bundleName) ? 'JIT: bundle' : 'JIT: node internals';
  if (frame.symbol.startsWith('Builtins_')) return 'V8 builtins';
  if (/\/node$/.test(frame.dso)) return 'node binary: runtime, GC, libuv';
  if (/libc[.-]/.test(frame.dso)) return 'libc';
  return `other: ${frame.dso}`;
}

/**
 * Where a sample with no bundle frame on its stack ran, by the Node machinery around it (first match, in
 * this order): `helper thread` (when `helperThread` is true: a thread other than the main one, i.e. V8's
 * compiler and GC threads or libuv's pool; when it is undefined, a stack that does not start in
 * `node::Start`, which a truncated main-thread stack also fails), `GC`, `microtask queue`, `nextTick queue`, `immediates (check phase)`, `timers phase`,
 * `I/O callback glue` (libuv read -> MakeCallback -> Node's stream JS), `epoll / I/O poll`, `other main
 * thread`. Each class is prefixed with `kernel: ` when the leaf frame is in the kernel.
 */
export function outsideCategory(chain: PerfSample, helperThread?: boolean): string {
  const has = (re: RegExp) => chain.some((f) => re.test(f.symbol));
  let what: string;
  if (helperThread ?? !has(/^node::Start\b|^__libc_start_call_main$|^main$/))
    what = 'helper thread (compiler, GC, pool)';
  else if (has(/Scavenge|MarkCompact|GarbageCollect|Heap::CollectGarbage/)) what = 'GC';
  else if (has(/RunMicrotasks/)) what = 'microtask queue';
  else if (has(/processTicksAndRejections/)) what = 'nextTick queue';
  else if (has(/uv__run_check|processImmediate/)) what = 'immediates (check phase)';
  else if (has(/uv__run_timers|listOnTimeout|processTimers/)) what = 'timers phase';
  else if (has(/OnUvRead|CallJSOnreadMethod|onStreamRead|MakeCallback|InternalCallbackScope/))
    what = 'I/O callback glue';
  else if (has(/epoll_pwait|epoll_wait|uv__io_poll/)) what = 'epoll / I/O poll';
  else what = 'other main thread';
  return chain[0]!.dso.includes('kernel') ? `kernel: ${what}` : what;
}

/** The thread id that occurs most often in `threads` (the main thread of a busy Node process), or undefined. */
export function busiestThread(threads: readonly number[]): number | undefined {
  const n = new Map<number, number>();
  let best: number | undefined;
  for (const t of threads) {
    const c = (n.get(t) ?? 0) + 1;
    n.set(t, c);
    if (best === undefined || c > n.get(best)!) best = t;
  }
  return best;
}

/** The sum of a tally's counts. */
function total(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** Counts per key, largest first. */
export function ranked(m: Map<string, number>): [string, number][] {
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** What {@link summarizePerf} returns: sample counts per class, per charged source directory/file, per leaf. */
export interface PerfSummary {
  readonly samples: number;
  readonly byClass: Map<string, number>;
  readonly chargedDirectory: Map<string, number>;
  readonly chargedModule: Map<string, number>;
  /** Nearest bundle frame's `name file (bundle:LINE)` (or `(no bundle frame)`) -> samples. */
  readonly chargedFunction: Map<string, number>;
  /** Samples with no bundle frame on their stack, by {@link outsideCategory}. */
  readonly outside: Map<string, number>;
  /** Leaf symbol -> samples; JIT bundle frames as `name file (bundle:LINE)`. */
  readonly leaf: Map<string, number>;
  /** For leaves matching the callers pattern: `leaf <- nearest bundle function file` -> samples. */
  readonly callers: Map<string, number>;
  /**
   * For samples whose nearest bundle frame's label matches the split pattern: `label` -> (class of the leaf
   * frame -> samples), and `label` -> (leaf symbol -> samples). What a function costs below itself, by kind.
   */
  readonly split: Map<string, { byClass: Map<string, number>; leaves: Map<string, number> }>;
}

/**
 * Tallies `samples` (see the file's comment); `callers` selects the leaf symbols whose callers are listed.
 * `threads` (from {@link parsePerfScript}) tells the main thread (the one with the most samples) from helper
 * threads for {@link outsideCategory}.
 */
export function summarizePerf(
  samples: readonly PerfSample[],
  bundleName: string,
  modules: readonly BundleModule[],
  callers?: RegExp,
  split?: RegExp,
  threads?: readonly number[],
): PerfSummary {
  const s: PerfSummary = {
    samples: samples.length,
    byClass: new Map(),
    chargedDirectory: new Map(),
    chargedModule: new Map(),
    chargedFunction: new Map(),
    outside: new Map(),
    leaf: new Map(),
    callers: new Map(),
    split: new Map(),
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const main = threads === undefined ? undefined : busiestThread(threads);
  const label = (f: PerfFrame): string => {
    const b = bundleFrame(f, bundleName);
    return b === undefined ? f.symbol : `${b.name} ${moduleAt(modules, b.line)} (bundle:${String(b.line)})`;
  };
  for (const [i, chain] of samples.entries()) {
    const leaf = chain[0]!;
    bump(s.byClass, frameClass(leaf, bundleName));
    bump(s.leaf, label(leaf));
    const owner = chain.find((f) => bundleFrame(f, bundleName) !== undefined);
    const mod =
      owner === undefined
        ? `(no bundle frame) ${frameClass(leaf, bundleName)}`
        : moduleAt(modules, bundleFrame(owner, bundleName)!.line);
    bump(s.chargedModule, mod);
    bump(s.chargedDirectory, owner === undefined ? mod : directoryOf(mod));
    if (callers !== undefined && callers.test(leaf.symbol))
      bump(s.callers, `${leaf.symbol} <- ${owner === undefined ? '(no bundle frame)' : label(owner)}`);
    const ownerLabel = owner === undefined ? '(no bundle frame)' : label(owner);
    bump(s.chargedFunction, ownerLabel);
    if (owner === undefined)
      bump(s.outside, outsideCategory(chain, main === undefined ? undefined : threads![i] !== main));
    if (split !== undefined && split.test(ownerLabel)) {
      let t = s.split.get(ownerLabel);
      if (t === undefined) s.split.set(ownerLabel, (t = { byClass: new Map(), leaves: new Map() }));
      bump(t.byClass, frameClass(leaf, bundleName));
      bump(t.leaves, label(leaf));
    }
  }
  return s;
}

/** One line of a `/tmp/perf-PID.map` file: code at `start`, `size` bytes long, named `name`. */
export interface PerfMapEntry {
  readonly start: number;
  readonly size: number;
  readonly name: string;
}

/**
 * The entries of a perf map (`START SIZE NAME` per line, hexadecimal) that still describe live code: V8
 * appends a line whenever it places code and never removes one, so once the garbage collector frees
 * code and reuses its address, an old name (e.g. a start-up function) shadows the new code in perf's
 * lookup. A later line wins over every earlier line it overlaps. Result in address order.
 */
export function latestPerfMap(text: string): PerfMapEntry[] {
  const live: PerfMapEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
    if (m === null) continue;
    const e = { start: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16), name: m[3]! };
    // First live entry that ends after e starts; drop all that begin before e ends.
    let lo = 0;
    let hi = live.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (live[mid]!.start + live[mid]!.size <= e.start) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < live.length && live[end]!.start < e.start + e.size) end++;
    live.splice(lo, end - lo, e);
  }
  return live;
}

/** Writes `entries` in the perf map format. */
export function formatPerfMap(entries: readonly PerfMapEntry[]): string {
  return entries.map((e) => `${e.start.toString(16)} ${e.size.toString(16)} ${e.name}\n`).join('');
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain && process.argv[2] === '--latest-map') {
  // Rewrites a perf map in place with only its live entries (the original is kept as MAP.all).
  const map = process.argv[3];
  if (map === undefined) {
    console.error('usage: perf-layers.ts --latest-map /tmp/perf-PID.map');
    process.exit(2);
  }
  const text = readFileSync(map, 'utf8');
  const entries = latestPerfMap(text);
  writeFileSync(`${map}.all`, text);
  writeFileSync(map, formatPerfMap(entries));
  console.log(`${map}: ${String(entries.length)} live entries of ${String(text.split('\n').length - 1)}`);
} else if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      per: { type: 'string' },
      top: { type: 'string', default: '30' },
      callers: { type: 'string' },
      split: { type: 'string' },
    },
  });
  const [bundle, file] = positionals;
  const per = values.per === undefined ? undefined : Number(values.per);
  const top = Number(values.top);
  if (bundle === undefined || file === undefined || (per !== undefined && !(per > 0)) || !(top > 0)) {
    console.error('usage: perf-layers.ts BUNDLE.js PERF-SCRIPT.txt [--per N>0] [--top N>0] [--callers REGEX]');
    process.exit(2);
  }
  const pattern = (flag: 'callers' | 'split'): RegExp | undefined => {
    const text = values[flag];
    try {
      return text === undefined ? undefined : new RegExp(text);
    } catch {
      console.error(`perf-layers: --${flag}: not a regular expression: ${text ?? ''}`);
      process.exit(2);
    }
  };
  const callers = pattern('callers');
  const split = pattern('split');
  const threads: number[] = [];
  const s = summarizePerf(
    parsePerfScript(readFileSync(file, 'utf8'), threads),
    bundle.replace(/^.*\//, '/'),
    bundleModules(readFileSync(bundle, 'utf8')),
    callers,
    split,
    threads,
  );
  const row = ([k, n]: [string, number]) =>
    `${((100 * n) / Math.max(1, s.samples)).toFixed(1).padStart(5)}%  ${String(n).padStart(6)}` +
    (per === undefined ? '' : `  ${((1000 * n) / per).toFixed(3).padStart(7)}/1k`) +
    `  ${k}`;
  console.log(`${file}: ${String(s.samples)} samples${per === undefined ? '' : ` over ${String(per)} units`}`);
  const sections: [string, Map<string, number>][] = [
    ['by class of the leaf frame', s.byClass],
    ['charged to the nearest bundle frame, by source directory', s.chargedDirectory],
    ['charged to the nearest bundle frame, by source file', s.chargedModule],
    ['charged to the nearest bundle function', s.chargedFunction],
    ['no bundle frame, by the Node machinery it ran in', s.outside],
    ['by leaf symbol', s.leaf],
  ];
  if (callers !== undefined) sections.push([`callers of ${values.callers ?? ''}`, s.callers]);
  for (const [title, m] of sections) {
    console.log(`\n${title}:`);
    for (const r of ranked(m).slice(0, top)) console.log(row(r));
  }
  const splits = [...s.split.entries()].sort((a, b) => total(b[1].byClass) - total(a[1].byClass));
  for (const [name, t] of splits) {
    console.log(`\nbelow ${name} (${row(['', total(t.byClass)]).trim()}):`);
    console.log(
      `  by class: ${ranked(t.byClass)
        .map(([k, n]) => `${k} ${((100 * n) / s.samples).toFixed(1)}%`)
        .join(', ')}`,
    );
    for (const r of ranked(t.leaves).slice(0, top)) console.log(`  ${row(r)}`);
  }
}
