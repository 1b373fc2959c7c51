/**
 * {@link LazyTimer}: a timer whose restarts cost no timer-heap work in the common case, as Linux
 * restarts its retransmission timer. The heap entry stays armed at or before the deadline the timer
 * stands for: a later deadline is only stored, and an entry that fires before the stored deadline
 * re-arms itself for it. Stopping leaves the entry in the heap, to fire once and find nothing. A
 * connection answering requests one after another (its timer restarted with every reply and stopped
 * with every acknowledgement) then touches the heap about once per timeout, not twice per request.
 */
import type { Millis, SchedulerApi, Timer } from '@postern/irq';

/** A lazily restarted timer (see the module comment). Fires `callback` at or after {@link LazyTimer.deadline}. */
export class LazyTimer implements Timer {
  private armed = false;
  private due: Millis = 0;
  private entry: Timer | undefined;
  /** The heap entry's callback: fires the timer, or re-arms the entry when the deadline moved on. */
  private readonly expire = (): void => {
    if (!this.armed) return;
    if (this.due > this.scheduler.now) {
      this.entry!.reset(this.due);
      return;
    }
    this.armed = false;
    this.callback();
  };

  /**
   * Creates the timer stopped; nothing is on the heap until the first {@link LazyTimer.reset}.
   * `callback` runs as a method of the timer (`this` is the timer), so one function can serve every
   * timer of a subclass that carries its own context.
   */
  constructor(
    private readonly scheduler: Pick<SchedulerApi, 'now' | 'timerAt'>,
    private readonly callback: (this: LazyTimer) => void,
  ) {}

  /** The deadline the timer stands for (the last one set, also once stopped). */
  get deadline(): Millis {
    return this.due;
  }

  /** True while the timer will fire (set and neither fired nor stopped). */
  get active(): boolean {
    return this.armed;
  }

  /** (Re)starts the timer for the absolute `deadline`; the heap is touched only when it moves earlier. */
  reset(deadline: Millis): void {
    if (!Number.isFinite(deadline)) throw new RangeError(`timer deadline must be finite, got ${deadline}`);
    this.due = deadline;
    this.armed = true;
    const entry = this.entry;
    if (entry === undefined) this.entry = this.scheduler.timerAt(deadline, this.expire);
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
