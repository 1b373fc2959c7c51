/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675): which bytes above SND.UNA the peer reported
 * holding, loss inference from them (IsLost), and the pipe estimate that governs sending during
 * loss recovery.
 *
 * Ranges are kept as offsets from SND.UNA (so no comparison here has to think about wrap) and are
 * bounded in number ({@link SackScoreboardOptions.maxRanges}); a block that would need one more
 * range replaces the highest range when it lies below it and is ignored otherwise (counted in
 * {@link SackScoreboard.rangesDropped}). Forgetting SACK information is safe: it can only cause an
 * unneeded retransmission, never a lost byte.
 *
 * Granularity: IsLost and the pipe are computed per byte, not per segment. RFC 6675's per-octet
 * definitions are followed literally, which for full-sized segments gives the same answers as the
 * per-segment form.
 */
import { seqAdd, seqSub } from './seq.js';

/** A SACK block in absolute sequence numbers: bytes `[left, right)`. */
export interface SackBlock {
  /** First byte SACKed. */
  left: number;
  /** Sequence number after the last byte SACKed. */
  right: number;
}

/** A range of sequence numbers `[start, end)` that the peer has not SACKed. */
export interface SeqRange {
  /** First sequence number of the range. */
  start: number;
  /** Sequence number after the range. */
  end: number;
}

/** The range arrays of a scoreboard that has held no range yet. */
const NO_RANGES = new Float64Array(0);

/** Default {@link SackScoreboardOptions.maxRanges}. */
export const DEFAULT_MAX_SACK_RANGES = 32;
/** RFC 6675 DupThresh. */
export const DEFAULT_DUP_THRESH = 3;

/** Options of a {@link SackScoreboard}. */
export interface SackScoreboardOptions {
  /** Most disjoint SACKed ranges remembered. Default 32. */
  maxRanges?: number;
  /** SMSS used by {@link SackScoreboard.isLost} when none is passed. Default 536. */
  mss?: number;
}

/**
 * SACKed ranges above SND.UNA.
 *
 * Invariants: ranges are disjoint, non-adjacent, sorted, inside `[una, una + 2^31)`, and
 * `sackedBytes` is the sum of their lengths. Blocks that are empty, inverted, wholly at or below SND.UNA (old or D-SACK blocks,
 * RFC 2883), or beyond `sndNxt` when it is given, are ignored and counted in
 * {@link SackScoreboard.blocksIgnored}. Nothing here throws on peer input.
 *
 * Memory: the range arrays ({@link SackScoreboardOptions.maxRanges} entries each) are made with the
 * first range, so a connection that never saw a SACK block holds none.
 */
export class SackScoreboard {
  /** Most ranges remembered. */
  readonly maxRanges: number;
  /** SMSS default for {@link SackScoreboard.isLost} and the pipe (settable when the MSS is learned). */
  mss: number;
  /** SACK blocks ignored as invalid or stale. */
  blocksIgnored = 0;
  /** Ranges forgotten or refused because the table was full. */
  rangesDropped = 0;
  private una = 0;
  private sacked = 0;
  private lefts: Float64Array = NO_RANGES;
  private rights: Float64Array = NO_RANGES;
  private count = 0;
  /** What {@link SackScoreboard.nextUnsackedHole} returns, made by its first hole (loss recovery only). */
  private hole: SeqRange | undefined = undefined;

  /** @throws RangeError unless `maxRanges` and `mss` are positive integers. */
  constructor(options: SackScoreboardOptions = {}) {
    const maxRanges = options.maxRanges ?? DEFAULT_MAX_SACK_RANGES;
    const mss = options.mss ?? 536;
    if (!(Number.isInteger(maxRanges) && maxRanges > 0))
      throw new RangeError(`maxRanges must be a positive integer, got ${maxRanges}`);
    if (!(Number.isInteger(mss) && mss > 0)) throw new RangeError(`mss must be a positive integer, got ${mss}`);
    this.maxRanges = maxRanges;
    this.mss = mss;
  }

  /** Bytes currently SACKed above SND.UNA. */
  get sackedBytes(): number {
    return this.sacked;
  }

  /** Number of disjoint SACKed ranges. */
  get rangeCount(): number {
    return this.count;
  }

  /** SND.UNA as last given. */
  get sndUna(): number {
    return this.una;
  }

  /** The right edge (exclusive: one past the highest SACKed byte) of the highest range, or `undefined` when nothing is SACKed. */
  get highestSacked(): number | undefined {
    return this.count === 0 ? undefined : seqAdd(this.una, this.rights[this.count - 1]!);
  }

