/**
 * The interrupt scheduler: IRQ lines with priorities, deferred work (NAPI-style bottom halves with a
 * budget, and one-shot tasklets), timers on one heap, and a clock, virtual or real.
 *
 * One step = (1) every pending unmasked IRQ handler, highest priority first; (2) one round of deferred
 * work: each bottom half and tasklet queued before the round started, in queuing order; (3) the timers
 * that are due and were armed before the timer phase began, in (deadline, arming order). After every
 * single handler, poll, tasklet and timer callback there is a yield point at which all pending unmasked
 * IRQs run again, highest priority first, before the step goes on. Steps repeat until nothing is runnable.
 *
 * Time during a run on a real clock: the clock is read at most once, the first time the run needs
 * it, and {@link Scheduler.now} stands still at that reading until the run ends (as a kernel's
 * jiffies do during one softirq pass), so a frame's whole trip through the stack costs one read of
 * the host clock, not one per layer, and a run that never asks (a TX flush) costs none. Such a run
 * does not look at the timers either: due timers fire in the first run that knows the time, at the
 * latest in the turn of the host timer, which is always armed for the earliest deadline. Outside a
 * run, `now` reads the clock. A virtual clock is read directly, always (it moves only when told to).
 *
 * I/O callbacks ({@link Scheduler.beginIo} .. {@link Scheduler.endIo}): a driver that reads frames
 * on the event loop brackets its callback, and with the microtask wake the turn its raises owe runs
 * at `endIo`, before the callback returns, with no promise reaction in between; the clock is read
 * at most once for the whole callback (its first raise stamps the line, and the turn keeps that
 * reading as its time), so a wake-up that delivers frames costs one read of the host clock, not two.
 */
import type {
  BottomHalf,
  Clock,
  DeferredStats,
  HostTurnStats,
  IrqHandler,
  IrqLine,
  Millis,
  SchedulerApi,
  SchedulerErrorContext,
  SchedulerOptions,
  SchedulerStats,
  Timer,
  TimerTarget,
  WorkKind,
} from './api.js';
import { RealClock, VirtualClock, isSteerable, type SteerableClock } from './clock.js';
import { SchedulerError, requireFinite, requireInteger } from './errors.js';
import { IrqTable, type Line } from './irq-table.js';
import { SeededRandom } from './random.js';
import { TimerQueue } from './timer-queue.js';
import { PathTrace } from './trace.js';
import { WorkList } from './work-list.js';

/**
 * Consecutive microtask wakes allowed before one wake goes through `setImmediate` instead: work that
 * is raised again from a promise continuation after every turn would otherwise keep the host's
 * event loop (timers, I/O) from ever running.
 */
const MICROTASK_STREAK_LIMIT = 64;

