/**
 * The two filters of BBR's path model (IETF draft draft-cardwell-iccrg-bbr-congestion-control):
 * the bottleneck bandwidth is the largest delivery rate seen over the last few round trips
 * ({@link RoundMaxFilter}), the round-trip propagation time the smallest RTT seen over the last
 * few seconds ({@link MinRttFilter}). Neither reads a clock; a {@link RoundMaxFilter} takes its
 * slots with its first value, so a connection that never takes a sample never holds them.
 */

/** The slots of a {@link RoundMaxFilter} that has not taken a value yet (shared, never written). */
const NO_SLOTS = new Float64Array(0);
/** Filters whose slots one slab page holds. */
const PAGE_FILTERS = 64;

/**
 * The slots of every {@link RoundMaxFilter} of one window size, in pages of {@link PAGE_FILTERS}
 * filters each: a filter holds a page and an offset, not a typed array of its own (a typed array
 * costs a view, an ArrayBuffer and a backing store, several times the 16 bytes per round of its
 * slots). Slots given back are reused first; pages are kept for the process's life (their number
 * follows the most filters ever holding slots at once).
 */
class SlotSlab {
  private readonly pages: Float64Array[] = [];
  private readonly free: number[] = [];
  private next = 0;

  /** `stride`: doubles per filter. */
  constructor(readonly stride: number) {}

  /** A slot set's number (its page is {@link SlotSlab.page}, its offset {@link SlotSlab.offset}). */
  take(): number {
    const n = this.free.pop() ?? this.next++;
    const page = Math.floor(n / PAGE_FILTERS);
    if (page === this.pages.length) this.pages.push(new Float64Array(PAGE_FILTERS * this.stride));
    return n;
  }

  /** Gives slot set `n` back. */
  give(n: number): void {
    this.free.push(n);
  }

  /** The page holding slot set `n`. */
  page(n: number): Float64Array {
    return this.pages[Math.floor(n / PAGE_FILTERS)]!;
  }

  /** The offset of slot set `n` in its page. */
  offset(n: number): number {
    return (n % PAGE_FILTERS) * this.stride;
  }
}

/** Scratch for {@link RoundMaxFilter.update}'s value (one for the process: used within one call). */
const valueScratch = new Float64Array(1);

/** The slabs by window size (BBR's two filters share one: both span 10 rounds). */
const slabs = new Map<number, SlotSlab>();

function slabFor(windowRounds: number): SlotSlab {
  let slab = slabs.get(windowRounds);
  if (slab === undefined) {
    slab = new SlotSlab(2 * windowRounds);
    slabs.set(windowRounds, slab);
  }
  return slab;
}

/**
 * The maximum of the values seen over the last `windowRounds` round trips: one slot per round in
 * a ring, so a value leaves exactly when its round falls out of the window.
 *
 * BBR reads the maximum several times per ACK, so it is kept between changes: a value added inside
 * the window can only raise it, and a window moved on by whole rounds keeps it unless a round that
 * left held it. Anything else (a value for a round already outside the window, a jump of a whole
 * window, a reset) has it recomputed from the slots on the next read.
 *
 * Memory: the slots live in a shared slab (`SlotSlab` in this module), taken with the first value and given
 * back on {@link RoundMaxFilter.release}.
 */
