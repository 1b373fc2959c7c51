/**
 * The shared memory between the TAP driver (main thread) and its I/O worker: a model of a NIC's
 * descriptor rings, DMA buffers and interrupt lines.
 *
 * One SharedArrayBuffer holds, in order: the control words ({@link Ctrl}, Int32), the RX slot lengths
 * (Int32 per slot), the TX slot lengths, the RX slots, the TX slots. Each ring is single-producer,
 * single-consumer with free-running Int32 head/tail counters (slot = counter & (slots - 1), fill =
 * (head - tail) | 0), so neither side ever writes the other's counter.
 *
 * RX: the worker produces (reads a frame from the TAP into slot `head`, appends the FCS, stores the
 * length, advances `RX_HEAD`, then bumps `RX_SEQ` and notifies: the interrupt line); the main thread
 * consumes and advances `RX_TAIL`. TX: the main thread produces (copies a frame without FCS into slot
 * `TX_HEAD`, advances it and rings `WAKE`: the doorbell register); the worker writes it and advances
 * `TX_TAIL`.
 */

/** Indices of the Int32 control words. */
export const Ctrl = {
  /** Main sets 1 to make the worker exit. */
  STOP: 0,
  /** Doorbell main -> worker: bumped after TX work is queued, RX space freed, or STOP set. */
  WAKE: 1,
  RX_HEAD: 2,
  RX_TAIL: 3,
  /** Interrupt line worker -> main: bumped after each batch of RX frames (and on link loss). */
  RX_SEQ: 4,
  TX_HEAD: 5,
  TX_TAIL: 6,
  /** Worker sets 1 while it waits for RX space; main rings WAKE after freeing slots. */
  RX_FULL_WAIT: 7,
  /** Reads that failed with something other than EAGAIN/EINTR. */
  RX_READ_ERRORS: 8,
  /** Frames longer than the largest frame the MTU allows, dropped by the worker. */
  RX_OVERSIZE: 9,
  /** Writes that failed. */
  TX_WRITE_ERRORS: 10,
  /** 1 while the device is attached; the worker sets 0 when the device went away. */
  LINK_UP: 11,
  /** Frames written to the device. */
  TX_WRITTEN: 12,
  /** Times the worker found the RX ring full (the kernel then queues, and drops beyond its own queue). */
  RX_RING_FULL: 13,
  /** Worker sets 1 while it sleeps in Atomics.wait, so main notifies only when needed. */
  WORKER_SLEEPING: 14,
} as const;

/** Number of control words (rounded up to keep the arrays after them 64-byte aligned). */
export const CTRL_WORDS = 16;

/** Where each region of the shared buffer starts, and how big it is. */
export interface RingLayout {
  rxSlots: number;
  txSlots: number;
  /** Bytes per slot (the record, virtio-net header included when the descriptor has one, plus FCS room, rounded up to 64). */
  slotSize: number;
  /** The most bytes one read asks for: the largest frame + 1, so a longer frame shows as oversize. */
  readLength: number;
  /** The largest record the worker accepts from the device: the frame without FCS, after the virtio-net header if any. */
  maxFrame: number;
  rxLensOffset: number;
  txLensOffset: number;
  rxDataOffset: number;
  txDataOffset: number;
  totalBytes: number;
}

/** True for 1, 2, 4, 8, ... */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * Lays out rings of `rxSlots` and `txSlots` slots (powers of two) for records up to `maxFrame` bytes:
 * a frame without FCS, after the descriptor's virtio-net header when it has one.
 */
export function ringLayout(rxSlots: number, txSlots: number, maxFrame: number): RingLayout {
  const readLength = maxFrame + 1;
  const slotSize = Math.ceil((readLength + 4) / 64) * 64;
  const rxLensOffset = CTRL_WORDS * 4;
  const txLensOffset = rxLensOffset + rxSlots * 4;
  const rxDataOffset = Math.ceil((txLensOffset + txSlots * 4) / 64) * 64;
  const txDataOffset = rxDataOffset + rxSlots * slotSize;
  const totalBytes = txDataOffset + txSlots * slotSize;
  return {
    rxSlots,
    txSlots,
    slotSize,
    readLength,
    maxFrame,
    rxLensOffset,
    txLensOffset,
    rxDataOffset,
    txDataOffset,
    totalBytes,
  };
}
