/**
 * {@link FaultInjectionDriver}: a driver that wraps another and makes its link lossy, slow or
 * unreliable, in either or both directions (smoltcp's `FaultInjector` plays the same part).
 *
 * Each frame entering a direction meets its fate in this order, each step drawing from the
 * scheduler's seeded generator only when that fault is enabled (so the same seed and the same traffic
 * give the same fates):
 * 1. loss (`lossRate`): the frame vanishes;
 * 2. corruption (`corruptRate`): a copy with `corruptBits` distinct bits flipped goes on instead, FCS
 *    untouched, so the FCS check of {@link NetDevice} catches it;
 * 3. duplication (`duplicateRate`): a copy follows the frame;
 * 4. reordering (`reorderRate`): the frame is held back and released right after the next frame of
 *    the same direction, or after `reorderHoldMs` if none comes;
 * 5. latency and rate limit (`latencyMs`, `bitsPerSecond`): a bounded FIFO (`queueCapacity`) that
 *    delivers through the scheduler; without them frames go on synchronously.
 * A link flap (`linkFlap`, or {@link FaultInjectionDriver.setLinkDown}) takes the reported link down:
 * transmit is refused, frames arriving or leaving the queues meanwhile are lost.
 */
import type { SchedulerApi, Timer } from '@postern/irq';
import type { MacAddress } from '@postern/wire';
import { DelayLine } from './delay-line.js';
import { NicError, newDriverStats } from './driver.js';
import type { DriverStats, FcsMode, LinkState, NicDriver, ReceiveFilter } from './driver.js';
import { admitTransmit } from './transmit-admission.js';

/** Default bound on frames delayed per direction. */
export const FAULT_DEFAULT_QUEUE = 1024;
/** Default longest time a reordered frame waits for the next frame, in ms. */
export const FAULT_DEFAULT_REORDER_HOLD_MS = 1;

/** The faults of one direction. Rates are probabilities in [0, 1]; every field defaults to "no fault". */
export interface FaultProfile {
  /** Probability that a frame is lost. */
  lossRate?: number;
  /** Probability that a frame is corrupted (bits flipped; the FCS then fails). */
  corruptRate?: number;
  /** Bits flipped in a corrupted frame, at distinct random positions. Default 1. */
  corruptBits?: number;
  /** Probability that a frame is delivered twice. */
  duplicateRate?: number;
  /** Probability that a frame is held back behind the next one. */
  reorderRate?: number;
  /** Longest wait of a held frame, in ms. Default {@link FAULT_DEFAULT_REORDER_HOLD_MS}. */
  reorderHoldMs?: number;
  /** Added one-way latency in ms. */
  latencyMs?: number;
  /** Rate limit in bits per second (serialization, frames queue behind each other). */
  bitsPerSecond?: number;
  /** Frames that may wait in the latency / rate-limit queue. Default {@link FAULT_DEFAULT_QUEUE}. */
  queueCapacity?: number;
}

/** Periodic link flap: up for `upMs`, down for `downMs`, repeating from `open`. */
export interface LinkFlapSchedule {
  /** Time the link stays up, ms (> 0). */
  upMs: number;
  /** Time the link stays down, ms (> 0). */
  downMs: number;
}

/**
 * Options of a {@link FaultInjectionDriver}: a profile for both directions, with `tx` and `rx`
 * overriding fields per direction (`tx`: frames this driver transmits; `rx`: frames it receives).
 */
export interface FaultInjectionOptions extends FaultProfile {
  /** Overrides for the transmit direction. */
  tx?: FaultProfile;
  /** Overrides for the receive direction. */
  rx?: FaultProfile;
  /** Periodic link flap. Default none. */
  linkFlap?: LinkFlapSchedule;
  /** Name of the wrapper. Default `fault:<inner name>`. */
  name?: string;
}

/** What happened to the frames of one direction. */
export interface FaultCounters {
  /** Frames that entered this direction. */
  frames: number;
  /** Frames lost by `lossRate`. */
  lost: number;
  /** Frames corrupted. */
  corrupted: number;
  /** Extra copies sent. */
  duplicated: number;
  /** Frames held back behind a later one. */
  reordered: number;
  /** Frames dropped because the latency / rate-limit queue was full. */
  droppedQueueFull: number;
  /** Frames lost because the (flapped) link was down when they arrived or left the queue. */
  droppedLinkDown: number;
}

/** Counters of a {@link FaultInjectionDriver}. */
export interface FaultStats {
  /** Frames this driver transmits. */
  readonly tx: FaultCounters;
  /** Frames this driver receives. */
  readonly rx: FaultCounters;
  /** Times the flap (periodic or {@link FaultInjectionDriver.setLinkDown}) took the link down. */
  linkFlaps: number;
}

function newFaultCounters(): FaultCounters {
  return { frames: 0, lost: 0, corrupted: 0, duplicated: 0, reordered: 0, droppedQueueFull: 0, droppedLinkDown: 0 };
}

