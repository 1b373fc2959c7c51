/**
 * @packageDocumentation
 * The interrupt scheduler: IRQ lines, priorities, masking, deferred (bottom-half) work with a budget,
 * timers on one structure (its {@link DeadlineHeap} reusable for deadlines of your own, its timers
 * calling a closure or a {@link TimerTarget}'s method), a real clock and a virtual clock (each with a wall-clock origin, see
 * {@link Scheduler.wallTime}), and {@link hostSeed}, the seed from OS entropy. See {@link Scheduler}.
 */
export type * from './api.js';
export {
  Scheduler,
  DEFAULT_BUDGET,
  DEFAULT_LIVELOCK_LIMIT,
  DEFAULT_STEPS_PER_TURN,
  DEFAULT_IDLE_LIMIT_MS,
  LATE_TIMER_MS,
  LATE_TIMER_POLLS,
} from './scheduler.js';
export { VirtualClock, RealClock } from './clock.js';
export { DeadlineHeap, type DeadlineEntry } from './timer-queue.js';
export { Ring } from './ring.js';
export { SeededRandom } from './random.js';
export { hostSeed } from './entropy.js';
export { SchedulerError, type SchedulerErrorCode } from './errors.js';
export { PathTrace, MAX_TRACE_MARKS, type TraceCapture, type TraceLayer, type TraceMark } from './trace.js';