export class RoundMaxFilter {
  /**
   * The slab page holding the slots ({@link NO_SLOTS} until the first value): from
   * {@link RoundMaxFilter.base}, slot `i`'s largest value at `base + i`, the round it holds at
   * `base + windowRounds + i` (-1: none).
   */
  private slots: Float64Array = NO_SLOTS;
  private base = 0;
  /** The slot set's number in the slab (-1: none held). */
  private slotSet = -1;
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
    return this.slotSet >= 0;
  }

  /** Adds `value` seen in round `round` (round numbers never go back). */
  update(value: number, round: number): void {
    const scratch = valueScratch;
    scratch[0] = value;
    this.updateFrom(scratch, 0, round);
  }

  /**
   * {@link RoundMaxFilter.update} with the value read from `values[index]`: BBR's values are fractions
   * (rates, byte counts from them), and a fraction passed to a call V8 did not inline is a new heap
   * number on every ACK; one written to a typed array and read here is not.
   */
  updateFrom(values: Float64Array, index: number, round: number): void {
    const value = values[index]!;
    if (round > this.current) this.moveTo(round);
    if (this.cachedMax >= 0 && Number.isInteger(round) && round > this.current - this.windowRounds) {
      // A slot it overwrites held a round a whole window away, outside the window already.
      if (value > this.cachedMax) this.cachedMax = value;
    } else {
      this.cachedMax = -1;
    }
    if (this.slotSet < 0) this.takeSlots();
    const w = this.windowRounds;
    const slots = this.slots;
    const at = this.base + (round % w);
    if (slots[at + w] !== round) {
      slots[at + w] = round;
      slots[at] = value;
    } else if (value > slots[at]!) {
      slots[at] = value;
    }
  }

  /** Moves the window to `round` without a value (rounds with no sample add nothing). */
  advance(round: number): void {
    if (round > this.current) this.moveTo(round);
  }

  /** The window now ends at `round` (later than the current one): the kept maximum stays unless a round leaving held it. */
  private moveTo(round: number): void {
    const w = this.windowRounds;
    if (this.cachedMax >= 0 && this.slotSet >= 0) {
      if (!(Number.isInteger(round) && Number.isInteger(this.current) && round - this.current < w)) {
        this.cachedMax = -1;
      } else {
        for (let gone = this.current - w + 1; gone <= round - w; gone++) {
          if (gone < 0) continue; // rounds before the first: empty slots (value 0)
          const at = this.base + (gone % w);
          if (this.slots[at + w] === gone && !(this.slots[at]! < this.cachedMax)) {
            this.cachedMax = -1;
            break;
          }
        }
      }
    }
    this.current = round;
  }

  /**
   * The largest value of rounds `current - windowRounds + 1 .. current` (0 when none). The kept
   * value is returned here and the slots are walked elsewhere, so this getter stays small enough for
   * V8 to inline into BBR's per-ACK code: called, it would box its fractional result into a new heap
   * number on each of the several reads per ACK.
   */
  get max(): number {
    if (this.cachedMax < 0) this.recomputeMax();
    return this.cachedMax;
  }

  /**
   * Sets the kept {@link RoundMaxFilter.max} from the slots (kept until the next change that can
   * lower it). Stored, not returned: a fraction returned by a call that is not inlined is a new heap
   * number.
   */
  private recomputeMax(): void {
    let best = 0;
    if (this.slotSet < 0) {
      this.cachedMax = best;
      return;
    }
    const slots = this.slots;
    const w = this.windowRounds;
    const base = this.base;
    const oldest = this.current - w;
    for (let i = base; i < base + w; i++) {
      if (slots[i + w]! > oldest && slots[i]! > best) best = slots[i]!;
    }
    this.cachedMax = best;
  }

  /** Takes empty slots (every value 0, every round -1) from the slab. */
  private takeSlots(): void {
    const slab = slabFor(this.windowRounds);
    const n = slab.take();
    this.slotSet = n;
    this.slots = slab.page(n);
    this.base = slab.offset(n);
    this.clearSlots();
  }

  /** Every slot empty: value 0, round -1. */
  private clearSlots(): void {
    const w = this.windowRounds;
    this.slots.fill(0, this.base, this.base + w);
    this.slots.fill(-1, this.base + w, this.base + 2 * w);
  }

  /** Forgets every value and gives the slots back to the slab (the next value takes slots again). */
  release(): void {
    if (this.slotSet >= 0) slabFor(this.windowRounds).give(this.slotSet);
    this.slotSet = -1;
    this.slots = NO_SLOTS;
    this.base = 0;
    this.current = 0;
    this.cachedMax = -1;
  }

  /** Forgets every value. */
  reset(): void {
    if (this.slotSet >= 0) this.clearSlots();
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
