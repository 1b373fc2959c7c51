/**
 * The public contract of the interrupt scheduler. Implementations live beside this file; drivers and
 * the stack code against these types only.
 *
 * Model: one thread. "Preemption" means: pending IRQ handlers run, highest priority first, at every
 * yield point of the scheduler (after each handler, each deferred-work round and each timer callback),
 * before any lower-priority work continues. A handler is never interrupted while it runs.
 *
 * Order of one scheduler step: (1) pending unmasked IRQ handlers by priority (lower number = higher
 * priority, ties by line number), (2) one round of deferred work (each queued bottom half polled once
 * with its budget), (3) due timers in deadline order (ties by arming order). Steps repeat until nothing
 * is runnable; the virtual clock then jumps to the next timer deadline.
 */
import type { PathTrace } from './trace.js';

/** Milliseconds on the scheduler's clock (fractional allowed). Monotonic, starts at 0 for a virtual clock. */
export type Millis = number;

/** A source of time. Only the scheduler owns one; everything else takes `now` from the scheduler. */
export interface Clock {
  /** Current time in milliseconds. Never decreases. */
  now(): Millis;
  /** True for a clock that tests advance by hand (no wall time passes). */
  readonly virtual: boolean;
  /**
   * The wall-clock time (milliseconds since the Unix epoch) at which this clock read 0, so that
   * `epochMs + now()` is the wall time. Optional: a clock without one counts from the epoch (0).
   */
  readonly epochMs?: number;
}

/** A top-half interrupt handler. It should acknowledge its device, move data into a ring and schedule a bottom half. */
export type IrqHandler = (line: IrqLine) => void;

/** Counters kept per IRQ line. */
export interface IrqLineStats {
  /** Times `raise()` was called. */
  raised: number;
  /** Times the handler ran (raises while already pending coalesce into one run). */
  handled: number;
  /**
   * Cumulative handler time in ms as measured by the scheduler clock: 0 on a virtual clock unless a
   * handler moves it, and 0 on a real one, whose time stands still during a run (the scheduler reads
   * the host clock once per run, not around every handler).
   */
  handlerTimeMs: number;
  /** Longest single handler run in ms. */
  handlerMaxMs: number;
  /**
   * Cumulative latency in ms from the raise that made the line pending to the start of its handler
   * (includes time spent masked; 0 on a virtual clock unless time advanced in between). On a real
   * clock the start is the run's one reading of the clock, and a raise from inside a run counts 0.
   */
  latencyTotalMs: number;
  /** Longest single raise-to-handler latency in ms. */
  latencyMaxMs: number;
  /** Raises ignored because the line had already been freed. */
  ignored: number;
}

/** One interrupt line. */
export interface IrqLine {
  readonly number: number;
  readonly name: string;
  readonly priority: number;
  /** Marks the line pending; the handler runs at the next yield point unless masked. Safe to call from any context. */
  raise(): void;
  /** Blocks delivery: the line may become pending but its handler does not run until unmasked. */
  mask(): void;
  /** Allows delivery again; a pending line then runs at the next yield point. */
  unmask(): void;
  readonly pending: boolean;
  readonly masked: boolean;
  readonly stats: Readonly<IrqLineStats>;
  /** Removes the line from the scheduler. */
  free(): void;
}

/**
 * A bottom half (NAPI-style poller). `poll(budget)` processes at most `budget` items and returns how
 * many it processed. Returning `budget` means "more may be waiting": the scheduler polls it again in the
 * next round (after IRQs and timers had their turn) and counts a budget exhaustion. Returning less
 * than `budget` completes it: it runs again only when scheduled again.
 */
export interface BottomHalf {
  readonly name: string;
  poll(budget: number): number;
}

/** Counters for deferred work. */
export interface DeferredStats {
  /** Bottom-half poll calls. */
  runs: number;
  /** Polls that used their whole budget. */
  budgetExhaustions: number;
  /** Items processed across all polls. */
  items: number;
}

