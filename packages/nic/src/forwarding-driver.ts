/**
 * {@link ForwardingDriver}: the base of transparent middleware drivers (smoltcp's `phy` middleware),
 * which wrap another driver and pass every call through to it, looking at (or holding back) the
 * frames that cross. A subclass overrides only what it changes: {@link ForwardingDriver.transmit}
 * for the way out, {@link ForwardingDriver.received} for the way in.
 */
import type { MacAddress } from '@postern/wire';
import type { DriverStats, FcsMode, LinkState, NicDriver, ReceiveFilter } from './driver.js';

/**
 * A driver that is `inner` seen through a wrapper: name, MAC, MTU, link state, counters, open,
 * close, transmit, link-change listener and receive filter are all `inner`'s. The wrapper takes over
 * `inner`'s receiver at construction: every frame `inner` hands up goes to
 * {@link ForwardingDriver.received}, which by default passes it to the receiver given to
 * {@link ForwardingDriver.onReceive} (and drops it while there is none). Adds no allocation per frame.
 */
export class ForwardingDriver implements NicDriver {
  private receiver: ((frame: Uint8Array) => void) | undefined;

  /** @param inner the wrapped driver; the wrapper becomes its only receiver. */
  constructor(
    /** The wrapped driver. */
    readonly inner: NicDriver,
  ) {
    inner.onReceive((frame) => this.received(frame));
  }

  /** The inner driver's name. */
  get name(): string {
    return this.inner.name;
  }

  /** The inner driver's MAC address. */
  get mac(): MacAddress {
    return this.inner.mac;
  }

  /** The inner driver's MTU. */
  get mtu(): number {
    return this.inner.mtu;
  }

  /** The inner driver's FCS mode (see {@link NicDriver.fcs}). */
  get fcs(): FcsMode {
    return this.inner.fcs ?? 'wire';
  }

  /** The inner driver's link state. */
  get linkState(): LinkState {
    return this.inner.linkState;
  }

  /** The inner driver's counters. */
  get stats(): Readonly<DriverStats> {
    return this.inner.stats;
  }

  /** Opens the inner driver. */
  open(): Promise<void> {
    return this.inner.open();
  }

  /** Closes the inner driver. */
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Passes `frame` to the inner driver and returns its answer. */
  transmit(frame: Uint8Array): boolean {
    return this.inner.transmit(frame);
  }

  /** Sets the receiver that {@link ForwardingDriver.deliver} hands frames to (replacing any earlier one). */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** Passes the listener to the inner driver. */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.inner.onLinkChange(listener);
  }

  /** Passes the filter to the inner driver. */
  setReceiveFilter(filter: ReceiveFilter): void {
    this.inner.setReceiveFilter(filter);
  }

  /** Called with every frame the inner driver hands up; by default {@link ForwardingDriver.deliver}s it. */
  protected received(frame: Uint8Array): void {
    this.deliver(frame);
  }

  /** Hands `frame` to the receiver set with {@link ForwardingDriver.onReceive}; drops it when there is none. */
  protected deliver(frame: Uint8Array): void {
    this.receiver?.(frame);
  }
}
