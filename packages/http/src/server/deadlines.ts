/**
 * {@link DeadlineQueue}: the deadlines of all of a server's connections (head, body, idle, linger) on
 * one min-heap with one clock timer, instead of a clock timer (and its callback) per connection.
 */
import type { HttpClock, HttpTimer } from './clock.js';

/**
 * Something with a deadline in a {@link DeadlineQueue}. The queue keeps its bookkeeping in these
 * fields (no object of its own per entry); their owner only reads {@link Deadlined.deadlineAt}.
 */
export interface Deadlined {
  /** When the entry is due, on the queue's clock (meaningful while queued). */
  deadlineAt: number;
  /** The entry's index in the queue's heap, -1 while not queued. Written only by the queue. */
  deadlineSlot: number;
  /** The queue's arming order (entries due at the same time are reached in that order). Written only by the queue. */
  deadlineSeq: number;
  /** The deadline was reached: called once per arming, after the entry left the queue. */
  deadlineReached(): void;
}

function before(x: Deadlined, y: Deadlined): boolean {
  return x.deadlineAt < y.deadlineAt || (x.deadlineAt === y.deadlineAt && x.deadlineSeq < y.deadlineSeq);
}

/**
 * Deadlines of many entries on one clock timer. The timer is armed for the earliest deadline, and
 * lazily: when the earliest entry is removed or pushed back, the timer stays where it was and, when
 * it fires, finds nothing due and re-arms for the new earliest deadline (one spare wake-up instead of a
 * cancel and an arm per change). So a server whose connections come and go one after another arms
 * about one clock timer per lingering period, not several per connection.
 *
 * Invariants: an entry is in the heap at most once and `deadlineSlot` says where; an entry is reached
 * no earlier than its deadline, at the first timer turn at or after it, in (deadline, arming) order;
 * a reached entry is out of the queue before its callback runs (which may arm it again).
 */
export class DeadlineQueue {
  private readonly heap: Deadlined[] = [];
  private nextSeq = 0;
  private timer: HttpTimer | undefined;
  /** When {@link DeadlineQueue.timer} fires (Infinity: not armed). */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: HttpClock) {}

  /** Entries queued. */
  get size(): number {
    return this.heap.length;
  }

  /** Queues `entry` for `deadline` (re-keys it when already queued). */
  arm(entry: Deadlined, deadline: number): void {
    entry.deadlineAt = deadline;
    entry.deadlineSeq = this.nextSeq++;
    if (entry.deadlineSlot < 0) {
      entry.deadlineSlot = this.heap.length;
      this.heap.push(entry);
      this.siftUp(entry.deadlineSlot);
    } else if (!this.siftUp(entry.deadlineSlot)) {
      this.siftDown(entry.deadlineSlot);
    }
    if (deadline < this.timerAt) this.armTimer();
  }

  /** Takes `entry` out of the queue (harmless when it is not queued). The timer is left as it is. */
  remove(entry: Deadlined): void {
    const slot = entry.deadlineSlot;
    if (slot >= 0) this.removeAt(slot);
  }

  /** Empties the queue and disarms its clock timer (the server closed). */
  clear(): void {
    for (const entry of this.heap) entry.deadlineSlot = -1;
    this.heap.length = 0;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** (Re-)arms the clock timer for the earliest deadline. */
  private armTimer(): void {
    const first = this.heap[0]!;
    this.timer?.cancel();
    this.timerAt = first.deadlineAt;
    this.timer = this.clock.setTimer(Math.max(0, first.deadlineAt - this.clock.now()), this.fire);
  }

  /** The clock timer: reaches every entry that is due, then re-arms for the next one. */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (;;) {
      const first = this.heap[0];
      if (first === undefined) return;
      if (first.deadlineAt > now) break;
      this.removeAt(0);
      first.deadlineReached();
    }
    if (this.heap[0]!.deadlineAt < this.timerAt) this.armTimer();
  };

  private removeAt(index: number): void {
    const heap = this.heap;
    const removed = heap[index]!;
    const last = heap.pop()!;
    removed.deadlineSlot = -1;
    if (index === heap.length) return;
    heap[index] = last;
    last.deadlineSlot = index;
    if (!this.siftUp(index)) this.siftDown(index);
  }

  /** Moves the entry at `index` up while it sorts before its parent; whether it moved. */
  private siftUp(index: number): boolean {
    const heap = this.heap;
    const entry = heap[index]!;
    let i = index;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(entry, parent)) break;
      heap[i] = parent;
      parent.deadlineSlot = i;
      i = parentIndex;
    }
    if (i === index) return false;
    heap[i] = entry;
    entry.deadlineSlot = i;
    return true;
  }

  /** Moves the entry at `index` down while a child sorts before it. */
  private siftDown(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[index]!;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      const smallest = heap[child]!;
      if (!before(smallest, entry)) break;
      heap[i] = smallest;
      smallest.deadlineSlot = i;
      i = child;
    }
    heap[i] = entry;
    entry.deadlineSlot = i;
  }
}
