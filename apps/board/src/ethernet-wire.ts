/**
 * {@link EthernetWire}: the Ethernet side of the board's USB Ethernet device: a {@link NicDriver} on
 * the board's real network (a TAP device bridged with its Ethernet interface) joined to the
 * {@link SerialBoard} of the current host session.
 *
 * - A frame the network delivers goes to the session's `fromWire` (which applies the host's receive
 *   filter and counts every drop). A TAP carries no FCS, so the frame is copied into one 4 bytes
 *   longer and its FCS computed: the device protocol carries frames with their FCS. Without a
 *   session the frame is dropped and counted ({@link EthernetWire.droppedNoSession}).
 * - A frame from the host (with its FCS) is transmitted as is: the TAP driver leaves the FCS out.
 * - The carrier is the real interface's: {@link EthernetWire.pollCarrier} reads it (for a Linux
 *   interface `/sys/class/net/IF/carrier`, {@link sysfsCarrier}) on a scheduler timer and reports
 *   each change to the session as a LINK_EVENT.
 */
import { readFileSync } from 'node:fs';
import type { SchedulerApi, Timer } from '@postern/irq';
import type { NicDriver, SerialBoard } from '@postern/nic';
import { writeFcs } from '@postern/wire';

/** Default interval between two carrier reads, ms. */
export const DEFAULT_CARRIER_POLL_MS = 250;

/** The carrier of Linux interface `ifname` (`/sys/class/net/IF/carrier` is 1); false when it cannot be read (the interface is down or gone). */
export function sysfsCarrier(ifname: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** Counters of an {@link EthernetWire}. */
export interface EthernetWireStats {
  /** Frames from the network handed to a session. */
  toHost: number;
  /** Frames from the host put on the network. */
  fromHost: number;
  /** Frames from the host the network driver refused (its own counters say why). */
  fromHostRefused: number;
  /** Frames from the network dropped because no host session was open. */
  droppedNoSession: number;
  /** Carrier changes seen. */
  carrierChanges: number;
}

/** The device's Ethernet side. See the module contract. */
export class EthernetWire {
  /** Counters. */
  readonly stats: EthernetWireStats = {
    toHost: 0,
    fromHost: 0,
    fromHostRefused: 0,
    droppedNoSession: 0,
    carrierChanges: 0,
  };
  private session: SerialBoard | undefined;
  private carrierUp: boolean;
  private timer: Timer | undefined;

  /**
   * @param nic the network side (opened by the caller).
   * @param scheduler runs the carrier poll.
   * @param readCarrier reads the real interface's carrier.
   */
  constructor(
    readonly nic: NicDriver,
    private readonly scheduler: SchedulerApi,
    private readonly readCarrier: () => boolean,
  ) {
    this.carrierUp = readCarrier();
    nic.onReceive((frame) => this.fromNetwork(frame));
  }

  /** The carrier last read. */
  get carrier(): boolean {
    return this.carrierUp;
  }

  /** The session frames from the network go to now, if any. */
  get currentSession(): SerialBoard | undefined {
    return this.session;
  }

  /** Attaches (or, with undefined, detaches) the host session; a new session learns the carrier at once. */
  setSession(board: SerialBoard | undefined): void {
    this.session = board;
    board?.setCarrier(this.carrierUp);
  }

  /** A frame from the host (with FCS): onto the network. The driver owns it. */
  toNetwork(frame: Uint8Array): void {
    if (this.nic.transmit(frame)) this.stats.fromHost++;
    else this.stats.fromHostRefused++;
  }

  /** Reads the carrier now and every `intervalMs` until {@link stop}. */
  pollCarrier(intervalMs = DEFAULT_CARRIER_POLL_MS): void {
    this.timer?.cancel();
    const tick = (): void => {
      this.checkCarrier();
      this.timer = this.scheduler.timerAfter(intervalMs, tick);
    };
    tick();
  }

  /** Reads the carrier once; a change is reported to the session. */
  checkCarrier(): void {
    const up = this.readCarrier();
    if (up === this.carrierUp) return;
    this.carrierUp = up;
    this.stats.carrierChanges++;
    this.session?.setCarrier(up);
  }

  /** Stops the carrier poll. The driver is the caller's to close. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private fromNetwork(frame: Uint8Array): void {
    const session = this.session;
    if (session === undefined) {
      this.stats.droppedNoSession++;
      return;
    }
    let withFcs = frame;
    if (this.nic.fcs === 'none') {
      withFcs = new Uint8Array(frame.length + 4);
      withFcs.set(frame);
      writeFcs(withFcs);
    }
    if (session.fromWire(withFcs)) this.stats.toHost++;
  }
}