/** A handle to an armed timer. */
export interface Timer {
  /** Deadline on the scheduler clock. */
  readonly deadline: Millis;
  readonly active: boolean;
  /** Disarms; harmless when already fired or cancelled. */
  cancel(): void;
  /** Re-arms for a new absolute deadline (cancelling the old one). */
  reset(deadline: Millis): void;
  /** Re-arms for `delay` ms from the scheduler's current time; same as `reset(now + delay)`. */
  resetAfter(delay: Millis): void;
}

/**
 * An object a timer calls instead of a closure: `scheduler.timerAt(deadline, target)` runs
 * `target.onTimer(now, timer)` when it fires. A connection's timers can then be methods of objects the
 * connection owns anyway, with no closure (and no closure context) per timer; one target may serve
 * several timers and tell them apart by `timer`.
 */
export interface TimerTarget {
  /**
   * The timer fired: `now` is the scheduler's time (the deadline or later), `timer` the handle
   * `timerAt`/`timerAfter` returned (already disarmed, so it may be re-armed from here).
   */
  onTimer(now: Millis, timer: Timer): void;
}

/** What kind of work a failure came from (see {@link SchedulerOptions.onError}). */
export type WorkKind = 'irq' | 'bottom-half' | 'tasklet' | 'timer' | 'scheduler';

/** Where an error reported to {@link SchedulerOptions.onError} came from. */
export interface SchedulerErrorContext {
  readonly kind: WorkKind;
  /**
   * The IRQ line or bottom-half name, the tasklet or timer callback's function name (a timer
   * target's class name), or `'run'`.
   */
  readonly name: string;
}

/** Options for {@link Scheduler} construction. */
export interface SchedulerOptions {
  /** `'virtual'` (default in tests) or `'real'`, or a Clock. */
  clock?: 'virtual' | 'real' | Clock;
  /**
   * Seed for {@link Scheduler.random}; the same seed replays the same run. Default 1. A program that
   * wants a different run each time passes `hostSeed()` (and logs it, to replay a run).
   */
  seed?: number;
  /**
   * The wall-clock time (ms since the Unix epoch) at clock time 0, for {@link SchedulerApi.wallTime}.
   * Default: the clock's own `epochMs` (a `RealClock` reads the host's time once, when it is
   * created; a `VirtualClock` has the one it was given, default 0).
   */
  epochMs?: number;
  /** Default per-poll budget for bottom halves. Default 64. */
  budget?: number;
  /**
   * Called with every exception thrown by a handler, bottom half, tasklet or timer callback (after
   * it was caught and counted in {@link SchedulerStats.errors}), and on a real clock with a
   * `LIVELOCK` `SchedulerError` from a host turn. The remaining work keeps running.
   * If `onError` itself throws, the error propagates out of the run that dispatched the work
   * (`runPending`/`advance`/`runUntil`/`runUntilIdle`, or the host callback on a real clock); the
   * scheduler stays consistent and what was not run stays queued.
   * Default: rethrow (so a virtual-clock test sees the error from its `advance()` call, and a
   * real-clock scheduler raises an uncaught exception in Node, never a silent failure).
   */
  onError?: (error: unknown, context: SchedulerErrorContext) => void;
  /**
   * Most dispatches (handler runs, polls, tasklets, timer callbacks) one `runPending` may make at one
   * instant before it throws a `LIVELOCK` `SchedulerError`. Default 1,000,000.
   */
  livelockLimit?: number;
  /**
   * Real clock only: most scheduler steps one host turn runs before it yields to Node's event loop
   * (so I/O callbacks can fill rings while a bottom half keeps exhausting its budget). Default 64.
   */
  stepsPerTurn?: number;
  /**
   * Real clock only: how work that appears outside a run (an IRQ raised from an I/O callback, work
   * queued from a promise continuation) gets its host turn. `'immediate'` (default): a `setImmediate`,
   * so everything raised in one event-loop phase runs in one turn after it. `'microtask'`: a
   * microtask, so the turn runs as soon as the current callback returns (no event-loop phase in
   * between: the lowest latency for a frame that arrives while idle). Either way a turn that used up
   * `stepsPerTurn` continues in a `setImmediate`, so I/O is never starved.
   */
  hostWake?: 'immediate' | 'microtask';
}

