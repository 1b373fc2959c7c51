/**
 * {@link withOwnRandom}: a view of a scheduler that shares its clock, IRQs, deferred work and timers
 * but draws random numbers from a generator of its own. The fault injector takes its fates from
 * `scheduler.random()`; giving it this view makes the fates a function of the seed and of the frames
 * that crossed it only, whatever else (TCP, ARP, the gateway sharing the scheduler) draws numbers.
 */
import { SeededRandom } from '@postern/irq';
import type { BottomHalf, Clock, IrqHandler, IrqLine, Millis, SchedulerApi, SchedulerStats, Timer } from '@postern/irq';

class OwnRandomScheduler implements SchedulerApi {
  private readonly rng: SeededRandom;
  constructor(
    private readonly inner: SchedulerApi,
    seed: number,
  ) {
    this.rng = new SeededRandom(seed);
  }
  get clock(): Clock {
    return this.inner.clock;
  }
  get now(): Millis {
    return this.inner.now;
  }
  wallTime(): number {
    return this.inner.wallTime();
  }
  get idle(): boolean {
    return this.inner.idle;
  }
  get stats(): SchedulerStats {
    return this.inner.stats;
  }
  requestIrq(name: string, priority: number, handler: IrqHandler): IrqLine {
    return this.inner.requestIrq(name, priority, handler);
  }
  schedule(bottomHalf: BottomHalf): void {
    this.inner.schedule(bottomHalf);
  }
  defer(fn: () => void): void {
    this.inner.defer(fn);
  }
  timerAt(deadline: Millis, callback: () => void): Timer {
    return this.inner.timerAt(deadline, callback);
  }
  timerAfter(delay: Millis, callback: () => void): Timer {
    return this.inner.timerAfter(delay, callback);
  }
  random(): number {
    return this.rng.random();
  }
  randomUint32(): number {
    return this.rng.randomUint32();
  }
  runPending(): void {
    this.inner.runPending();
  }
  advance(ms: Millis): void {
    this.inner.advance(ms);
  }
  runUntil(predicate: () => boolean, limitMs: Millis): boolean {
    return this.inner.runUntil(predicate, limitMs);
  }
  runUntilIdle(limitMs?: Millis): void {
    this.inner.runUntilIdle(limitMs);
  }
  start(): void {
    this.inner.start();
  }
  stop(): void {
    this.inner.stop();
  }
  nextDeadline(): Millis | undefined {
    return this.inner.nextDeadline();
  }
}

/** Returns a view of `scheduler` whose `random()`/`randomUint32()` come from a generator seeded with `seed`; everything else is the scheduler's. */
export function withOwnRandom(scheduler: SchedulerApi, seed: number): SchedulerApi {
  return new OwnRandomScheduler(scheduler, seed);
}
