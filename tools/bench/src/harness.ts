/**
 * A tiny benchmark harness. A {@link Benchmark} is a named set of {@link Figure}s; each figure is
 * measured several times, alternating with its reference (something outside Postern doing the same
 * job, e.g. Node's own `zlib.crc32`) so that both see the same machine at the same moment, and is
 * reported as the median with its spread and the ratio of the two medians.
 *
 * Two runners share one measuring procedure:
 * - {@link runBenchmarks} runs synchronous benchmarks (CPU-bound samplers on in-memory data);
 * - {@link runBenchmarksAsync} also runs asynchronous ones: samplers that return a promise (real I/O
 *   through a PTY or a TAP device), with a per-benchmark {@link Benchmark.setup} and
 *   {@link Benchmark.teardown}, and a {@link Benchmark.skipReason} that turns a benchmark this
 *   machine cannot run (no root) into "skipped" rows instead of a failure.
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

/**
 * An asynchronous {@link Sampler}: resolves with one sample after about `budgetMs` of wall time. Only
 * {@link runBenchmarksAsync} accepts one; it awaits every sample before taking the next, so samples
 * never overlap.
 */
export type AsyncSampler = (budgetMs: number) => Promise<number>;

/** A bound on a figure's median that the table checks, e.g. "goodput at least 90% of line rate". */
export interface Target {
  /** The median must be at least this. */
  readonly atLeast?: number;
  /** The median must be at most this. */
  readonly atMost?: number;
}

/** Something measured beside a figure in the same run. */
export interface Reference {
  /** What the reference is, e.g. `"zlib.crc32 1500 B"`. */
  readonly name: string;
  /** Takes one sample of the reference, in the same unit as the figure. */
  readonly sample: Sampler | AsyncSampler;
}

/**
 * A further figure read from the same samples as its {@link Figure} (e.g. MB/s beside frames/s, or
 * the share of offered frames delivered), so that one costly sample (a flood through a TAP device)
 * yields several figures. It is reported as a row of its own, with the figure's reference.
 */
export interface Companion {
  /** What is read, e.g. `"RX 1514 B MB/s"`. */
  readonly name: string;
  /** Unit of the companion and of its reference reading. */
  readonly unit: string;
  /** Reads the companion for the figure's sample just taken; `sample` is that sample's value. */
  readonly read: (sample: number) => number;
  /** Reads it for the reference's sample just taken; omitted: the companion has no reference. */
  readonly readReference?: (sample: number) => number;
  /** A bound the median should meet, shown in the table. */
  readonly target?: Target;
}

/** One figure of a benchmark. Higher is better (a rate) unless its {@link Target} says otherwise. */
export interface Figure {
  /** What is measured, e.g. `"internetChecksum 1500 B"`. */
  readonly name: string;
  /** Unit of the figure and its reference, e.g. `"MB/s"`. */
  readonly unit: string;
  /** Takes one sample of the figure. */
  readonly sample: Sampler | AsyncSampler;
  /** Measured beside the figure; the ratio is figure median / reference median. */
  readonly reference?: Reference;
  /** Further figures read from the same samples, reported as rows of their own after this one. */
  readonly companions?: readonly Companion[];
  /** A bound the median should meet, shown in the table. */
  readonly target?: Target;
  /**
   * Samples of this figure and of its reference (after the warm-up pair), in place of the
   * benchmark's {@link Benchmark.maxSamples}; still at most the run's `samples`.
   */
  readonly samples?: number;
  /**
   * Why this machine cannot measure this figure (e.g. "one CPU"), or undefined when it can; asked
   * after the benchmark's setup, just before the figure's samples. A reason turns the figure and its
   * companions into "skipped" rows and the run goes on.
   */
  skipReason?(): string | undefined | Promise<string | undefined>;
}

/**
 * A named group of figures, selected with `--filter`.
 *
 * Order of calls when the run reaches it: {@link Benchmark.figures} (to know the names; it must not
 * need `setup`), then, if any figure is selected and time is left, {@link Benchmark.skipReason},
 * {@link Benchmark.setup}, the samples, and {@link Benchmark.teardown}, which runs whenever `setup`
 * was called, even if `setup` or a sample failed (so it must tolerate a half-done setup).
 */
