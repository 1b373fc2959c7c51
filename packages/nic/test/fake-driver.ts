/**
 * A driver for NetDevice unit tests: frames are injected by hand (any length, any FCS) and transmitted
 * frames are collected. Not a medium: it checks nothing.
 */
import type { MacAddress } from '@postern/wire';
import { newDriverStats } from '../src/index.js';
import type { DriverStats, FcsMode, LinkState, NicDriver, ReceiveFilter } from '../src/index.js';

/** A hand-driven {@link NicDriver}. */
export class FakeDriver implements NicDriver {
  readonly stats: DriverStats = newDriverStats();
  linkState: LinkState = 'down';
  readonly sent: Uint8Array[] = [];
  readonly filters: ReceiveFilter[] = [];
  refuseTransmit = false;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private listener: ((state: LinkState) => void) | undefined;

  constructor(
    readonly name: string,
    readonly mac: MacAddress,
    readonly mtu = 1500,
    readonly fcs: FcsMode = 'wire',
  ) {}

  open(): Promise<void> {
    this.setLink('up');
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.setLink('down');
    return Promise.resolve();
  }

  transmit(frame: Uint8Array): boolean {
    if (this.refuseTransmit || this.linkState === 'down') {
      this.stats.txDroppedLinkDown++;
      return false;
    }
    this.sent.push(frame);
    this.stats.txFrames++;
    this.stats.txBytes += frame.byteLength;
    return true;
  }

  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  onLinkChange(listener: (state: LinkState) => void): void {
    this.listener = listener;
  }

  setReceiveFilter(filter: ReceiveFilter): void {
    this.filters.push(filter);
  }

  /** Hands `frame` up as the medium would. */
  inject(frame: Uint8Array): void {
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.byteLength;
    this.receiver?.(frame);
  }

  setLink(state: LinkState): void {
    if (state === this.linkState) return;
    this.linkState = state;
    this.stats.linkChanges++;
    this.listener?.(state);
  }
}
