/**
 * The two filters of BBR's path model (IETF draft draft-cardwell-iccrg-bbr-congestion-control):
 * the bottleneck bandwidth is the largest delivery rate seen over the last few round trips
 * ({@link RoundMaxFilter}), the round-trip propagation time the smallest RTT seen over the last
 * few seconds ({@link MinRttFilter}). Neither reads a clock; a {@link RoundMaxFilter} takes its
 * slots with its first value, so a connection that never takes a sample never holds them, and
 * gives them back to a shared free list on release, so a stream of short connections allocates none.
 */

/** The slots of a {@link RoundMaxFilter} that has not taken a value yet (shared, never written). */
const NO_SLOTS = new Float64Array(0);
/** Most free slot arrays kept for reuse. */
const SLOT_ARRAYS_RETAINED = 512;
/** Slot arrays given back by released filters (any size; a filter takes one only of its own). */
const freeSlots: Float64Array[] = [];

/**
 * The maximum of the values seen over the last `windowRounds` round trips: one slot per round in
 * a ring, so a value leaves exactly when its round falls out of the window.
 *
 * BBR reads the maximum several times per ACK, so it is kept between changes: a value added inside
 * the window can only raise it, and a window moved on by whole rounds keeps it unless a round that
 * left held it. Anything else (a value for a round already outside the window, a jump of a whole
 * window, a reset) has it recomputed from the slots on the next read.
 */
export class RoundMaxFilter {
  /**
   * Slot `i`'s largest value at `i`, the round it holds at `windowRounds + i` (-1: none): one array
   * for both; {@link NO_SLOTS} until the first value.
   */
  private slots: Float64Array = NO_SLOTS;
  private current = 0;
  /** {@link RoundMaxFilter.max} as it stands, or -1 when it must be recomputed from the slots. */
  private cachedMax = -1;

  /** @throws RangeError unless `windowRounds` is a positive integer. */
  constructor(readonly windowRounds: number) {
    if (!(Number.isInteger(windowRounds) && windowRounds > 0))
      throw new RangeError(`window must be a positive number of rounds, got ${windowRounds}`);
  }

  /** True once the slots exist (the first {@link RoundMaxFilter.update}); before, every slot is empty. */
  get allocated(): boolean {
    return this.slots.length !== 0;
  }

  /** Adds `value` seen in round `round` (round numbers never go back). */
  update(value: number, round: number): void {
    if (round > this.current) this.moveTo(round);
    if (this.cachedMax >= 0 && Number.isInteger(round) && round > this.current - this.windowRounds) {
      // A slot it overwrites held a round a whole window away, outside the window already.
      if (value > this.cachedMax) this.cachedMax = value;
    } else {
      this.cachedMax = -1;
    }
    const w = this.windowRounds;
    if (this.slots.length === 0) this.takeSlots();
    const slots = this.slots;
    const slot = round % w;
    if (slots[w + slot] !== round) {
      slots[w + slot] = round;
      slots[slot] = value;
    } else if (value > slots[slot]!) {
      slots[slot] = value;
    }
  }

  /** Moves the window to `round` without a value (rounds with no sample add nothing). */
  advance(round: number): void {
    if (round > this.current) this.moveTo(round);
  }

  /** The window now ends at `round` (later than the current one): the kept maximum stays unless a round leaving held it. */
  private moveTo(round: number): void {
    const w = this.windowRounds;
    if (this.cachedMax >= 0 && this.slots.length !== 0) {
      if (!(Number.isInteger(round) && Number.isInteger(this.current) && round - this.current < w)) {
        this.cachedMax = -1;
      } else {
        for (let gone = this.current - w + 1; gone <= round - w; gone++) {
          if (gone < 0) continue; // rounds before the first: empty slots (value 0)
          const slot = gone % w;
          if (this.slots[w + slot] === gone && !(this.slots[slot]! < this.cachedMax)) {
            this.cachedMax = -1;
            break;
          }
        }
      }
    }
    this.current = round;
  }

  /** The largest value of rounds `current - windowRounds + 1 .. current` (0 when none). */
  get max(): number {
    if (this.cachedMax >= 0) return this.cachedMax;
    let best = 0;
    const slots = this.slots;
    if (slots.length === 0) return (this.cachedMax = best);
    const w = this.windowRounds;
    const oldest = this.current - w;
    for (let i = 0; i < w; i++) {
      if (slots[w + i]! > oldest && slots[i]! > best) best = slots[i]!;
    }
    this.cachedMax = best;
    return best;
  }

  /** Takes empty slots (every round -1): a free array of this window's size, or a new one. */
  private takeSlots(): void {
    const w = this.windowRounds;
    const free = freeSlots.pop();
    const slots = free !== undefined && free.length === 2 * w ? free : new Float64Array(2 * w);
    slots.fill(0, 0, w);
    slots.fill(-1, w);
    this.slots = slots;
  }

  /** Forgets every value and gives the slots back to the free list (the next value takes slots again). */
  release(): void {
    if (this.slots.length !== 0 && freeSlots.length < SLOT_ARRAYS_RETAINED) freeSlots.push(this.slots);
    this.slots = NO_SLOTS;
    this.current = 0;
    this.cachedMax = -1;
  }

  /** Forgets every value. */
  reset(): void {
    const w = this.windowRounds;
    this.slots.fill(0, 0, w);
    this.slots.fill(-1, w);
    this.current = 0;
    this.cachedMax = -1;
  }
}

/**
 * The smallest RTT seen, kept for `windowMs`: a sample at or below it, or any sample once it is
 * older than the window, replaces it.
 */
export class MinRttFilter {
  /** The minimum RTT, ms (Infinity before the first sample). */
  value = Number.POSITIVE_INFINITY;
  /** When {@link MinRttFilter.value} was taken, ms. */
  stamp = 0;

  constructor(readonly windowMs: number) {}

  /** True when there is a minimum and it is older than the window at `now`. */
  expired(now: number): boolean {
    return Number.isFinite(this.value) && now > this.stamp + this.windowMs;
  }

  /** Offers an RTT sample taken at `now`; returns whether it became the minimum. */
  update(rttMs: number, now: number, expired = this.expired(now)): boolean {
    if (!(rttMs >= 0)) return false;
    if (rttMs <= this.value || expired) {
      this.value = rttMs;
      this.stamp = now;
      return true;
    }
    return false;
  }
}
