/**
 * Summarizes a V8 CPU profile (`node --cpu-prof` writes `*.cpuprofile`): the functions with the most
 * self time, and self time per workspace package (or `node:` internals, `(garbage collector)`,
 * `(program)`, `(idle)`).
 *
 *   node --import tsx tools/bench/src/cpuprofile-top.ts FILE.cpuprofile [topN]
 */
import { readFileSync } from 'node:fs';

/** The parts of a `.cpuprofile` this summary reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One row of the summary: a name and its self time. */
export interface SelfTime {
  readonly name: string;
  /** Self time in milliseconds. */
  readonly ms: number;
  /** Share of all sampled time, percent. */
  readonly pct: number;
}

/** Where a script URL belongs: `packages/X`, `apps/X`, `tools/X`, `node_modules/X`, `node:` or the URL. */
export function groupOf(url: string): string {
  if (url === '') return '(native or VM)';
  if (url.startsWith('node:')) return 'node: internals';
  const m = /\/(packages|apps|tools)\/([^/]+)\//.exec(url);
  if (m !== null && !url.includes('/node_modules/')) return `${m[1]}/${m[2]}`;
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm !== null) return `node_modules/${nm[1]}`;
  return url;
}

/**
 * Self time per function (name and source line) and per {@link groupOf} group, largest first.
 * Sample `i` is charged `timeDeltas[i + 1]` (the time until the next sample), the last one nothing.
 */
export function summarizeProfile(profile: CpuProfile): { functions: SelfTime[]; groups: SelfTime[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, number>();
  const group = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(profile.samples[i]!);
    if (frame === undefined || us <= 0) continue;
    total += us;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(packages|apps|tools)\//, '$1/');
    const key =
      frame.url === ''
        ? frame.functionName || '(anonymous)'
        : `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const g =
      frame.url === ''
        ? frame.functionName.startsWith('(')
          ? frame.functionName
          : '(native or VM)'
        : groupOf(frame.url);
    group.set(g, (group.get(g) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, ms: us / 1000, pct: total > 0 ? (100 * us) / total : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { functions: rows(fn), groups: rows(group), totalMs: total / 1000 };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  // `node --cpu-prof` writes one profile per thread, so a glob may name several files: each is summarized.
  const args = process.argv.slice(2);
  const last = args.at(-1);
  const top = last !== undefined && /^\d+$/.test(last) ? Number(args.pop()) : 25;
  if (args.length === 0) {
    console.error('usage: cpuprofile-top.ts FILE.cpuprofile... [topN]');
    process.exit(2);
  }
  const line = (r: SelfTime) => `${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`;
  for (const file of args) {
    const { functions, groups, totalMs } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    console.log(`${file}: sampled ${totalMs.toFixed(0)} ms\n\nself time by group:`);
    for (const r of groups.slice(0, 15)) console.log(line(r));
    console.log(`\ntop ${top} functions by self time:`);
    for (const r of functions.slice(0, top)) console.log(line(r));
  }
}
