/**
 * Summarizes a V8 CPU profile of a BUNDLED program (the shipped bins: one `.js` file made by esbuild from
 * many sources) by SOURCE module: esbuild marks where each source file starts with a `// path/to/file.ts`
 * comment line, so a profile frame's line in the bundle names the source file it came from.
 *
 *   node --import tsx tools/bench/src/bundle-profile.ts BUNDLE.js FILE.cpuprofile [--per N] [--top 40]
 *
 * A sampling heap profile (`.heapprofile`, e.g. from inspector-window.ts) is summarized the same way in bytes.
 *
 * Prints self time per source directory, per source file and per function (with its source file). Time in
 * frames outside the bundle (native code such as the `writeBuffer` syscall, `node:` internals) is also
 * charged to the nearest bundle frame that called it (the `charged` column), so a syscall counts for the
 * module that made it. With `--per N` (e.g. the requests served while profiling) every figure is also
 * shown in microseconds per unit. Samples are counted, not weighed by time: steady on a loaded machine
 * (see cpuprofile-top.ts, which groups by package for unbundled runs). `(idle)` is left out of the shares.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CpuProfile } from './cpuprofile-top.js';

/** Where one source module starts in a bundle. */
export interface BundleModule {
  /** 1-based bundle line of its `// path` marker. */
  readonly line: number;
  /** Its source path as esbuild wrote it (relative to the bundle's working directory). */
  readonly path: string;
}

/** A marker line: `// ` followed by a relative path to a source file, nothing else. */
const MODULE_MARKER = /^\/\/ ((?:[\w@.-]+\/)+[\w@.-]+\.(?:[cm]?[jt]s|json))$/;

/** The source modules of a bundle in line order (the marker lines esbuild writes before each file). */
export function bundleModules(bundleText: string): BundleModule[] {
  const out: BundleModule[] = [];
  const lines = bundleText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = MODULE_MARKER.exec(lines[i]!);
    if (m !== null) out.push({ line: i + 1, path: m[1]! });
  }
  return out;
}

/**
 * The source module holding 1-based bundle line `line` (the last marker at or before it), or
 * `'(bundle prelude)'` before the first marker. `modules` must be in line order.
 */
export function moduleAt(modules: readonly BundleModule[], line: number): string {
  let lo = 0;
  let hi = modules.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (modules[mid]!.line <= line) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? '(bundle prelude)' : modules[found]!.path;
}

/** The directory of a source path (`packages/netstack/src/tcp/output.ts` -> `packages/netstack/src/tcp`). */
export function directoryOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? path : path.slice(0, at);
}

/** One row: a name, its samples where it is the running frame, and its samples charged to it. */
export interface ModuleRow {
  readonly name: string;
  /** Samples whose running frame is in it. */
  readonly self: number;
  /** {@link self} plus samples of non-bundle frames (native, `node:`) whose nearest bundle caller is in it. */
  readonly charged: number;
}

/** What {@link summarizeBundleProfile} returns; shares are of {@link busySamples}. */
export interface BundleSummary {
  /** Counted samples that are not `(idle)`. */
  readonly busySamples: number;
  /** Milliseconds one sample stands for (sampled time over counted samples). */
  readonly msPerSample: number;
  readonly byDirectory: ModuleRow[];
  readonly byModule: ModuleRow[];
  /** Rows keyed `function file (bundle:line)`; a frame outside the bundle as `name <- its nearest bundle caller`. */
  readonly byFunction: ModuleRow[];
}

/**
 * Tallies `profile` by the source module of each sample's frame. A frame is in the bundle when its URL
 * ends with `bundleName` (the bundle's file name); its 0-based `lineNumber` + 1 is looked up in `modules`.
 * Non-bundle frames count under their own name (`(garbage collector)`, `writeBuffer`, `node:...`) and are
 * charged to the nearest bundle frame up their stack (none: under their own name).
 */
export function summarizeBundleProfile(
  profile: CpuProfile & { readonly nodes: readonly { readonly children?: readonly number[] }[] },
  bundleName: string,
  modules: readonly BundleModule[],
): BundleSummary {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const inBundle = (id: number): boolean => byId.get(id)?.url.endsWith(bundleName) === true;
  const dir = new Map<string, [number, number]>();
  const mod = new Map<string, [number, number]>();
  const fn = new Map<string, [number, number]>();
  const bump = (m: Map<string, [number, number]>, key: string, self: boolean) => {
    const t = m.get(key) ?? [0, 0];
    if (self) t[0]++;
    t[1]++;
    m.set(key, t);
  };
  let busy = 0;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(id);
    if (frame === undefined || us <= 0 || frame.functionName === '(idle)') continue;
    busy++;
    busyUs += us;
    const bundleName_ = (f: NonNullable<typeof frame>) => moduleAt(modules, f.lineNumber + 1);
    if (inBundle(id)) {
      const m = bundleName_(frame);
      bump(mod, m, true);
      bump(dir, directoryOf(m), true);
      bump(fn, `${frame.functionName || '(anonymous)'} ${m} (bundle:${frame.lineNumber + 1})`, true);
      continue;
    }
    const own = frame.url === '' ? frame.functionName || '(anonymous)' : `${frame.functionName} ${frame.url}`;
    let up = parent.get(id);
    while (up !== undefined && !inBundle(up)) up = parent.get(up);
    if (up === undefined) {
      bump(fn, own, true);
      bump(mod, own, true);
      bump(dir, own, true);
      continue;
    }
    const caller = byId.get(up)!;
    const m = bundleName_(caller);
    bump(fn, `${own} <- ${caller.functionName || '(anonymous)'} ${m} (bundle:${caller.lineNumber + 1})`, true);
    bump(mod, m, false);
    bump(dir, directoryOf(m), false);
  }
  const rows = (m: Map<string, [number, number]>): ModuleRow[] =>
    [...m.entries()]
      .map(([name, [self, charged]]) => ({ name, self, charged }))
      .sort((a, b) => b.self - a.self || b.charged - a.charged);
  return {
    busySamples: busy,
    msPerSample: busy > 0 ? busyUs / busy / 1000 : 0,
    byDirectory: rows(dir),
    byModule: rows(mod),
    byFunction: rows(fn),
  };
}

