/**
 * Per-client rate limiting: one token bucket per key (the client address) in a table bounded by
 * `maxClients`. When the table is full the least recently seen client is forgotten (its bucket starts
 * full again next time), and the eviction is counted.
 */

/** Rate-limit settings. */
export interface RateLimitOptions {
  /** Bucket size: the burst a client may send at once. At least 1. */
  readonly burst: number;
  /** Tokens added per second (the sustained request rate). Greater than 0. */
  readonly perSecond: number;
  /** Most clients tracked at once; default 10,000. */
  readonly maxClients?: number;
}

/** Counters of a {@link TokenBucketLimiter}. */
export interface RateLimitStats {
  /** Requests allowed. */
  allowed: number;
  /** Requests refused (answered 429). */
  limited: number;
  /** Buckets dropped because the table was full. */
  evictions: number;
  /** Clients currently tracked. */
  clients: number;
}

interface Bucket {
  tokens: number;
  /** Clock time of the last refill, ms. */
  at: number;
}

/**
 * A bounded table of token buckets. Time comes in as `now` (ms, monotonic), never from a clock.
 *
 * Invariant: `stats.clients <= maxClients`; a bucket never holds more than `burst` tokens.
 */
export class TokenBucketLimiter {
  /** Live counters. */
  readonly stats: RateLimitStats = { allowed: 0, limited: 0, evictions: 0, clients: 0 };
  private readonly burst: number;
  private readonly perMs: number;
  private readonly maxClients: number;
  /** Insertion order is recency order: a touched bucket is moved to the end. */
  private readonly buckets = new Map<string, Bucket>();

  /** Throws `RangeError` for a burst below 1, a non-positive rate or a table size below 1. */
  constructor(options: RateLimitOptions) {
    if (!(options.burst >= 1)) throw new RangeError('rate limit burst must be at least 1');
    if (!(options.perSecond > 0)) throw new RangeError('rate limit perSecond must be greater than 0');
    const maxClients = options.maxClients ?? 10_000;
    if (!(maxClients >= 1)) throw new RangeError('rate limit maxClients must be at least 1');
    this.burst = options.burst;
    this.perMs = options.perSecond / 1000;
    this.maxClients = maxClients;
  }

  /**
   * Takes one token for `key` at time `now`. Returns 0 when the request may go on, else the whole
   * seconds (at least 1) after which a token will be available: the `Retry-After` value.
   */
  take(key: string, now: number): number {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
        this.stats.evictions++;
      }
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      this.buckets.delete(key);
      this.buckets.set(key, bucket);
      const elapsed = now - bucket.at;
      if (elapsed > 0) bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.perMs);
      bucket.at = now;
    }
    this.stats.clients = this.buckets.size;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.stats.allowed++;
      return 0;
    }
    this.stats.limited++;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
  }
}
