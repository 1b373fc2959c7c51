/**
 * Rate limiting for the ICMP errors this host generates (RFC 1812 §4.3.2.8, RFC 1122 §3.2.2): a
 * token bucket, and a limiter that applies two of them the way Linux does — one global bucket
 * (the host never emits more than its rate, however many hosts it answers) and one bucket per
 * destination (one noisy peer cannot use up the global budget for everybody else).
 *
 * The per-destination table is bounded ({@link IcmpRateLimiterOptions.maxDestinations}); when
 * full, the destination seen least recently is forgotten (counted `destinationsEvicted`): a
 * forgotten destination starts again with a full bucket, which the global bucket still caps.
 */
import type { Ipv4Address } from '@postern/wire';
import { Counters } from '../counters.js';

/**
 * A token bucket: holds up to `burst` tokens, refills at `ratePerSecond`, and {@link TokenBucket.take}
 * spends one. Time is whatever `now` the caller passes (ms); it never reads a clock. A `now` earlier
 * than the last one is treated as no time passing.
 */
export class TokenBucket {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Most tokens held (the largest burst). */
  readonly burst: number;
  // Numbers from the start (double fields in V8; declared without a value they would be tagged, and
  // each fractional store a new heap number).
  private tokens = 0;
  private last = 0;

  /** Starts full at time `now`. */
  constructor(ratePerSecond: number, burst: number, now = 0) {
    if (!(ratePerSecond >= 0) || !(burst >= 1))
      throw new RangeError(`token bucket needs rate >= 0 and burst >= 1, got ${ratePerSecond}, ${burst}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** True (and one token spent) if a token is available at `now`. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back one token (capped at the burst), for a caller that took one and then did not send. */
  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
      this.last = now;
    }
  }
}

/** Rates and bounds of an {@link IcmpRateLimiter}. */
export interface IcmpRateLimiterOptions {
  /** Global errors per second. Default 1000 (Linux icmp_msgs_per_sec). */
  globalRate?: number;
  /** Global burst. Default 50 (Linux icmp_msgs_burst). */
  globalBurst?: number;
  /** Errors per second to one destination. Default 1 (Linux icmp_ratelimit, 1000 ms). */
  perDestinationRate?: number;
  /** Burst to one destination. Default 6 (Linux's inet_peer burst). */
  perDestinationBurst?: number;
  /** Destinations remembered. Default 256. */
  maxDestinations?: number;
}

/** Names of the rate limiter's counters. */
export type IcmpRateLimitCounterName = 'allowed' | 'limitedGlobal' | 'limitedPerDestination' | 'destinationsEvicted';

/** Decides whether this host may send an ICMP error to a destination now. See the module comment. */
export class IcmpRateLimiter {
  /** Named limit: destinations remembered. */
  readonly maxDestinations: number;
  /** `allowed`, `limitedGlobal`, `limitedPerDestination`, `destinationsEvicted`. */
  readonly stats = new Counters<IcmpRateLimitCounterName>('icmpRateLimit', [
    'allowed',
    'limitedGlobal',
    'limitedPerDestination',
    'destinationsEvicted',
  ]);
  private readonly global: TokenBucket;
  private readonly perDestinationRate: number;
  private readonly perDestinationBurst: number;
  /** Least recently used first. */
  private readonly destinations = new Map<Ipv4Address, TokenBucket>();

  constructor(options: IcmpRateLimiterOptions = {}, now = 0) {
    this.global = new TokenBucket(options.globalRate ?? 1000, options.globalBurst ?? 50, now);
    this.perDestinationRate = options.perDestinationRate ?? 1;
    this.perDestinationBurst = options.perDestinationBurst ?? 6;
    this.maxDestinations = options.maxDestinations ?? 256;
    if (!(this.perDestinationRate >= 0) || !(this.perDestinationBurst >= 1)) {
      throw new RangeError(
        `per-destination bucket needs rate >= 0 and burst >= 1, got ${this.perDestinationRate}, ${this.perDestinationBurst}`,
      );
    }
  }

  /** Destinations currently remembered. */
  get trackedDestinations(): number {
    return this.destinations.size;
  }

  /**
   * True if an ICMP error to `destination` may be sent at `now`; spends a token from both buckets
   * then. A refusal spends nothing and counts which bucket refused.
   */
  allow(now: number, destination: Ipv4Address): boolean {
    let bucket = this.destinations.get(destination);
    if (bucket === undefined) {
      if (this.destinations.size >= this.maxDestinations) {
        const oldest = this.destinations.keys().next().value!;
        this.destinations.delete(oldest);
        this.stats.inc('destinationsEvicted');
      }
      bucket = new TokenBucket(this.perDestinationRate, this.perDestinationBurst, now);
    } else {
      this.destinations.delete(destination);
    }
    this.destinations.set(destination, bucket);
    if (!bucket.take(now)) {
      this.stats.inc('limitedPerDestination');
      return false;
    }
    if (!this.global.take(now)) {
      bucket.giveBack();
      this.stats.inc('limitedGlobal');
      return false;
    }
    this.stats.inc('allowed');
    return true;
  }
}