/** The parts of a `.heapprofile` (V8's sampling heap profile: a call tree with bytes per node) read here. */
export interface HeapProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  /** Estimated bytes allocated by this frame itself (V8 scales the samples up to the whole). */
  readonly selfSize: number;
  readonly children: readonly HeapProfileNode[];
}

/** A sampling heap profile as `HeapProfiler.stopSampling` returns it. */
export interface HeapProfile {
  readonly head: HeapProfileNode;
}

/**
 * Bytes per source directory, source file and function of a sampling heap profile of a bundle, like
 * {@link summarizeBundleProfile} (its `self` and `charged` are bytes here; `busySamples` is the total bytes
 * and `msPerSample` is 0). Allocations in non-bundle frames (a `Uint8Array` constructor, `node:` code) are
 * charged to the nearest bundle frame above them.
 */
export function summarizeHeapProfile(
  profile: HeapProfile,
  bundleName: string,
  modules: readonly BundleModule[],
): BundleSummary {
  const dir = new Map<string, [number, number]>();
  const mod = new Map<string, [number, number]>();
  const fn = new Map<string, [number, number]>();
  const add = (m: Map<string, [number, number]>, key: string, bytes: number, self: boolean) => {
    const t = m.get(key) ?? [0, 0];
    if (self) t[0] += bytes;
    t[1] += bytes;
    m.set(key, t);
  };
  let total = 0;
  const walk = (node: HeapProfileNode, caller: string | undefined, callerFn: string | undefined): void => {
    const f = node.callFrame;
    const here = f.url.endsWith(bundleName) ? moduleAt(modules, f.lineNumber + 1) : undefined;
    const hereFn =
      here === undefined ? undefined : `${f.functionName || '(anonymous)'} ${here} (bundle:${f.lineNumber + 1})`;
    const bytes = node.selfSize;
    if (bytes > 0) {
      total += bytes;
      if (here !== undefined) {
        add(mod, here, bytes, true);
        add(dir, directoryOf(here), bytes, true);
        add(fn, hereFn!, bytes, true);
      } else {
        const own = f.url === '' ? f.functionName || '(anonymous)' : `${f.functionName} ${f.url}`;
        add(fn, callerFn === undefined ? own : `${own} <- ${callerFn}`, bytes, true);
        if (caller === undefined) {
          add(mod, own, bytes, true);
          add(dir, own, bytes, true);
        } else {
          add(mod, caller, bytes, false);
          add(dir, directoryOf(caller), bytes, false);
        }
      }
    }
    for (const c of node.children) walk(c, here ?? caller, hereFn ?? callerFn);
  };
  walk(profile.head, undefined, undefined);
  const rows = (m: Map<string, [number, number]>): ModuleRow[] =>
    [...m.entries()]
      .map(([name, [self, charged]]) => ({ name, self, charged }))
      .sort((a, b) => b.charged - a.charged || b.self - a.self);
  return { busySamples: total, msPerSample: 0, byDirectory: rows(dir), byModule: rows(mod), byFunction: rows(fn) };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: 'string' }, top: { type: 'string', default: '40' } },
  });
  const [bundle, file] = positionals;
  const per = values.per === undefined ? undefined : Number(values.per);
  const top = Number(values.top);
  if (bundle === undefined || file === undefined || (per !== undefined && !(per > 0)) || !(top > 0)) {
    console.error('usage: bundle-profile.ts BUNDLE.js FILE.cpuprofile [--per N>0] [--top N>0]');
    process.exit(2);
  }
  const modules = bundleModules(readFileSync(bundle, 'utf8'));
  const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const bundleName = bundle.replace(/^.*\//, '/');
  const heap = typeof json === 'object' && json !== null && 'head' in json;
  const s = heap
    ? summarizeHeapProfile(json as HeapProfile, bundleName, modules)
    : summarizeBundleProfile(json as Parameters<typeof summarizeBundleProfile>[0], bundleName, modules);
  const perCol = (n: number) =>
    per === undefined
      ? ''
      : heap
        ? `${(n / per).toFixed(0).padStart(7)} B `
        : `${((n * s.msPerSample * 1000) / per).toFixed(2).padStart(7)} us`;
  const pct = (n: number) => `${((100 * n) / Math.max(1, s.busySamples)).toFixed(1).padStart(5)}%`;
  const line = (r: ModuleRow) =>
    `${pct(r.self)} ${perCol(r.self)}   ${pct(r.charged)} ${perCol(r.charged)}   ${r.name}`;
  console.log(
    (heap
      ? `${file}: ${String(s.busySamples)} bytes allocated (sampled estimate)`
      : `${file}: ${String(s.busySamples)} busy samples (idle left out), ${s.msPerSample.toFixed(3)} ms each`) +
      `, ${String(modules.length)} modules in the bundle` +
      (per === undefined ? '' : `; per unit: ${String(per)} units`),
  );
  console.log(`\n  self             charged (self + ${heap ? 'allocations by' : ''} native/node: frames it called)`);
  for (const [title, rows] of [
    ['by source directory', s.byDirectory],
    ['by source file', s.byModule],
    ['by function (self)', s.byFunction],
  ] as const) {
    console.log(`\n${title}:`);
    for (const r of rows.slice(0, top)) console.log(line(r));
  }
}
