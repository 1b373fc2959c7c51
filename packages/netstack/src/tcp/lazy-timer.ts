/**
 * {@link LazyTimer}: a timer whose restarts cost no timer-heap work in the common case, as Linux
 * restarts its retransmission timer. The heap entry stays armed at or before the deadline the timer
 * stands for: a later deadline is only stored, and an entry that fires before the stored deadline
 * re-arms itself for it. Stopping leaves the entry in the heap, to fire once and find nothing. A
 * connection answering requests one after another (its timer restarted with every reply and stopped
 * with every acknowledgement) then touches the heap about once per timeout, not twice per request.
 *
 * The timer is its heap entry's {@link TimerTarget} (the scheduler calls {@link LazyTimer.onTimer}),
 * and what an expiry does is a method of the subclass: no closure per timer.
 */
import type { Millis, SchedulerApi, Timer, TimerTarget } from '@postern/irq';

/**
 * A lazily restarted timer (see the module comment). A subclass says what an expiry does in
 * {@link LazyTimer.expired}, which runs at or after {@link LazyTimer.deadline}, on the scheduler's time.
 */
export abstract class LazyTimer implements Timer, TimerTarget {
  // Set in the constructor, not declared with initializers: Node 20's optimizing compiler does not
  // inline a base-class constructor that has class fields into a subclass's `super()` (a builtin
  // call and the generic construct stub per construction instead).
  declare private armed: boolean;
  declare private due: Millis;
  declare private entry: Timer | undefined;
  declare private readonly scheduler: Pick<SchedulerApi, 'now' | 'timerAt'>;

  /** Creates the timer stopped; nothing is on the heap until the first {@link LazyTimer.reset}. */
  constructor(scheduler: Pick<SchedulerApi, 'now' | 'timerAt'>) {
    this.armed = false;
    this.due = 0;
    this.entry = undefined;
    this.scheduler = scheduler;
  }

  /** The timer expired (it is stopped now; the method may restart it). `now` is the scheduler's time. */
  protected abstract expired(now: Millis): void;

  /** The deadline the timer stands for (the last one set, also once stopped). */
  get deadline(): Millis {
    return this.due;
  }

  /** True while the timer will fire (set and neither fired nor stopped). */
  get active(): boolean {
    return this.armed;
  }

  /**
   * The heap entry fired (called by the scheduler): fires the timer, or re-arms the entry for the
   * stored deadline when it moved on, or does nothing when the timer was stopped.
   */
  onTimer(now: Millis, entry: Timer): void {
    if (!this.armed) return;
    if (this.due > now) {
      entry.reset(this.due);
      return;
    }
    this.armed = false;
    this.expired(now);
  }

  /** (Re)starts the timer for the absolute `deadline`; the heap is touched only when it moves earlier. */
  reset(deadline: Millis): void {
    if (!Number.isFinite(deadline)) throw new RangeError(`timer deadline must be finite, got ${deadline}`);
    this.due = deadline;
    this.armed = true;
    const entry = this.entry;
    if (entry === undefined) this.entry = this.scheduler.timerAt(deadline, this);
    else if (!entry.active || entry.deadline > deadline) entry.reset(deadline);
  }

  /** (Re)starts the timer `delay` ms from now. */
  resetAfter(delay: Millis): void {
    this.reset(this.scheduler.now + delay);
  }

  /** Stops the timer, leaving its heap entry to fire once and do nothing (cheap when it restarts soon). */
  stop(): void {
    this.armed = false;
  }

  /** Stops the timer and takes its entry off the heap (for good: the connection ends). */
  cancel(): void {
    this.armed = false;
    this.entry?.cancel();
  }
}
