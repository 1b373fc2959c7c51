/**
 * All timers of one scheduler on ONE structure: a {@link DeadlineHeap} (a binary min-heap keyed by
 * (deadline, sequence), each entry tracking its own index in the heap). That makes every operation
 * O(log n) with no lazy tombstones: `cancel` removes the entry in place, `reset` changes its key and
 * sifts it, and `nextDeadline` is the root. The sequence number is taken on every arm and every
 * reset, so timers with equal deadlines fire in the order they were (re-)armed.
 *
 * {@link DeadlineHeap} is exported from the package: a layer that keeps deadlines of its own (the HTTP
 * server's connections) uses the same heap. {@link TimerQueue} and {@link ArmedTimer} are internal;
 * the public face is the {@link Timer} interface.
 */
import type { Millis, Timer, TimerTarget } from './api.js';
import { requireFinite } from './errors.js';

/**
 * Something with a deadline in a {@link DeadlineHeap}. The heap is intrusive: it keeps its
 * bookkeeping in these fields of the entry itself (no node object per entry), so an object can be
 * in at most ONE heap at a time. Only the heap writes them; the owner reads {@link deadlineAt}.
 */
export interface DeadlineEntry {
  /** When the entry is due (meaningful while queued; the last deadline after it left). */
  deadlineAt: Millis;
  /** The entry's index in the heap's array, -1 while not queued. Initialize to -1. */
  deadlineSlot: number;
  /** Arming order: entries due at the same time come out lowest first. */
  deadlineSeq: number;
}

function before(x: DeadlineEntry, y: DeadlineEntry): boolean {
  return x.deadlineAt < y.deadlineAt || (x.deadlineAt === y.deadlineAt && x.deadlineSeq < y.deadlineSeq);
}

/**
 * An intrusive binary min-heap of {@link DeadlineEntry} objects, ordered by (deadline, arming order).
 * Arming, re-keying and removal are O(log n) and allocate nothing (the array grows, never shrinks
 * below what it held); the first entry is O(1). It reads no clock and arms no timer: its owner
 * decides when to look at {@link first}.
 *
 * Invariants: an entry is in the heap at most once and `deadlineSlot` says where (-1 when it is
 * not); every arm (also of an entry already queued, also to the same deadline) takes a fresh
 * sequence number, so entries with equal deadlines come out in the order they were last armed.
 */
export class DeadlineHeap<E extends DeadlineEntry> {
  private readonly heap: E[] = [];
  private nextSeq = 0;

  /** Entries queued. */
  get size(): number {
    return this.heap.length;
  }

  /** The sequence number the next {@link arm} will take (entries armed from now on have one at least this). */
  get sequence(): number {
    return this.nextSeq;
  }

  /** The entry that comes out first (earliest deadline, then earliest arming), if any. */
  first(): E | undefined {
    return this.heap[0];
  }

  /** Queues `entry` for `deadline`, or re-keys it in place when it is queued already. */
  arm(entry: E, deadline: Millis): void {
    entry.deadlineAt = deadline;
    entry.deadlineSeq = this.nextSeq++;
    const slot = entry.deadlineSlot;
    if (slot < 0) {
      entry.deadlineSlot = this.heap.length;
      this.heap.push(entry);
      this.siftUp(entry.deadlineSlot);
    } else if (!this.siftUp(slot)) {
      // An earlier deadline moved it up; a later one (or the same one: the sequence grew) moves it down.
      this.siftDown(slot);
    }
  }

  /** Takes `entry` out of the heap; false (and nothing changes) when it was not queued. */
  remove(entry: E): boolean {
    const slot = entry.deadlineSlot;
    if (slot < 0) return false;
    this.removeAt(slot);
    return true;
  }

  /** Takes the first entry out and returns it (undefined when empty). */
  removeFirst(): E | undefined {
    const first = this.heap[0];
    if (first !== undefined) this.removeAt(0);
    return first;
  }

