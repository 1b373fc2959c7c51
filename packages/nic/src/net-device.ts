/**
 * {@link NetDevice}: what the NIC hardware plus its driver do between the medium and the stack.
 *
 * Receive path, in this order, for each wire frame the driver hands up (from whatever context it
 * delivers in):
 * 1. shorter than 18 bytes (header + FCS; 14 on a medium without FCS): drop, count `rxDroppedRunt`;
 * 2. FCS check, only when the driver's medium carries one (`driver.fcs` is not `'none'`): drop on
 *    mismatch, count `rxDroppedFcs`;
 * 3. destination filter: own unicast MAC, broadcast, a joined multicast group, any group address
 *    when all-multicast is on, anything when promiscuous; otherwise drop, count `rxDroppedFilter`;
 * 4. length: a frame whose VLAN tags do not fit counts `rxDroppedRunt`; a frame longer than
 *    `mtu + 18` (plus 4 per VLAN tag) counts `rxDroppedOversize`;
 * 5. store the frame, FCS stripped (a `subarray`, no copy; a frame without FCS as it is), in the RX
 *    ring; a full ring drops it and counts `rxDroppedRingFull`;
 * 6. raise the device's IRQ line, unless the bottom half is already scheduled (NAPI: the device's
 *    interrupt stays off while the poller runs).
 *
 * The top half counts the interrupt and schedules the NAPI bottom half. The bottom half takes up to
 * `budget` frames (the scheduler's budget) per poll and dispatches each by EtherType (the one after an
 * 802.1Q C-tag, or after an 802.1ad S-tag and its C-tag) to the handler registered with
 * {@link NetDevice.onEtherType}; no handler: drop, count `rxDroppedUnknownType`. When it finds the ring
 * empty before its budget is spent, it completes and the device interrupt is enabled again.
 *
 * Nothing here reads a clock: all timing comes from the scheduler the device runs on.
 */
import { Ring } from '@postern/irq';
import type { BottomHalf, IrqLine, SchedulerApi } from '@postern/irq';
import {
  MAC_BROADCAST,
  checkFcs,
  isMulticastMac,
  readMac,
  writeFcs,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  ETHERNET_HEADER_LENGTH,
  VLAN_TAG_LENGTH,
} from '@postern/wire';
import type { MacAddress } from '@postern/wire';
import { FCS_LENGTH, NicError } from './driver.js';
import { viewOf } from './byte-views.js';
import type { DriverStats, LinkState, NicDriver, ReceiveFilter } from './driver.js';

/** Default RX ring capacity in frames. */
export const NET_DEVICE_DEFAULT_RX_RING = 256;
/** Default priority of a device's IRQ line (lower runs first). */
export const NET_DEVICE_DEFAULT_IRQ_PRIORITY = 10;

/** Offset of the type field (EtherType or the TPID of the first tag) in an Ethernet frame. */
const TYPE_OFFSET = 12;
/** Shortest wire frame that holds an untagged header and the FCS. */
const MIN_WIRE_FRAME = ETHERNET_HEADER_LENGTH + FCS_LENGTH;

/**
 * Receives one frame of a registered EtherType.
 * @param frame the Ethernet frame from the destination address to the end of the payload, FCS
 *   excluded: a view into the received buffer, valid until the handler returns unless it keeps it
 *   (the device never reuses it).
 * @param device the device it arrived on.
 * @param headerLength length of the Ethernet header including VLAN tags (14, 18 or 22): the payload
 *   starts there.
 */
export type EtherTypeHandler = (frame: Uint8Array, device: NetDevice, headerLength: number) => void;

/** Options for a {@link NetDevice}. */
export interface NetDeviceOptions {
  /** RX ring capacity in frames. Default {@link NET_DEVICE_DEFAULT_RX_RING}. */
  rxRingCapacity?: number;
  /** Priority of the device's IRQ line. Default {@link NET_DEVICE_DEFAULT_IRQ_PRIORITY}. */
  irqPriority?: number;
  /** Name of the IRQ line (unique per scheduler). Default `nic:<driver name>`. */
  irqName?: string;
}

