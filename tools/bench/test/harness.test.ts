import { describe, expect, it } from 'vitest';
import {
  formatTable,
  runBenchmarks,
  runBenchmarksAsync,
  throughputSampler,
  type Benchmark,
  type Sampler,
} from '../src/harness.js';
import { summarize } from '../src/stats.js';

describe('summarize', () => {
  it('takes the middle sample of an odd count, whatever the order', () => {
    expect(summarize([5, 1, 9, 3, 7])).toEqual({ n: 5, median: 5, min: 1, max: 9, spreadPct: 160 });
  });
  it('averages the two middle samples of an even count', () => {
    const s = summarize([10, 40, 20, 30]);
    expect(s.median).toBe(25);
    expect(s.spreadPct).toBeCloseTo(120);
  });
  it('reports zero spread for identical samples and leaves the input unsorted', () => {
    const samples = [3, 1, 2];
    expect(summarize([4, 4, 4]).spreadPct).toBe(0);
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
  it('refuses an empty list and non-finite samples', () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError);
    expect(() => summarize([Infinity])).toThrow(RangeError);
  });
});

/** A sampler that returns the given values in turn (the first one is the warm-up). */
function scripted(values: number[]): Sampler & { calls: number } {
  const s = Object.assign(() => values[s.calls++ % values.length]!, { calls: 0 });
  return s;
}

describe('runBenchmarks', () => {
  it('measures each figure beside its reference, discards the warm-up and reports the ratio of medians', () => {
    const own = scripted([1000, 10, 30, 20]);
    const ref = scripted([1, 5, 5, 5]);
    const bench: Benchmark = {
      name: 'b',
      description: 'd',
      figures: () => [{ name: 'f', unit: 'MB/s', sample: own, reference: { name: 'r', sample: ref } }],
    };
    const [r, ...rest] = runBenchmarks([bench], { samples: 3, sampleMs: 1 });
    expect(rest).toHaveLength(0);
    expect(own.calls).toBe(4);
    expect(ref.calls).toBe(4);
    expect(r!.samples).toEqual([10, 30, 20]);
    expect(r!.summary!.median).toBe(20);
    expect(r!.reference!.summary!.median).toBe(5);
    expect(r!.ratio).toBe(4);
    const table = formatTable([r!]);
    expect(table).toContain('4.00x');
    expect(table.split('\n')).toHaveLength(3);
  });
  it('filters by benchmark or figure name and stops starting figures at the time limit', () => {
    let t = 0;
    const slow: Sampler = () => {
      t += 1000; // every sample "takes" one second of the injected clock
      return 1;
    };
    const bench: Benchmark = {
      name: 'alpha',
      description: 'd',
      figures: () => [
        { name: 'one', unit: 'x', sample: slow },
        { name: 'two', unit: 'x', sample: slow },
      ],
    };
    expect(runBenchmarks([bench], { filter: 'TWO', samples: 1, now: () => t }).map((r) => r.figure)).toEqual(['two']);
    expect(runBenchmarks([bench], { filter: 'zzz', now: () => t })).toEqual([]);
    t = 0;
    const results = runBenchmarks([bench], { samples: 2, maxSeconds: 2, now: () => t });
    expect(results[0]!.samples).toHaveLength(2);
    expect(results[1]!.samples).toHaveLength(0);
    expect(results[1]!.skipped).toMatch(/time limit/);
  });
  it('selects a benchmark and a figure with BENCH:FIGURE, and a figure name holding colons as before', () => {
    const figure = (name: string) => ({ name, unit: 'x', sample: () => 1, companions: [] });
    const gateway: Benchmark = {
      name: 'http-compare-gateway',
      description: 'd',
      figures: () => [figure('gateway: bulk'), figure('gateway: keep-alive'), figure('lwip: keep-alive pinned')],
    };
    const other: Benchmark = {
      name: 'http-compare-node',
      description: 'd',
      figures: () => [figure('node: keep-alive')],
    };
    const run = (filter: string) => runBenchmarks([gateway, other], { filter, samples: 1 }).map((r) => r.figure);
    expect(run('http-compare-gateway:keep-alive')).toEqual(['gateway: keep-alive', 'lwip: keep-alive pinned']);
    expect(run('COMPARE-GATEWAY: Pinned')).toEqual(['lwip: keep-alive pinned']);
    // The whole text still matches a figure name that holds a colon, in every benchmark.
    expect(run('gateway: keep-alive')).toEqual(['gateway: keep-alive']);
    expect(run('keep-alive')).toEqual(['gateway: keep-alive', 'lwip: keep-alive pinned', 'node: keep-alive']);
    // The benchmark part must match the benchmark's name; empty parts select nothing.
    expect(run('http-compare-node:bulk')).toEqual([]);
    expect(run('http-compare-gateway:')).toEqual([]);
    expect(run(':keep-alive')).toEqual([]);
  });
  it('takes a figure its own sample count (at most the run one) and skips a figure with a reason', () => {
    const many = scripted([0, 1, 2, 3, 4, 5]);
    const few = scripted([0, 1]);
    const never = scripted([7]);
    const notes: string[] = [];
    const bench: Benchmark = {
      name: 'b',
      description: 'd',
      maxSamples: 2,
      figures: () => [
        { name: 'many', unit: 'x', sample: many, samples: 5, reference: { name: 'r', sample: scripted([1]) } },
        { name: 'few', unit: 'x', sample: few },
        {
          name: 'never',
          unit: 'x',
          sample: never,
          skipReason: () => 'one CPU',
          companions: [{ name: 'never companion', unit: 'y', read: () => 1 }],
        },
      ],
    };
    const results = runBenchmarks([bench], { samples: 4, onNote: (n) => notes.push(n) });
    expect(results.map((r) => [r.figure, r.samples.length])).toEqual([
      ['many', 4],
      ['few', 2],
      ['never', 0],
      ['never companion', 0],
    ]);
    expect(results[0]!.reference!.samples).toHaveLength(4);
    expect(many.calls).toBe(5);
    expect(never.calls).toBe(0);
    expect(results[2]!.skipped).toBe('skipped: one CPU');
    expect(results[3]!.skipped).toBe('skipped: one CPU');
    expect(notes).toContain('b / never: skipped: one CPU');
    expect(notes).toContain('b: 3 figure(s), 2 samples (4 for some figures) x 100 ms');
  });
  it('rejects a sampler that returns a non-finite figure', () => {
    const bench: Benchmark = {
      name: 'b',
      description: 'd',
      figures: () => [{ name: 'f', unit: 'x', sample: () => Number.NaN }],
    };
    expect(() => runBenchmarks([bench], { samples: 1 })).toThrow(/not a finite number/);
  });
});