function checkRate(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  return v;
}

/** One direction's fault pipeline. */
class FaultPipe {
  private readonly lossRate: number;
  private readonly corruptRate: number;
  private readonly corruptBits: number;
  private readonly duplicateRate: number;
  private readonly reorderRate: number;
  private readonly reorderHoldMs: number;
  private readonly line: DelayLine;
  private held: Uint8Array | undefined;
  private holdTimer: Timer | undefined;
  private readonly releaseFn = (): void => this.releaseHeld();

  constructor(
    private readonly scheduler: SchedulerApi,
    profile: FaultProfile,
    private readonly counters: FaultCounters,
    private readonly output: (frame: Uint8Array) => void,
  ) {
    this.lossRate = checkRate('lossRate', profile.lossRate);
    this.corruptRate = checkRate('corruptRate', profile.corruptRate);
    this.duplicateRate = checkRate('duplicateRate', profile.duplicateRate);
    this.reorderRate = checkRate('reorderRate', profile.reorderRate);
    this.corruptBits = profile.corruptBits ?? 1;
    if (!Number.isInteger(this.corruptBits) || this.corruptBits < 1)
      throw new RangeError(`corruptBits must be an integer >= 1, got ${this.corruptBits}`);
    this.reorderHoldMs = profile.reorderHoldMs ?? FAULT_DEFAULT_REORDER_HOLD_MS;
    if (!(this.reorderHoldMs >= 0)) throw new RangeError(`reorderHoldMs must be >= 0, got ${this.reorderHoldMs}`);
    this.line = new DelayLine(
      scheduler,
      {
        latencyMs: profile.latencyMs,
        bitsPerSecond: profile.bitsPerSecond,
        capacity: profile.queueCapacity ?? FAULT_DEFAULT_QUEUE,
      },
      output,
    );
  }

  /** Takes one frame through the faults. Returns false only when the delay queue is full (nothing else happened to it). */
  push(frame: Uint8Array): boolean {
    const c = this.counters;
    const random = this.scheduler;
    if (!this.line.immediate && this.line.full) {
      c.droppedQueueFull++;
      return false;
    }
    c.frames++;
    if (this.lossRate > 0 && random.random() < this.lossRate) {
      c.lost++;
      return true;
    }
    let out = frame;
    if (this.corruptRate > 0 && random.random() < this.corruptRate) {
      out = this.corrupt(frame);
      c.corrupted++;
    }
    const duplicate = this.duplicateRate > 0 && random.random() < this.duplicateRate;
    const reorder = this.reorderRate > 0 && random.random() < this.reorderRate;
    if (reorder && this.held === undefined) {
      c.reordered++;
      this.held = out;
      if (this.holdTimer === undefined) this.holdTimer = this.scheduler.timerAfter(this.reorderHoldMs, this.releaseFn);
      else this.holdTimer.reset(this.scheduler.now + this.reorderHoldMs);
      if (duplicate) {
        c.duplicated++;
        this.emit(new Uint8Array(out));
      }
      return true;
    }
    const copy = duplicate ? new Uint8Array(out) : undefined;
    this.emit(out);
    if (copy !== undefined) {
      c.duplicated++;
      this.emit(copy);
    }
    this.releaseHeld();
    return true;
  }

  /** Drops held and queued frames (link down, close); counts them as lost to the link. */
  clear(): void {
    this.holdTimer?.cancel();
    if (this.held !== undefined) {
      this.held = undefined;
      this.counters.droppedLinkDown++;
    }
    this.counters.droppedLinkDown += this.line.clear();
  }

  private releaseHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    this.holdTimer?.cancel();
    this.emit(held);
  }

  private emit(frame: Uint8Array): void {
    if (this.line.immediate) {
      this.output(frame);
    } else if (!this.line.push(frame)) {
      this.counters.droppedQueueFull++;
    }
  }

  private corrupt(frame: Uint8Array): Uint8Array {
    const copy = new Uint8Array(frame);
    const bits = copy.length * 8;
    const n = Math.min(this.corruptBits, bits);
    const flipped: number[] = [];
    while (flipped.length < n) {
      const bit = Math.floor(this.scheduler.random() * bits);
      if (flipped.includes(bit)) continue;
      flipped.push(bit);
      copy[bit >>> 3]! ^= 1 << (bit & 7);
    }
    return copy;
  }
}

/**
 * A driver wrapping `inner` with seeded faults (see the module documentation). It keeps its own
 * {@link DriverStats} for the frames crossing it (`txFrames`: accepted by this wrapper; `rxFrames`:
 * handed up after the faults; `errors`: frames the inner driver refused after the faults) and
 * {@link FaultStats} for what the faults did. The inner driver's counters stay on `inner.stats`. The
 * wrapper takes over `inner`'s receiver and link listener.
 */
