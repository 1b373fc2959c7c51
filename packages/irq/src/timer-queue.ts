/**
 * All timers of one scheduler on ONE structure: a binary min-heap keyed by (deadline, sequence), with
 * each timer tracking its own index in the heap. That makes every operation O(log n) with no lazy
 * tombstones: `cancel` removes the entry in place, `reset` changes its key and sifts it, and
 * `nextDeadline` is the root. The sequence number is taken on every arm and every reset, so timers
 * with equal deadlines fire in the order they were (re-)armed.
 *
 * Internal to the package; the public face is the {@link Timer} interface.
 */
import type { Millis, Timer } from './api.js';
import { requireFinite } from './errors.js';

/** Hooks the queue needs from its scheduler. */
export interface TimerQueueHost {
  /** The scheduler's current time (for `resetAfter` and `timerAfter`). */
  now(): Millis;
  /** Called after every change of the armed set (arm, reset, cancel, pop). */
  timersChanged(): void;
}

/** One timer: a handle for its owner and an entry in the heap. */
export class ArmedTimer implements Timer {
  /** Current (or last) deadline. */
  deadline: Millis;
  /** Arming order; ties on `deadline` fire lowest first. */
  seq = 0;
  /** Index in the heap, -1 when not armed. */
  heapIndex = -1;

  constructor(
    private readonly queue: TimerQueue,
    deadline: Millis,
    /** Runs when the timer fires. */
    readonly callback: () => void,
  ) {
    this.deadline = deadline;
  }

  /** True while armed (neither fired nor cancelled). */
  get active(): boolean {
    return this.heapIndex >= 0;
  }

  /** Disarms; harmless when already fired or cancelled. */
  cancel(): void {
    this.queue.cancel(this);
  }

  /** Re-arms for the absolute `deadline`, also after it fired or was cancelled. */
  reset(deadline: Millis): void {
    this.queue.arm(this, deadline);
  }

  /** Re-arms for `delay` ms from now. */
  resetAfter(delay: Millis): void {
    this.queue.arm(this, this.queue.host.now() + requireFinite('timer delay', delay));
  }
}

function before(x: ArmedTimer, y: ArmedTimer): boolean {
  return x.deadline < y.deadline || (x.deadline === y.deadline && x.seq < y.seq);
}

/** The min-heap of armed timers. */
export class TimerQueue {
  private readonly heap: ArmedTimer[] = [];
  private nextSeq = 0;

  constructor(readonly host: TimerQueueHost) {}

  /** Number of armed timers. */
  get size(): number {
    return this.heap.length;
  }

  /** The sequence number the next arm or reset will take. */
  get sequence(): number {
    return this.nextSeq;
  }

  /** A new armed timer. */
  create(deadline: Millis, callback: () => void): ArmedTimer {
    const timer = new ArmedTimer(this, deadline, callback);
    this.arm(timer, deadline);
    return timer;
  }

  /** Arms `timer` (or re-keys it in place when already armed) for `deadline` with a fresh sequence number. */
  arm(timer: ArmedTimer, deadline: Millis): void {
    requireFinite('timer deadline', deadline);
    timer.deadline = deadline;
    timer.seq = this.nextSeq++;
    if (timer.heapIndex < 0) {
      timer.heapIndex = this.heap.length;
      this.heap.push(timer);
      this.siftUp(timer.heapIndex);
    } else if (!this.siftUp(timer.heapIndex)) {
      // Re-keyed in place: an earlier deadline moves it up, a later one (or the same one, since the
      // sequence grew) moves it down. No allocation, no tombstone.
      this.siftDown(timer.heapIndex);
    }
    this.host.timersChanged();
  }

  /** Removes `timer` if armed. */
  cancel(timer: ArmedTimer): void {
    const index = timer.heapIndex;
    if (index < 0) return;
    this.removeAt(index);
    this.host.timersChanged();
  }

  /** The armed timer that fires first, if any. */
  peek(): ArmedTimer | undefined {
    return this.heap[0];
  }

  /** Earliest armed deadline, if any. */
  nextDeadline(): Millis | undefined {
    return this.heap[0]?.deadline;
  }

  /** Removes and returns the first timer if it is due at `now` and was armed before sequence `seqLimit`. */
  popDue(now: Millis, seqLimit: number): ArmedTimer | undefined {
    const first = this.heap[0];
    if (first === undefined || first.deadline > now || first.seq >= seqLimit) return undefined;
    this.removeAt(0);
    this.host.timersChanged();
    return first;
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const removed = heap[index]!;
    const last = heap.pop()!;
    removed.heapIndex = -1;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    if (!this.siftUp(index)) this.siftDown(index);
  }

  /** Moves the entry at `index` up while it sorts before its parent. Returns whether it moved. */
  private siftUp(index: number): boolean {
    const heap = this.heap;
    const timer = heap[index]!;
    let i = index;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(timer, parent)) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    if (i === index) return false;
    heap[i] = timer;
    timer.heapIndex = i;
    return true;
  }

  /** Moves the entry at `index` down while a child sorts before it. */
  private siftDown(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    const timer = heap[index]!;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right]!, heap[left]!)) child = right;
      const smallest = heap[child]!;
      if (!before(smallest, timer)) break;
      heap[i] = smallest;
      smallest.heapIndex = i;
      i = child;
    }
    heap[i] = timer;
    timer.heapIndex = i;
  }
}
