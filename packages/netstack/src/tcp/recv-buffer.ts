/**
 * The receive buffer of one TCP connection: in-order bytes waiting for the application, and
 * out-of-order bytes held until the gap before them fills (RFC 9293 §3.10.7.4, RFC 2018 for the
 * SACK blocks that describe them).
 *
 * Offsets: {@link ReceiveBuffer.insert} takes the segment's offset from RCV.NXT (the next expected
 * byte, `seqSub(seg.seq, rcv.nxt)`), and {@link ReceiveBuffer.sackBlocks} reports offsets from
 * RCV.NXT. The buffer does not know sequence numbers, so it never has to reason about wrap.
 *
 * Window: `window = capacity - readable`. Out-of-order bytes sit inside that window and do not
 * shrink it (RFC 9293 §3.8.6: the window is the space for data from RCV.NXT on; data already held
 * beyond RCV.NXT occupies part of it but the right edge must not move left).
 *
 * Memory: bytes live in pooled chunks taken on first write and given back as the application
 * consumes past them; an empty buffer holds none (as in the send buffer).
 *
 * Bounds: out-of-order data is kept as at most `maxRanges` disjoint ranges. A segment that would
 * need one more range replaces the highest range if it lies below it, and is dropped otherwise
 * (counted in {@link ReceiveBuffer.droppedRangeLimitBytes}); the peer retransmits it.
 *
 * Resizing ({@link ReceiveBuffer.resize}): the capacity may change at any time to any value no
 * smaller than {@link ReceiveBuffer.heldExtent}, so no held byte is ever dropped. Keeping the
 * advertised right edge in place is the caller's part (TCP shrinks only as far as the bytes held
 * and the window it promised allow).
 */
import { ChunkedRing, defaultChunkPool, type ChunkPool } from './chunk-pool.js';
import { copyRingBytes } from './ring-copy.js';

/** One SACK block as offsets from RCV.NXT: bytes `[left, right)` are held. */
export interface SackRange {
  /** First byte held, as an offset from RCV.NXT (> 0). */
  left: number;
  /** Offset after the last byte held. */
  right: number;
}

/** Default {@link ReceiveBufferOptions.maxRanges}. */
export const DEFAULT_MAX_OUT_OF_ORDER_RANGES = 32;

/** Out-of-order range slots the first out-of-order segment makes room for (then doubled as needed). */
const INITIAL_RANGE_SLOTS = 4;
/** The range arrays of a buffer that never held out-of-order data (shared; never written: it has no entries). */
const NO_RANGES = new Float64Array(0);

/** Options of a {@link ReceiveBuffer}. */
export interface ReceiveBufferOptions {
  /** Most disjoint out-of-order ranges held. Default 32. */
  maxRanges?: number;
  /** Where chunks come from. Default {@link defaultChunkPool}. */
  pool?: ChunkPool;
}

/**
 * In-order and out-of-order received bytes of one connection.
 *
 * Invariants: `readable + (highest out-of-order right edge) <= capacity`; every byte returned by
 * {@link ReceiveBuffer.read} was inserted at its offset; out-of-order ranges are disjoint,
 * non-adjacent, sorted and never touch RCV.NXT (they merge into the readable bytes as soon as they
 * do); overlapping or duplicate data never counts twice. `insert` never throws on any offset.
 */
export class ReceiveBuffer {
  /** Most out-of-order ranges. */
  readonly maxRanges: number;
  /** Bytes of inserted segments that were already received (before RCV.NXT or already held). */
  duplicateBytes = 0;
  /** Bytes of inserted segments beyond the window, trimmed off. */
  beyondWindowBytes = 0;
  /** Out-of-order bytes dropped because the range table was full. */
  droppedRangeLimitBytes = 0;

  private limit: number;
  /** The largest capacity so far: what the ring is built for. */
  private ringCapacity: number;
  private readonly pool: ChunkPool;
  private ring: ChunkedRing;
  /** Ring position of the first readable byte. */
  private head = 0;
  private inOrder = 0;
  /** Stream offset of the first readable byte (total bytes consumed). */
  private consumed = 0;
  /**
   * Out-of-order ranges in stream offsets, sorted, disjoint, non-adjacent. The arrays start empty
   * (shared {@link NO_RANGES}), take {@link INITIAL_RANGE_SLOTS} entries with the first out-of-order
   * segment and double up to `maxRanges` as needed: an in-order connection never allocates them.
   */
  private lefts: Float64Array;
  private rights: Float64Array;
  /** Recency stamp of each range (larger = changed more recently). */
  private stamps: Float64Array;
  private rangeCount = 0;
  private stampClock = 0;
  private oooBytes = 0;

