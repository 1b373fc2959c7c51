/**
 * {@link FrameSlab}: where received frames are kept, without one buffer allocation per frame.
 *
 * A driver that reads frames into a buffer it reuses (a read buffer, a ring slot) must copy each
 * frame out before handing it up, since the receiver owns what it gets and may keep it (the RX ring,
 * a TCP receive queue). Allocating a buffer per frame costs an ArrayBuffer (a backing store outside
 * the heap, tracked by the garbage collector) per packet. A slab is one buffer cut into frames: each
 * frame is copied to the next free bytes of the current slab and handed up as a view of them; when
 * the slab is full a fresh one is started, and the old one lives on until the last view of it dies
 * (the way Node pools small Buffers). A slab's bytes are handed out once and never reused, so a view
 * stays valid and unchanged for as long as anyone holds it.
 *
 * A driver that can choose where a read lands skips the copy: {@link FrameSlab.reserve} makes room
 * for the longest read at the slab's free bytes, the read writes there, and {@link FrameSlab.take}
 * then keeps the frame in place (one view, no copy). Bytes read there and not taken (a frame the
 * driver drops) are simply overwritten by the next read.
 *
 * The slab size bounds what one long-lived view can keep alive: {@link FRAME_SLAB_BYTES}.
 *
 * A frame's view is made with the typed-array constructor on the slab's own `ArrayBuffer` (kept
 * beside the slab), not with `subarray`: Node 20's `subarray` looks up the species constructor and
 * converts its arguments in a builtin of its own before it makes the same view, one more builtin
 * call per received frame.
 */
import { copyInto, viewOf } from '../byte-views.js';

/** Bytes per slab: a few full-size frames, or a few hundred small ones (ACKs, requests). */
export const FRAME_SLAB_BYTES = 16 * 1024;

/** Frames start on multiples of 8 bytes within a slab. */
const ALIGN = 8;

/** Hands out frames as views of shared slabs (see the module documentation). */
export class FrameSlab {
  private slab: Uint8Array;
  /** The `ArrayBuffer` of {@link slab}, which starts at its byte 0: frame views are made on it. */
  private slabBuffer: ArrayBuffer;
  private used = 0;

  /** @param slabBytes the size of each slab; a frame longer than that gets a buffer of its own. */
  constructor(readonly slabBytes: number = FRAME_SLAB_BYTES) {
    this.slabBuffer = new ArrayBuffer(slabBytes);
    this.slab = new Uint8Array(this.slabBuffer);
  }

  /** Starts a fresh slab (the old one lives on in the views of it). */
  private renew(): void {
    this.slabBuffer = new ArrayBuffer(this.slabBytes);
    this.slab = new Uint8Array(this.slabBuffer);
    this.used = 0;
  }

  /**
   * Makes sure the current slab has at least `length` (at most {@link slabBytes}) free bytes,
   * starting a fresh slab if not, and returns it: a read may write up to `length` bytes from
   * {@link free} on, and {@link take} keeps what it wants of them.
   */
  reserve(length: number): Uint8Array {
    if (this.used + length > this.slabBytes) this.renew();
    return this.slab;
  }

  /** Offset of the first free byte of the slab {@link reserve} returns. */
  get free(): number {
    return this.used;
  }

  /**
   * Whether `source` from `offset` on lies in the free bytes of the current slab: where a read
   * landed after {@link reserve}, which {@link take} keeps in place.
   */
  holds(source: Uint8Array, offset: number): boolean {
    return source === this.slab && offset >= this.used;
  }

  /**
   * Copies all of `bytes` into the slab and returns a view of them from byte `skip` on (at most
   * `bytes.length`; the first `skip` bytes are copied along and never handed out). For a frame read
   * into a reused buffer behind a header of `skip` bytes: `bytes` is a view of that buffer's first
   * bytes, one the caller keeps per length (`frame-views.ts`), so the copy makes no view of its
   * own, where {@link take} makes one of the source per call.
   */
  copyFrom(bytes: Uint8Array, skip: number): Uint8Array {
    const length = bytes.length;
    if (length > this.slabBytes) return bytes.slice(skip);
    if (this.used + length > this.slabBytes) this.renew();
    const start = this.used;
    copyInto(this.slab, bytes, start);
    this.used = (start + length + ALIGN - 1) & ~(ALIGN - 1);
    return new Uint8Array(this.slabBuffer, start + skip, length - skip);
  }

  /**
   * The `length` bytes of `source` from `offset` on, as a view the caller owns. When `source` is
   * the current slab and the range lies in its free bytes (a read landed there after
   * {@link reserve}), the bytes are kept in place; otherwise they are copied (the source may be
   * reused afterwards). The range must lie within `source`.
   */
  take(source: Uint8Array, offset: number, length: number): Uint8Array {
    if (this.holds(source, offset)) {
      this.used = (offset + length + ALIGN - 1) & ~(ALIGN - 1);
      return new Uint8Array(this.slabBuffer, offset, length);
    }
    if (length > this.slabBytes) return source.slice(offset, offset + length);
    if (this.used + length > this.slabBytes) this.renew();
    const start = this.used;
    copyInto(this.slab, viewOf(source, offset, offset + length), start);
    this.used = (start + length + ALIGN - 1) & ~(ALIGN - 1);
    return new Uint8Array(this.slabBuffer, start, length);
  }
}
