/**
 * A tiny benchmark harness. A {@link Benchmark} is a named set of {@link Figure}s; each figure is
 * measured several times, alternating with its reference (something outside Postern doing the same
 * job, e.g. Node's own `zlib.crc32`) so that both see the same machine at the same moment, and is
 * reported as the median with its spread and the ratio of the two medians.
 *
 * Bounded in time: one sample lasts about `sampleMs`; a run stops starting figures once
 * `maxSeconds` have passed and reports the rest as not run.
 */
import { summarize, type Summary } from './stats.js';

/**
 * Takes one sample of a figure: does the work for about `budgetMs` milliseconds of wall time and
 * returns the figure (e.g. MB/s). Must be finite.
 */
export type Sampler = (budgetMs: number) => number;

/** Something measured beside a figure in the same run. */
export interface Reference {
  /** What the reference is, e.g. `"zlib.crc32 1500 B"`. */
  readonly name: string;
  /** Takes one sample of the reference, in the same unit as the figure. */
  readonly sample: Sampler;
}

/** One figure of a benchmark. Higher is better (a rate). */
export interface Figure {
  /** What is measured, e.g. `"internetChecksum 1500 B"`. */
  readonly name: string;
  /** Unit of the figure and its reference, e.g. `"MB/s"`. */
  readonly unit: string;
  /** Takes one sample of the figure. */
  readonly sample: Sampler;
  /** Measured beside the figure; the ratio is figure median / reference median. */
  readonly reference?: Reference;
}

/** A named group of figures, selected with `--filter`. */
export interface Benchmark {
  /** Short name, e.g. `"checksum"`. */
  readonly name: string;
  /** One sentence: what it measures and against what. */
  readonly description: string;
  /** The figures (with their buffers), built only when the run reaches this benchmark. */
  figures(): readonly Figure[];
}

/** How a run is bounded. */
export interface RunOptions {
  /** Samples per figure (and per reference), after one warm-up sample each. Default 7. */
  readonly samples?: number;
  /** Wall time of one sample in milliseconds. Default 100. */
  readonly sampleMs?: number;
  /** Stop starting new figures after this many seconds. Default 120. */
  readonly maxSeconds?: number;
  /** Keep only benchmarks or figures whose name contains this text (case-insensitive). */
  readonly filter?: string;
  /** The clock, in milliseconds (injectable for tests). Default `performance.now`. */
  readonly now?: () => number;
  /** Called as each figure finishes (for progress output). */
  readonly onResult?: (result: FigureResult) => void;
}

/** The measured result of one figure. */
export interface FigureResult {
  readonly benchmark: string;
  readonly figure: string;
  readonly unit: string;
  /** Samples in the order taken, warm-up excluded; empty when the figure was not run. */
  readonly samples: readonly number[];
  /** Summary of `samples`; undefined when not run. */
  readonly summary: Summary | undefined;
  readonly reference?: { readonly name: string; readonly samples: readonly number[]; readonly summary: Summary | undefined };
  /** Figure median / reference median; undefined without a reference or when not run. */
  readonly ratio: number | undefined;
  /** Why the figure has no samples (time limit reached), if so. */
  readonly skipped?: string;
}

function matches(filter: string | undefined, ...names: string[]): boolean {
  if (filter === undefined || filter === '') return true;
  const f = filter.toLowerCase();
  return names.some((n) => n.toLowerCase().includes(f));
}

function checked(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new Error(`${what}: sample ${value} is not a finite number`);
  return value;
}

/**
 * Runs the benchmarks (filtered) and returns one result per figure, in order. Each figure and its
 * reference take one warm-up sample, then `samples` samples each, alternating which goes first.
 */
