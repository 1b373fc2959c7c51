/**
 * {@link EthernetSwitch}: the virtual Ethernet segment, a learning switch whose ports are
 * {@link NicDriver}s (a memory-link end per simulated host, the USB Ethernet device's wire side, a
 * TAP device).
 *
 * Contract:
 * - A frame received on a port teaches the switch that its source MAC lives behind that port, then
 *   goes to the port its destination was learned on, or to every other port (flooding) when the
 *   destination is a group address or unknown. A frame is never sent back out of the port it came from.
 * - Frames are handed on without copying to the first output port; each further flooded port gets a copy
 *   (every receiver owns its frame).
 * - The MAC table is bounded ({@link EthernetSwitchOptions.maxMacEntries}); when it is full the oldest
 *   entry makes room. A port that is detached forgets its entries.
 * - Every frame entering the switch is offered to the capture hook first (the segment's pcap).
 * - Runt frames (shorter than a header plus FCS) are dropped and counted.
 * - Frames inside the switch always carry an FCS, as on a cable: a port whose medium has none
 *   (`port.fcs === 'none'`, a TAP device) gets one computed onto each frame it hands in, and
 *   ignores the trailing 4 bytes of each frame it is given (the {@link NicDriver} contract).
 */
import { isMulticastMac, readMac, writeFcs } from '@postern/wire';
import type { MacAddress } from '@postern/wire';
import { FCS_LENGTH, type NicDriver } from '@postern/nic';

/** Default bound of the MAC table. */
export const SWITCH_DEFAULT_MAX_MAC_ENTRIES = 1024;

/** Options of an {@link EthernetSwitch}. */
export interface EthernetSwitchOptions {
  /** Most learned addresses. Default {@link SWITCH_DEFAULT_MAX_MAC_ENTRIES}. */
  maxMacEntries?: number;
  /** Called with every frame entering the switch (with FCS), before it is forwarded; must not keep it. */
  capture?: (frame: Uint8Array) => void;
}

/** Counters of an {@link EthernetSwitch}. */
export interface EthernetSwitchStats {
  /** Frames received on any port. */
  frames: number;
  /** Frames sent to the one port their destination was learned on. */
  forwarded: number;
  /** Frames sent to every other port. */
  flooded: number;
  /** Frames whose destination lives behind the port they came from (not sent anywhere). */
  filtered: number;
  /** Frames shorter than 18 bytes. */
  runts: number;
  /** Sends an output port refused (its own counters say why). */
  outputDrops: number;
  /** Learned entries evicted because the table was full. */
  evictions: number;
}

const MIN_FRAME = 18;

/** A learning Ethernet switch. See the module contract. */
export class EthernetSwitch {
  /** Live counters. */
  readonly stats: EthernetSwitchStats = {
    frames: 0,
    forwarded: 0,
    flooded: 0,
    filtered: 0,
    runts: 0,
    outputDrops: 0,
    evictions: 0,
  };
  private readonly ports: NicDriver[] = [];
  private readonly table = new Map<MacAddress, NicDriver>();
  private readonly maxMacEntries: number;
  private readonly capture: ((frame: Uint8Array) => void) | undefined;

  constructor(options: EthernetSwitchOptions = {}) {
    this.maxMacEntries = options.maxMacEntries ?? SWITCH_DEFAULT_MAX_MAC_ENTRIES;
    if (!Number.isInteger(this.maxMacEntries) || this.maxMacEntries < 1)
      throw new RangeError(`maxMacEntries must be a positive integer, got ${this.maxMacEntries}`);
    this.capture = options.capture;
  }

  /** The attached ports, in attach order. */
  get portList(): readonly NicDriver[] {
    return this.ports;
  }

  /** Where `mac` was learned, if it was. */
  portOf(mac: MacAddress): NicDriver | undefined {
    return this.table.get(mac);
  }

  /** Plugs `port` in: the switch becomes its receiver. Opening the port is the caller's job. */
  attach(port: NicDriver): void {
    if (this.ports.includes(port)) return;
    this.ports.push(port);
    if (port.fcs === 'none') port.onReceive((frame) => this.ingress(port, withFcs(frame)));
    else port.onReceive((frame) => this.ingress(port, frame));
  }

  /** Unplugs `port`; frames it sends afterwards are ignored and its learned addresses forgotten. */
  detach(port: NicDriver): void {
    const i = this.ports.indexOf(port);
    if (i < 0) return;
    this.ports.splice(i, 1);
    port.onReceive(() => {});
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
  }

  private ingress(port: NicDriver, frame: Uint8Array): void {
    const s = this.stats;
    s.frames++;
    if (frame.byteLength < MIN_FRAME) {
      s.runts++;
      return;
    }
    this.capture?.(frame);
    const src = readMac(frame, 6);
    if (!isMulticastMac(src)) this.learn(src, port);
    const dst = readMac(frame, 0);
    const known = isMulticastMac(dst) ? undefined : this.table.get(dst);
    if (known !== undefined) {
      if (known === port) {
        s.filtered++;
        return;
      }
      s.forwarded++;
      if (!known.transmit(frame)) s.outputDrops++;
      return;
    }
    s.flooded++;
    let first = true;
    for (const out of this.ports) {
      if (out === port) continue;
      if (!out.transmit(first ? frame : frame.slice())) s.outputDrops++;
      first = false;
    }
  }

  private learn(mac: MacAddress, port: NicDriver): void {
    const had = this.table.get(mac);
    if (had === port) return;
    if (had !== undefined) this.table.delete(mac);
    else if (this.table.size >= this.maxMacEntries) {
      const oldest = this.table.keys().next();
      if (oldest.done !== true) {
        this.table.delete(oldest.value);
        this.stats.evictions++;
      }
    }
    this.table.set(mac, port);
  }
}

/** A copy of `frame` (a frame from a medium without FCS) with its FCS appended. */
function withFcs(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.byteLength + FCS_LENGTH);
  out.set(frame);
  writeFcs(out);
  return out;
}
