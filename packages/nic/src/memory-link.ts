/**
 * Two {@link NicDriver} endpoints joined by a simulated cable, for tests and simulations.
 *
 * A frame transmitted on one endpoint reaches the other through the scheduler (a deferred callback
 * when the link has no latency and no rate limit, otherwise a timer), so delivery order and timing
 * are deterministic on a virtual clock. Frames are handed over without copying: the transmitter gives
 * up the buffer and the receiver owns it.
 */
import type { MacAddress } from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import { DelayLine } from './delay-line.js';
import { NicError, newDriverStats } from './driver.js';
import type { DriverStats, LinkState, NicDriver, ReceiveFilter } from './driver.js';
import { admitTransmit } from './transmit-admission.js';

/** Default MTU of a memory link: the Ethernet payload size. */
export const MEMORY_LINK_DEFAULT_MTU = 1500;
/** Default bound on frames in flight per direction. */
export const MEMORY_LINK_DEFAULT_QUEUE = 1024;
/** Default MAC of endpoint `a`: 02:00:00:00:00:01 (locally administered). */
export const MEMORY_LINK_DEFAULT_MAC_A: MacAddress = 0x02_00_00_00_00_01;
/** Default MAC of endpoint `b`: 02:00:00:00:00:02 (locally administered). */
export const MEMORY_LINK_DEFAULT_MAC_B: MacAddress = 0x02_00_00_00_00_02;
export { WIRE_OVERHEAD } from './transmit-admission.js';

/** Options for {@link createMemoryLink}. */
export interface MemoryLinkOptions {
  /** Names of the two endpoints. Default `mem0`, `mem1`. */
  names?: readonly [string, string];
  /** MAC of endpoint `a`. Default {@link MEMORY_LINK_DEFAULT_MAC_A}. */
  macA?: MacAddress;
  /** MAC of endpoint `b`. Default {@link MEMORY_LINK_DEFAULT_MAC_B}. */
  macB?: MacAddress;
  /** Largest Ethernet payload; wire frames may be up to `mtu + 18` bytes. Default 1500. */
  mtu?: number;
  /** One-way latency in ms. Default 0 (delivery in the next deferred-work round). */
  latencyMs?: number;
  /** Line rate in bits per second (serialization delay of frame + 20 bytes preamble/gap). Default unlimited. */
  bitsPerSecond?: number;
  /** Frames in flight per direction before `transmit` refuses (`txDroppedQueueFull`). Default 1024. */
  queueCapacity?: number;
}

/** Counters of the cable itself. */
export interface MemoryLinkStats {
  /** Frames that were in flight when the link went down or the receiving endpoint closed, or that found no receiver. */
  lostInFlight: number;
}

/** The cable between the two endpoints of {@link createMemoryLink}. */
export interface MemoryLink {
  /** Endpoint `a`. */
  readonly a: MemoryLinkEndpoint;
  /** Endpoint `b`. */
  readonly b: MemoryLinkEndpoint;
  /** Whether the cable is plugged in (an endpoint's link is up when the cable is and both endpoints are open). */
  readonly carrier: boolean;
  /** Plugs (`'up'`) or unplugs (`'down'`) the cable; unplugging loses frames in flight. Both open endpoints see the change. */
  setLink(state: LinkState): void;
  /** Counters of the cable. */
  readonly stats: Readonly<MemoryLinkStats>;
}

/**
 * One end of a {@link MemoryLink}. Its link is up while it and its peer are open and the cable is
 * plugged in. `open` and `close` complete at once; an endpoint may be reopened after `close`.
 */
export class MemoryLinkEndpoint implements NicDriver {
  /** @inheritDoc */
  readonly name: string;
  /** @inheritDoc */
  readonly mac: MacAddress;
  /** @inheritDoc */
  readonly mtu: number;
  /** @inheritDoc */
  readonly stats: DriverStats = newDriverStats();
  /** The last filter set by {@link MemoryLinkEndpoint.setReceiveFilter} (recorded only: this medium does not filter). */
  receiveFilter: ReceiveFilter | undefined;
  private opened = false;
  private state: LinkState = 'down';
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private linkListener: ((state: LinkState) => void) | undefined;
  /** Frames on their way from this endpoint to the peer. */
  private readonly outbound: DelayLine;
  /** Wired by {@link createMemoryLink}. */
  private peer!: MemoryLinkEndpoint;