export interface Benchmark {
  /** Short name, e.g. `"checksum"`. */
  readonly name: string;
  /** One sentence: what it measures and against what. */
  readonly description: string;
  /** The figures (with their buffers), built only when the run reaches this benchmark. */
  figures(): readonly Figure[];
  /** Wall time of one sample for this benchmark, overriding the run's `sampleMs` (I/O needs longer samples). */
  readonly sampleMs?: number;
  /** Most samples per figure for this benchmark (the run's `samples` when lower). */
  readonly maxSamples?: number;
  /** Why this machine cannot run the benchmark (e.g. "needs root"), or undefined when it can. */
  skipReason?(): string | undefined | Promise<string | undefined>;
  /** Acquires what the samplers need (PTYs, a network namespace). */
  setup?(): void | Promise<void>;
  /** Releases what `setup` acquired. */
  teardown?(): void | Promise<void>;
}

/** How a run is bounded. */
export interface RunOptions {
  /** Samples per figure (and per reference), after one warm-up sample each. Default 7. */
  readonly samples?: number;
  /** Wall time of one sample in milliseconds, for benchmarks that set none. Default 100. */
  readonly sampleMs?: number;
  /** Stop starting new figures after this many seconds. Default 120. */
  readonly maxSeconds?: number;
  /**
   * Keep only benchmarks or figures (or companions) whose name contains this text (case-insensitive).
   * In a benchmark where nothing matches the whole text, `BENCH:FIGURE` (split at the first colon)
   * keeps the figures (or companions) whose name contains FIGURE when the benchmark's name contains
   * BENCH, e.g. `http-compare-gateway:keep-alive`.
   */
  readonly filter?: string;
  /**
   * What a failing sampler, setup or teardown (a throw, a rejection, a non-finite sample) does:
   * `'throw'` (default) ends the run with that error; `'record'` turns the figures it concerns into
   * rows with {@link FigureResult.failed} and goes on with the next figure.
   */
  readonly onFailure?: 'throw' | 'record';
  /** The clock, in milliseconds (injectable for tests). Default `performance.now`. */
  readonly now?: () => number;
  /** Called as each figure finishes (for progress output). */
  readonly onResult?: (result: FigureResult) => void;
  /** Called with progress and with failures that belong to no figure (a teardown error in `'record'` mode). */
  readonly onNote?: (message: string) => void;
}

/** The measured result of one figure (or companion). */
export interface FigureResult {
  readonly benchmark: string;
  readonly figure: string;
  readonly unit: string;
  /** Samples in the order taken, warm-up excluded; empty when the figure was not run. */
  readonly samples: readonly number[];
  /** Summary of `samples`; undefined when not run. */
  readonly summary: Summary | undefined;
  readonly reference?: {
    readonly name: string;
    readonly samples: readonly number[];
    readonly summary: Summary | undefined;
  };
  /** Figure median / reference median; undefined without a reference or when not run. */
  readonly ratio: number | undefined;
  /** The bound the median should meet, if any. */
  readonly target?: Target;
  /** Whether the median meets {@link FigureResult.target}; undefined without a target or when not run. */
  readonly meetsTarget?: boolean;
  /** Why the figure was not run (time limit reached, the machine cannot run it), if so. */
  readonly skipped?: string;
  /** Why the figure failed (only with `onFailure: 'record'`), if it did. */
  readonly failed?: string;
}

/** One step of a run: a call whose result (or promise of one) the driver hands back to the run. */
type Step = () => unknown;
type Steps<R> = Generator<Step, R, unknown>;

interface Settings {
  readonly samples: number;
  readonly sampleMs: number;
  readonly maxMs: number;
  readonly filter: string | undefined;
  readonly record: boolean;
  readonly now: () => number;
  readonly onResult: ((result: FigureResult) => void) | undefined;
  readonly onNote: ((message: string) => void) | undefined;
}

function settingsOf(options: RunOptions): Settings {
  const samples = options.samples ?? 7;
  if (!Number.isInteger(samples) || samples < 1)
    throw new RangeError(`samples must be a positive integer, got ${samples}`);
  return {
    samples,
    sampleMs: options.sampleMs ?? 100,
    maxMs: (options.maxSeconds ?? 120) * 1000,
    filter: options.filter,
    record: options.onFailure === 'record',
    now: options.now ?? (() => performance.now()),
    onResult: options.onResult,
    onNote: options.onNote,
  };
}

