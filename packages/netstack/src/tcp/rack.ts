/**
 * RACK loss detection (RFC 8985 §6) over a log of the segments in flight with their transmit times.
 *
 * {@link SentSegments} remembers, for every segment sent and not yet cumulatively acknowledged, its
 * sequence range, when it was (last) transmitted, and whether it was retransmitted, SACKed or is
 * deemed lost. {@link RackState} holds RACK's variables: the transmit time and end of the most
 * recently sent segment known delivered, its RTT, the minimum RTT, whether reordering was seen,
 * and the reordering window multiplier that D-SACKs raise (RFC 8985 §6.2 step 4).
 *
 * A segment is lost when a segment sent after it was delivered and more than `RTT + reo_wnd` has
 * passed since it was sent (RFC 8985 §6.2 step 5); when that time has not passed yet, the caller
 * arms the reordering timer for the rest.
 *
 * Memory: parallel typed arrays used as a ring, grown by doubling when the flight outgrows them
 * (rare, never per packet once the window is open); nothing is allocated per segment. The bytes
 * neither SACKed nor lost (the RFC 6675 pipe) are kept as a running sum, so reading them is O(1).
 */
import { DeliveryRate } from './delivery-rate.js';
import { seqAdd, seqGt, seqLt, seqSub } from './seq.js';

/** The entry was retransmitted at least once. */
export const SEG_RETRANSMITTED = 1;
/** The entry is SACKed (every byte of it). */
export const SEG_SACKED = 2;
/** RACK (or an RTO) deemed the entry lost and it has not been retransmitted since. */
export const SEG_LOST = 4;
/** The entry was (last) sent while the sender was application-limited (delivery rate estimation). */
export const SEG_APP_LIMITED = 8;

/** Stand-ins for a log's slot arrays while it holds no slots (an idle connection's log holds none). */
const NO_F64_SLOTS = new Float64Array(0);
const NO_U8_SLOTS = new Uint8Array(0);
/** Most free slot sets kept for reuse (one set: the seven arrays of one log at its first capacity). */
const SLOT_SETS_RETAINED = 256;
/**
 * Free slot sets shared by every log: six Float64Arrays per set in {@link freeF64Slots} (pushed in
 * field order: seqs, ends, times, txDelivered, txDeliveredTime, txFirstSent) and its flag bits in
 * {@link freeFlagSlots}. Stale contents are harmless: every entry's fields are written when it is made.
 */
const freeF64Slots: Float64Array[] = [];
const freeFlagSlots: Uint8Array[] = [];

/**
 * The segments in flight, in sequence order. Invariants: entries are contiguous ranges
 * `[seq, end)`, sorted, non-overlapping, all above SND.UNA once {@link SentSegments.ack} ran.
 *
 * Memory: the slot arrays are taken (from a shared free list when one of this log's first capacity
 * is there) when the first entry is logged, and given back when the log empties while still at its
 * first capacity, so an idle connection holds no slot arrays; a log that grew keeps its arrays.
 */
export class SentSegments {
  private seqs: Float64Array = NO_F64_SLOTS;
  private ends: Float64Array = NO_F64_SLOTS;
  private times: Float64Array = NO_F64_SLOTS;
  private flagBits: Uint8Array = NO_U8_SLOTS;
  // Delivery rate stamps of each entry's last transmission (see ./delivery-rate.ts).
  private txDelivered: Float64Array = NO_F64_SLOTS;
  private txDeliveredTime: Float64Array = NO_F64_SLOTS;
  private txFirstSent: Float64Array = NO_F64_SLOTS;
  /** The connection's delivery rate state, stamped on every transmission and fed by every delivery. */
  readonly rate = new DeliveryRate();
  private head = 0;
  private n = 0;
  /** Bytes of entries neither SACKed nor lost. */
  private pipeBytes = 0;
  /** Slots taken with the first entry. */
  private readonly firstCapacity: number;

  /** `capacity`: slots taken with the first entry (doubled whenever the flight outgrows them). */
  constructor(capacity = 64) {
    this.firstCapacity = capacity;
  }

  /** Takes the first slot arrays: a free set of {@link SentSegments.firstCapacity} slots, or new ones. */
  private takeSlots(): void {
    const cap = this.firstCapacity;
    const flags = freeFlagSlots.pop();
    if (flags !== undefined && flags.length === cap) {
      this.flagBits = flags;
      this.txFirstSent = freeF64Slots.pop()!;
      this.txDeliveredTime = freeF64Slots.pop()!;
      this.txDelivered = freeF64Slots.pop()!;
      this.times = freeF64Slots.pop()!;
      this.ends = freeF64Slots.pop()!;
      this.seqs = freeF64Slots.pop()!;
    } else {
      if (flags !== undefined) freeF64Slots.length -= 6;
      this.seqs = new Float64Array(cap);
      this.ends = new Float64Array(cap);
      this.times = new Float64Array(cap);
      this.flagBits = new Uint8Array(cap);
      this.txDelivered = new Float64Array(cap);
      this.txDeliveredTime = new Float64Array(cap);
      this.txFirstSent = new Float64Array(cap);
    }
    this.head = 0;
  }