/** Counters {@link NetDevice} keeps itself. Names are stable. */
export interface NetDeviceCounters {
  /** Frames that passed every check and entered the RX ring. */
  rxAccepted: number;
  /** Frames handed to an EtherType handler. */
  rxDelivered: number;
  /** Bytes handed to EtherType handlers (FCS excluded). */
  rxBytes: number;
  /** Frames too short for their header and FCS. */
  rxDroppedRunt: number;
  /** Frames whose FCS did not match. */
  rxDroppedFcs: number;
  /** Frames for a destination this device does not accept. */
  rxDroppedFilter: number;
  /** Frames longer than `mtu + 18` (plus 4 per VLAN tag). */
  rxDroppedOversize: number;
  /** Frames refused by a full RX ring. */
  rxDroppedRingFull: number;
  /** Frames with no handler for their EtherType. */
  rxDroppedUnknownType: number;
  /** Frames that arrived while the device was closed, or were in the ring when it closed. */
  rxDroppedDown: number;
  /** Handler calls that threw (the frame counts as delivered; the device carries on). */
  rxHandlerErrors: number;
  /** Frames handed to the driver and accepted by it. */
  txFrames: number;
  /** Bytes of those frames, FCS included. */
  txBytes: number;
  /** Frames refused before reaching the driver: shorter than 18 or longer than `mtu + 18` bytes. */
  txDroppedBadLength: number;
  /** Frames the driver refused (its own stats say why). */
  txDroppedDriver: number;
  /** Top-half runs. */
  interrupts: number;
  /** Bottom-half polls. */
  napiPolls: number;
}

/** The one stats object of a device: its own counters plus the driver's (live, read-only). */
export interface NetDeviceStats extends Readonly<NetDeviceCounters> {
  /** The driver's counters. */
  readonly driver: Readonly<DriverStats>;
}

function newCounters(): NetDeviceCounters {
  return {
    rxAccepted: 0,
    rxDelivered: 0,
    rxBytes: 0,
    rxDroppedRunt: 0,
    rxDroppedFcs: 0,
    rxDroppedFilter: 0,
    rxDroppedOversize: 0,
    rxDroppedRingFull: 0,
    rxDroppedUnknownType: 0,
    rxDroppedDown: 0,
    rxHandlerErrors: 0,
    txFrames: 0,
    txBytes: 0,
    txDroppedBadLength: 0,
    txDroppedDriver: 0,
    interrupts: 0,
    napiPolls: 0,
  };
}

/** Length of the Ethernet header of `frame` (14, 18 with a C-tag, 22 with an S-tag and C-tag); caller guarantees 14 bytes. */
function headerLengthOf(frame: Uint8Array): number {
  let offset = TYPE_OFFSET;
  if (((frame[offset]! << 8) | frame[offset + 1]!) === ETHERTYPE_QINQ) {
    offset += VLAN_TAG_LENGTH;
    if (frame.length < offset + 2) return offset + 2;
  }
  if (((frame[offset]! << 8) | frame[offset + 1]!) === ETHERTYPE_VLAN) offset += VLAN_TAG_LENGTH;
  return offset + 2;
}

/**
 * A network device: a {@link NicDriver} plus the receive checks, RX ring, IRQ line and NAPI bottom
 * half of a NIC, on a scheduler. See the module documentation for the receive path.
 *
 * Lifecycle: construct, register handlers, {@link NetDevice.open}; {@link NetDevice.close} brings it
 * down (idempotent) and it may be opened again. The device takes over the driver's receiver and link
 * listener (a driver has one of each); listen for link changes on the device instead.
 */
export class NetDevice {
  /** The driver underneath. */
  readonly driver: NicDriver;
  /** The scheduler the device's IRQ and bottom half run on. */
  readonly scheduler: SchedulerApi;
  /** The device's counters and the driver's. */
  readonly stats: NetDeviceStats;
  private readonly counters: NetDeviceCounters;
  private readonly ring: Ring<Uint8Array>;
  private readonly handlers = new Map<number, EtherTypeHandler>();
  /**
   * The EtherType of the last frame the bottom half dispatched, with its handler (undefined: none), so
   * a run of frames of one type (all IPv4, in practice) costs no map lookup. -1: nothing cached.
   */
  private lastEtherType = -1;
  private lastHandler: EtherTypeHandler | undefined;
  private readonly linkListeners: Array<(state: LinkState) => void> = [];
  /** Joined multicast groups with their join counts. */
  private readonly groups = new Map<MacAddress, number>();
  private promiscuous = false;
  private allMulticast = false;
  private line: IrqLine | undefined;
  /** True from the top half until the bottom half completes: the device interrupt is off. */
  private napiActive = false;
  private readonly irqName: string;
  private readonly irqPriority: number;
  private readonly bottomHalf: BottomHalf;
  /** FCS bytes at the end of received frames: 4, or 0 when the driver's medium carries none. */
  private readonly rxFcsLength: number;
  /** Whether transmit fills in the FCS (false when the driver's medium carries none). */
  private readonly txWritesFcs: boolean;

