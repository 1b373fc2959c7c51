import { describe, expect, it } from 'vitest';
import { formatTable, runBenchmarks, throughputSampler, type Benchmark, type Sampler } from '../src/harness.js';
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
    const bench: Benchmark = { name: 'b', description: 'd', figures: () => [{ name: 'f', unit: 'MB/s', sample: own, reference: { name: 'r', sample: ref } }] };
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
  it('rejects a sampler that returns a non-finite figure', () => {
    const bench: Benchmark = { name: 'b', description: 'd', figures: () => [{ name: 'f', unit: 'x', sample: () => Number.NaN }] };
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