  /**
   * Starts over for a new connection sending `mss`-byte segments: every field as a new scoreboard
   * with the same `maxRanges` has it (no range, no range array, counters at zero, SND.UNA 0).
   * @throws RangeError unless `mss` is a positive integer.
   */
  restart(mss: number): void {
    if (!(Number.isInteger(mss) && mss > 0)) throw new RangeError(`mss must be a positive integer, got ${mss}`);
    this.mss = mss;
    this.blocksIgnored = 0;
    this.rangesDropped = 0;
    this.una = 0;
    this.sacked = 0;
    this.lefts = NO_RANGES;
    this.rights = NO_RANGES;
    this.count = 0;
    this.hole = undefined;
  }

  /** Forgets every range and sets SND.UNA. */
  reset(una: number): void {
    this.una = una >>> 0;
    this.count = 0;
    this.sacked = 0;
  }

  /**
   * Applies a cumulative ACK `una` (ranges at or below it are dropped; an older `una` is ignored)
   * and then the SACK `blocks`, and returns how many bytes became SACKed that were not before.
   * Pass `sndNxt` to ignore blocks that reach beyond what was sent.
   */
  update(una: number, blocks: ReadonlyArray<SackBlock>, sndNxt?: number): number {
    this.advance(una >>> 0);
    const limit = sndNxt === undefined ? Number.POSITIVE_INFINITY : seqSub(sndNxt, this.una);
    let added = 0;
    for (let b = 0; b < blocks.length; b++) {
      const block = blocks[b]!;
      added += this.addBlock(block.left, block.right, limit);
    }
    return added;
  }

  /**
   * {@link SackScoreboard.update} for blocks in the layout of `TcpOptionSummary.sackEdges`
   * (left/right pairs): no allocation. `una` may be given unsigned or as a signed 32-bit value
   * (`una | 0`, a small integer: no heap number for the call when SND.UNA is above 2^31).
   */
  updateFromEdges(una: number, edges: ArrayLike<number>, blockCount: number, sndNxt?: number): number {
    this.advance(una >>> 0);
    const limit = sndNxt === undefined ? Number.POSITIVE_INFINITY : seqSub(sndNxt, this.una);
    let added = 0;
    const n = Math.min(blockCount, edges.length >>> 1);
    for (let b = 0; b < n; b++) added += this.addBlock(edges[2 * b]!, edges[2 * b + 1]!, limit);
    return added;
  }

  /** True when the byte with sequence number `seq` is SACKed. */
  isSacked(seq: number): boolean {
    const off = seqSub(seq, this.una);
    for (let i = 0; i < this.count; i++) {
      if (off < this.lefts[i]!) return false;
      if (off < this.rights[i]!) return true;
    }
    return false;
  }

  /**
   * The first range of bytes not SACKed that starts at or after `fromSeq` (and at or after SND.UNA)
   * and lies before `sndNxt`: from there to the next SACKed byte or `sndNxt`. `undefined` when no
   * such byte exists. The returned object belongs to the scoreboard and is overwritten by the next
   * call: read it at once.
   */
  nextUnsackedHole(fromSeq: number, sndNxt: number): SeqRange | undefined {
    let from = Math.max(0, seqSub(fromSeq, this.una));
    const end = seqSub(sndNxt, this.una);
    let i = 0;
    while (i < this.count && this.rights[i]! <= from) i++;
    if (i < this.count && this.lefts[i]! <= from) {
      from = this.rights[i]!;
      i++;
    }
    if (from >= end) return undefined;
    const holeEnd = i < this.count ? Math.min(this.lefts[i]!, end) : end;
    const hole = (this.hole ??= { start: 0, end: 0 });
    hole.start = seqAdd(this.una, from);
    hole.end = seqAdd(this.una, holeEnd);
    return hole;
  }

  /**
   * RFC 6675 IsLost(seq): true when at least `dupThresh` SACKed ranges hold bytes above `seq`, or
   * more than `(dupThresh - 1) * mss` bytes above `seq` are SACKed. Monotone: if a byte is lost, so
   * is every byte before it.
   */
  isLost(seq: number, dupThresh: number = DEFAULT_DUP_THRESH, mss: number = this.mss): boolean {
    return this.isLostOffset(seqSub(seq, this.una), dupThresh, mss);
  }

  /** Bytes in `[SND.UNA, sndNxt)` deemed lost: not SACKed, and {@link SackScoreboard.isLost} true. */
  lostBytes(sndNxt: number, dupThresh: number = DEFAULT_DUP_THRESH, mss: number = this.mss): number {
    const end = seqSub(sndNxt, this.una);
    if (end <= 0) return 0;
    const boundary = this.lossBoundary(end, dupThresh, mss);
    return boundary - this.sackedIn(0, boundary);
  }