/** A settled promise whose reactions run the microtask wake ({@link Scheduler} with `hostWake: 'microtask'`). */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * Microtask hops the next-turn check ({@link Scheduler.scheduleNextTurn}) takes before it asks for a
 * `setImmediate`: a reply is often written two microtasks after the run that owed the ACK (the socket's
 * readable event, then the application's uncork), so one hop would ask for a turn the reply then gives
 * back. Each hop is one promise reaction, far cheaper than a `setImmediate` made and cleared.
 */
const NEXT_TURN_CHECK_HOPS = 4;

/**
 * A timer found this many ms past its deadline was held back (the process was not scheduled, or the
 * event loop was busy): on a free loop the host timer fires within about 1 ms (libuv's clock counts
 * whole ms). I/O that arrived meanwhile waits in the kernel; the timers then fire once it has been
 * read (see `timerDue` in the scheduler).
 */
export const LATE_TIMER_MS = 2;

/**
 * Most event-loop I/O polls the timers held for a stall wait for while the polls keep delivering (an
 * IRQ was raised since the last one): a driver reads a bounded batch per poll, so a backlog built up
 * during a stall takes a few polls to drain.
 */
export const LATE_TIMER_POLLS = 64;

/** Default per-poll budget of a bottom half (Linux NAPI's default weight). */
export const DEFAULT_BUDGET = 64;
/** Default cap on dispatches within one `runPending` before it throws `LIVELOCK`. */
export const DEFAULT_LIVELOCK_LIMIT = 1_000_000;
/** Default cap on steps in one real-clock host turn before yielding to Node's event loop. */
export const DEFAULT_STEPS_PER_TURN = 64;
/** Default virtual-time limit of {@link Scheduler.runUntilIdle}: one hour. */
export const DEFAULT_IDLE_LIMIT_MS = 3_600_000;

type Work = BottomHalf | (() => void);

/** A bottom half as this scheduler sees it: its own mark, under its own key, says whether it is queued. */
type MarkedBottomHalf = BottomHalf & { [mark: symbol]: boolean | undefined };

const rethrow = (error: unknown): void => {
  throw error;
};

/**
 * The interrupt scheduler. See the package README for the model; the contract is {@link SchedulerApi}.
 *
 * Invariants:
 * - Single-threaded: a handler, poll, tasklet or timer callback is never interrupted while it runs.
 *   Running work may raise lines, schedule, defer and arm timers; it may not start a run
 *   (`runPending`, `advance`, ...), which throws `REENTRANT`.
 * - A throwing handler never corrupts the scheduler: the exception is caught, counted in
 *   `stats.errors` and passed to `onError` (default: rethrown from the run).
 * - On a virtual clock, time moves only inside `advance`, `runUntil` and `runUntilIdle`, so a run is a
 *   pure function of the seed and the calls made.
 */
export class Scheduler implements SchedulerApi {
  /** The clock this scheduler reads (and, if virtual, moves). */
  readonly clock: Clock;
  /** The per-poll budget bottom halves get. */
  readonly budget: number;
  /** Most dispatches per run at one instant before `LIVELOCK`. */
  readonly livelockLimit: number;
  /** Real clock: most steps per host turn. */
  readonly stepsPerTurn: number;
  /** The path trace of the stack on this scheduler (off until armed; see {@link PathTrace}). */
  readonly trace: PathTrace;
  /** The wall-clock time (ms since the Unix epoch) at clock time 0: {@link wallTime} is this plus {@link now}. */
  readonly epochMs: number;

  private readonly steerable: SteerableClock | undefined;
  private readonly rng: SeededRandom;
  private readonly onError: (error: unknown, context: SchedulerErrorContext) => void;
  private readonly irqs: IrqTable;
  private readonly timers: TimerQueue;
  private readonly deferredStats: DeferredStats = { runs: 0, budgetExhaustions: 0, items: 0 };
  private readonly counters: SchedulerStats;

  /** Work queued for the next deferred round, in queuing order. */
  private queue = new WorkList<Work>();
  /** The (empty) list the next round will swap in. */
  private spare = new WorkList<Work>();
  /**
   * The key of this scheduler's mark on a bottom half: true while it is in {@link queue} (or in the
   * running round, not yet polled). A property on the bottom half itself, as NAPI keeps its state bits in
   * the driver's `napi_struct`, so scheduling and polling cost no hash lookup; the key is this
   * scheduler's own, so one bottom half on two schedulers keeps two independent marks.
   */
  private readonly queuedMark: symbol = Symbol('queued');
  /** Real clock: the time is read at most once per run (see the module documentation). */
  private readonly freezesTime: boolean;
  /** True during a run on a real clock: {@link time} reads the clock once, then returns {@link runTime}. */
  private inRealRun = false;
  /** Whether the current run checks the timers even if nothing else needed the time (host timer, `runPending`). */
  private timerRun = false;
  /**
   * The clock reading of the current real-clock run, null until the run needs the time. Null also keeps
   * the field's representation tagged: the reading is boxed once when it is stored, and every `now` of
   * the run returns that box, where a field holding only doubles is re-boxed on every read.
   */
  private runTime: Millis | null = null;
  /** Real clock: bottom halves for the first round of the next host turn ({@link scheduleNextTurn}). */
  private readonly nextTurn = new WorkList<BottomHalf>();
  /** A microtask is queued that asks for the next host turn if {@link nextTurn} still holds work then. */
  private nextTurnCheckQueued = false;
  /** Microtask hops the queued next-turn check has taken (see {@link NEXT_TURN_CHECK_HOPS}). */
  private nextTurnCheckHops = 0;
  /**
   * Work was saved for the next turn during the current run while no check was queued: the run's end
   * (every way it ends, see {@link run}) queues the check if work is still waiting then.
   */
  private nextTurnCheckAtEnd = false;

  private running = false;
  private dispatches = 0;

  /** Open {@link beginIo} calls; while above 0 a kick is owed to the outermost {@link endIo}. */
  private ioDepth = 0;
  /** Work asked for a host wake-up while an I/O callback was open: its {@link endIo} runs the turn. */
  private ioWakeOwed = false;
  /** Real clock: the one reading of the open I/O callback, null until something needed the time. */
  private ioTime: Millis | null = null;
  /** Real clock: the time the turn run by {@link endIo} starts with (that callback's reading), else null. */
  private ioRunTime: Millis | null = null;

  private started = false;
  private readonly microtaskWake: boolean;
  /** A microtask turn is queued (real clock, `hostWake: 'microtask'`). */
  private microtaskQueued = false;
  /** Microtask wakes since the event loop last ran one of our host turns (see {@link MICROTASK_STREAK_LIMIT}). */
  private microtaskStreak = 0;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private hostTimer: ReturnType<typeof setTimeout> | undefined;
  private hostDeadline = 0;
  /** The turn that fires timers held for a stall, after the event loop's I/O poll (see {@link timerDue}). */
  private lateTimerTurn: ReturnType<typeof setImmediate> | undefined;
  /** True during the run of {@link onLateTimer} that fires the held timers. */
  private firingLate = false;
  /** I/O polls the late host timer's turn has waited for so far. */
  private lateTimerPolls = 0;
  /** {@link IrqTable.pendingRaises} when the late timers' turn last looked. */
  private lateTimerRaises = 0;
  private readonly hostTurns: HostTurnStats = {
    microtask: 0,
    immediate: 0,
    timer: 0,
    timerDeferred: 0,
    immediateCancelled: 0,
  };
  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.microtaskStreak = 0;
    this.hostTurns.immediate++;
    this.takeNextTurnWork();
    this.turn(false);
  };
  /**
   * Runs after the microtasks queued before the first {@link scheduleNextTurn} of this turn (an
   * application's reply among them), and up to {@link NEXT_TURN_CHECK_HOPS} microtasks later while
   * work is still waiting: only work still waiting then costs a host turn.
   */
  private readonly onNextTurnCheck = (): void => {
    if (this.nextTurn.length > 0 && ++this.nextTurnCheckHops < NEXT_TURN_CHECK_HOPS) {
      void SETTLED.then(this.onNextTurnCheck);
      return;
    }
    this.nextTurnCheckQueued = false;
    if (this.nextTurn.length > 0) this.kickLater();
  };
  private readonly onMicrotask = (): void => {
    this.microtaskQueued = false;
    this.hostTurns.microtask++;
    this.turn(false);
  };
  private readonly onHostTimer = (): void => {
    this.hostTimer = undefined;
    this.microtaskStreak = 0;
    this.hostTurns.timer++;
    this.turn(true);
  };
  /**
   * The turn that fires timers held for a stall (see {@link timerDue}): it runs after the event loop's
   * next I/O poll, and again after the next one while the last one delivered (an IRQ was raised since)
   * and a timer is still overdue, at most {@link LATE_TIMER_POLLS} polls; then it fires every timer due.
   */
  private readonly onLateTimer = (): void => {
    const raises = this.irqs.pendingRaises;
    // The first check may come before any poll (the hold began in the poll phase, and this is the same
    // loop turn's check phase): it always waits for the next one.
    const delivered = this.lateTimerPolls === 0 || raises !== this.lateTimerRaises;
    if (delivered && this.lateTimerPolls < LATE_TIMER_POLLS && this.overdue()) {
      // The last poll delivered: the device may hold more of what arrived during the stall.
      this.lateTimerRaises = raises;
      this.lateTimerPolls++;
      this.lateTimerTurn = setImmediate(this.onLateTimer);
      return;
    }
    this.lateTimerTurn = undefined;
    this.firingLate = true;
    try {
      this.turn(true);
    } finally {
      this.firingLate = false;
    }
  };

  /**
   * @param options Clock (`'virtual'` by default), seed (default 1), `epochMs` (default the clock's), budget (default 64), `onError`,
   *   `livelockLimit`, `stepsPerTurn`. Bad values throw a `BAD_ARGUMENT` {@link SchedulerError}; a
   *   virtual {@link Clock} must have `advanceTo` (use {@link VirtualClock}).
   */
  constructor(options: SchedulerOptions = {}) {
    const clock = options.clock ?? 'virtual';
    if (clock === 'virtual') this.clock = new VirtualClock();
    else if (clock === 'real') this.clock = new RealClock();
    else this.clock = clock;
    if (this.clock.virtual && !isSteerable(this.clock)) {
      throw new SchedulerError('BAD_ARGUMENT', 'a virtual clock must have advanceTo() (use VirtualClock)');
    }
    this.steerable = isSteerable(this.clock) ? this.clock : undefined;
    this.freezesTime = !this.clock.virtual;
    this.trace = new PathTrace(() => this.clock.now());
    this.rng = new SeededRandom(options.seed ?? 1);
    this.epochMs = requireFinite('epochMs', options.epochMs ?? this.clock.epochMs ?? 0);
    this.budget = requireInteger('budget', options.budget ?? DEFAULT_BUDGET, 1);
    this.livelockLimit = requireInteger('livelockLimit', options.livelockLimit ?? DEFAULT_LIVELOCK_LIMIT, 1);
    this.stepsPerTurn = requireInteger('stepsPerTurn', options.stepsPerTurn ?? DEFAULT_STEPS_PER_TURN, 1);
    this.onError = options.onError ?? rethrow;
    const hostWake = options.hostWake ?? 'immediate';
    if (hostWake !== 'immediate' && hostWake !== 'microtask')
      throw new SchedulerError('BAD_ARGUMENT', `hostWake must be 'immediate' or 'microtask', got ${String(hostWake)}`);
    this.microtaskWake = hostWake === 'microtask';
    const now = (): Millis => this.time();
    this.irqs = new IrqTable({ now, wake: () => this.kick() });
    this.timers = new TimerQueue({ now, timersChanged: () => this.timersChanged() });
    this.counters = {
      irq: this.irqs.statsByName,
      deferred: this.deferredStats,
      timersFired: 0,
      timerHeapUpdates: 0,
      taskletsRun: 0,
      hostTurns: this.hostTurns,
      errors: 0,
    };
  }

  /**
   * The current time on the scheduler clock. On a real clock it stands still during a run, at the
   * run's one reading, taken when the run first needs the time, and likewise during an I/O callback
   * opened with {@link beginIo} (see the module documentation).
   */
  get now(): Millis {
    return this.time();
  }

  /** See {@link SchedulerApi.wallTime}: {@link epochMs} plus {@link now}. */
  wallTime(): number {
    return this.epochMs + this.time();
  }

  /** {@link now} for the scheduler's own use. */
  private time(): Millis {
    if (!this.inRealRun) {
      if (this.ioDepth === 0 || !this.freezesTime) return this.clock.now();
      let io = this.ioTime;
      if (io === null) io = this.ioTime = this.clock.now();
      return io;
    }
    let time = this.runTime;
    if (time === null) time = this.runTime = this.clock.now();
    return time;
  }

  /** Live counters (the same object every time; copy fields to keep a snapshot). */
  get stats(): SchedulerStats {
    return this.counters;
  }

  /** True when nothing can run now and no timer is armed (masked pending lines do not count). */
  get idle(): boolean {
    return this.timers.size === 0 && !this.hasRunnable();
  }

  /** True while the scheduler is attached to Node's event loop (real clock). */
  get isStarted(): boolean {
    return this.started;
  }

  /**
   * Registers an IRQ line. Lower `priority` runs first; equal priorities run in registration order
   * (line numbers grow from 0). Throws `DUPLICATE_IRQ` if `name` is registered, `BAD_ARGUMENT` for a
   * non-finite priority.
   */
  requestIrq(name: string, priority: number, handler: IrqHandler): IrqLine {
    return this.irqs.request(name, priority, handler);
  }

  /** Queues `bottomHalf` for the next deferred round; a no-op while it is queued and not yet polled. */
  schedule(bottomHalf: BottomHalf): void {
    const marked = bottomHalf as MarkedBottomHalf;
    if (marked[this.queuedMark] === true) return;
    marked[this.queuedMark] = true;
    this.queue.push(bottomHalf);
    this.kick();
  }

  /** See {@link SchedulerApi.scheduleNextTurn}. */
  scheduleNextTurn(bottomHalf: BottomHalf): void {
    if (!this.started || this.clock.virtual) {
      this.schedule(bottomHalf);
      return;
    }
    if ((bottomHalf as MarkedBottomHalf)[this.queuedMark] === true || this.nextTurn.includes(bottomHalf)) return;
    this.nextTurn.push(bottomHalf);
    // The host turn is asked for only after the microtasks queued so far ran (and a few they queued):
    // a bottom half withdrawn by then ({@link cancelNextTurn}) costs no setImmediate and no turn.
    if (this.nextTurnCheckQueued) return;
    // Inside a run the check itself waits for the run's end: work withdrawn within the run (a reply
    // written in the same run carried the ACK) then costs no promise reaction either.
    if (this.running) this.nextTurnCheckAtEnd = true;
    else this.queueNextTurnCheck();
  }

  /** Queues the microtask that asks for the next host turn if work still waits then ({@link onNextTurnCheck}). */
  private queueNextTurnCheck(): void {
    this.nextTurnCheckQueued = true;
    this.nextTurnCheckHops = 0;
    void SETTLED.then(this.onNextTurnCheck);
  }

  /** See {@link SchedulerApi.cancelNextTurn}. */
  cancelNextTurn(bottomHalf: BottomHalf): void {
    if (!this.nextTurn.remove(bottomHalf) || this.nextTurn.length > 0) return;
    // The host turn was asked for this work alone: give it back when nothing else is waiting for it.
    if (this.immediate !== undefined && this.irqs.runnable === 0 && this.queue.length === 0) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
      this.hostTurns.immediateCancelled++;
    }
  }

  /** Moves the work saved for this host turn into the deferred queue (no wake: the caller runs the turn or has stopped). */
  private takeNextTurnWork(): void {
    const work = this.nextTurn;
    if (work.length === 0) return;
    for (let i = 0; i < work.length; i++) {
      const bottomHalf = work.get(i) as MarkedBottomHalf;
      if (bottomHalf[this.queuedMark] === true) continue;
      bottomHalf[this.queuedMark] = true;
      this.queue.push(bottomHalf);
    }
    work.clear();
  }

  /** See {@link SchedulerApi.beginIo}. */
  beginIo(): void {
    this.ioDepth++;
  }

  /** See {@link SchedulerApi.endIo}. An `endIo` without an open `beginIo` does nothing. */
  endIo(): void {
    if (this.ioDepth === 0 || --this.ioDepth > 0) return;
    const time = this.ioTime;
    this.ioTime = null;
    if (!this.ioWakeOwed) return;
    this.ioWakeOwed = false;
    if (!this.microtaskWake) {
      this.kick();
      return;
    }
    if (!this.started || this.running) return;
    // The event loop is running (this is its I/O callback): no promise chain is starving it.
    this.microtaskStreak = 0;
    this.hostTurns.microtask++;
    this.ioRunTime = time;
    this.turn(false);
  }

  /** Queues the one-shot `fn` (a tasklet) for the next deferred round. Every call queues one run. */
  defer(fn: () => void): void {
    this.queue.push(fn);
    this.kick();
  }

  /**
   * Arms a timer for the absolute `deadline` (a past one fires at the next step) that calls
   * `callback` or `target.onTimer(now, timer)`. Throws `BAD_ARGUMENT` if not finite.
   */
  timerAt(deadline: Millis, callback: (() => void) | TimerTarget): Timer {
    return this.timers.create(deadline, callback);
  }

  /** Arms a timer `delay` ms from now. */
  timerAfter(delay: Millis, callback: (() => void) | TimerTarget): Timer {
    return this.timers.create(this.time() + requireFinite('timer delay', delay), callback);
  }

  /** Earliest armed timer deadline, if any. */
  nextDeadline(): Millis | undefined {
    return this.timers.nextDeadline();
  }

  /** The next seeded number in [0, 1) (sfc32, see {@link SeededRandom}). */
  random(): number {
    return this.rng.random();
  }

  /** The next seeded unsigned 32-bit integer. */
  randomUint32(): number {
    return this.rng.randomUint32();
  }

  /**
   * Runs everything runnable at the current time until idle. Does not move a virtual clock. Throws
   * `LIVELOCK` after `livelockLimit` dispatches (what was not run stays queued), `REENTRANT` when
   * called from running work, and whatever `onError` throws.
   */
  runPending(): void {
    this.run(Number.POSITIVE_INFINITY, true);
  }

  /**
   * Virtual clock only (else `WRONG_CLOCK`): runs work and timers up to `now + ms`, jumping from one
   * deadline to the next, and ends with the clock at exactly `now + ms`.
   */
  advance(ms: Millis): void {
    const clock = this.requireVirtual('advance');
    if (requireFinite('advance ms', ms) < 0) throw new SchedulerError('BAD_ARGUMENT', 'advance() needs ms >= 0');
    const target = clock.now() + ms;
    this.runPending();
    this.jumpThrough(clock, target, undefined);
    clock.advanceTo(target);
  }

  /**
   * Virtual clock only: runs the current instant, then jumps deadline to deadline, checking
   * `predicate()` each time the scheduler is idle at an instant. Returns true as soon as it holds (the
   * clock stays at that instant); otherwise ends with the clock at `now + limitMs` and returns the
   * predicate's value there.
   */
  runUntil(predicate: () => boolean, limitMs: Millis): boolean {
    const clock = this.requireVirtual('runUntil');
    if (requireFinite('runUntil limitMs', limitMs) < 0)
      throw new SchedulerError('BAD_ARGUMENT', 'runUntil() needs limitMs >= 0');
    const limit = clock.now() + limitMs;
    this.runPending();
    if (predicate()) return true;
    if (this.jumpThrough(clock, limit, predicate)) return true;
    clock.advanceTo(limit);
    return predicate();
  }

  /**
   * Virtual clock only: runs until no work and no timer remain (the clock then stays at the last
   * deadline reached) or until `limitMs` (default one hour) of virtual time has passed (the clock then
   * ends at `now + limitMs`). Check {@link idle} afterwards to tell which.
   */
  runUntilIdle(limitMs: Millis = DEFAULT_IDLE_LIMIT_MS): void {
    const clock = this.requireVirtual('runUntilIdle');
    if (requireFinite('runUntilIdle limitMs', limitMs) < 0)
      throw new SchedulerError('BAD_ARGUMENT', 'runUntilIdle() needs limitMs >= 0');
    const limit = clock.now() + limitMs;
    this.runPending();
    this.jumpThrough(clock, limit, undefined);
    if (this.timers.size > 0) clock.advanceTo(limit);
  }

  /**
   * Real clock only (else `WRONG_CLOCK`): attaches to Node's event loop. From then on raises,
   * `schedule` and `defer` trigger one coalesced `setImmediate` turn, and one host `setTimeout` tracks
   * the earliest deadline. An armed timer keeps the Node process alive, as Node's own timers do.
   * Idempotent.
   */
  start(): void {
    this.requireReal('start');
    if (this.started) return;
    this.started = true;
    this.syncHostTimer();
    if (this.hasRunnable()) this.kick();
  }

  /**
   * Detaches from the event loop; queued work and armed timers stay. Idempotent, and a no-op on a
   * virtual clock (nothing is attached there), so teardown code can call it on any scheduler.
   */
  stop(): void {
    this.started = false;
    this.takeNextTurnWork();
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    if (this.hostTimer !== undefined) clearTimeout(this.hostTimer);
    if (this.lateTimerTurn !== undefined) clearImmediate(this.lateTimerTurn);
    this.immediate = undefined;
    this.hostTimer = undefined;
    this.lateTimerTurn = undefined;
  }

  // ---- running -------------------------------------------------------------------------------

  private hasRunnable(): boolean {
    return this.irqs.runnable > 0 || this.queue.length > 0 || this.timerDue();
  }

  /**
   * Whether the earliest timer is due. On a real clock, in a run that is not a timer run, false
   * without reading the clock when the run has not read it: the timers are left to a run that knows
   * the time.
   *
   * Stalls: Node runs its timers before it polls for I/O, and a run woken by the first frame read
   * after a stall would fire the timers before the frames queued behind it are read; either way a
   * TCP retransmission timer fires before the ACK already waiting on the device is handled (a
   * spurious retransmission). So on a started real clock, a timer {@link LATE_TIMER_MS} or more past
   * its deadline (the host timer fires within about 1 ms on a free loop: the host was stalled) is not
   * fired by the run that finds it: every timer is held, runs report none due, and {@link onLateTimer}
   * fires them once the I/O that arrived meanwhile has been read.
   */
  private timerDue(): boolean {
    // The deadline is read here from the timer, not returned by a call: a double returned from a
    // call that is not inlined is a fresh heap number, and this runs up to twice per step.
    const first = this.timers.peek();
    if (first === undefined) return false;
    const next = first.deadlineAt;
    if (!this.inRealRun) return next <= this.time();
    if (this.lateTimerTurn !== undefined) return false; // held for the late timers' turn
    if (this.runTime === null && !this.timerRun) return false;
    const now = this.time();
    if (next > now) return false;
    if (now - next < LATE_TIMER_MS || this.firingLate || !this.started) return true;
    this.hostTurns.timerDeferred++;
    this.lateTimerPolls = 0;
    this.lateTimerRaises = this.irqs.pendingRaises;
    this.lateTimerTurn = setImmediate(this.onLateTimer);
    return false;
  }

  /** Whether a timer is {@link LATE_TIMER_MS} or more past its deadline (a fresh reading of the clock). */
  private overdue(): boolean {
    const first = this.timers.peek();
    return first !== undefined && this.clock.now() - first.deadlineAt >= LATE_TIMER_MS;
  }

  /**
   * Runs up to `maxSteps` steps while anything is runnable. `timerRun`: check the timers even if
   * nothing else needs the time (a real clock is then read at the first check).
   */
  private run(maxSteps: number, timerRun: boolean): void {
    if (this.running) {
      throw new SchedulerError('REENTRANT', 'a scheduler run was started from work the scheduler is running');
    }
    this.running = true;
    this.dispatches = 0;
    const ioTime = this.ioRunTime;
    this.ioRunTime = null;
    if (this.freezesTime) {
      this.inRealRun = true;
      this.runTime = ioTime;
      this.timerRun = timerRun;
    }
    try {
      for (let step = 0; step < maxSteps && this.hasRunnable(); step++) {
        const before = this.dispatches;
        this.serviceIrqs();
        this.deferredRound();
        this.fireDueTimers();
        if (this.dispatches === before) {
          // Cannot happen while the bookkeeping is right; never spin silently if it is not.
          throw new SchedulerError('LIVELOCK', 'runnable work was reported but nothing could be dispatched');
        }
      }
    } finally {
      this.running = false;
      this.inRealRun = false;
      // However the run ended (idle, step limit, LIVELOCK, an exception from onError), work saved for
      // the next turn during it gets its check: nothing waits for a turn nobody asks for.
      if (this.nextTurnCheckAtEnd) {
        this.nextTurnCheckAtEnd = false;
        if (this.nextTurn.length > 0 && !this.nextTurnCheckQueued) this.queueNextTurnCheck();
      }
    }
  }

  /** Jumps a virtual clock from deadline to deadline up to `limit`, running each instant. True if `predicate` held. */
  private jumpThrough(clock: SteerableClock, limit: Millis, predicate: (() => boolean) | undefined): boolean {
    for (;;) {
      const next = this.timers.nextDeadline();
      if (next === undefined || next > limit) return false;
      if (next > clock.now()) clock.advanceTo(next);
      this.runPending();
      if (predicate !== undefined && predicate()) return true;
    }
  }

  private countDispatch(kind: WorkKind, name: string): void {
    if (++this.dispatches > this.livelockLimit) {
      throw new SchedulerError(
        'LIVELOCK',
        `more than ${this.livelockLimit} dispatches at t=${this.time()} ms without becoming idle ` +
          `(next: ${kind} '${name}'); a handler that re-raises its own line, a bottom half that always ` +
          'exhausts its budget, or a timer re-arming itself at the current time?',
      );
    }
  }

  /** Yield point: runs every pending unmasked IRQ, highest priority first, re-choosing after each. */
  private serviceIrqs(): void {
    let line: Line | undefined;
    while ((line = this.irqs.highestRunnable()) !== undefined) {
      this.countDispatch('irq', line.name);
      line.acknowledge();
      const start = this.time();
      const stats = line.stats;
      const latency = start > line.raisedAt ? start - line.raisedAt : 0;
      stats.latencyTotalMs += latency;
      if (latency > stats.latencyMaxMs) stats.latencyMaxMs = latency;
      let failed = false;
      let failure: unknown;
      try {
        line.handler(line);
      } catch (error) {
        failed = true;
        failure = error;
      }
      const end = this.time();
      const took = end > start ? end - start : 0;
      stats.handled++;
      stats.handlerTimeMs += took;
      if (took > stats.handlerMaxMs) stats.handlerMaxMs = took;
      if (failed) this.report(failure, 'irq', line.name);
    }
  }

  /** One deferred round over the work queued before it began; each item is followed by a yield point. */
  private deferredRound(): void {
    const round = this.queue;
    const size = round.length;
    if (size === 0) return;
    this.queue = this.spare;
    this.spare = round;
    let next = 0;
    try {
      while (next < size) {
        const work = round.get(next);
        if (typeof work === 'function') {
          this.countDispatch('tasklet', work.name);
          next++;
          this.runTasklet(work);
        } else {
          this.countDispatch('bottom-half', work.name);
          next++;
          this.pollBottomHalf(work);
        }
        this.serviceIrqs();
      }
    } finally {
      if (next < size) {
        // Aborted (LIVELOCK or onError threw): what did not run goes first in the next round.
        const queued = this.queue;
        const rest = new WorkList<Work>();
        for (let i = next; i < size; i++) rest.push(round.get(i));
        for (let i = 0; i < queued.length; i++) rest.push(queued.get(i));
        queued.clear();
        this.queue = rest;
        this.spare = queued;
      }
      round.clear();
    }
  }

  private runTasklet(fn: () => void): void {
    this.counters.taskletsRun++;
    try {
      fn();
    } catch (error) {
      this.report(error, 'tasklet', fn.name);
    }
  }

  private pollBottomHalf(bottomHalf: BottomHalf): void {
    (bottomHalf as MarkedBottomHalf)[this.queuedMark] = false;
    const budget = this.budget;
    const stats = this.deferredStats;
    stats.runs++;
    let done: number;
    try {
      done = bottomHalf.poll(budget);
    } catch (error) {
      // Not re-queued: the next raise of its line schedules it again.
      this.report(error, 'bottom-half', bottomHalf.name);
      return;
    }
    if (!(done > 0)) done = 0; // NaN, negative or non-number counts as nothing done
    if (done >= budget) {
      stats.items += budget;
      stats.budgetExhaustions++;
      this.schedule(bottomHalf);
    } else {
      stats.items += Math.floor(done);
    }
  }

  /** Fires timers due now that were armed before this phase, in (deadline, arming order); yield point after each. */
  private fireDueTimers(): void {
    if (!this.timerDue()) return;
    const now = this.time();
    const seqLimit = this.timers.sequence;
    for (;;) {
      const first = this.timers.peek();
      if (first === undefined || first.deadlineAt > now || first.deadlineSeq >= seqLimit) return;
      this.countDispatch('timer', first.name);
      const timer = this.timers.popDue(now, seqLimit)!;
      this.counters.timersFired++;
      try {
        timer.fire(now);
      } catch (error) {
        this.report(error, 'timer', timer.name);
      }
      this.serviceIrqs();
    }
  }

  private report(error: unknown, kind: WorkKind, name: string): void {
    this.counters.errors++;
    this.onError(error, { kind, name });
  }

  // ---- clocks and the host event loop -----------------------------------------------------------

  private requireVirtual(operation: string): SteerableClock {
    if (this.steerable === undefined) {
      throw new SchedulerError(
        'WRONG_CLOCK',
        `${operation}() needs a virtual clock; this scheduler runs on a real one`,
      );
    }
    return this.steerable;
  }

  private requireReal(operation: string): void {
    if (this.clock.virtual) {
      throw new SchedulerError(
        'WRONG_CLOCK',
        `${operation}() needs a real clock; drive a virtual one with advance()/runUntil()`,
      );
    }
  }

  /** Real clock: asks for one host turn (coalesced) when new work appears outside a run. */
  private kick(): void {
    if (!this.started || this.running) return;
    if (this.ioDepth > 0) {
      this.ioWakeOwed = true;
      return;
    }
    if (this.microtaskWake && this.microtaskStreak < MICROTASK_STREAK_LIMIT) {
      if (this.microtaskQueued) return;
      this.microtaskQueued = true;
      this.microtaskStreak++;
      // A reaction on a settled promise: about a third of queueMicrotask's cost per wake (no async resource is made for it).
      void SETTLED.then(this.onMicrotask);
      return;
    }
    if (this.immediate === undefined) this.immediate = setImmediate(this.onImmediate);
  }

  /** Real clock: a turn that left work behind (or work for the next turn) continues after the event loop had its say. */
  private kickLater(): void {
    if (!this.started || this.immediate !== undefined) return;
    this.immediate = setImmediate(this.onImmediate);
  }

  private timersChanged(): void {
    this.counters.timerHeapUpdates++;
    if (this.started && !this.running) this.syncHostTimer();
  }

  /**
   * Keeps one host timer at or before the earliest deadline. A host timer that would fire too early
   * (the earliest timer was cancelled or pushed back) is left alone: its turn finds nothing due and
   * re-arms, which is cheaper than clearTimeout/setTimeout on every TCP timer reset.
   */
  private syncHostTimer(): void {
    // A late host timer's turn is waiting for the poll phase to pass: it runs the timers, then re-arms.
    if (this.lateTimerTurn !== undefined) return;
    const first = this.timers.peek(); // its deadline read here: no heap number per turn (see timerDue)
    if (first === undefined) {
      if (this.hostTimer !== undefined) clearTimeout(this.hostTimer);
      this.hostTimer = undefined;
      return;
    }
    const next = first.deadlineAt;
    if (this.hostTimer !== undefined && this.hostDeadline <= next) return;
    if (this.hostTimer !== undefined) clearTimeout(this.hostTimer);
    this.hostDeadline = next;
    // A fresh reading, not the run's: the host delay is measured from the moment it is armed.
    this.hostTimer = setTimeout(this.onHostTimer, Math.max(0, Math.ceil(next - this.clock.now())));
  }

  /**
   * One host turn on the real clock: a bounded run, then re-arm the host timer and, if work remains,
   * yield and come back. `timerRun`: the host timer's turn, which checks the timers in any case.
   */
  private turn(timerRun: boolean): void {
    if (!this.started || this.running) return;
    try {
      this.run(this.stepsPerTurn, timerRun);
    } catch (error) {
      if (!(error instanceof SchedulerError && error.code === 'LIVELOCK')) throw error;
      this.report(error, 'scheduler', 'run');
    } finally {
      if (this.started) {
        // Due timers left over are the host timer's (armed here for the earliest deadline), so
        // deciding whether to come back needs no clock.
        this.syncHostTimer();
        if (this.irqs.runnable > 0 || this.queue.length > 0) this.kickLater();
      }
    }
  }
}
