/**
 * The one driver interface every NIC sits behind (serial USB Ethernet device, Linux TAP, in-memory
 * link, and the wrappers: pcap capture and fault injection, which are drivers themselves).
 *
 * A driver deals in **wire frames**: Ethernet header, payload, and the 4-byte IEEE 802.3 FCS at the
 * end, as they would cross a cable. One decision per driver says whether the FCS exists at all
 * ({@link NicDriver.fcs}): a medium that carries one (`'wire'`, the default: serial, in-memory link)
 * hands frames up with it and gets frames with it filled in; a medium that carries none (`'none'`:
 * TAP) hands frames up without it, and on transmit ignores the 4 bytes reserved at the end (nobody
 * computes them). So a TAP frame costs no CRC pass in either direction, and corruption injected
 * below {@link NetDevice} on such a medium is caught by the IP and transport checksums instead.
 *
 * Drivers do not check the FCS, filter addresses or dispatch: {@link NetDevice} does that, as the
 * NIC hardware plus its driver would (check FCS, check destination MAC, store in the RX ring, raise
 * the IRQ; the bottom half then dispatches by EtherType).
 */
import type { MacAddress } from '@postern/wire';

/** Link state as the PHY reports it. */
export type LinkState = 'up' | 'down';

/** Length of the Ethernet FCS trailer in bytes. */
export const FCS_LENGTH = 4;

/**
 * Whether the frames a driver exchanges carry an Ethernet FCS: `'wire'` (they do: {@link NetDevice}
 * checks it on receive and fills it in on transmit) or `'none'` (the medium has none: received
 * frames end with the payload, and the 4 bytes reserved at the end of a transmitted frame are
 * ignored).
 */
export type FcsMode = 'wire' | 'none';

/** Which destination MAC addresses the receive path accepts besides the NIC's own unicast address and broadcast. */
export interface ReceiveFilter {
  /** Accept every frame regardless of destination. */
  promiscuous: boolean;
  /** Accept every multicast (group) destination. */
  allMulticast: boolean;
  /** Joined multicast MAC addresses. */
  multicast: ReadonlySet<MacAddress>;
}

/** Counters every driver keeps. Names are stable; tools and the admin UI read them by name. */
export interface DriverStats {
  /** Wire frames handed up by the medium. */
  rxFrames: number;
  rxBytes: number;
  /** Wire frames accepted by `transmit` and sent. */
  txFrames: number;
  txBytes: number;
  /** Frames `transmit` refused because the TX queue was full. */
  txDroppedQueueFull: number;
  /** Frames `transmit` refused because the link was down or the driver closed. */
  txDroppedLinkDown: number;
  /** Frames `transmit` refused for being larger than MTU + 18 (header + FCS) or smaller than 18. */
  txDroppedBadLength: number;
  /** Errors the medium reported (write errors, protocol errors, decode errors). */
  errors: number;
  /** Link state transitions seen. */
  linkChanges: number;
}

/** Creates a zeroed {@link DriverStats}. */
export function newDriverStats(): DriverStats {
  return {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txDroppedQueueFull: 0,
    txDroppedLinkDown: 0,
    txDroppedBadLength: 0,
    errors: 0,
    linkChanges: 0,
  };
}

/** A NIC driver. */
export interface NicDriver {
  /** A short name for logs and counters, e.g. `serial0`, `tap:pst0`, `mem0`. */
  readonly name: string;
  /** The station MAC address. */
  readonly mac: MacAddress;
  /** The largest Ethernet payload (IP packet) the medium carries, normally 1500. */
  readonly mtu: number;
  readonly linkState: LinkState;
  readonly stats: Readonly<DriverStats>;
  /**
   * Whether frames carry an FCS ({@link FcsMode}); absent means `'wire'`. Fixed for the driver's
   * life: {@link NetDevice} reads it once. A wrapping driver reports its inner driver's.
   */
  readonly fcs?: FcsMode;
  /**
   * Brings the device up (opens the port, attaches the TAP, performs the hello exchange, ...).
   * Rejects with a typed error (a {@link NicError}) when the device cannot be had.
   */
  open(): Promise<void>;
  /** Brings the device down and releases it. Idempotent. Frames in flight may be lost. */
  close(): Promise<void>;
  /**
   * Queues one wire frame (header + payload + the 4 FCS bytes: filled in when {@link NicDriver.fcs}
   * is `'wire'`, ignored when `'none'`) for sending. Returns false, and counts why, when it cannot
   * be queued. The driver owns `frame` from then on: the caller must not reuse it.
   */
  transmit(frame: Uint8Array): boolean;
  /**
   * Sets the receiver for wire frames (with the FCS unless {@link NicDriver.fcs} is `'none'`). The driver calls it once per frame, from whatever
   * context the medium delivers in (an I/O callback, a scheduler timer). The callee owns the frame.
   */
  onReceive(receiver: (frame: Uint8Array) => void): void;
  /** Sets the listener for link state changes. */
  onLinkChange(listener: (state: LinkState) => void): void;
  /** Asks the hardware to filter (the serial device does; others accept all and leave it to {@link NetDevice}). */
  setReceiveFilter(filter: ReceiveFilter): void;
}

/** Stable error codes for driver failures. */
export type NicErrorCode =
  | 'DEVICE_NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'DEVICE_BUSY'
  | 'NO_ANSWER'
  | 'PROTOCOL_VERSION'
  | 'PROTOCOL_ERROR'
  | 'CLOSED'
  | 'BAD_ARGUMENT'
  /** A module the driver loads only when it is used is not installed (`serialport` for a serial device path). */
  | 'MISSING_MODULE';

/** The one error class drivers reject or throw with; branch on `code`. */
export class NicError extends Error {
  readonly code: NicErrorCode;
  readonly device: string;
  constructor(code: NicErrorCode, device: string, message: string, options?: { cause?: unknown }) {
    super(`${device}: ${message}`, options);
    this.name = 'NicError';
    this.code = code;
    this.device = device;
  }
}