  /**
   * RFC 6675 SetPipe: the bytes estimated in flight. Every byte in `[SND.UNA, sndNxt)` that is not
   * SACKed counts once if it is not lost, and once if it was retransmitted (its sequence number is
   * below `highRxt`, the end of the highest retransmission; omit it when nothing was retransmitted
   * in this recovery). A retransmitted byte counts once, not twice: it was resent because its
   * original was taken for lost (fast retransmit, early retransmit or a lost retransmission), even
   * when IsLost alone, with fewer than DupThresh segments SACKed above it, does not say so. Counting
   * it twice would fill a small congestion window with a segment that is not in the network and
   * stall recovery until the RTO (RFC 8985 and Linux count it once, too).
   */
  pipe(sndNxt: number, highRxt?: number, dupThresh: number = DEFAULT_DUP_THRESH, mss: number = this.mss): number {
    const end = seqSub(sndNxt, this.una);
    if (end <= 0) return 0;
    let boundary = this.lossBoundary(end, dupThresh, mss);
    let rxt = 0;
    if (highRxt !== undefined) {
      rxt = Math.min(end, Math.max(0, seqSub(highRxt, this.una)));
      boundary = Math.max(boundary, rxt);
    }
    return end - boundary - this.sackedIn(boundary, end) + rxt - this.sackedIn(0, rxt);
  }

  /** Smallest offset in [0, end] from which no byte is lost (IsLost is monotone, so binary search). */
  private lossBoundary(end: number, dupThresh: number, mss: number): number {
    let lo = 0;
    let hi = end;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.isLostOffset(mid, dupThresh, mss)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private isLostOffset(off: number, dupThresh: number, mss: number): boolean {
    let ranges = 0;
    let bytes = 0;
    const threshold = (dupThresh - 1) * mss;
    for (let i = this.count - 1; i >= 0; i--) {
      const right = this.rights[i]!;
      if (right <= off + 1) break;
      const left = Math.max(this.lefts[i]!, off + 1);
      ranges++;
      bytes += right - left;
      if (ranges >= dupThresh || bytes > threshold) return true;
    }
    return false;
  }

  /** SACKed bytes with offsets in [from, to). */
  private sackedIn(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const l = Math.max(this.lefts[i]!, from);
      const r = Math.min(this.rights[i]!, to);
      if (r > l) n += r - l;
    }
    return n;
  }

  private advance(una: number): void {
    const d = seqSub(una, this.una);
    if (d <= 0) return;
    this.una = una;
    let drop = 0;
    let removedBytes = 0;
    for (let i = 0; i < this.count; i++) {
      const l = this.lefts[i]! - d;
      const r = this.rights[i]! - d;
      if (r <= 0) {
        removedBytes += this.rights[i]! - this.lefts[i]!;
        drop++;
        continue;
      }
      const nl = Math.max(l, 0);
      removedBytes += nl - l;
      this.lefts[i - drop] = nl;
      this.rights[i - drop] = r;
    }
    this.count -= drop;
    this.sacked -= removedBytes;
  }

  private addBlock(leftSeq: number, rightSeq: number, limit: number): number {
    let left = seqSub(leftSeq, this.una);
    const right = seqSub(rightSeq, this.una);
    if (!(right > left) || right <= 0 || right > limit) {
      this.blocksIgnored++;
      return 0;
    }
    if (left < 0) left = 0;
    const n = this.count;
    let i = 0;
    while (i < n && this.rights[i]! < left) i++;
    let j = i;
    while (j < n && this.lefts[j]! <= right) j++;
    if (i === j) {
      if (this.lefts.length === 0) {
        this.lefts = new Float64Array(this.maxRanges);
        this.rights = new Float64Array(this.maxRanges);
      }
      if (n === this.maxRanges) {
        this.rangesDropped++;
        if (i === n) return 0;
        this.sacked -= this.rights[n - 1]! - this.lefts[n - 1]!;
        this.count = n - 1;
      }
      this.lefts.copyWithin(i + 1, i, this.count);
      this.rights.copyWithin(i + 1, i, this.count);
      this.lefts[i] = left;
      this.rights[i] = right;
      this.count++;
      this.sacked += right - left;
      return right - left;
    }
    const mergedLeft = Math.min(left, this.lefts[i]!);
    const mergedRight = Math.max(right, this.rights[j - 1]!);
    let before = 0;
    for (let k = i; k < j; k++) before += this.rights[k]! - this.lefts[k]!;
    const added = mergedRight - mergedLeft - before;
    this.lefts[i] = mergedLeft;
    this.rights[i] = mergedRight;
    const removed = j - i - 1;
    if (removed > 0) {
      this.lefts.copyWithin(i + 1, j, this.count);
      this.rights.copyWithin(i + 1, j, this.count);
      this.count -= removed;
    }
    this.sacked += added;
    return added;
  }
}