  /** The log is empty: slot arrays still at the first capacity go back to the free list. */
  private releaseSlots(): void {
    if (this.flagBits.length !== this.firstCapacity) return;
    if (freeFlagSlots.length < SLOT_SETS_RETAINED) {
      freeF64Slots.push(this.seqs, this.ends, this.times, this.txDelivered, this.txDeliveredTime, this.txFirstSent);
      freeFlagSlots.push(this.flagBits);
    }
    this.seqs = NO_F64_SLOTS;
    this.ends = NO_F64_SLOTS;
    this.times = NO_F64_SLOTS;
    this.flagBits = NO_U8_SLOTS;
    this.txDelivered = NO_F64_SLOTS;
    this.txDeliveredTime = NO_F64_SLOTS;
    this.txFirstSent = NO_F64_SLOTS;
  }

  /** Entries held. */
  get count(): number {
    return this.n;
  }

  /** Forgets every entry. */
  clear(): void {
    this.n = 0;
    this.head = 0;
    this.pipeBytes = 0;
    this.releaseSlots();
    this.rate.reset();
  }

  /** Bytes of `[seq, end)` that count in the pipe when an entry carries `flags`. */
  private static piped(flags: number, seq: number, end: number): number {
    return (flags & (SEG_SACKED | SEG_LOST)) === 0 ? seqSub(end, seq) : 0;
  }

  private slot(i: number): number {
    const p = this.head + i;
    const cap = this.seqs.length;
    return p >= cap ? p - cap : p;
  }

  /** Sequence number of entry `i` (0: the oldest). */
  seq(i: number): number {
    return this.seqs[this.slot(i)]!;
  }

  /** End (exclusive) of entry `i`. */
  end(i: number): number {
    return this.ends[this.slot(i)]!;
  }

  /** Last transmit time of entry `i`, ms. */
  time(i: number): number {
    return this.times[this.slot(i)]!;
  }

  /** Flag bits of entry `i` ({@link SEG_RETRANSMITTED}, {@link SEG_SACKED}, {@link SEG_LOST}). */
  flags(i: number): number {
    return this.flagBits[this.slot(i)]!;
  }

  /** Sets flag bits of entry `i`. */
  setFlags(i: number, bits: number): void {
    const k = this.slot(i);
    const s = this.seqs[k]!;
    const e = this.ends[k]!;
    this.pipeBytes += SentSegments.piped(bits, s, e) - SentSegments.piped(this.flagBits[k]!, s, e);
    this.flagBits[k] = bits;
  }

  private grow(): void {
    if (this.seqs.length === 0) {
      this.takeSlots();
      return;
    }
    const cap = this.seqs.length * 2;
    const s = new Float64Array(cap);
    const e = new Float64Array(cap);
    const t = new Float64Array(cap);
    const f = new Uint8Array(cap);
    const d = new Float64Array(cap);
    const dt = new Float64Array(cap);
    const fs = new Float64Array(cap);
    for (let i = 0; i < this.n; i++) {
      const k = this.slot(i);
      s[i] = this.seqs[k]!;
      e[i] = this.ends[k]!;
      t[i] = this.times[k]!;
      f[i] = this.flagBits[k]!;
      d[i] = this.txDelivered[k]!;
      dt[i] = this.txDeliveredTime[k]!;
      fs[i] = this.txFirstSent[k]!;
    }
    this.seqs = s;
    this.ends = e;
    this.times = t;
    this.flagBits = f;
    this.txDelivered = d;
    this.txDeliveredTime = dt;
    this.txFirstSent = fs;
    this.head = 0;
  }

  /** Inserts an entry before index `i` (shifting later ones). */
  private insertAt(i: number, seq: number, end: number, time: number, flags: number): void {
    if (this.n === this.seqs.length) this.grow();
    for (let j = this.n; j > i; j--) {
      const to = this.slot(j);
      const from = this.slot(j - 1);
      this.seqs[to] = this.seqs[from]!;
      this.ends[to] = this.ends[from]!;
      this.times[to] = this.times[from]!;
      this.flagBits[to] = this.flagBits[from]!;
      this.txDelivered[to] = this.txDelivered[from]!;
      this.txDeliveredTime[to] = this.txDeliveredTime[from]!;
      this.txFirstSent[to] = this.txFirstSent[from]!;
    }
    const k = this.slot(i);
    this.seqs[k] = seq;
    this.ends[k] = end;
    this.times[k] = time;
    this.flagBits[k] = flags;
    this.stamp(k);
    this.n++;
    this.pipeBytes += SentSegments.piped(flags, seq, end);
  }