function matches(filter: string | undefined, ...names: string[]): boolean {
  if (filter === undefined || filter === '') return true;
  const f = filter.toLowerCase();
  return names.some((n) => n.toLowerCase().includes(f));
}

/** Whether `fig` (or one of its companions) has a name containing `filter`. */
function figureMatches(filter: string | undefined, fig: Figure): boolean {
  return matches(filter, fig.name, ...(fig.companions ?? []).map((c) => c.name));
}

/**
 * The figures of `bench` that `filter` selects ({@link RunOptions.filter}): all of them when the
 * benchmark's name contains the whole filter, else those whose name (or a companion's) contains it;
 * when none does, and the filter is `BENCH:FIGURE` with BENCH in the benchmark's name, those whose
 * name contains FIGURE (a figure name may hold colons itself: only the first one splits).
 */
export function selectFigures(bench: Benchmark, figures: readonly Figure[], filter: string | undefined): Figure[] {
  if (matches(filter, bench.name)) return [...figures];
  const whole = figures.filter((f) => figureMatches(filter, f));
  const colon = filter?.indexOf(':') ?? -1;
  if (whole.length > 0 || filter === undefined || colon <= 0) return whole;
  const benchPart = filter.slice(0, colon).trim();
  const figurePart = filter.slice(colon + 1).trim();
  if (benchPart === '' || figurePart === '' || !matches(benchPart, bench.name)) return [];
  return figures.filter((f) => figureMatches(figurePart, f));
}

function checked(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`${what}: sample ${String(value)} is not a finite number`);
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs synchronous benchmarks (filtered) and returns one result per figure and companion, in order.
 * Each figure and its reference take one warm-up sample, then `samples` samples each, alternating
 * which goes first. Throws a `TypeError` when a sampler, `skipReason`, `setup` or `teardown` returns
 * a promise: run those with {@link runBenchmarksAsync}.
 */
export function runBenchmarks(benchmarks: readonly Benchmark[], options: RunOptions = {}): FigureResult[] {
  const steps = runSteps(benchmarks, settingsOf(options));
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    let error: unknown;
    let threw = false;
    try {
      value = next.value();
      if (isThenable(value)) {
        Promise.resolve(value).catch(() => {}); // never awaited: keep its rejection from going unhandled
        throw new TypeError(
          'a sampler, skipReason, setup or teardown returned a promise: run asynchronous benchmarks with runBenchmarksAsync',
        );
      }
    } catch (e) {
      threw = true;
      error = e;
    }
    next = threw ? steps.throw(error) : steps.next(value);
  }
  return next.value;
}

/**
 * Runs benchmarks (filtered) whose samplers, `skipReason`, `setup` and `teardown` may be synchronous
 * or asynchronous, one step at a time (nothing overlaps), and resolves with one result per figure and
 * companion, in order. Same measuring procedure as {@link runBenchmarks}.
 */
export async function runBenchmarksAsync(
  benchmarks: readonly Benchmark[],
  options: RunOptions = {},
): Promise<FigureResult[]> {
  const steps = runSteps(benchmarks, settingsOf(options));
  let next = steps.next();
  while (!next.done) {
    let value: unknown;
    let error: unknown;
    let threw = false;
    try {
      value = await next.value();
    } catch (e) {
      threw = true;
      error = e;
    }
    next = threw ? steps.throw(error) : steps.next(value);
  }
  return next.value;
}