describe('throughputSampler', () => {
  it('turns calls and elapsed time into MB/s with the given clock', () => {
    let t = 0;
    const op = () => {
      t += 0.5; // each call of 1,000,000 bytes "takes" 0.5 ms: 2,000 MB/s
      return 1;
    };
    expect(throughputSampler(1_000_000, op, () => t)(10)).toBeCloseTo(2000);
  });
});

/** An async sampler that resolves with the given values in turn after a real timer tick, tracking overlap. */
function scriptedAsync(values: number[], log: string[], tag: string) {
  let inFlight = 0;
  const s = Object.assign(
    async (budgetMs: number) => {
      s.budgets.push(budgetMs);
      inFlight++;
      if (inFlight > 1) s.overlapped = true;
      log.push(tag);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return values[s.calls++ % values.length]!;
    },
    { calls: 0, overlapped: false, budgets: [] as number[] },
  );
  return s;
}

describe('runBenchmarksAsync', () => {
  it('awaits async samplers one at a time between setup and teardown, with the same procedure as the sync runner', async () => {
    const log: string[] = [];
    const own = scriptedAsync([1000, 10, 30, 20], log, 'own');
    const ref = scriptedAsync([1, 5, 5, 5], log, 'ref');
    const bench: Benchmark = {
      name: 'io',
      description: 'd',
      sampleMs: 7,
      setup: async () => {
        await new Promise((r) => setTimeout(r, 1));
        log.push('setup');
      },
      teardown: async () => {
        log.push('teardown');
      },
      figures: () => [{ name: 'f', unit: 'MB/s', sample: own, reference: { name: 'r', sample: ref } }],
    };
    const [r, ...rest] = await runBenchmarksAsync([bench], { samples: 3, sampleMs: 1000 });
    expect(rest).toHaveLength(0);
    expect(r!.samples).toEqual([10, 30, 20]);
    expect(r!.reference!.samples).toEqual([5, 5, 5]);
    expect(r!.ratio).toBe(4);
    expect(own.overlapped || ref.overlapped).toBe(false);
    // The benchmark's own sample length wins over the run's.
    expect(new Set([...own.budgets, ...ref.budgets])).toEqual(new Set([7]));
    // Warm-up pair, then alternating order: own first on even samples, reference first on odd ones.
    expect(log).toEqual(['setup', 'own', 'ref', 'own', 'ref', 'ref', 'own', 'own', 'ref', 'teardown']);
  });

  it('runs sync and async benchmarks in one run, in order, and caps samples at maxSamples', async () => {
    const log: string[] = [];
    const sync: Benchmark = {
      name: 'cpu',
      description: 'd',
      figures: () => [{ name: 'a', unit: 'x', sample: scripted([2]) }],
    };
    const io: Benchmark = {
      name: 'io',
      description: 'd',
      maxSamples: 2,
      figures: () => [{ name: 'b', unit: 'x', sample: scriptedAsync([3], log, 'b') }],
    };
    const results = await runBenchmarksAsync([sync, io], { samples: 5, sampleMs: 1 });
    expect(results.map((r) => [r.benchmark, r.figure, r.samples.length, r.summary?.median])).toEqual([
      ['cpu', 'a', 5, 2],
      ['io', 'b', 2, 3],
    ]);
  });

  it('turns a benchmark the machine cannot run into skipped rows without setting it up', async () => {
    let setups = 0;
    let samples = 0;
    const bench: Benchmark = {
      name: 'tap',
      description: 'd',
      skipReason: async () => 'needs root',
      setup: () => {
        setups++;
      },
      figures: () => [
        {
          name: 'RX frames/s',
          unit: 'frames/s',
          sample: async () => ++samples,
          reference: { name: 'fs.read', sample: async () => 1 },
          companions: [{ name: 'RX MB/s', unit: 'MB/s', read: (v) => v, readReference: (v) => v }],
        },
      ],
    };
    const results = await runBenchmarksAsync([bench], { samples: 1 });
    expect(setups).toBe(0);
    expect(samples).toBe(0);
    expect(results.map((r) => [r.figure, r.skipped, r.samples.length])).toEqual([
      ['RX frames/s', 'skipped: needs root', 0],
      ['RX MB/s', 'skipped: needs root', 0],
    ]);
    expect(formatTable(results)).toContain('skipped: needs root');
  });

  it('tears down after a failing sample and rejects with the sampler error by default', async () => {
    let teardowns = 0;
    const bench: Benchmark = {
      name: 'io',
      description: 'd',
      setup: () => {},
      teardown: () => {
        teardowns++;
      },
      figures: () => [{ name: 'f', unit: 'x', sample: async () => Promise.reject(new Error('PTY vanished')) }],
    };
    await expect(runBenchmarksAsync([bench], { samples: 1 })).rejects.toThrow('PTY vanished');
    expect(teardowns).toBe(1);
  });

  it('records failures as rows and goes on when asked to, including a failed setup', async () => {
    const torn: string[] = [];
    const broken: Benchmark = {
      name: 'broken',
      description: 'd',
      setup: async () => Promise.reject(new Error('socat missing')),
      teardown: () => {
        torn.push('broken');
      },
      figures: () => [{ name: 'never', unit: 'x', sample: async () => 1 }],
    };
    const flaky: Benchmark = {
      name: 'flaky',
      description: 'd',
      teardown: () => {
        torn.push('flaky');
      },
      figures: () => [
        { name: 'nan', unit: 'x', sample: async () => Number.NaN },
        { name: 'fine', unit: 'x', sample: async () => 4 },
      ],
    };
    const notes: string[] = [];
    const results = await runBenchmarksAsync([broken, flaky], {
      samples: 1,
      onFailure: 'record',
      onNote: (m) => notes.push(m),
    });
    expect(results.map((r) => [r.figure, r.failed, r.summary?.median])).toEqual([
      ['never', 'failed: setup: socat missing', undefined],
      ['nan', 'failed: nan: sample NaN is not a finite number', undefined],
      ['fine', undefined, 4],
    ]);
    expect(torn).toEqual(['broken', 'flaky']);
    expect(formatTable(results)).toContain('failed: setup: socat missing');
    expect(notes.some((n) => n.includes('flaky'))).toBe(true);
  });

  it('does not set up a benchmark once the time limit has passed', async () => {
    let t = 0;
    let setups = 0;
    const first: Benchmark = {
      name: 'first',
      description: 'd',
      figures: () => [
        {
          name: 'slow',
          unit: 'x',
          sample: async () => {
            t += 1000;
            return 1;
          },
        },
      ],
    };
    const second: Benchmark = {
      name: 'second',
      description: 'd',
      setup: () => {
        setups++;
      },
      figures: () => [{ name: 'late', unit: 'x', sample: async () => 1 }],
    };
    const results = await runBenchmarksAsync([first, second], { samples: 2, maxSeconds: 2, now: () => t });
    expect(results[0]!.samples).toHaveLength(2);
    expect(results[1]!.skipped).toMatch(/time limit/);
    expect(setups).toBe(0);
  });
});