export class FaultInjectionDriver implements NicDriver {
  /** @inheritDoc */
  readonly name: string;
  /** @inheritDoc */
  readonly stats: DriverStats = newDriverStats();
  /** What the faults did, per direction. */
  readonly faults: FaultStats = { tx: newFaultCounters(), rx: newFaultCounters(), linkFlaps: 0 };
  private readonly txPipe: FaultPipe;
  private readonly rxPipe: FaultPipe;
  private readonly flap: LinkFlapSchedule | undefined;
  private flapTimer: Timer | undefined;
  private opened = false;
  private forcedDown = false;
  private state: LinkState = 'down';
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private linkListener: ((state: LinkState) => void) | undefined;

  constructor(
    /** The wrapped driver. */
    readonly inner: NicDriver,
    private readonly scheduler: SchedulerApi,
    options: FaultInjectionOptions = {},
  ) {
    this.name = options.name ?? `fault:${inner.name}`;
    const { tx, rx, linkFlap, name: _name, ...both } = options;
    this.txPipe = new FaultPipe(scheduler, { ...both, ...tx }, this.faults.tx, (frame) => this.sendOut(frame));
    this.rxPipe = new FaultPipe(scheduler, { ...both, ...rx }, this.faults.rx, (frame) => this.handUp(frame));
    if (linkFlap !== undefined && !(linkFlap.upMs > 0 && linkFlap.downMs > 0)) {
      throw new NicError('BAD_ARGUMENT', this.name, `linkFlap needs upMs > 0 and downMs > 0`);
    }
    this.flap = linkFlap;
    inner.onReceive((frame) => {
      if (this.state !== 'up') {
        this.faults.rx.droppedLinkDown++;
        return;
      }
      this.rxPipe.push(frame);
    });
    inner.onLinkChange(() => this.updateLink());
  }

  /** @inheritDoc */
  get mac(): MacAddress {
    return this.inner.mac;
  }

  /** @inheritDoc */
  get mtu(): number {
    return this.inner.mtu;
  }

  /** The inner driver's FCS mode: corruption on a medium without FCS is caught by the IP and transport checksums. */
  get fcs(): FcsMode {
    return this.inner.fcs ?? 'wire';
  }

  /** Up when the wrapper is open, the inner link is up and no flap holds it down. */
  get linkState(): LinkState {
    return this.state;
  }

  /** Opens the inner driver and starts the periodic flap, if any. */
  async open(): Promise<void> {
    if (this.opened) return;
    await this.inner.open();
    this.opened = true;
    if (this.flap !== undefined) {
      this.forcedDown = false;
      this.armFlap(this.flap.upMs, true);
    }
    this.updateLink();
  }

  /** Stops the flap, drops delayed frames and closes the inner driver. Idempotent. */
  async close(): Promise<void> {
    if (this.opened) {
      this.opened = false;
      this.flapTimer?.cancel();
      this.updateLink();
    }
    await this.inner.close();
  }

  /**
   * Takes `frame` through the transmit faults. Refused and counted when the link is down or the
   * wrapper closed (`txDroppedLinkDown`), for a length outside 18..mtu+18 (`txDroppedBadLength`), or
   * when the delay queue is full (`txDroppedQueueFull`). A frame the faults lose still counts as sent.
   */
  transmit(frame: Uint8Array): boolean {
    return admitTransmit(this.stats, this.state, this.inner.mtu, frame, this.txPipe);
  }

  /** @inheritDoc */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** @inheritDoc */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListener = listener;
  }

  /** Passes the filter to the inner driver. */
  setReceiveFilter(filter: ReceiveFilter): void {
    this.inner.setReceiveFilter(filter);
  }

  /** Holds the link down (true) or lets it follow the inner driver again (false), as a manual flap. */
  setLinkDown(down: boolean): void {
    this.forcedDown = down;
    this.updateLink();
  }

  private armFlap(delay: number, goingDown: boolean): void {
    const fire = (): void => {
      if (!this.opened || this.flap === undefined) return;
      this.forcedDown = goingDown;
      this.updateLink();
      this.armFlap(goingDown ? this.flap.downMs : this.flap.upMs, !goingDown);
    };
    this.flapTimer = this.scheduler.timerAfter(delay, fire);
  }

  private updateLink(): void {
    const next: LinkState = this.opened && !this.forcedDown && this.inner.linkState === 'up' ? 'up' : 'down';
    if (next === this.state) return;
    this.state = next;
    this.stats.linkChanges++;
    if (next === 'down') {
      if (this.forcedDown && this.opened) this.faults.linkFlaps++;
      this.txPipe.clear();
      this.rxPipe.clear();
    }
    this.linkListener?.(next);
  }

  private sendOut(frame: Uint8Array): void {
    if (this.state !== 'up') {
      this.faults.tx.droppedLinkDown++;
      return;
    }
    if (!this.inner.transmit(frame)) this.stats.errors++;
  }

  private handUp(frame: Uint8Array): void {
    if (this.state !== 'up' || this.receiver === undefined) {
      this.faults.rx.droppedLinkDown++;
      return;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.receiver(frame);
  }
}