/** The whole run as steps, so that one procedure serves the synchronous and the asynchronous runner. */
function* runSteps(benchmarks: readonly Benchmark[], s: Settings): Steps<FigureResult[]> {
  const start = s.now();
  const results: FigureResult[] = [];
  const emit = (list: readonly FigureResult[]): void => {
    for (const r of list) {
      results.push(r);
      s.onResult?.(r);
    }
  };
  const overTime = () => s.now() - start > s.maxMs;
  const timeLimit = () => `skipped: time limit of ${s.maxMs / 1000} s reached`;
  for (const bench of benchmarks) {
    const figures = selectFigures(bench, bench.figures(), s.filter);
    if (figures.length === 0) continue;
    if (overTime()) {
      for (const fig of figures) emit(notRun(bench, fig, { skipped: timeLimit() }));
      continue;
    }
    if (bench.skipReason !== undefined) {
      const why = (yield () => bench.skipReason!()) as string | undefined;
      if (why !== undefined) {
        s.onNote?.(`${bench.name}: skipped: ${why}`);
        for (const fig of figures) emit(notRun(bench, fig, { skipped: `skipped: ${why}` }));
        continue;
      }
    }
    const samples = Math.min(s.samples, bench.maxSamples ?? s.samples);
    const sampleMs = bench.sampleMs ?? s.sampleMs;
    let done = 0;
    let finished = false;
    const own = [...new Set(figures.flatMap((f) => (f.samples === undefined ? [] : [Math.min(s.samples, f.samples)])))];
    const ownNote = own.length === 0 ? '' : ` (${own.join(', ')} for some figures)`;
    s.onNote?.(`${bench.name}: ${figures.length} figure(s), ${samples} samples${ownNote} x ${sampleMs} ms`);
    try {
      if (bench.setup !== undefined) {
        try {
          yield () => bench.setup!();
        } catch (e) {
          if (!s.record) throw e;
          for (const fig of figures) emit(notRun(bench, fig, { failed: `failed: setup: ${messageOf(e)}` }));
          done = figures.length;
        }
      }
      for (; done < figures.length; done++) {
        const fig = figures[done]!;
        if (overTime()) {
          emit(notRun(bench, fig, { skipped: timeLimit() }));
          continue;
        }
        try {
          const why =
            fig.skipReason === undefined ? undefined : ((yield () => fig.skipReason!()) as string | undefined);
          if (why !== undefined) {
            s.onNote?.(`${bench.name} / ${fig.name}: skipped: ${why}`);
            emit(notRun(bench, fig, { skipped: `skipped: ${why}` }));
            continue;
          }
          emit(yield* measure(bench, fig, Math.min(s.samples, fig.samples ?? samples), sampleMs));
        } catch (e) {
          if (!s.record) throw e;
          emit(notRun(bench, fig, { failed: `failed: ${messageOf(e)}` }));
        }
      }
      finished = true;
    } finally {
      if (bench.teardown !== undefined) {
        try {
          yield () => bench.teardown!();
        } catch (e) {
          // When a failure of setup or a sample is already on its way out, do not mask it.
          if (!s.record && finished) throw e;
          s.onNote?.(`${bench.name}: teardown failed: ${messageOf(e)}`);
        }
      }
    }
  }
  return results;
}

/** Rows for a figure (and its companions) that has no samples. */
function notRun(bench: Benchmark, fig: Figure, why: { skipped: string } | { failed: string }): FigureResult[] {
  const row = (name: string, unit: string, target: Target | undefined, hasReference: boolean): FigureResult => ({
    benchmark: bench.name,
    figure: name,
    unit,
    samples: [],
    summary: undefined,
    ...(fig.reference && hasReference
      ? { reference: { name: fig.reference.name, samples: [], summary: undefined } }
      : {}),
    ratio: undefined,
    ...(target !== undefined ? { target } : {}),
    ...why,
  });
  return [
    row(fig.name, fig.unit, fig.target, true),
    ...(fig.companions ?? []).map((c) => row(c.name, c.unit, c.target, c.readReference !== undefined)),
  ];
}

function meets(median: number, target: Target): boolean {
  return (
    (target.atLeast === undefined || median >= target.atLeast) &&
    (target.atMost === undefined || median <= target.atMost)
  );
}

function resultOf(
  bench: Benchmark,
  name: string,
  unit: string,
  own: number[],
  reference: { name: string; samples: number[] } | undefined,
  target: Target | undefined,
): FigureResult {
  const summary = summarize(own);
  const refSummary = reference !== undefined && reference.samples.length > 0 ? summarize(reference.samples) : undefined;
  return {
    benchmark: bench.name,
    figure: name,
    unit,
    samples: own,
    summary,
    ...(reference !== undefined
      ? { reference: { name: reference.name, samples: reference.samples, summary: refSummary } }
      : {}),
    ratio: refSummary !== undefined && refSummary.median !== 0 ? summary.median / refSummary.median : undefined,
    ...(target !== undefined ? { target, meetsTarget: meets(summary.median, target) } : {}),
  };
}