  /** Empties the heap (every entry's `deadlineSlot` becomes -1). */
  clear(): void {
    const heap = this.heap;
    for (let i = 0; i < heap.length; i++) heap[i]!.deadlineSlot = -1;
    heap.length = 0;
  }

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

  /** Moves the entry at `index` up while it sorts before its parent. Returns whether it moved. */
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

/** Hooks the queue needs from its scheduler. */
export interface TimerQueueHost {
  /** The scheduler's current time (for `resetAfter` and `timerAfter`). */
  now(): Millis;
  /** Called after every change of the armed set (arm, reset, cancel, pop). */
  timersChanged(): void;
}

/** What a timer runs when it fires: a callback, or a target whose `onTimer` is called. */
export type TimerAction = (() => void) | TimerTarget;

/** One timer: a handle for its owner and, while armed, an entry in the scheduler's heap. */
export class ArmedTimer implements Timer, DeadlineEntry {
  // Starts as a number, not undefined, so V8 keeps it a double field: a tagged field makes a new heap
  // number for each fractional deadline stored, i.e. per re-arm.
  /** @inheritDoc */
  deadlineAt: Millis = 0;
  /** @inheritDoc */
  deadlineSlot = -1;
  /** @inheritDoc */
  deadlineSeq = 0;

  constructor(
    private readonly queue: TimerQueue,
    deadline: Millis,
    /** Runs when the timer fires: called, or its `onTimer(now)` called. */
    readonly action: TimerAction,
  ) {
    this.deadlineAt = deadline;
  }

  /** Current (or last) deadline. */
  get deadline(): Millis {
    return this.deadlineAt;
  }

  /** True while armed (neither fired nor cancelled). */
  get active(): boolean {
    return this.deadlineSlot >= 0;
  }

  /** The name errors and livelocks report: the callback's function name, or the target's class name. */
  get name(): string {
    const action = this.action;
    return typeof action === 'function' ? action.name : action.constructor.name;
  }

  /** Runs the timer's action (the scheduler calls it after taking the timer off the heap). */
  fire(now: Millis): void {
    const action = this.action;
    if (typeof action === 'function') action();
    else action.onTimer(now, this);
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

/** The armed timers of one scheduler: a {@link DeadlineHeap} that tells its host of every change. */
export class TimerQueue {
  private readonly heap = new DeadlineHeap<ArmedTimer>();

  constructor(readonly host: TimerQueueHost) {}

  /** Number of armed timers. */
  get size(): number {
    return this.heap.size;
  }

  /** The sequence number the next arm or reset will take. */
  get sequence(): number {
    return this.heap.sequence;
  }

  /** A new armed timer. */
  create(deadline: Millis, action: TimerAction): ArmedTimer {
    const timer = new ArmedTimer(this, deadline, action);
    this.arm(timer, deadline);
    return timer;
  }

  /** Arms `timer` (or re-keys it in place when already armed) for `deadline` with a fresh sequence number. */
  arm(timer: ArmedTimer, deadline: Millis): void {
    this.heap.arm(timer, requireFinite('timer deadline', deadline));
    this.host.timersChanged();
  }

  /** Removes `timer` if armed. */
  cancel(timer: ArmedTimer): void {
    if (this.heap.remove(timer)) this.host.timersChanged();
  }

  /** The armed timer that fires first, if any. */
  peek(): ArmedTimer | undefined {
    return this.heap.first();
  }

  /** Earliest armed deadline, if any. */
  nextDeadline(): Millis | undefined {
    return this.heap.first()?.deadlineAt;
  }

  /** Removes and returns the first timer if it is due at `now` and was armed before sequence `seqLimit`. */
  popDue(now: Millis, seqLimit: number): ArmedTimer | undefined {
    const first = this.heap.first();
    if (first === undefined || first.deadlineAt > now || first.deadlineSeq >= seqLimit) return undefined;
    this.heap.removeFirst();
    this.host.timersChanged();
    return first;
  }
}