  /** Cuts entry `i` at `at` (inside it): `[seq, at)` stays at `i`, `[at, end)` becomes entry `i + 1`. */
  private split(i: number, at: number): void {
    const k = this.slot(i);
    const e = this.ends[k]!;
    const f = this.flagBits[k]!;
    this.pipeBytes -= SentSegments.piped(f, at, e);
    this.ends[k] = at;
    this.insertAt(i + 1, at, e, this.times[k]!, f);
    // The second half was sent with the first half's stamps.
    const k2 = this.slot(i + 1);
    this.txDelivered[k2] = this.txDelivered[k]!;
    this.txDeliveredTime[k2] = this.txDeliveredTime[k]!;
    this.txFirstSent[k2] = this.txFirstSent[k]!;
  }

  /** Records the connection's delivery state in slot `k` as of a transmission now (and the app-limited bit). */
  private stamp(k: number): void {
    const r = this.rate;
    this.txDelivered[k] = r.delivered;
    this.txDeliveredTime[k] = r.deliveredTime;
    this.txFirstSent[k] = r.firstSentTime;
    this.flagBits[k] = r.sendingAppLimited ? this.flagBits[k]! | SEG_APP_LIMITED : this.flagBits[k]! & ~SEG_APP_LIMITED;
  }

  /**
   * Entry `i` was delivered (cumulatively acknowledged or SACKed) at `now`: its bytes and stamps go
   * to {@link SentSegments.rate}. Called once per delivered entry, before it leaves or is flagged SACKED.
   */
  noteDelivered(i: number, now: number): void {
    const k = this.slot(i);
    this.rate.onDelivered(
      now,
      seqSub(this.ends[k]!, this.seqs[k]!),
      this.times[k]!,
      this.txDelivered[k]!,
      this.txDeliveredTime[k]!,
      this.txFirstSent[k]!,
      (this.flagBits[k]! & SEG_APP_LIMITED) !== 0,
      (this.flagBits[k]! & SEG_RETRANSMITTED) !== 0,
    );
  }

  /**
   * Records a transmission of `[seq, end)` at `now`. New data extends the log at its end; a
   * retransmission updates the entries it covers (split at its edges), marks them retransmitted
   * and no longer lost. Ranges beyond the log's end are appended as new entries.
   */
  sent(seq: number, end: number, now: number, retransmission: boolean): void {
    if (!seqLt(seq, end)) return;
    if (this.n === 0) this.rate.onFlightEmpty(now);
    const last = this.n - 1;
    if (this.n === 0 || !seqLt(seq, this.ends[this.slot(last)]!)) {
      const base = this.n === 0 ? seq : this.ends[this.slot(last)]!;
      this.insertAt(this.n, seqGt(seq, base) ? seq : base, end, now, retransmission ? SEG_RETRANSMITTED : 0);
      return;
    }
    // A retransmission over logged entries: split at `seq` and `end`, then stamp the covered ones.
    for (let i = 0; i < this.n; i++) {
      const s = this.seq(i);
      const e = this.end(i);
      if (!seqGt(e, seq)) continue;
      if (!seqLt(s, end)) break;
      if (seqLt(s, seq)) {
        this.split(i, seq);
        continue;
      }
      if (seqGt(e, end)) this.split(i, end);
      this.times[this.slot(i)] = now;
      this.setFlags(i, (this.flags(i) | SEG_RETRANSMITTED) & ~SEG_LOST);
      this.stamp(this.slot(i));
    }
    const tail = this.ends[this.slot(this.n - 1)]!;
    if (seqGt(end, tail)) this.insertAt(this.n, tail, end, now, retransmission ? SEG_RETRANSMITTED : 0);
  }