/** Measures one figure, its reference and its companions: a warm-up pair, then alternating samples. */
function* measure(bench: Benchmark, fig: Figure, samples: number, sampleMs: number): Steps<FigureResult[]> {
  const ref = fig.reference;
  const companions = fig.companions ?? [];
  checked(yield () => fig.sample(sampleMs), fig.name); // warm-up: let the JIT settle, discarded
  if (ref !== undefined) checked(yield () => ref.sample(sampleMs), ref.name);
  const own: number[] = [];
  const theirs: number[] = [];
  const ownCompanions = companions.map((): number[] => []);
  const theirCompanions = companions.map((): number[] => []);
  function* sampleOwn(): Steps<void> {
    const v = checked(yield () => fig.sample(sampleMs), fig.name);
    own.push(v);
    companions.forEach((c, i) => ownCompanions[i]!.push(checked(c.read(v), c.name)));
  }
  function* sampleRef(r: Reference): Steps<void> {
    const v = checked(yield () => r.sample(sampleMs), r.name);
    theirs.push(v);
    companions.forEach((c, i) => {
      if (c.readReference !== undefined) theirCompanions[i]!.push(checked(c.readReference(v), `${c.name} (reference)`));
    });
  }
  for (let i = 0; i < samples; i++) {
    // Alternate the order so that drift in the machine's speed does not favour either side.
    if (ref !== undefined && i % 2 === 1) yield* sampleRef(ref);
    yield* sampleOwn();
    if (ref !== undefined && i % 2 === 0) yield* sampleRef(ref);
  }
  const refOf = (values: number[]) => (ref !== undefined ? { name: ref.name, samples: values } : undefined);
  return [
    resultOf(bench, fig.name, fig.unit, own, refOf(theirs), fig.target),
    ...companions.map((c, i) =>
      resultOf(
        bench,
        c.name,
        c.unit,
        ownCompanions[i]!,
        c.readReference !== undefined ? refOf(theirCompanions[i]!) : undefined,
        c.target,
      ),
    ),
  ];
}

/** Keeps results observable so the JIT cannot drop the measured work. */
let blackhole = 0;

/**
 * A sampler for a throughput in MB/s (10^6 bytes per second): calls `op` (which processes
 * `bytesPerCall` bytes and returns a number, kept so the work cannot be optimized away) in
 * growing batches until `budgetMs` of wall time have passed, timing with `now` (milliseconds).
 */
export function throughputSampler(
  bytesPerCall: number,
  op: () => number,
  now: () => number = () => performance.now(),
): Sampler {
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
  if (Number.isInteger(n)) return String(n);
  return n.toPrecision(3);
}

function fmtTarget(r: FigureResult): string {
  const t = r.target;
  if (t === undefined) return '';
  const bound = [
    t.atLeast !== undefined ? `>= ${fmt(t.atLeast)}` : '',
    t.atMost !== undefined ? `<= ${fmt(t.atMost)}` : '',
  ]
    .filter((x) => x !== '')
    .join(', ');
  const verdict = r.meetsTarget === undefined ? '' : r.meetsTarget ? ' ok' : ' MISSED';
  return `${bound}${verdict}`;
}

/**
 * Formats results as one plain-text table: figure median, min..max, spread, the reference's median
 * and spread, and the ratio figure / reference; a `target` column when any figure has a target.
 * A figure that was not run shows why (skipped or failed) in place of its median.
 */
export function formatTable(results: readonly FigureResult[]): string {
  const withTargets = results.some((r) => r.target !== undefined);
  const header = [
    'benchmark',
    'figure',
    'median',
    'min..max',
    'spread',
    'reference',
    'ref median',
    'ref spread',
    'ratio',
    ...(withTargets ? ['target'] : []),
  ];
  const rows = results.map((r) => {
    const s = r.summary;
    const rs = r.reference?.summary;
    return [
      r.benchmark,
      r.figure,
      s ? `${fmt(s.median)} ${r.unit}` : (r.failed ?? r.skipped ?? 'not run'),
      s ? `${fmt(s.min)}..${fmt(s.max)}` : '-',
      s ? `${s.spreadPct.toFixed(1)}%` : '-',
      r.reference?.name ?? '-',
      rs ? `${fmt(rs.median)} ${r.unit}` : '-',
      rs ? `${rs.spreadPct.toFixed(1)}%` : '-',
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '-',
      ...(withTargets ? [fmtTarget(r)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
