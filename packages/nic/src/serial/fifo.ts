/**
 * A bounded FIFO of frames on a fixed array (no allocation after construction).
 * @internal Used by the serial driver and board for their frame queues.
 */
export class FrameFifo {
  private readonly items: (Uint8Array | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.items = new Array<Uint8Array | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Appends; false when full. */
  push(item: Uint8Array): boolean {
    if (this.count === this.capacity) return false;
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  peek(): Uint8Array | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Empties the queue; returns how many items were dropped. */
  clear(): number {
    const n = this.count;
    while (this.count > 0) this.shift();
    this.head = 0;
    return n;
  }
}

/**
 * Hands out views of large slabs, so that frames the receiver owns do not cost one ArrayBuffer each.
 * @internal
 */
export class SlabAllocator {
  private slab: Uint8Array;
  private offset = 0;

  constructor(private readonly slabSize = 64 * 1024) {
    this.slab = new Uint8Array(slabSize);
  }

  /** A copy of `src` in a fresh view no one else holds. */
  copy(src: Uint8Array): Uint8Array {
    const n = src.length;
    if (n > this.slabSize) return src.slice();
    if (this.offset + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabSize);
      this.offset = 0;
    }
    const view = this.slab.subarray(this.offset, this.offset + n);
    view.set(src);
    this.offset += n;
    return view;
  }
}
