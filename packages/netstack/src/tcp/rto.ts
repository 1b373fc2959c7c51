/**
 * The retransmission timeout (RFC 6298): a smoothed RTT and its variation from RTT samples, the RTO
 * derived from them, and exponential backoff.
 *
 * The caller owns Karn's rule (RFC 6298 §3): it passes samples only from segments that were not
 * retransmitted, or from the timestamps option (RFC 7323), which is unambiguous. It also decides
 * when backoff ends (RFC 6298 §5.7: keep the backed-off RTO until a new sample, or an ACK for new
 * data, and then call {@link RtoEstimator.resetBackoff}). Times are milliseconds given by the
 * caller; nothing here reads a clock.
 */

/** Options of an {@link RtoEstimator}. All in milliseconds. */
export interface RtoOptions {
  /** RTO before the first sample (RFC 6298 §2.1). Default 1000. */
  initialRtoMs?: number;
  /**
   * Floor of the RTO. Default 200 (Linux's); RFC 6298 §2.4 recommends 1000 ms, which makes a single
   * lost segment on a LAN cost a full second, so it is configurable.
   */
  minRtoMs?: number;
  /** Ceiling of the RTO, backoff included (RFC 6298 §2.5 allows at least 60 s). Default 60000. */
  maxRtoMs?: number;
  /** Clock granularity G of RFC 6298 §2: the variance term is at least this. Default 1. */
  clockGranularityMs?: number;
}

/** Default {@link RtoOptions.initialRtoMs}. */
export const DEFAULT_INITIAL_RTO_MS = 1000;
/** Default {@link RtoOptions.minRtoMs}. */
export const DEFAULT_MIN_RTO_MS = 200;
/** Default {@link RtoOptions.maxRtoMs}. */
export const DEFAULT_MAX_RTO_MS = 60_000;
/** Default {@link RtoOptions.clockGranularityMs}. */
export const DEFAULT_CLOCK_GRANULARITY_MS = 1;

/** RFC 6298 alpha: weight of a new sample in SRTT. */
const ALPHA = 1 / 8;
/** RFC 6298 beta: weight of a new deviation in RTTVAR. */
const BETA = 1 / 4;
/** RFC 6298 K: RTTVAR multiplier in the RTO. */
const K = 4;

/**
 * RFC 6298 RTO estimator.
 *
 * Invariants: `minRtoMs <= rtoMs <= maxRtoMs` whatever the samples and backoffs (except that a
 * configured `initialRtoMs` above `maxRtoMs` is capped); {@link RtoEstimator.srttMs} and
 * {@link RtoEstimator.rttvarMs} are `undefined` exactly until the first accepted sample. A sample
 * that is negative or not finite is ignored and counted in {@link RtoEstimator.rejectedSamples}.
 */
export class RtoEstimator {
  /** The RTO floor in ms. */
  readonly minRtoMs: number;
  /** The RTO ceiling in ms. */
  readonly maxRtoMs: number;
  /** The RTO before the first sample, in ms. */
  readonly initialRtoMs: number;
  /** The clock granularity G in ms. */
  readonly clockGranularityMs: number;
  /** Samples ignored because they were negative or not finite. */
  rejectedSamples = 0;
  // Numbers always (a field that is sometimes `undefined` boxes every fractional RTT stored in it);
  // `sampled` says whether they hold an estimate yet.
  private srtt = 0.5;
  private rttvar = 0.5;
  private sampled = false;
  /**
   * RTO from the estimator before backoff, clamped to [min, max]. Starts as a number (declared
   * only, the field would be defined as `undefined` first and box every fractional RTO, one per RTT
   * sample); the constructor sets it.
   */
  private baseRto = 0;
  private backoffs = 0;