export function runBenchmarks(benchmarks: readonly Benchmark[], options: RunOptions = {}): FigureResult[] {
  const samples = options.samples ?? 7;
  const sampleMs = options.sampleMs ?? 100;
  const maxMs = (options.maxSeconds ?? 120) * 1000;
  const now = options.now ?? (() => performance.now());
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  const start = now();
  const results: FigureResult[] = [];
  for (const bench of benchmarks) {
    const figures = matches(options.filter, bench.name) ? bench.figures() : bench.figures().filter((f) => matches(options.filter, f.name));
    for (const fig of figures) {
      const result = now() - start > maxMs ? skippedResult(bench, fig, `time limit of ${maxMs / 1000} s reached`) : measure(bench, fig, samples, sampleMs);
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}

function skippedResult(bench: Benchmark, fig: Figure, why: string): FigureResult {
  return {
    benchmark: bench.name,
    figure: fig.name,
    unit: fig.unit,
    samples: [],
    summary: undefined,
    ...(fig.reference ? { reference: { name: fig.reference.name, samples: [], summary: undefined } } : {}),
    ratio: undefined,
    skipped: why,
  };
}

function measure(bench: Benchmark, fig: Figure, samples: number, sampleMs: number): FigureResult {
  const ref = fig.reference;
  fig.sample(sampleMs); // warm-up: let the JIT settle, discarded
  ref?.sample(sampleMs);
  const own: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Alternate the order so that drift in the machine's speed does not favour either side.
    if (ref !== undefined && i % 2 === 1) theirs.push(checked(ref.sample(sampleMs), ref.name));
    own.push(checked(fig.sample(sampleMs), fig.name));
    if (ref !== undefined && i % 2 === 0) theirs.push(checked(ref.sample(sampleMs), ref.name));
  }
  const summary = summarize(own);
  const refSummary = ref !== undefined ? summarize(theirs) : undefined;
  return {
    benchmark: bench.name,
    figure: fig.name,
    unit: fig.unit,
    samples: own,
    summary,
    ...(ref !== undefined ? { reference: { name: ref.name, samples: theirs, summary: refSummary } } : {}),
    ratio: refSummary !== undefined && refSummary.median !== 0 ? summary.median / refSummary.median : undefined,
  };
}

/** Keeps results observable so the JIT cannot drop the measured work. */
let blackhole = 0;

/**
 * A sampler for a throughput in MB/s (10^6 bytes per second): calls `op` (which processes
 * `bytesPerCall` bytes and returns a number, kept so the work cannot be optimized away) in
 * growing batches until `budgetMs` of wall time have passed, timing with `now` (milliseconds).
 */
export function throughputSampler(bytesPerCall: number, op: () => number, now: () => number = () => performance.now()): Sampler {
  return (budgetMs) => {
    let calls = 0;
    let batch = 1;
    const t0 = now();
    let elapsed = 0;
    let acc = 0;
    while (elapsed < budgetMs) {
      for (let i = 0; i < batch; i++) acc ^= op();
      calls += batch;
      elapsed = now() - t0;
      if (batch < 1 << 20) batch *= 2;
    }
    blackhole ^= acc;
    return (calls * bytesPerCall) / 1e6 / (elapsed / 1000);
  };
}

/** The value folded from every sampler's results (only so that the work stays observable). */
export function blackholeValue(): number {
  return blackhole;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '-';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

/**
 * Formats results as one plain-text table: figure median, min..max, spread, the reference's median
 * and spread, and the ratio figure / reference.
 */
export function formatTable(results: readonly FigureResult[]): string {
  const header = ['benchmark', 'figure', 'median', 'min..max', 'spread', 'reference', 'ref median', 'ref spread', 'ratio'];
  const rows = results.map((r) => {
    const s = r.summary;
    const rs = r.reference?.summary;
    return [
      r.benchmark,
      r.figure,
      s ? `${fmt(s.median)} ${r.unit}` : r.skipped ?? 'not run',
      s ? `${fmt(s.min)}..${fmt(s.max)}` : '-',
      s ? `${s.spreadPct.toFixed(1)}%` : '-',
      r.reference?.name ?? '-',
      rs ? `${fmt(rs.median)} ${r.unit}` : '-',
      rs ? `${rs.spreadPct.toFixed(1)}%` : '-',
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
