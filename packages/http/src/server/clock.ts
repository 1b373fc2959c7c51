/**
 * Time for the server, taken from outside: the package never reads a clock or arms a host timer itself.
 * {@link schedulerClock} adapts an `@postern/irq` {@link Scheduler} (real clock for a live server, virtual
 * clock for simulation tests).
 */
import type { Scheduler } from '@postern/irq';

/** A cancellable one-shot timer armed through an {@link HttpClock}. */
export interface HttpTimer {
  /** Disarms; harmless after it fired or was cancelled. */
  cancel(): void;
}

/**
 * The server's source of time.
 *
 * - `now()` is monotonic milliseconds (any origin): timeouts and rate limiting use it.
 * - `setTimer(ms, cb)` calls `cb` once, no earlier than `ms` after now on the same clock.
 * - `wallTime()` (optional) is milliseconds since the Unix epoch, used only to write the `Date` header.
 *   Without it the server sends no `Date` header, as RFC 9110 §6.6.1 asks of a server without a
 *   reliable clock.
 */
export interface HttpClock {
  now(): number;
  setTimer(ms: number, callback: () => void): HttpTimer;
  wallTime?(): number;
}

/** Settled once: `RESOLVED.then(fn)` runs `fn` in a microtask (no async resource, unlike `queueMicrotask`). */
const RESOLVED = Promise.resolve();

/**
 * An {@link HttpClock} on a real-clock scheduler that reads the time at most once per turn: the first
 * `now()` (and the first `wallTime()`) after a turn began reads the scheduler, later ones in the same
 * synchronous stretch get that reading, and a microtask queued with the reading forgets it. A batch
 * of requests that arrive together (one socket event each, all in one microtask) so costs one read of
 * the host clock, not one per request and layer, the way the scheduler's own runs keep `now` still.
 *
 * Invariant: a reading is never used after the microtask that forgets it, so it is never older than
 * the synchronous stretch (and the microtasks already queued) in which it was taken.
 */
class TurnClock implements HttpClock {
  private nowKnown = false;
  private nowValue = 0;
  private forgetQueued = false;
  /** Bound once: the microtask that drops the readings of the turn. */
  private readonly forget = (): void => {
    this.forgetQueued = false;
    this.nowKnown = false;
    this.forgotten();
  };

  constructor(private readonly scheduler: Scheduler) {}

  now(): number {
    if (!this.nowKnown) {
      this.nowValue = this.scheduler.now;
      this.nowKnown = true;
      this.forgetLater();
    }
    return this.nowValue;
  }

  setTimer(ms: number, callback: () => void): HttpTimer {
    return this.scheduler.timerAfter(ms, callback);
  }

  /** Queues the microtask that forgets this turn's readings (once per turn). */
  protected forgetLater(): void {
    if (this.forgetQueued) return;
    this.forgetQueued = true;
    void RESOLVED.then(this.forget);
  }

  /** Drops readings a subclass keeps (called by the forgetting microtask). */
  protected forgotten(): void {}
}

/** A {@link TurnClock} with a wall clock for the `Date` header, read at most once per turn too. */
class WallTurnClock extends TurnClock {
  private wallKnown = false;
  private wallValue = 0;

  constructor(
    scheduler: Scheduler,
    private readonly wall: () => number,
  ) {
    super(scheduler);
  }

  wallTime(): number {
    if (!this.wallKnown) {
      this.wallValue = this.wall();
      this.wallKnown = true;
      this.forgetLater();
    }
    return this.wallValue;
  }

  protected override forgotten(): void {
    this.wallKnown = false;
  }
}

/**
 * An {@link HttpClock} on a scheduler: `now()` is `scheduler.now`, timers are scheduler timers. The
 * scheduler must be driven (a real-clock one `start()`ed, a virtual one advanced by the test).
 *
 * On a real clock `now()` and `wallTime()` are read at most once per turn (the first call after the
 * host ran anything else reads, the rest of that synchronous stretch reuses the reading): a server
 * answering a batch of requests reads the clock once for all of them. On a virtual clock both read
 * the scheduler on every call (a test that advances the clock sees the new time at once).
 *
 * @param wallTime Optional epoch-milliseconds source for the `Date` header.
 */
export function schedulerClock(scheduler: Scheduler, wallTime?: () => number): HttpClock {
  if (!scheduler.clock.virtual)
    return wallTime === undefined ? new TurnClock(scheduler) : new WallTurnClock(scheduler, wallTime);
  const clock: HttpClock = {
    now: () => scheduler.now,
    setTimer: (ms, callback) => scheduler.timerAfter(ms, callback),
  };
  if (wallTime !== undefined) clock.wallTime = wallTime;
  return clock;
}
