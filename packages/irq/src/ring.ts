/**
 * A bounded FIFO over a fixed circular array: the RX ring of a NIC, a TX queue.
 */
import type { RingApi } from './api.js';
import { requireInteger } from './errors.js';

/**
 * A fixed-capacity FIFO ring. The backing array is allocated once, in the constructor; `push` and
 * `shift` never allocate. `push` on a full ring refuses the item, returns false and counts it in
 * {@link Ring.drops}; the ring never grows. Shifted slots are cleared so the ring holds no stale
 * references.
 */
export class Ring<T> implements RingApi<T> {
  /** Most items the ring holds. */
  readonly capacity: number;
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;
  private dropped = 0;

  /** @param capacity An integer >= 1; anything else throws a `BAD_ARGUMENT` `SchedulerError`. */
  constructor(capacity: number) {
    this.capacity = requireInteger('Ring capacity', capacity, 1);
    this.slots = new Array<T | undefined>(this.capacity).fill(undefined);
  }

  /** Items currently queued. */
  get length(): number {
    return this.count;
  }

  /** Items refused because the ring was full, since creation (not reset by {@link clear}). */
  get drops(): number {
    return this.dropped;
  }

  /** Free slots left. */
  get space(): number {
    return this.capacity - this.count;
  }

  /** True when the next `push` would be refused. */
  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Appends `item`; returns false (and counts a drop) when the ring is full. */
  push(item: T): boolean {
    if (this.count === this.capacity) {
      this.dropped++;
      return false;
    }
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.slots[tail] = item;
    this.count++;
    return true;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    return item;
  }

  /** The oldest item without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Empties the ring (the drop counter is kept). */
  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
