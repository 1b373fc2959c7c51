/**
 * {@link FrameViews}: exact-length views of a reused frame buffer, kept per length.
 *
 * The pipe handle's write takes a whole `Uint8Array` (no offset or length), so a frame built in a
 * larger reused buffer (the TSO coalescer's) needs a view of exactly its bytes. A connection's frames
 * come in few lengths (its pure ACKs, its full segments, the answer to a repeated request), so the
 * views are kept per length for the buffer last asked about: a steady exchange makes no view per frame.
 * The length asked for last is checked before the map: a run of frames of one length (keep-alive
 * answers, a bulk flow's full segments) costs no map lookup either.
 */
import { viewOf } from '../byte-views.js';

/** Default most lengths kept at once; asking for one more starts over. */
export const DEFAULT_FRAME_VIEW_LENGTHS = 16;

/** Views of the first `length` bytes of the buffer last asked about, one per length (see the module documentation). */
export class FrameViews {
  private source: Uint8Array | undefined;
  private readonly views = new Map<number, Uint8Array>();
  /** The length asked for last and its view (of {@link source}): a run of equal lengths skips the map. -1: none. */
  private lastLength = -1;
  private lastView: Uint8Array | undefined;

  /** @param maxLengths most lengths kept at once (at least 1); asking for one more forgets them all first. */
  constructor(private readonly maxLengths = DEFAULT_FRAME_VIEW_LENGTHS) {}

  /**
   * `buffer` itself when `length` is its whole length, else a view of its first `length` bytes
   * (`length` at most `buffer.byteLength`): the one returned last time for this buffer and length,
   * unless another buffer was asked about since.
   */
  of(buffer: Uint8Array, length: number): Uint8Array {
    if (length === buffer.length) return buffer;
    if (length === this.lastLength && buffer === this.source) return this.lastView!;
    const views = this.views;
    if (buffer !== this.source) {
      this.source = buffer;
      views.clear();
    }
    let view = views.get(length);
    if (view === undefined) {
      if (views.size >= this.maxLengths) views.clear();
      view = viewOf(buffer, 0, length);
      views.set(length, view);
    }
    this.lastLength = length;
    this.lastView = view;
    return view;
  }

  /** Lengths kept now (for tests). */
  get size(): number {
    return this.views.size;
  }
}
