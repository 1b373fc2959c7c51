/**
 * A bounded FIFO that hands frames on after a fixed latency and, optionally, after the time it takes
 * to serialize them at a line rate: the model of a cable (in-memory link) and of a slow or distant
 * link (fault injection). Used by {@link createMemoryLink} and {@link FaultInjectionDriver}.
 *
 * Contract:
 * - Frames come out in the order they went in (due times never decrease: the latency is fixed and a
 *   frame starts serializing only after the one before it has finished).
 * - Delivery happens from the scheduler (one deferred callback when nothing delays, else one timer
 *   that is re-armed for the head of the queue), never from inside {@link DelayLine.push}.
 * - At most `capacity` frames wait; {@link DelayLine.push} refuses the next one.
 * - No allocation per frame: frames and due times sit in two rings.
 */
import { Ring } from '@postern/irq';
import type { SchedulerApi, Timer } from '@postern/irq';

/** Bytes an Ethernet frame occupies on the medium besides itself: 7 preamble, 1 SFD, 12 inter-frame gap. */
export const ETHERNET_WIRE_OVERHEAD = 20;

/** Options for a {@link DelayLine}. */
export interface DelayLineOptions {
  /** Fixed one-way latency in ms (propagation). Default 0. */
  latencyMs?: number;
  /** Line rate in bits per second; frames are serialized one after another. Default: unlimited. */
  bitsPerSecond?: number;
  /** Most frames waiting at once. */
  capacity: number;
}

/**
 * A fixed-latency, optionally rate-limited FIFO of frames driven by a scheduler.
 * @internal Building block of the in-memory link and the fault injector; not part of the package API.
 */
export class DelayLine {
  private readonly frames: Ring<Uint8Array>;
  private readonly due: Ring<number>;
  private readonly latencyMs: number;
  private readonly msPerByte: number;
  /** When the medium finishes serializing the last queued frame. */
  private busyUntil = 0;
  private timer: Timer | undefined;
  private drainQueued = false;
  private readonly drainFn = (): void => this.drain();

  /**
   * @param scheduler the clock and the context deliveries run in.
   * @param deliver called once per frame, in order, from the scheduler.
   */
  constructor(
    private readonly scheduler: SchedulerApi,
    options: DelayLineOptions,
    private readonly deliver: (frame: Uint8Array) => void,
  ) {
    const latency = options.latencyMs ?? 0;
    if (!(latency >= 0) || !Number.isFinite(latency))
      throw new RangeError(`latencyMs must be a finite number >= 0, got ${latency}`);
    const rate = options.bitsPerSecond;
    if (rate !== undefined && !(rate > 0)) throw new RangeError(`bitsPerSecond must be > 0, got ${rate}`);
    if (!Number.isInteger(options.capacity) || options.capacity < 1)
      throw new RangeError(`capacity must be an integer >= 1, got ${options.capacity}`);
    this.latencyMs = latency;
    this.msPerByte = rate === undefined ? 0 : 8000 / rate;
    this.frames = new Ring<Uint8Array>(options.capacity);
    this.due = new Ring<number>(options.capacity);
  }

  /** Frames waiting. */
  get length(): number {
    return this.frames.length;
  }

  /** True when `capacity` frames are waiting: the next {@link DelayLine.push} is refused. */
  get full(): boolean {
    return this.frames.length >= this.frames.capacity;
  }

  /** True when nothing delays frames (no latency, no rate limit): delivery is one deferred round away. */
  get immediate(): boolean {
    return this.latencyMs === 0 && this.msPerByte === 0;
  }

  /** Queues `frame`; returns false (and keeps nothing) when `capacity` frames are already waiting. */
  push(frame: Uint8Array): boolean {
    if (this.frames.length >= this.frames.capacity) return false;
    const now = this.scheduler.now;
    let leaves = now;
    if (this.msPerByte > 0) {
      const start = Math.max(now, this.busyUntil);
      leaves = start + (frame.length + ETHERNET_WIRE_OVERHEAD) * this.msPerByte;
      this.busyUntil = leaves;
    }
    const due = leaves + this.latencyMs;
    this.frames.push(frame);
    this.due.push(due);
    if (this.frames.length === 1) this.arm(due);
    return true;
  }

  /** Drops every waiting frame and disarms; returns how many were dropped. */
  clear(): number {
    const n = this.frames.length;
    this.frames.clear();
    this.due.clear();
    this.timer?.cancel();
    this.busyUntil = 0;
    return n;
  }

  private arm(due: number): void {
    if (due <= this.scheduler.now) {
      if (!this.drainQueued) {
        this.drainQueued = true;
        this.scheduler.defer(this.drainFn);
      }
    } else if (this.timer === undefined) {
      this.timer = this.scheduler.timerAt(due, this.drainFn);
    } else {
      this.timer.reset(due);
    }
  }

  private drain(): void {
    this.drainQueued = false;
    const now = this.scheduler.now;
    for (;;) {
      const due = this.due.peek();
      if (due === undefined) return;
      if (due > now) {
        this.arm(due);
        return;
      }
      this.due.shift();
      this.deliver(this.frames.shift()!);
    }
  }
}