  constructor(driver: NicDriver, scheduler: SchedulerApi, options: NetDeviceOptions = {}) {
    const capacity = options.rxRingCapacity ?? NET_DEVICE_DEFAULT_RX_RING;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new NicError('BAD_ARGUMENT', driver.name, `RX ring capacity must be an integer >= 1, got ${capacity}`);
    this.driver = driver;
    this.scheduler = scheduler;
    const fcsOnWire = driver.fcs !== 'none';
    this.rxFcsLength = fcsOnWire ? FCS_LENGTH : 0;
    this.txWritesFcs = fcsOnWire;
    this.ring = new Ring<Uint8Array>(capacity);
    this.irqName = options.irqName ?? `nic:${driver.name}`;
    this.irqPriority = options.irqPriority ?? NET_DEVICE_DEFAULT_IRQ_PRIORITY;
    const counters = newCounters();
    this.counters = counters;
    const stats = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(counters) as Array<keyof NetDeviceCounters>) {
      Object.defineProperty(stats, key, { enumerable: true, get: () => counters[key] });
    }
    Object.defineProperty(stats, 'driver', { enumerable: true, get: () => driver.stats });
    this.stats = stats as unknown as NetDeviceStats;
    this.bottomHalf = { name: `${this.irqName}:napi`, poll: (budget) => this.poll(budget) };
    driver.onReceive((frame) => this.receive(frame));
    driver.onLinkChange((state) => {
      for (const listener of this.linkListeners) listener(state);
    });
  }

  /** The driver's name. */
  get name(): string {
    return this.driver.name;
  }

  /** The station MAC address. */
  get mac(): MacAddress {
    return this.driver.mac;
  }

  /** The largest Ethernet payload the device carries. */
  get mtu(): number {
    return this.driver.mtu;
  }

  /** Link state as the driver reports it. */
  get linkState(): LinkState {
    return this.driver.linkState;
  }

  /** Whether the device is open (its IRQ line is registered). */
  get isOpen(): boolean {
    return this.line !== undefined;
  }

  /** The device's IRQ line while open. */
  get irqLine(): IrqLine | undefined {
    return this.line;
  }

  /** Frames waiting in the RX ring. */
  get rxPending(): number {
    return this.ring.length;
  }

  /** The RX ring capacity. */
  get rxRingCapacity(): number {
    return this.ring.capacity;
  }

  /**
   * Registers the IRQ line and opens the driver. No-op when open. Rejects as the driver does
   * (a {@link NicError}), leaving the device closed.
   */
  async open(): Promise<void> {
    if (this.line !== undefined) return;
    this.line = this.scheduler.requestIrq(this.irqName, this.irqPriority, () => this.topHalf());
    this.napiActive = false;
    try {
      await this.driver.open();
    } catch (err) {
      this.releaseLine();
      throw err;
    }
  }

  /** Closes the driver and frees the IRQ line; frames still in the RX ring count `rxDroppedDown`. Idempotent. */
  async close(): Promise<void> {
    this.releaseLine();
    await this.driver.close();
  }

  /**
   * Sets the handler for frames of `etherType` (replacing any earlier one).
   * @returns a function that removes this handler (if it is still the registered one).
   */
  onEtherType(etherType: number, handler: EtherTypeHandler): () => void {
    if (!Number.isInteger(etherType) || etherType < 0 || etherType > 0xffff)
      throw new NicError('BAD_ARGUMENT', this.name, `bad EtherType ${etherType}`);
    this.handlers.set(etherType, handler);
    this.lastEtherType = -1;
    return () => {
      if (this.handlers.get(etherType) !== handler) return;
      this.handlers.delete(etherType);
      this.lastEtherType = -1;
    };
  }

  /** Adds a listener for link state changes reported by the driver. */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListeners.push(listener);
  }

  /**
   * Sends one frame. `frame` holds the Ethernet header and payload followed by 4 bytes reserved for
   * the FCS, which this method fills in (unless the driver's medium carries none). Returns false and counts when the frame is shorter than 18
   * or longer than `mtu + 18` bytes (`txDroppedBadLength`) or the driver refuses it
   * (`txDroppedDriver`). The device and driver own `frame` from then on.
   */
  transmit(frame: Uint8Array): boolean {
    const length = frame.length;
    if (length < MIN_WIRE_FRAME || length > this.driver.mtu + MIN_WIRE_FRAME) {
      this.counters.txDroppedBadLength++;
      return false;
    }
    if (this.txWritesFcs) writeFcs(frame);
    const trace = this.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('driver', `tx frame ${length} B`);
    if (!this.driver.transmit(frame)) {
      this.counters.txDroppedDriver++;
      return false;
    }
    this.counters.txFrames++;
    this.counters.txBytes += length;
    return true;
  }

  /**
   * Joins multicast group `mac` (counted: each join needs a leave).
   * @throws {@link NicError} `BAD_ARGUMENT` if `mac` is not a group address.
   */
  joinMulticast(mac: MacAddress): void {
    if (!isMulticastMac(mac) || mac === MAC_BROADCAST)
      throw new NicError('BAD_ARGUMENT', this.name, `not a multicast MAC address: ${mac.toString(16)}`);
    const n = this.groups.get(mac) ?? 0;
    this.groups.set(mac, n + 1);
    if (n === 0) this.pushFilter();
  }

  /** Leaves multicast group `mac` once; returns false if it was not joined. */
  leaveMulticast(mac: MacAddress): boolean {
    const n = this.groups.get(mac);
    if (n === undefined) return false;
    if (n > 1) {
      this.groups.set(mac, n - 1);
    } else {
      this.groups.delete(mac);
      this.pushFilter();
    }
    return true;
  }

  /** Accepts every frame whatever its destination (on) or only the usual ones (off). */
  setPromiscuous(on: boolean): void {
    if (this.promiscuous === on) return;
    this.promiscuous = on;
    this.pushFilter();
  }

  /** Accepts every multicast destination (on) or only joined groups (off). */
  setAllMulticast(on: boolean): void {
    if (this.allMulticast === on) return;
    this.allMulticast = on;
    this.pushFilter();
  }

  /** The filter in force (a snapshot). */
  get receiveFilter(): ReceiveFilter {
    return { promiscuous: this.promiscuous, allMulticast: this.allMulticast, multicast: new Set(this.groups.keys()) };
  }

  private pushFilter(): void {
    this.driver.setReceiveFilter(this.receiveFilter);
  }

  /** The receive path up to the IRQ (see the module documentation). */
  private receive(frame: Uint8Array): void {
    const trace = this.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('driver', `rx frame ${frame.length} B (${this.driver.name})`, true);
    const c = this.counters;
    const length = frame.length;
    if (this.line === undefined) {
      c.rxDroppedDown++;
      return;
    }
    const fcsLength = this.rxFcsLength;
    if (length < ETHERNET_HEADER_LENGTH + fcsLength) {
      c.rxDroppedRunt++;
      return;
    }
    if (fcsLength !== 0 && !checkFcs(frame)) {
      c.rxDroppedFcs++;
      return;
    }
    if (!this.accepts(frame)) {
      c.rxDroppedFilter++;
      return;
    }
    const headerLength = headerLengthOf(frame);
    if (length < headerLength + fcsLength) {
      c.rxDroppedRunt++;
      return;
    }
    if (length - headerLength > this.driver.mtu + fcsLength) {
      c.rxDroppedOversize++;
      return;
    }
    if (!this.ring.push(fcsLength === 0 ? frame : viewOf(frame, 0, length - fcsLength))) {
      c.rxDroppedRingFull++;
      return;
    }
    c.rxAccepted++;
    if (!this.napiActive) this.line.raise();
  }

  /** Destination filter; caller guarantees 6 bytes. */
  private accepts(frame: Uint8Array): boolean {
    if (this.promiscuous) return true;
    if ((frame[0]! & 1) === 0) return readMac(frame, 0) === this.driver.mac;
    if (this.allMulticast) return true;
    const destination = readMac(frame, 0);
    return destination === MAC_BROADCAST || this.groups.has(destination);
  }

  private topHalf(): void {
    const trace = this.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('interrupt', 'top half (IRQ)');
    this.counters.interrupts++;
    this.napiActive = true;
    this.scheduler.schedule(this.bottomHalf);
  }

  /** The NAPI poller: dispatches up to `budget` frames; completes (device interrupt back on) when the ring runs dry first. */
  private poll(budget: number): number {
    const c = this.counters;
    c.napiPolls++;
    let done = 0;
    while (done < budget) {
      const frame = this.ring.shift();
      if (frame === undefined) break;
      done++;
      const headerLength = headerLengthOf(frame);
      const etherType = (frame[headerLength - 2]! << 8) | frame[headerLength - 1]!;
      let handler = this.lastHandler;
      if (etherType !== this.lastEtherType) {
        handler = this.handlers.get(etherType);
        this.lastEtherType = etherType;
        this.lastHandler = handler;
      }
      if (handler === undefined) {
        c.rxDroppedUnknownType++;
        continue;
      }
      c.rxDelivered++;
      c.rxBytes += frame.length;
      const trace = this.scheduler.trace;
      if (trace !== undefined && trace.on)
        trace.mark('interrupt', `bottom half: EtherType 0x${etherType.toString(16).padStart(4, '0')}`);
      try {
        handler(frame, this, headerLength);
      } catch {
        c.rxHandlerErrors++;
      }
    }
    if (done < budget) this.napiActive = false;
    return done;
  }

  private releaseLine(): void {
    if (this.line === undefined) return;
    this.line.free();
    this.line = undefined;
    this.napiActive = false;
    this.counters.rxDroppedDown += this.ring.length;
    this.ring.clear();
  }
}