/**
 * How a real-clock scheduler got its host turns (the JS entries it cost Node's event loop). Divided by
 * the frames or requests served, they say how many turns each one took. All stay 0 on a virtual clock.
 */
export interface HostTurnStats {
  /**
   * Turns run as soon as the callback that asked for them returned (`hostWake: 'microtask'`): from a
   * microtask (work raised outside a run), or at the end of an I/O callback opened with `beginIo`
   * (work it raised, run by its `endIo` without a microtask).
   */
  microtask: number;
  /** Turns run from a `setImmediate` (`hostWake: 'immediate'`, continuations, next-turn work). */
  immediate: number;
  /** Turns of the host timer (set for the earliest deadline). */
  timer: number;
  /**
   * Times a run found a timer 2 ms or more overdue (the host was stalled) and held every timer until the
   * event loop had polled for I/O again (and again while polls kept delivering): a frame already waiting
   * (an ACK) is handled before the timers fire (see the package README, Clocks).
   */
  timerDeferred: number;
  /** `setImmediate` turns that were asked for and then given back before they ran (`cancelNextTurn`). */
  immediateCancelled: number;
}

/** Scheduler-wide counters. */
export interface SchedulerStats {
  /** Per IRQ line, by line name. */
  irq: ReadonlyMap<string, Readonly<IrqLineStats>>;
  deferred: Readonly<DeferredStats>;
  /** Timer callbacks run. */
  timersFired: number;
  /**
   * Changes of the timer heap: timers armed, re-armed, cancelled while armed, and taken off it to fire
   * (each one O(log n) work on the heap). What a layer's timers cost beyond their callbacks.
   */
  timerHeapUpdates: number;
  /** One-shot deferred callbacks (tasklets) run. */
  taskletsRun: number;
  /** Real clock: the host turns taken, by how they were asked for. */
  hostTurns: Readonly<HostTurnStats>;
  /** Exceptions caught from handlers, bottom halves, tasklets and timer callbacks (and real-clock livelocks). */
  errors: number;
}

/**
 * The scheduler's public surface. The class `Scheduler` (exported from this package) implements it.
 * Everything that needs time or randomness takes it from here.
 */
