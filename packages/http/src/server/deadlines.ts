/**
 * {@link DeadlineQueue}: the deadlines of all of a server's connections (head, body, idle, linger) on
 * one min-heap with one clock timer, instead of a clock timer (and its callback) per connection. The
 * heap is `@postern/irq`'s {@link DeadlineHeap}, the one the scheduler keeps its own timers on.
 */
import { DeadlineHeap, type DeadlineEntry } from '@postern/irq';
import type { HttpClock, HttpTimer } from './clock.js';

/**
 * Something with a deadline in a {@link DeadlineQueue}. The queue keeps its bookkeeping in the
 * {@link DeadlineEntry} fields (no object of its own per entry): `deadlineSlot` starts at -1 and only
 * the queue writes them; their owner only reads `deadlineAt`.
 */
export interface Deadlined extends DeadlineEntry {
  /** The deadline was reached: called once per arming, after the entry left the queue. */
  deadlineReached(): void;
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
  private readonly heap = new DeadlineHeap<Deadlined>();
  private timer: HttpTimer | undefined;
  /** When {@link DeadlineQueue.timer} fires (Infinity: not armed). */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: HttpClock) {}

  /** Entries queued. */
  get size(): number {
    return this.heap.size;
  }

  /** Queues `entry` for `deadline` (re-keys it when already queued). */
  arm(entry: Deadlined, deadline: number): void {
    this.heap.arm(entry, deadline);
    if (deadline < this.timerAt) this.armTimer();
  }

  /** Takes `entry` out of the queue (harmless when it is not queued). The timer is left as it is. */
  remove(entry: Deadlined): void {
    this.heap.remove(entry);
  }

  /** Empties the queue and disarms its clock timer (the server closed). */
  clear(): void {
    this.heap.clear();
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** (Re-)arms the clock timer for the earliest deadline. */
  private armTimer(): void {
    const first = this.heap.first()!;
    this.timer?.cancel();
    this.timerAt = first.deadlineAt;
    this.timer = this.clock.setTimer(Math.max(0, first.deadlineAt - this.clock.now()), this.fire);
  }

  /** The clock timer: reaches every entry that is due, then re-arms for the next one. */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const heap = this.heap;
    for (;;) {
      const first = heap.first();
      if (first === undefined) return;
      if (first.deadlineAt > now) break;
      heap.removeFirst();
      first.deadlineReached();
    }
    if (heap.first()!.deadlineAt < this.timerAt) this.armTimer();
  };
}