  /**
   * @throws RangeError unless `0 <= minRtoMs <= maxRtoMs`, `initialRtoMs > 0` and
   * `clockGranularityMs >= 0` (all finite).
   */
  constructor(opts: RtoOptions = {}) {
    const initial = opts.initialRtoMs ?? DEFAULT_INITIAL_RTO_MS;
    const min = opts.minRtoMs ?? DEFAULT_MIN_RTO_MS;
    const max = opts.maxRtoMs ?? DEFAULT_MAX_RTO_MS;
    const g = opts.clockGranularityMs ?? DEFAULT_CLOCK_GRANULARITY_MS;
    if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && min <= max))
      throw new RangeError(`RTO bounds need 0 <= min <= max, got ${min}, ${max}`);
    if (!(Number.isFinite(initial) && initial > 0)) throw new RangeError(`initial RTO must be > 0, got ${initial}`);
    if (!(Number.isFinite(g) && g >= 0)) throw new RangeError(`clock granularity must be >= 0, got ${g}`);
    this.minRtoMs = min;
    this.maxRtoMs = max;
    this.initialRtoMs = initial;
    this.clockGranularityMs = g;
    this.baseRto = clamp(initial, min, max);
  }

  /**
   * Feeds one RTT measurement (RFC 6298 §2.2 for the first, §2.3 after). Does not change the
   * backoff count.
   */
  sample(rttMs: number): void {
    if (!(Number.isFinite(rttMs) && rttMs >= 0)) {
      this.rejectedSamples++;
      return;
    }
    if (!this.sampled) {
      this.sampled = true;
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - rttMs);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * rttMs;
    }
    this.baseRto = clamp(this.srtt + Math.max(this.clockGranularityMs, K * this.rttvar), this.minRtoMs, this.maxRtoMs);
  }

  /** The current RTO in ms: the estimate times 2^backoffCount, capped at {@link RtoEstimator.maxRtoMs}. */
  get rtoMs(): number {
    const base = this.baseRto;
    return Math.min(this.maxRtoMs, this.backoffs === 0 ? base : base * 2 ** this.backoffs);
  }

  /** The smoothed RTT in ms, `undefined` before the first sample. */
  get srttMs(): number | undefined {
    return this.sampled ? this.srtt : undefined;
  }

  /**
   * The smoothed RTT in ms, or `fallback` before the first sample: {@link RtoEstimator.srttMs}
   * without the `undefined`, for the per-ACK path (a value that may be a number or `undefined` is
   * kept boxed, so each read of a fractional estimate through `srttMs` makes a new heap number).
   */
  srttOr(fallback: number): number {
    return this.sampled ? this.srtt : fallback;
  }

  /** The RTT variation in ms, `undefined` before the first sample. */
  get rttvarMs(): number | undefined {
    return this.sampled ? this.rttvar : undefined;
  }

  /** Times {@link RtoEstimator.backoff} doubled the RTO since the last reset (stops counting once the cap is reached). */
  get backoffCount(): number {
    return this.backoffs;
  }

  /**
   * Doubles the RTO after a retransmission timeout (RFC 6298 §5.5), capped at `maxRtoMs`. Once the
   * cap is reached further calls change nothing (so the count stays bounded).
   */
  backoff(): void {
    if (this.rtoMs < this.maxRtoMs) this.backoffs++;
  }

  /** Ends backoff: the RTO is the estimate again. */
  resetBackoff(): void {
    this.backoffs = 0;
  }

  /**
   * Forgets every sample and the backoff: the RTO is `initialRtoMs` again. RFC 6298 §5.7 asks for
   * an RTO of 3 s once data flows if the SYN or SYN-ACK was retransmitted; pass that as `rtoMs`.
   */
  reset(rtoMs: number = this.initialRtoMs): void {
    this.sampled = false;
    this.backoffs = 0;
    this.baseRto = clamp(rtoMs, this.minRtoMs, this.maxRtoMs);
  }

  /**
   * Starts over for a new connection: every field as a new estimator with the same options has it
   * (no sample, no backoff, no rejected sample, the RTO `initialRtoMs`). Allocates nothing.
   */
  renew(): void {
    this.rejectedSamples = 0;
    this.srtt = 0.5;
    this.rttvar = 0.5;
    this.reset();
  }
}

function clamp(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}