  /** @internal Use {@link createMemoryLink}. */
  constructor(
    private readonly cable: CableState,
    scheduler: SchedulerApi,
    name: string,
    mac: MacAddress,
    options: MemoryLinkOptions,
  ) {
    this.name = name;
    this.mac = mac;
    this.mtu = options.mtu ?? MEMORY_LINK_DEFAULT_MTU;
    this.outbound = new DelayLine(
      scheduler,
      {
        latencyMs: options.latencyMs,
        bitsPerSecond: options.bitsPerSecond,
        capacity: options.queueCapacity ?? MEMORY_LINK_DEFAULT_QUEUE,
      },
      (frame) => this.peer.arrive(frame),
    );
  }

  /** @internal */
  attach(peer: MemoryLinkEndpoint): void {
    this.peer = peer;
  }

  /** @inheritDoc */
  get linkState(): LinkState {
    return this.state;
  }

  /** Whether the endpoint is open. */
  get isOpen(): boolean {
    return this.opened;
  }

  /** Opens the endpoint (no-op when open). Its link comes up if the peer is open and the cable plugged in. */
  open(): Promise<void> {
    if (!this.opened) {
      this.opened = true;
      this.cable.update();
    }
    return Promise.resolve();
  }

  /** Closes the endpoint (idempotent). Frames it sent that are still in flight are lost. */
  close(): Promise<void> {
    if (this.opened) {
      this.opened = false;
      this.cable.update();
    }
    return Promise.resolve();
  }

  /**
   * Queues `frame` for the peer. Refused and counted when closed or the link is down
   * (`txDroppedLinkDown`), when shorter than 18 or longer than `mtu + 18` bytes (`txDroppedBadLength`),
   * or when `queueCapacity` frames are already in flight (`txDroppedQueueFull`).
   */
  transmit(frame: Uint8Array): boolean {
    return admitTransmit(this.stats, this.state, this.mtu, frame, this.outbound);
  }

  /** @inheritDoc */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** @inheritDoc */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListener = listener;
  }

  /** Records the filter; the memory medium delivers every frame and leaves filtering to {@link NetDevice}. */
  setReceiveFilter(filter: ReceiveFilter): void {
    this.receiveFilter = filter;
  }

  /** @internal A frame reaches this endpoint from the cable. */
  arrive(frame: Uint8Array): void {
    if (this.state !== 'up' || this.receiver === undefined) {
      this.cable.stats.lostInFlight++;
      return;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.receiver(frame);
  }

  /** @internal Recomputes the link state; notifies on change and loses in-flight frames when it goes down. */
  setState(state: LinkState): void {
    if (state === this.state) return;
    this.state = state;
    this.stats.linkChanges++;
    if (state === 'down') this.cable.stats.lostInFlight += this.outbound.clear();
    this.linkListener?.(state);
  }

  /** @internal */
  get wantsUp(): boolean {
    return this.opened;
  }
}

/** Shared state of the cable. @internal */
class CableState {
  carrier = true;
  readonly stats: MemoryLinkStats = { lostInFlight: 0 };
  ends: readonly MemoryLinkEndpoint[] = [];

  update(): void {
    const up = this.carrier && this.ends.every((e) => e.wantsUp);
    for (const e of this.ends) e.setState(up && e.wantsUp ? 'up' : 'down');
  }
}

/**
 * Creates a cable with two endpoints. Nothing is sent until both are opened.
 * @throws {@link NicError} `BAD_ARGUMENT` for an MTU outside 1..65535 or two equal MACs.
 */
export function createMemoryLink(scheduler: SchedulerApi, options: MemoryLinkOptions = {}): MemoryLink {
  const mtu = options.mtu ?? MEMORY_LINK_DEFAULT_MTU;
  const [nameA, nameB] = options.names ?? ['mem0', 'mem1'];
  const macA = options.macA ?? MEMORY_LINK_DEFAULT_MAC_A;
  const macB = options.macB ?? MEMORY_LINK_DEFAULT_MAC_B;
  if (!Number.isInteger(mtu) || mtu < 1 || mtu > 65_535)
    throw new NicError('BAD_ARGUMENT', nameA, `MTU must be an integer in 1..65535, got ${mtu}`);
  if (macA === macB) throw new NicError('BAD_ARGUMENT', nameA, 'both endpoints have the same MAC address');
  const cable = new CableState();
  const a = new MemoryLinkEndpoint(cable, scheduler, nameA, macA, options);
  const b = new MemoryLinkEndpoint(cable, scheduler, nameB, macB, options);
  a.attach(b);
  b.attach(a);
  cable.ends = [a, b];
  return {
    a,
    b,
    get carrier() {
      return cable.carrier;
    },
    setLink(state: LinkState) {
      cable.carrier = state === 'up';
      cable.update();
    },
    stats: cable.stats,
  };
}