describe('companions and targets', () => {
  it('reads companions from the same samples as their figure and checks targets on the median', () => {
    let n = 0;
    const own: Sampler = () => (n += 100); // 100 (warm-up), 200, 300, 400
    const bench: Benchmark = {
      name: 'link',
      description: 'd',
      figures: () => [
        {
          name: 'frames/s',
          unit: 'frames/s',
          sample: own,
          reference: { name: 'raw', sample: () => 1000 },
          companions: [
            { name: 'MB/s', unit: 'MB/s', read: (fps) => fps / 100, readReference: (fps) => fps / 100 },
            { name: 'share', unit: '%', read: (fps) => fps / 4, target: { atLeast: 90 } },
            { name: 'lost', unit: 'frames', read: () => 0, target: { atMost: 0 } },
          ],
        },
      ],
    };
    const results = runBenchmarks([bench], { samples: 3, sampleMs: 1 });
    expect(results.map((r) => r.figure)).toEqual(['frames/s', 'MB/s', 'share', 'lost']);
    const [fps, mbps, share, lost] = results;
    expect(fps!.samples).toEqual([200, 300, 400]);
    expect(mbps!.samples).toEqual([2, 3, 4]);
    expect(mbps!.reference!.samples).toEqual([10, 10, 10]);
    expect(mbps!.ratio).toBeCloseTo(0.3);
    expect(share!.reference).toBeUndefined();
    expect(share!.summary!.median).toBe(75);
    expect(share!.meetsTarget).toBe(false);
    expect(lost!.meetsTarget).toBe(true);
    const table = formatTable(results);
    expect(table).toContain('>= 90 MISSED');
    expect(table).toContain('<= 0 ok');
  });

  it('keeps a figure selected by the name of one of its companions', () => {
    const bench: Benchmark = {
      name: 'b',
      description: 'd',
      figures: () => [
        { name: 'one', unit: 'x', sample: () => 1, companions: [{ name: 'goodput share', unit: '%', read: () => 1 }] },
        { name: 'two', unit: 'x', sample: () => 1 },
      ],
    };
    expect(runBenchmarks([bench], { samples: 1, filter: 'goodput' }).map((r) => r.figure)).toEqual([
      'one',
      'goodput share',
    ]);
  });
});

describe('runBenchmarks (sync) with async parts', () => {
  it('refuses an async sampler with a TypeError that names the async runner', () => {
    const bench: Benchmark = {
      name: 'b',
      description: 'd',
      figures: () => [{ name: 'f', unit: 'x', sample: async () => 1 }],
    };
    expect(() => runBenchmarks([bench], { samples: 1 })).toThrow(/runBenchmarksAsync/);
  });
});
