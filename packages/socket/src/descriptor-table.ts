/**
 * {@link DescriptorTable}: small-integer descriptors over a bounded slot array, reused lowest-first
 * as POSIX does, with a generation per slot so that a stale handle never reaches the socket that
 * took its slot later.
 *
 * A descriptor ({@link Fd}) is one number: `slot + generation * capacity`. The slot is the small
 * POSIX-style descriptor number ({@link DescriptorTable.slotOf}); the generation counts how often
 * the slot was reused. A fresh table hands out 0, 1, 2...; after slot 0 is closed and reused, the new
 * descriptor is `capacity` (slot 0, generation 1), and the old 0 looks up nothing (EBADF). Handles
 * stay exact integers for 2^53 / capacity reuses of one slot.
 */
import { SocketError, type SocketSyscall } from './errors.js';

/** A socket descriptor: an opaque number (see the module comment for its encoding). */
export type Fd = number;

/** Default {@link DescriptorTable} capacity (`maxDescriptors`). */
export const DEFAULT_MAX_DESCRIPTORS = 1024;

/** Counters of a {@link DescriptorTable}. */
export interface DescriptorTableStats {
  /** Descriptors handed out. */
  opened: number;
  /** Descriptors released. */
  closed: number;
  /** Allocations refused because every slot was taken (EMFILE). */
  full: number;
  /** Lookups with a stale or never-opened descriptor (EBADF). */
  badDescriptor: number;
}

/** Bounded table of entries keyed by {@link Fd}. */
export class DescriptorTable<T> {
  /** Most descriptors open at once. */
  readonly capacity: number;
  /** Live counters. */
  readonly stats: DescriptorTableStats = { opened: 0, closed: 0, full: 0, badDescriptor: 0 };
  private readonly entries: Array<T | undefined> = [];
  private readonly generations: number[] = [];
  /**
   * Free slots below `entries.length`: the first {@link DescriptorTable.freeCount} elements, a binary
   * min-heap (lowest reused first). The array never shrinks: emptied by `pop()`, V8 would give its
   * storage back (in the runtime, not the inlined fast path) and the next release would allocate it
   * again, once per connection when one connection at a time comes and goes.
   */
  private readonly free: number[] = [];
  private freeCount = 0;
  private openCount = 0;

  /** @throws RangeError unless `capacity` is a positive integer. */
  constructor(capacity = DEFAULT_MAX_DESCRIPTORS) {
    if (!(Number.isInteger(capacity) && capacity > 0))
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Descriptors open now. */
  get size(): number {
    return this.openCount;
  }

  /** The small POSIX-style number of `fd` (its slot). */
  slotOf(fd: Fd): number {
    return fd % this.capacity;
  }

  /**
   * Stores `entry` in the lowest free slot and returns its descriptor.
   * @throws {@link SocketError} `EMFILE` when every slot is taken.
   */
  allocate(entry: T, syscall: SocketSyscall = 'socket'): Fd {
    let slot: number;
    if (this.freeCount > 0) slot = this.popFree();
    else if (this.entries.length < this.capacity) {
      slot = this.entries.length;
      this.entries.push(undefined);
      this.generations.push(0);
    } else {
      this.stats.full++;
      throw new SocketError('EMFILE', syscall, `the descriptor table is full (${this.capacity} descriptors)`);
    }
    this.entries[slot] = entry;
    this.openCount++;
    this.stats.opened++;
    return slot + this.generations[slot]! * this.capacity;
  }

  /** The entry of `fd`, or undefined when `fd` is not open (stale, closed, never opened, not an integer). */
  peek(fd: Fd): T | undefined {
    if (!Number.isSafeInteger(fd) || fd < 0) return undefined;
    const slot = fd % this.capacity;
    if (slot >= this.entries.length || this.generations[slot] !== (fd - slot) / this.capacity) return undefined;
    return this.entries[slot];
  }

  /**
   * The entry of `fd`.
   * @throws {@link SocketError} `EBADF` when `fd` is not open.
   */
  get(fd: Fd, syscall: SocketSyscall): T {
    const e = this.peek(fd);
    if (e === undefined) {
      this.stats.badDescriptor++;
      throw new SocketError('EBADF', syscall, `descriptor ${fd} is not open`);
    }
    return e;
  }

  /** Frees `fd`'s slot (its generation moves on, so `fd` goes stale). Returns the entry, or undefined when `fd` was not open. */
  release(fd: Fd): T | undefined {
    const e = this.peek(fd);
    if (e === undefined) return undefined;
    const slot = fd % this.capacity;
    this.entries[slot] = undefined;
    this.generations[slot] = this.generations[slot]! + 1;
    this.pushFree(slot);
    this.openCount--;
    this.stats.closed++;
    return e;
  }

  /** Every open descriptor with its entry, lowest slot first. */
  *entriesOpen(): IterableIterator<[Fd, T]> {
    for (let slot = 0; slot < this.entries.length; slot++) {
      const e = this.entries[slot];
      if (e !== undefined) yield [slot + this.generations[slot]! * this.capacity, e];
    }
  }

  private pushFree(slot: number): void {
    const h = this.free;
    let i = this.freeCount++;
    h[i] = slot;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      const child = h[i]!;
      if (parent <= child) break;
      h[p] = child;
      h[i] = parent;
      i = p;
    }
  }

  private popFree(): number {
    const h = this.free;
    const top = h[0]!;
    const n = --this.freeCount;
    if (n > 0) {
      h[0] = h[n]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && h[l]! < h[m]!) m = l;
        if (r < n && h[r]! < h[m]!) m = r;
        if (m === i) break;
        const smaller = h[m]!;
        h[m] = h[i]!;
        h[i] = smaller;
        i = m;
      }
    }
    return top;
  }
}