  /**
   * The cumulative ACK reached `una`: entries wholly below it leave (a partly acknowledged one is
   * trimmed). Calls `delivered(i)` for each entry leaving that was not SACKed before, before it
   * leaves (so RACK can read its time and flags).
   */
  ack(una: number, delivered: (index: number) => void): void {
    while (this.n > 0) {
      const k = this.head;
      const e = this.ends[k]!;
      if (seqGt(e, una)) {
        if (seqLt(this.seqs[k]!, una)) {
          this.pipeBytes -= SentSegments.piped(this.flagBits[k]!, this.seqs[k]!, una);
          this.seqs[k] = una;
        }
        return;
      }
      if ((this.flagBits[k]! & SEG_SACKED) === 0) delivered(0);
      this.pipeBytes -= SentSegments.piped(this.flagBits[k]!, this.seqs[k]!, e);
      this.head = this.slot(1);
      this.n--;
    }
    this.head = 0;
    this.releaseSlots();
  }

  /** Bytes in flight by RACK's count: not SACKed and not lost (a retransmitted entry counts once). O(1). */
  inFlight(): number {
    return this.pipeBytes;
  }

  /** Index of the first entry at or after index `from` that is lost and not SACKed, or -1. */
  nextLost(from: number): number {
    for (let i = Math.max(0, from); i < this.n; i++) {
      if ((this.flags(i) & (SEG_LOST | SEG_SACKED)) === SEG_LOST) return i;
    }
    return -1;
  }
}

/**
 * Smallest non-zero reordering window, ms. RFC 8985's `min_RTT / 4` can be microseconds on a local
 * path, less than the jitter of ACK batching (a TAP reader's poll, a bridge's batch), so a segment
 * overtaken by one frame would be marked lost before its own ACK is read; Linux gets the same floor
 * from its timer's one-jiffy granularity.
 */
export const RACK_MIN_REO_WND_MS = 1;
/**
 * Reordering window multiplier bound. RFC 8985 §6.2 sets none (the window stays at most SRTT
 * anyway); Linux stops at 255 steps. A small bound defeats the adaptation on a short path: with a
 * 0.2 ms minimum RTT, 16 steps give 0.8 ms, under {@link RACK_MIN_REO_WND_MS}, so D-SACKs could
 * never widen the window past a frame held back a few milliseconds.
 */
export const MAX_REO_WND_MULT = 255;
/** Recoveries after which a raised reordering window falls back (RFC 8985 §6.2 step 4: 16). */
const REO_WND_PERSIST = 16;

/** RACK's variables (RFC 8985 §5.2). */
export class RackState {
  /** Transmit time of the most recently sent segment known delivered, or -1 (none yet). */
  xmitTs = -1;
  /** End of that segment. */
  endSeq = 0;
  /** RTT of that segment, ms. */
  rtt = 0;
  /** Minimum RTT seen, ms (Infinity before the first sample). */
  minRtt = Number.POSITIVE_INFINITY;
  /** Reordering was observed (a segment delivered below the highest SACKed one without having been retransmitted). */
  reordering = false;
  /** Highest sequence number SACKed or acknowledged plus one (RACK.fack). */
  fack = 0;
  /** The reordering window multiplier (raised by D-SACKs, one step per round trip). */
  reoWndMult = 1;
  /** Recoveries left before the multiplier falls back to 1. */
  reoWndPersist = REO_WND_PERSIST;
  /** SND.MAX when the multiplier was last raised (one raise per round trip). */
  dsackRound = 0;
  /** A D-SACK raised the multiplier at least once. */
  dsackSeen = false;

  /** Forgets everything (new connection incarnation). */
  reset(una: number): void {
    this.xmitTs = -1;
    this.endSeq = una;
    this.rtt = 0;
    this.fack = una;
    this.reordering = false;
    this.reoWndMult = 1;
    this.reoWndPersist = REO_WND_PERSIST;
    this.dsackRound = una;
  }

  /**
   * RFC 8985 §6.2 step 2: a segment sent at `xmitTs` ending at `endSeq` was delivered now
   * (`retransmitted`: it was sent more than once; `echoBeforeXmit`: the ACK's echoed timestamp is
   * older than the segment's last transmission, so an earlier copy is what arrived). Updates the
   * RTT, the minimum RTT, and the most recent delivered segment. A retransmitted segment is ignored
   * when the echo says an earlier copy arrived or its RTT is below the minimum: taking the
   * retransmission's time for a spurious retransmission's delivery would make every segment sent
   * before it look overdue.
   */
  delivered(now: number, xmitTs: number, endSeq: number, retransmitted: boolean, echoBeforeXmit: boolean): void {
    const rtt = now - xmitTs;
    if (retransmitted && (echoBeforeXmit || rtt < this.minRtt)) return;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (this.xmitTs < 0 || xmitTs > this.xmitTs || (xmitTs === this.xmitTs && seqGt(endSeq, this.endSeq))) {
      this.xmitTs = xmitTs;
      this.endSeq = endSeq;
      this.rtt = rtt;
    }
  }