  /** @throws RangeError unless `capacityBytes` and `maxRanges` are positive integers. */
  constructor(capacityBytes: number, options: ReceiveBufferOptions = {}) {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`receive buffer capacity must be a positive integer, got ${capacityBytes}`);
    const maxRanges = options.maxRanges ?? DEFAULT_MAX_OUT_OF_ORDER_RANGES;
    if (!(Number.isInteger(maxRanges) && maxRanges > 0))
      throw new RangeError(`maxRanges must be a positive integer, got ${maxRanges}`);
    this.limit = capacityBytes;
    this.ringCapacity = capacityBytes;
    this.maxRanges = maxRanges;
    this.pool = options.pool ?? defaultChunkPool;
    this.ring = new ChunkedRing(capacityBytes, this.pool);
    this.lefts = NO_RANGES;
    this.rights = NO_RANGES;
    this.stamps = NO_RANGES;
  }

  /** Most bytes held (readable plus out-of-order up to the highest held byte), and the largest window. */
  get capacity(): number {
    return this.limit;
  }

  /**
   * Bytes from the first readable byte to the end of the highest out-of-order range (gaps
   * included): the smallest capacity that keeps every held byte.
   */
  get heldExtent(): number {
    if (this.rangeCount === 0) return this.inOrder;
    return this.rights[this.rangeCount - 1]! - this.consumed;
  }

  /**
   * Sets the capacity to `capacityBytes` (the window grows or shrinks with it). Past the largest
   * capacity so far the held bytes move into a larger ring, so earlier views are invalid.
   * @throws RangeError unless `capacityBytes` is an integer no smaller than
   *   {@link ReceiveBuffer.heldExtent} and at least 1; nothing changes then.
   */
  resize(capacityBytes: number): void {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`receive buffer capacity must be a positive integer, got ${capacityBytes}`);
    const extent = this.heldExtent;
    if (capacityBytes < extent)
      throw new RangeError(`receive buffer capacity ${capacityBytes} is below the ${extent} bytes held`);
    if (capacityBytes > this.ringCapacity) {
      const ring = new ChunkedRing(capacityBytes, this.pool);
      if (this.inOrder > 0) copyRingBytes(this.ring, this.head, ring, 0, this.inOrder);
      for (let i = 0; i < this.rangeCount; i++) {
        const offset = this.lefts[i]! - this.consumed;
        copyRingBytes(this.ring, this.position(offset), ring, offset, this.rights[i]! - this.lefts[i]!);
      }
      this.ring.releaseAll();
      this.ring = ring;
      this.head = 0;
      this.ringCapacity = capacityBytes;
    }
    this.limit = capacityBytes;
  }

  /** In-order bytes ready for the application. */
  get readable(): number {
    return this.inOrder;
  }

  /** The receive window to advertise: `capacity - readable` (out-of-order bytes count as free). */
  get window(): number {
    return this.limit - this.inOrder;
  }

  /** Bytes held out of order (beyond a gap). */
  get outOfOrderBytes(): number {
    return this.oooBytes;
  }

  /** Number of disjoint out-of-order ranges. */
  get outOfOrderRanges(): number {
    return this.rangeCount;
  }

  /** Bytes of chunk memory held now (0 when empty). */
  get allocatedBytes(): number {
    return this.ring.allocatedBytes;
  }

  /**
   * Stores the segment payload `data[from, to)` (default all of it) that starts `offset` bytes
   * after RCV.NXT and returns how far the in-order edge advanced (so RCV.NXT moves by the result).
   * Bytes before RCV.NXT and bytes beyond the window are trimmed (counted); a segment that lands
   * after a gap is held out of order and 0 is returned; when it fills a gap, the held ranges it
   * reaches join the readable bytes and count in the result. Retransmitted bytes that overlap held
   * ones overwrite them (TCP requires them to be equal). Copies `data`.
   */
  insert(offset: number, data: Uint8Array, from = 0, to: number = data.length): number {
    if (!(from >= 0 && to <= data.length && from <= to) || !Number.isInteger(offset)) return 0;
    let start = offset;
    let srcStart = from;
    let length = to - from;
    if (start < 0) {
      const skip = Math.min(length, -start);
      this.duplicateBytes += skip;
      length -= skip;
      srcStart += skip;
      start = 0;
    }
    const window = this.limit - this.inOrder;
    if (start + length > window) {
      const cut = Math.min(length, start + length - window);
      this.beyondWindowBytes += cut;
      length -= cut;
    }
    if (length <= 0) return 0;

    const edge = this.consumed + this.inOrder; // stream offset of RCV.NXT
    if (start === 0) {
      this.ring.write(this.position(this.inOrder), data, srcStart, length);
      const segmentEnd = edge + length;
      let newEdge = segmentEnd;
      // Absorb held ranges that now touch the edge.
      let absorbed = 0;
      while (absorbed < this.rangeCount && this.lefts[absorbed]! <= newEdge) {
        const left = this.lefts[absorbed]!;
        const right = this.rights[absorbed]!;
        if (left < segmentEnd) this.duplicateBytes += Math.min(right, segmentEnd) - left;
        this.oooBytes -= right - left;
        if (right > newEdge) newEdge = right;
        absorbed++;
      }
      if (absorbed > 0) this.removeRanges(0, absorbed);
      const advanced = newEdge - edge;
      this.inOrder += advanced;
      return advanced;
    }
    this.holdOutOfOrder(edge + start, length, data, srcStart, start);
    return 0;
  }

  /** Copies up to `dest.length` readable bytes into `dest`, consumes them, and returns the count. */
  read(dest: Uint8Array): number {
    const n = Math.min(dest.length, this.inOrder);
    if (n === 0) return 0;
    this.ring.read(this.head, dest, 0, n);
    this.consume(n);
    return n;
  }

  /**
   * A view of up to `max` readable bytes from the front without copying (it ends at a chunk
   * boundary, so it may be shorter than `max` while more is readable), or `undefined` when nothing
   * is readable. Does not consume: call {@link ReceiveBuffer.consume}. The view is valid only until
   * the next `consume`, `read`, `clear` or growing `resize` (its chunk may then be reused by any
   * connection).
   */
  readView(max: number): Uint8Array | undefined {
    const n = Math.min(max, this.inOrder);
    if (!(n > 0)) return undefined;
    return this.ring.view(this.head, n);
  }

  /**
   * Drops `n` readable bytes (the application took them); the window grows by `n`.
   * @throws RangeError if `n` is negative or more than readable.
   */
  consume(n: number): void {
    if (!(n >= 0 && n <= this.inOrder)) throw new RangeError(`cannot consume ${n} of ${this.inOrder} readable bytes`);
    if (n === 0) return;
    this.inOrder -= n;
    this.consumed += n;
    if (this.inOrder === 0 && this.rangeCount === 0) {
      this.head = 0;
      this.ring.releaseAll();
      return;
    }
    this.ring.releasePassed(this.head, n);
    this.head = this.position(n);
  }

  /**
   * The first part of `[offset, offset + length)` (offsets from RCV.NXT) that is already held out of
   * order: written to `out` (offsets from RCV.NXT) and true, or false when no byte of it is held. A
   * receiver reports such a part as a D-SACK block (RFC 2883 §4.1.2, §4.2): the segment arrived twice.
   */
  heldOverlap(offset: number, length: number, out: SackRange): boolean {
    const edge = this.consumed + this.inOrder;
    const end = offset + length;
    for (let i = 0; i < this.rangeCount; i++) {
      const left = Math.max(this.lefts[i]! - edge, offset);
      const right = Math.min(this.rights[i]! - edge, end);
      if (left < right) {
        out.left = left;
        out.right = right;
        return true;
      }
    }
    return false;
  }

  /**
   * Up to `max` out-of-order ranges as offsets from RCV.NXT, the most recently changed first (RFC
   * 2018 §4: the first block holds the segment that triggered the ACK). Allocates the result; see
   * {@link ReceiveBuffer.writeSackEdges} for the allocation-free form.
   */
  sackBlocks(max: number): Array<{ left: number; right: number }> {
    const out: SackRange[] = [];
    const edge = this.consumed + this.inOrder;
    const count = Math.min(max, this.rangeCount);
    let lastStamp = Number.POSITIVE_INFINITY;
    for (let k = 0; k < count; k++) {
      const i = this.nextByRecency(lastStamp);
      lastStamp = this.stamps[i]!;
      out.push({ left: this.lefts[i]! - edge, right: this.rights[i]! - edge });
    }
    return out;
  }

  /**
   * Writes up to `max` SACK blocks as absolute sequence numbers (`rcvNxt` plus each offset, modulo
   * 2^32) into `edges` as left/right pairs (the layout of `TcpOptionSummary.sackEdges`), most
   * recent first, and returns how many blocks it wrote. `max` is capped by `edges.length / 2`.
   */
  writeSackEdges(rcvNxt: number, edges: Uint32Array, max: number): number {
    const edge = this.consumed + this.inOrder;
    const count = Math.min(max, this.rangeCount, edges.length >>> 1);
    let lastStamp = Number.POSITIVE_INFINITY;
    for (let k = 0; k < count; k++) {
      const i = this.nextByRecency(lastStamp);
      lastStamp = this.stamps[i]!;
      edges[2 * k] = (rcvNxt + (this.lefts[i]! - edge)) >>> 0;
      edges[2 * k + 1] = (rcvNxt + (this.rights[i]! - edge)) >>> 0;
    }
    return count;
  }

  /**
   * Empties the buffer for a new connection with `capacityBytes`, as a new `ReceiveBuffer` of that
   * capacity with the same options would be: counters at 0, no range arrays (the ring is kept when
   * it is built for that capacity).
   * @throws RangeError unless `capacityBytes` is a positive integer.
   */
  reuse(capacityBytes: number): void {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`receive buffer capacity must be a positive integer, got ${capacityBytes}`);
    this.ring.releaseAll();
    if (capacityBytes !== this.ringCapacity) this.ring = new ChunkedRing(capacityBytes, this.pool);
    this.limit = capacityBytes;
    this.ringCapacity = capacityBytes;
    this.duplicateBytes = 0;
    this.beyondWindowBytes = 0;
    this.droppedRangeLimitBytes = 0;
    this.head = 0;
    this.inOrder = 0;
    this.consumed = 0;
    this.lefts = NO_RANGES;
    this.rights = NO_RANGES;
    this.stamps = NO_RANGES;
    this.rangeCount = 0;
    this.stampClock = 0;
    this.oooBytes = 0;
  }

  /** Drops everything (readable and out-of-order) and gives back every chunk. Counters stay. */
  clear(): void {
    this.consumed += this.inOrder;
    this.inOrder = 0;
    this.rangeCount = 0;
    this.oooBytes = 0;
    this.head = 0;
    this.ring.releaseAll();
  }

  /** Index of the range with the largest stamp below `below`. Stamps are unique. */
  private nextByRecency(below: number): number {
    let best = -1;
    let bestStamp = -1;
    for (let i = 0; i < this.rangeCount; i++) {
      const s = this.stamps[i]!;
      if (s < below && s > bestStamp) {
        bestStamp = s;
        best = i;
      }
    }
    return best;
  }

  /** Makes the first range arrays, or doubles them (never beyond `maxRanges`), keeping the ranges held. */
  private growRanges(): void {
    const slots = Math.min(this.maxRanges, Math.max(INITIAL_RANGE_SLOTS, this.lefts.length * 2));
    const lefts = new Float64Array(slots);
    const rights = new Float64Array(slots);
    const stamps = new Float64Array(slots);
    lefts.set(this.lefts);
    rights.set(this.rights);
    stamps.set(this.stamps);
    this.lefts = lefts;
    this.rights = rights;
    this.stamps = stamps;
  }

  /** Adds stream range `[left, left + length)` (segment offset `offset` from RCV.NXT) to the held set. */
  private holdOutOfOrder(left: number, length: number, data: Uint8Array, srcStart: number, offset: number): void {
    const right = left + length;
    const n = this.rangeCount;
    // First range that ends at or after `left` (overlapping or adjacent on the left).
    let i = 0;
    while (i < n && this.rights[i]! < left) i++;
    // One past the last range that starts at or before `right`.
    let j = i;
    while (j < n && this.lefts[j]! <= right) j++;
    if (i === j) {
      // A new disjoint range at index i.
      if (n === this.maxRanges) {
        if (i === n) {
          this.droppedRangeLimitBytes += length;
          return;
        }
        // Forget the highest range to make room for this lower one.
        this.droppedRangeLimitBytes += this.rights[n - 1]! - this.lefts[n - 1]!;
        this.oooBytes -= this.rights[n - 1]! - this.lefts[n - 1]!;
        this.rangeCount = n - 1;
      }
      if (this.rangeCount === this.lefts.length) this.growRanges();
      this.ring.write(this.position(this.inOrder + offset), data, srcStart, length);
      this.lefts.copyWithin(i + 1, i, this.rangeCount);
      this.rights.copyWithin(i + 1, i, this.rangeCount);
      this.stamps.copyWithin(i + 1, i, this.rangeCount);
      this.lefts[i] = left;
      this.rights[i] = right;
      this.stamps[i] = ++this.stampClock;
      this.rangeCount++;
      this.oooBytes += length;
      return;
    }
    this.ring.write(this.position(this.inOrder + offset), data, srcStart, length);
    const mergedLeft = Math.min(left, this.lefts[i]!);
    const mergedRight = Math.max(right, this.rights[j - 1]!);
    let before = 0;
    for (let k = i; k < j; k++) before += this.rights[k]! - this.lefts[k]!;
    const added = mergedRight - mergedLeft - before;
    this.duplicateBytes += length - added;
    this.oooBytes += added;
    this.lefts[i] = mergedLeft;
    this.rights[i] = mergedRight;
    this.stamps[i] = ++this.stampClock;
    if (j - i > 1) this.removeRanges(i + 1, j - i - 1);
  }

  private removeRanges(at: number, count: number): void {
    this.lefts.copyWithin(at, at + count, this.rangeCount);
    this.rights.copyWithin(at, at + count, this.rangeCount);
    this.stamps.copyWithin(at, at + count, this.rangeCount);
    this.rangeCount -= count;
  }

  private position(offset: number): number {
    const p = this.head + offset;
    return p >= this.ring.size ? p - this.ring.size : p;
  }
}
