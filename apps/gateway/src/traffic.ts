/**
 * {@link TrafficHistory}: frames per second received and sent over all interfaces, sampled once a
 * second on the scheduler's clock and kept for a bounded window, for the admin UI's chart.
 */
import type { SchedulerApi, Timer } from '@postern/irq';

/** One sample: the rates over the second that ended at `t`. */
export interface TrafficSample {
  /** Scheduler time at the end of the interval, ms. */
  readonly t: number;
  /** Frames received per second over the interval. */
  readonly rxFps: number;
  /** Frames sent per second over the interval. */
  readonly txFps: number;
  /** Bytes received per second. */
  readonly rxBps: number;
  /** Bytes sent per second. */
  readonly txBps: number;
}

/** Running totals the history differentiates. */
export interface TrafficTotals {
  /** Frames received so far. */
  rxFrames: number;
  /** Frames sent so far. */
  txFrames: number;
  /** Bytes received so far. */
  rxBytes: number;
  /** Bytes sent so far. */
  txBytes: number;
}

/** Default number of samples kept (two minutes at one a second). */
export const TRAFFIC_HISTORY_LENGTH = 120;
/** Sampling interval, ms. */
export const TRAFFIC_INTERVAL_MS = 1000;

/**
 * Samples `read()` every {@link TRAFFIC_INTERVAL_MS} on `scheduler` and keeps the last `capacity`
 * rates. Totals that go backwards (a device re-created) count as a zero rate, never negative.
 */
export class TrafficHistory {
  private readonly samples: TrafficSample[] = [];
  private last: TrafficTotals;
  private lastAt: number;
  private timer: Timer | undefined;

  constructor(
    private readonly scheduler: SchedulerApi,
    private readonly read: () => TrafficTotals,
    private readonly capacity = TRAFFIC_HISTORY_LENGTH,
  ) {
    this.last = { ...read() };
    this.lastAt = scheduler.now;
  }

  /** Starts sampling (idempotent). */
  start(): void {
    if (this.timer !== undefined) return;
    const tick = (): void => {
      this.sample();
      this.timer = this.scheduler.timerAfter(TRAFFIC_INTERVAL_MS, tick);
    };
    this.timer = this.scheduler.timerAfter(TRAFFIC_INTERVAL_MS, tick);
  }

  /** Stops sampling; the samples stay. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Takes one sample now (the sampler calls this; tests may too). */
  sample(): void {
    const now = this.scheduler.now;
    const cur = this.read();
    const dt = (now - this.lastAt) / 1000;
    if (dt <= 0) return;
    const rate = (a: number, b: number): number => Math.max(0, Math.round((a - b) / dt));
    this.samples.push({
      t: now,
      rxFps: rate(cur.rxFrames, this.last.rxFrames),
      txFps: rate(cur.txFrames, this.last.txFrames),
      rxBps: rate(cur.rxBytes, this.last.rxBytes),
      txBps: rate(cur.txBytes, this.last.txBytes),
    });
    if (this.samples.length > this.capacity) this.samples.shift();
    this.last = { ...cur };
    this.lastAt = now;
  }

  /** The samples, oldest first (a copy). */
  list(): TrafficSample[] {
    return [...this.samples];
  }
}