  /** RFC 8985 §6.2 step 3: a never-retransmitted segment ending at `endSeq` was delivered below RACK.fack. */
  noteDelivery(endSeq: number, retransmitted: boolean): void {
    if (seqLt(endSeq, this.fack)) {
      if (!retransmitted) this.reordering = true;
    } else {
      this.fack = endSeq;
    }
  }

  /**
   * RFC 8985 §6.2 step 4 with D-SACK adaptation: a D-SACK arrived; the multiplier rises by one,
   * at most once per round trip (`sndMax` marks the round).
   */
  onDsack(sndUna: number, sndMax: number): boolean {
    if (seqLt(sndUna, this.dsackRound)) return false;
    this.dsackRound = sndMax;
    this.dsackSeen = true;
    this.reordering = true;
    if (this.reoWndMult < MAX_REO_WND_MULT) this.reoWndMult++;
    this.reoWndPersist = REO_WND_PERSIST;
    return true;
  }

  /** A recovery ended: after {@link REO_WND_PERSIST} of them without a D-SACK, the multiplier falls back to 1. */
  onRecoveryEnd(): void {
    if (--this.reoWndPersist <= 0) {
      this.reoWndMult = 1;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /**
   * The reordering window, ms (RFC 8985 §6.2 step 4): 0 without observed reordering when in
   * recovery or when `sackedSegments` reach DupThresh; else `min(mult * minRtt / 4, srtt)`, at
   * least {@link RACK_MIN_REO_WND_MS}.
   */
  reoWnd(inRecovery: boolean, sackedSegments: number, srtt: number, dupThresh: number): number {
    if (!this.reordering && (inRecovery || sackedSegments >= dupThresh)) return 0;
    const min = Number.isFinite(this.minRtt) ? this.minRtt : srtt;
    return Math.max(RACK_MIN_REO_WND_MS, Math.min((this.reoWndMult * min) / 4, srtt));
  }

  /**
   * RFC 8985 §6.2 step 5: marks lost every entry of `log` sent before the most recently delivered
   * segment whose `RTT + reoWnd` has passed. Returns the number of entries newly marked, and puts in
   * `timeout.ms` the longest wait still needed by an entry not yet due (0 when none), which is when
   * the reordering timer should fire.
   */
  detectLoss(log: SentSegments, now: number, reoWnd: number, timeout: { ms: number }): number {
    timeout.ms = 0;
    if (this.xmitTs < 0) return 0;
    let marked = 0;
    for (let i = 0; i < log.count; i++) {
      const f = log.flags(i);
      if ((f & (SEG_SACKED | SEG_LOST)) !== 0) continue;
      const t = log.time(i);
      // RACK_sent_after(RACK.xmit_ts, RACK.end_seq, seg.xmit_ts, seg.end_seq)
      if (t > this.xmitTs || (t === this.xmitTs && !seqLt(log.end(i), this.endSeq))) continue;
      const remaining = t + this.rtt + reoWnd - now;
      if (remaining <= 0) {
        log.setFlags(i, f | SEG_LOST);
        marked++;
      } else if (remaining > timeout.ms) {
        timeout.ms = remaining;
      }
    }
    return marked;
  }
}

/** Marks every entry that is not SACKed lost (after a retransmission timeout, RFC 8985 §6.3). */
export function markAllLost(log: SentSegments): void {
  for (let i = 0; i < log.count; i++) {
    const f = log.flags(i);
    if ((f & SEG_SACKED) === 0) log.setFlags(i, f | SEG_LOST);
  }
}

/**
 * Applies the scoreboard to the log: entries whose first and last bytes are SACKed become SACKED;
 * `delivered(i)` is called for each one that was not before (before the flag is set). `finSeq` is
 * the sequence number of our FIN when one was sent: no SACK block ever covers it (SACK blocks name
 * data; Linux's do cover it, ours do not), so an entry ending with data and the FIN counts as SACKed
 * when its last data byte is, the FIN having arrived in the same segment; an entry holding the FIN
 * alone counts only when a block covers the FIN itself.
 */
export function markSacked(
  log: SentSegments,
  isSacked: (seq: number) => boolean,
  delivered: (index: number) => void,
  finSeq?: number,
): void {
  for (let i = 0; i < log.count; i++) {
    const f = log.flags(i);
    if ((f & SEG_SACKED) !== 0) continue;
    const seq = log.seq(i);
    let last = seqAdd(log.end(i), -1);
    if (last === finSeq && last !== seq) last = seqAdd(last, -1);
    if (isSacked(seq) && isSacked(last)) {
      delivered(i);
      log.setFlags(i, (f | SEG_SACKED) & ~SEG_LOST);
    }
  }
}
