/**
 * Summarizes a V8 CPU profile (`node --cpu-prof` writes `*.cpuprofile`): the functions with the most
 * self time, and self time per workspace package (or `node:` internals, `(garbage collector)`,
 * `(program)`, `(idle)`).
 *
 *   node --import tsx tools/bench/src/cpuprofile-top.ts [--by-time] FILE.cpuprofile... [topN]
 *
 * By default each sample counts once (its share of the samples, and milliseconds as that share of
 * the profile's sampled time): steady on a loaded machine. `--by-time` charges each sample the time
 * until the next one instead, which is exact on a quiet machine but puts a whole pause of a
 * descheduled process (tens of ms on a shared machine) on the one sample before it.
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
  /** Self time in milliseconds (by samples: the row's share of samples times the sampled time). */
  readonly ms: number;
  /** Share of all sampled time (by samples: of all counted samples), percent. */
  readonly pct: number;
  /** Samples that landed in this row. */
  readonly samples: number;
}

/**
 * How {@link summarizeProfile} weighs a sample: `'samples'` counts each once (robust to pauses of a
 * descheduled process); `'time'` charges it the time delta to the next sample.
 */
export type SampleWeight = 'samples' | 'time';

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
 * Sample `i` covers `timeDeltas[i + 1]` (the time until the next sample); the last sample, and one
 * with no time after it, is not counted. With `weight: 'time'` a sample is charged that delta; with
 * `'samples'` (the default) every counted sample weighs the same, and milliseconds are its share of
 * the sampled time.
 */
export function summarizeProfile(
  profile: CpuProfile,
  weight: SampleWeight = 'samples',
): { functions: SelfTime[]; groups: SelfTime[]; totalMs: number; samples: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, Tally>();
  const group = new Map<string, Tally>();
  let total = 0;
  let count = 0;
  const add = (m: Map<string, Tally>, key: string, us: number) => {
    const t = m.get(key);
    if (t === undefined) m.set(key, { us, samples: 1 });
    else {
      t.us += us;
      t.samples++;
    }
  };
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(profile.samples[i]!);
    if (frame === undefined || us <= 0) continue;
    total += us;
    count++;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(packages|apps|tools)\//, '$1/');
    const key =
      frame.url === ''
        ? frame.functionName || '(anonymous)'
        : `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    add(fn, key, us);
    const g =
      frame.url === ''
        ? frame.functionName.startsWith('(')
          ? frame.functionName
          : '(native or VM)'
        : groupOf(frame.url);
    add(group, g, us);
  }
  const share = (t: Tally) => (weight === 'time' ? (total > 0 ? t.us / total : 0) : count > 0 ? t.samples / count : 0);
  const rows = (m: Map<string, Tally>): SelfTime[] =>
    [...m.entries()]
      .map(([name, t]) => ({ name, ms: (share(t) * total) / 1000, pct: 100 * share(t), samples: t.samples }))
      .sort((a, b) => b.ms - a.ms || b.samples - a.samples);
  return { functions: rows(fn), groups: rows(group), totalMs: total / 1000, samples: count };
}

/** Time and samples of one row while summing. */
interface Tally {
  us: number;
  samples: number;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  // `node --cpu-prof` writes one profile per thread, so a glob may name several files: each is summarized.
  const args = process.argv.slice(2);
  const byTime = args.includes('--by-time');
  if (byTime) args.splice(args.indexOf('--by-time'), 1);
  const last = args.at(-1);
  const top = last !== undefined && /^\d+$/.test(last) ? Number(args.pop()) : 25;
  if (args.length === 0) {
    console.error('usage: cpuprofile-top.ts [--by-time] FILE.cpuprofile... [topN]');
    process.exit(2);
  }
  const line = (r: SelfTime) =>
    `${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${String(r.samples).padStart(7)}  ${r.name}`;
  for (const file of args) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const { functions, groups, totalMs, samples } = summarizeProfile(profile, byTime ? 'time' : 'samples');
    const how = byTime ? 'weighed by time to the next sample' : 'weighed by sample count (--by-time: by time)';
    console.log(
      `${file}: ${samples} samples over ${totalMs.toFixed(0)} ms, ${how}\n\nself time by group (share, ms, samples):`,
    );
    for (const r of groups.slice(0, 15)) console.log(line(r));
    console.log(`\ntop ${top} functions by self time:`);
    for (const r of functions.slice(0, top)) console.log(line(r));
  }
}