export interface SchedulerApi {
  readonly clock: Clock;
  /**
   * The current time on the scheduler clock. During a run (handlers, polls, tasklets and timer
   * callbacks) a real clock is read once, when the run first needs the time, and `now` stays at that
   * reading until the run ends; outside a run it reads the clock.
   */
  readonly now: Millis;
  /**
   * The wall-clock time now, in milliseconds since the Unix epoch (for a `Date` header, a pcap
   * timestamp, a lease's expiry as a date): the scheduler's epoch origin plus {@link now}. It moves
   * with the scheduler's clock, so on a virtual clock it is as deterministic as `now`; on a real
   * clock it does not follow later changes of the host's clock. Stateful code still uses `now`.
   */
  wallTime(): number;
  /** Registers a new IRQ line (priority: lower number runs first). Names must be unique. */
  requestIrq(name: string, priority: number, handler: IrqHandler): IrqLine;
  /** Queues a bottom half for the next deferred-work round. Queuing one already queued is a no-op. */
  schedule(bottomHalf: BottomHalf): void;
  /**
   * Queues a bottom half for the first deferred round of the next host turn: on a started real
   * clock, after the work running now, Node's microtasks and this event-loop phase (so an answer the
   * application produces in a promise continuation is ready before it runs: an owed ACK can ride on
   * it). Elsewhere (virtual clock, not started) the same as {@link SchedulerApi.schedule}. Optional:
   * callers fall back to `schedule`.
   */
  scheduleNextTurn?(bottomHalf: BottomHalf): void;
  /**
   * Withdraws a bottom half queued with {@link SchedulerApi.scheduleNextTurn} whose work was done
   * another way (an owed ACK rode on a reply): the host turn it asked for is not taken unless other
   * work needs it. A no-op when it is not waiting for the next turn (on a virtual clock it was queued
   * with `schedule`, and its poll then finds nothing to do). Optional.
   */
  cancelNextTurn?(bottomHalf: BottomHalf): void;
  /**
   * Opens a host I/O callback that may raise lines (a driver reading frames on the event loop); pair
   * it with {@link SchedulerApi.endIo}, also when the callback fails. Until then, raises and queued
   * work ask for no host wake-up: {@link SchedulerApi.endIo} runs the turn they owe before the
   * callback returns (with the microtask wake; with the `setImmediate` wake it asks for the turn as
   * before). A real clock is read at most once in between, when something first needs the time (the
   * first raise), and the turn run by `endIo` keeps that reading as its time. Calls nest; the
   * outermost pair counts. Optional: a driver on a scheduler without it leaves the wake-up to raises.
   */
  beginIo?(): void;
  /** Closes the I/O callback opened by {@link SchedulerApi.beginIo} and runs the turn it owes (see there). */
  endIo?(): void;
  /**
   * The opt-in path trace of this scheduler's stack (see `trace.ts`): layers mark their steps when
   * `trace.on`. Optional: a scheduler without one has no tracing.
   */
  readonly trace?: PathTrace;
  /** Queues a one-shot deferred callback (a tasklet) for the next deferred-work round. */
  defer(fn: () => void): void;
  /**
   * Arms a timer for the absolute `deadline` (a past deadline fires at the next step). When it fires
   * it calls `callback`, or, given a {@link TimerTarget}, `target.onTimer(now, timer)`. Timers due at
   * the same time fire in the order they were (re-)armed.
   */
  timerAt(deadline: Millis, callback: (() => void) | TimerTarget): Timer;
  /** Arms a timer `delay` ms from now; otherwise as {@link SchedulerApi.timerAt}. */
  timerAfter(delay: Millis, callback: (() => void) | TimerTarget): Timer;
  /** A seeded pseudo-random number in [0, 1). */
  random(): number;
  /** A seeded pseudo-random unsigned 32-bit integer. */
  randomUint32(): number;
  /** Runs everything runnable at the current time (IRQs, deferred work, due timers) until idle. Does not advance a virtual clock. */
  runPending(): void;
  /** Virtual clock only: runs all work and timers up to `now + ms`, jumping between deadlines; ends with now = old now + ms. */
  advance(ms: Millis): void;
  /**
   * Virtual clock only: steps (running work, jumping to the next deadline) until `predicate()` is true
   * or `limitMs` of virtual time has passed. Returns whether the predicate became true.
   */
  runUntil(predicate: () => boolean, limitMs: Millis): boolean;
  /** Virtual clock only: runs until no work and no timers remain, or `limitMs` of virtual time passed. */
  runUntilIdle(limitMs?: Millis): void;
  /**
   * Real clock only: hooks into Node's event loop. From then on `raise()`, `schedule()`, `defer()` and
   * timers run by themselves (one host timer for the earliest deadline). Idempotent.
   */
  start(): void;
  /** Real clock only: detaches from the event loop (pending work stays queued). */
  stop(): void;
  /** Earliest armed timer deadline, if any. */
  nextDeadline(): Millis | undefined;
  /** True when nothing can run now and no timer is armed (masked pending lines do not count). */
  readonly idle: boolean;
  readonly stats: SchedulerStats;
}

/**
 * A bounded FIFO ring (the RX ring of a NIC, a TX queue). `push` on a full ring returns false and counts
 * a drop; it never grows. Implemented by the class `Ring` exported from this package.
 */
export interface RingApi<T> {
  readonly capacity: number;
  readonly length: number;
  /** Items refused because the ring was full. */
  readonly drops: number;
  push(item: T): boolean;
  shift(): T | undefined;
  peek(): T | undefined;
  clear(): void;
}
