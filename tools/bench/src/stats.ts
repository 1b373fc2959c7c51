/**
 * Summary statistics for repeated measurements of one figure. A shared, noisy machine makes single
 * samples meaningless: every figure is reported as the median of several samples with their spread.
 */

/** The summary of a set of samples of one figure. */
export interface Summary {
  /** Number of samples. */
  readonly n: number;
  /** The middle sample (the mean of the two middle ones for an even count). */
  readonly median: number;
  /** The smallest sample. */
  readonly min: number;
  /** The largest sample. */
  readonly max: number;
  /** The range relative to the median, in percent: `100 * (max - min) / median` (0 when the median is 0). */
  readonly spreadPct: number;
}

/**
 * Summarizes `samples` (any order, not modified). Throws `RangeError` for an empty list or a
 * sample that is not a finite number.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  for (const s of samples) if (!Number.isFinite(s)) throw new RangeError(`summarize: sample ${s} is not finite`);
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = n >> 1;
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[n - 1]!;
  const spreadPct = median === 0 ? 0 : (100 * (max - min)) / Math.abs(median);
  return { n, median, min, max, spreadPct };
}
