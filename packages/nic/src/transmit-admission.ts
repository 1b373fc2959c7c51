/**
 * The transmit rule shared by the drivers that queue frames in software (the in-memory link, the
 * fault injector): one place decides which frames are refused and how each refusal is counted.
 */
import { FCS_LENGTH } from './driver.js';
import type { DriverStats, LinkState } from './driver.js';

/** Length of an untagged Ethernet header plus the FCS: the shortest wire frame a driver accepts. */
export const WIRE_OVERHEAD = 14 + FCS_LENGTH;

/** Where an admitted frame goes: takes it, or refuses it (false) because it is full. */
export interface FrameQueue {
  push(frame: Uint8Array): boolean;
}

/**
 * Queues `frame` on `queue` and counts it in `stats`. Refused (false) and counted when the link is
 * not up (`txDroppedLinkDown`), when the frame is shorter than {@link WIRE_OVERHEAD} or longer than
 * `mtu + WIRE_OVERHEAD` bytes (`txDroppedBadLength`), or when `queue` refuses it
 * (`txDroppedQueueFull`); otherwise counted in `txFrames` / `txBytes` and true. Allocates nothing.
 * @internal
 */
export function admitTransmit(
  stats: DriverStats,
  linkState: LinkState,
  mtu: number,
  frame: Uint8Array,
  queue: FrameQueue,
): boolean {
  if (linkState !== 'up') {
    stats.txDroppedLinkDown++;
    return false;
  }
  const length = frame.length;
  if (length < WIRE_OVERHEAD || length > mtu + WIRE_OVERHEAD) {
    stats.txDroppedBadLength++;
    return false;
  }
  if (!queue.push(frame)) {
    stats.txDroppedQueueFull++;
    return false;
  }
  stats.txFrames++;
  stats.txBytes += length;
  return true;
}
