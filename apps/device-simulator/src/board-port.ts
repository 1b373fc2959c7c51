/**
 * {@link DeviceWirePort}: the Ethernet (wire) side of the simulated USB Ethernet device, as a
 * {@link NicDriver} that plugs into the segment's switch (usually through a fault injector).
 *
 * A frame the switch transmits on this port is what the device's PHY receives from the cable: it goes
 * to the current {@link SerialBoard}'s `fromWire` (which checks, filters and queues it for the host,
 * counting every drop). A frame the host sent through the board (`toWire`) comes out of this port's
 * receiver onto the segment. The board may change (a new host connection over a socket makes a new
 * board); with no board attached, frames from the segment are dropped and counted.
 */
import type { DriverStats, LinkState, NicDriver, ReceiveFilter, SerialBoard } from '@postern/nic';
import { newDriverStats } from '@postern/nic';
import type { MacAddress } from '@postern/wire';

/** The device's wire side. See the module contract. */
export class DeviceWirePort implements NicDriver {
  /** @inheritDoc */
  readonly name: string;
  /** @inheritDoc */
  readonly mac: MacAddress;
  /** @inheritDoc */
  readonly mtu: number;
  /** @inheritDoc */
  readonly stats: DriverStats = newDriverStats();
  /** Frames from the segment dropped because no board (no host connection) was attached. */
  droppedNoBoard = 0;
  private board: SerialBoard | undefined;
  private opened = false;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private linkListener: ((state: LinkState) => void) | undefined;

  /**
   * @param mac the device's station address.
   * @param mtu the largest Ethernet payload. Default 1500.
   */
  constructor(mac: MacAddress, mtu = 1500, name = 'device-wire') {
    this.name = name;
    this.mac = mac;
    this.mtu = mtu;
  }

  /** Up while open: the cable to the segment is always plugged in. */
  get linkState(): LinkState {
    return this.opened ? 'up' : 'down';
  }

  /** The board frames from the segment go to now, if any. */
  get currentBoard(): SerialBoard | undefined {
    return this.board;
  }

  /** Attaches (or, with undefined, detaches) the board whose `fromWire` receives the segment's frames. */
  setBoard(board: SerialBoard | undefined): void {
    this.board = board;
  }

  /** A frame the board puts on the wire (its `toWire`): handed to the segment. The receiver owns it. */
  fromBoard(frame: Uint8Array): void {
    if (!this.opened || this.receiver === undefined) return;
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.byteLength;
    this.receiver(frame);
  }

  /** @inheritDoc */
  open(): Promise<void> {
    if (!this.opened) {
      this.opened = true;
      this.stats.linkChanges++;
      this.linkListener?.('up');
    }
    return Promise.resolve();
  }

  /** @inheritDoc */
  close(): Promise<void> {
    if (this.opened) {
      this.opened = false;
      this.stats.linkChanges++;
      this.linkListener?.('down');
    }
    return Promise.resolve();
  }

  /** Hands `frame` to the board's PHY. Refused (and counted) while closed; accepted and counted when no board is attached. */
  transmit(frame: Uint8Array): boolean {
    if (!this.opened) {
      this.stats.txDroppedLinkDown++;
      return false;
    }
    this.stats.txFrames++;
    this.stats.txBytes += frame.byteLength;
    if (this.board === undefined) this.droppedNoBoard++;
    else this.board.fromWire(frame);
    return true;
  }

  /** @inheritDoc */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** @inheritDoc */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListener = listener;
  }

  /** Ignored: the board's own hardware filter (set by the host over the serial line) does the filtering. */
  setReceiveFilter(_filter: ReceiveFilter): void {}
}
