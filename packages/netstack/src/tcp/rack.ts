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
 * Memory: one typed array holding every entry's fields, used as a ring, grown by doubling when the
 * flight outgrows it (rare, never per packet once the window is open); nothing is allocated per
 * segment. The bytes
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

/** Doubles per entry in a log's slot array: its fields at these offsets. */
const STRIDE = 7;
const F_SEQ = 0;
const F_END = 1;
const F_FLAGS = 2;
// The transmit time, then the delivery rate stamps of the entry's last transmission, in the order
// DeliveryRate.onDeliveredStamps reads them (see ./delivery-rate.ts).
const F_TIME = 3;
const F_TX_DELIVERED = 4;
const F_TX_DELIVERED_TIME = 5;
const F_TX_FIRST_SENT = 6;

/** Stand-in for a log's slot array while it holds no slots (an idle connection's log holds none). */
const NO_SLOTS = new Float64Array(0);
/** Most free slot arrays kept for reuse (each one of some log's first capacity). */
const SLOT_ARRAYS_RETAINED = 256;
/**
 * Free slot arrays shared by every log, each of {@link STRIDE} times some log's first capacity
 * doubles. Stale contents are harmless: every entry's fields are written when it is made.
 */
const freeSlots: Float64Array[] = [];

/**
 * The segments in flight, in sequence order. Invariants: entries are contiguous ranges
 * `[seq, end)`, sorted, non-overlapping, all above SND.UNA once {@link SentSegments.ack} ran.
 *
 * Memory: one slot array holds every field of every entry ({@link STRIDE} doubles per entry, in a
 * ring). It is taken (from a shared free list when one of this log's first capacity is there)
 * when the first entry is logged, and given back when the log empties while still at its first
 * capacity, so an idle connection holds no slot array and a request/response exchange costs one
 * pop and one push; a log that grew keeps its array.
 */
export class SentSegments {
  private slots: Float64Array = NO_SLOTS;
  /** Entries the slot array holds. */
  private capacity = 0;
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

  /** Takes the first slot array: a free one of {@link SentSegments.firstCapacity} entries, or a new one. */
  private takeSlots(): void {
    const cap = this.firstCapacity;
    const free = freeSlots.pop();
    this.slots = free !== undefined && free.length === cap * STRIDE ? free : new Float64Array(cap * STRIDE);
    this.capacity = cap;
    this.head = 0;
  }

  /** The log is empty: a slot array still at the first capacity goes back to the free list. */
  private releaseSlots(): void {
    if (this.capacity !== this.firstCapacity) return;
    if (freeSlots.length < SLOT_ARRAYS_RETAINED) freeSlots.push(this.slots);
    this.slots = NO_SLOTS;
    this.capacity = 0;
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

  /**
   * Starts over for a new connection: every field as a new log of the same first capacity has it
   * (no entry, no slot array: one still at the first capacity goes back to the shared free list, a
   * grown one is dropped; delivery rate state at zero).
   */
  restart(): void {
    this.n = 0;
    this.head = 0;
    this.pipeBytes = 0;
    this.releaseSlots();
    this.slots = NO_SLOTS;
    this.capacity = 0;
    this.rate.reset();
  }

  /** Bytes of `[seq, end)` that count in the pipe when an entry carries `flags`. */
  private static piped(flags: number, seq: number, end: number): number {
    return (flags & (SEG_SACKED | SEG_LOST)) === 0 ? seqSub(end, seq) : 0;
  }

  /** Offset in the slot array of entry `i`'s fields. */
  private at(i: number): number {
    const p = this.head + i;
    const cap = this.capacity;
    return (p >= cap ? p - cap : p) * STRIDE;
  }

  /** Sequence number of entry `i` (0: the oldest). */
  seq(i: number): number {
    return this.slots[this.at(i) + F_SEQ]!;
  }

  /** End (exclusive) of entry `i`. */
  end(i: number): number {
    return this.slots[this.at(i) + F_END]!;
  }

  /** Last transmit time of entry `i`, ms. */
  time(i: number): number {
    return this.slots[this.at(i) + F_TIME]!;
  }

  /** Flag bits of entry `i` ({@link SEG_RETRANSMITTED}, {@link SEG_SACKED}, {@link SEG_LOST}). */
  flags(i: number): number {
    return this.slots[this.at(i) + F_FLAGS]!;
  }

  /** Sets flag bits of entry `i`. */
  setFlags(i: number, bits: number): void {
    const a = this.at(i);
    const slots = this.slots;
    const s = slots[a + F_SEQ]!;
    const e = slots[a + F_END]!;
    this.pipeBytes += SentSegments.piped(bits, s, e) - SentSegments.piped(slots[a + F_FLAGS]!, s, e);
    slots[a + F_FLAGS] = bits;
  }

  private grow(): void {
    if (this.capacity === 0) {
      this.takeSlots();
      return;
    }
    const cap = this.capacity * 2;
    const grown = new Float64Array(cap * STRIDE);
    for (let i = 0; i < this.n; i++) {
      const a = this.at(i);
      grown.set(this.slots.subarray(a, a + STRIDE), i * STRIDE);
    }
    this.slots = grown;
    this.capacity = cap;
    this.head = 0;
  }

  /**
   * Inserts an entry before index `i` (shifting later ones). `seqBits` and `endBits` unsigned or as
   * signed 32-bit values (stored unsigned).
   */
  private insertAt(i: number, seqBits: number, endBits: number, time: number, flags: number): void {
    const seq = seqBits >>> 0;
    const end = endBits >>> 0;
    if (this.n === this.capacity) this.grow();
    const slots = this.slots;
    for (let j = this.n; j > i; j--) {
      const to = this.at(j);
      const from = this.at(j - 1);
      for (let f = 0; f < STRIDE; f++) slots[to + f] = slots[from + f]!;
    }
    const a = this.at(i);
    slots[a + F_SEQ] = seq;
    slots[a + F_END] = end;
    slots[a + F_TIME] = time;
    slots[a + F_FLAGS] = flags;
    this.stamp(a);
    this.n++;
    this.pipeBytes += SentSegments.piped(flags, seq, end);
  }

  /** Cuts entry `i` at `at` (inside it): `[seq, at)` stays at `i`, `[at, end)` becomes entry `i + 1`. */
  private split(i: number, at: number): void {
    const a = this.at(i);
    const e = this.slots[a + F_END]!;
    const f = this.slots[a + F_FLAGS]!;
    this.pipeBytes -= SentSegments.piped(f, at, e);
    this.slots[a + F_END] = at;
    this.insertAt(i + 1, at, e, this.slots[a + F_TIME]!, f);
    // The second half was sent with the first half's stamps (the insertion may have moved both).
    const first = this.at(i);
    const second = this.at(i + 1);
    const slots = this.slots;
    slots[second + F_TX_DELIVERED] = slots[first + F_TX_DELIVERED]!;
    slots[second + F_TX_DELIVERED_TIME] = slots[first + F_TX_DELIVERED_TIME]!;
    slots[second + F_TX_FIRST_SENT] = slots[first + F_TX_FIRST_SENT]!;
  }

  /** Records the connection's delivery state in the entry at offset `a` as of a transmission now (and the app-limited bit). */
  private stamp(a: number): void {
    const r = this.rate;
    const slots = this.slots;
    slots[a + F_TX_DELIVERED] = r.delivered;
    slots[a + F_TX_DELIVERED_TIME] = r.deliveredTime;
    slots[a + F_TX_FIRST_SENT] = r.firstSentTime;
    const flags = slots[a + F_FLAGS]!;
    slots[a + F_FLAGS] = r.sendingAppLimited ? flags | SEG_APP_LIMITED : flags & ~SEG_APP_LIMITED;
  }

  /**
   * Entry `i` was delivered (cumulatively acknowledged or SACKed) at `now`: its bytes and stamps go
   * to {@link SentSegments.rate}. Called once per delivered entry, before it leaves or is flagged SACKED.
   */
  noteDelivered(i: number, now: number): void {
    const a = this.at(i);
    const slots = this.slots;
    const flags = slots[a + F_FLAGS]!;
    // The times and stamps stay in the slot array (read there by the rate): no fraction is passed.
    this.rate.onDeliveredStamps(
      now,
      seqSub(slots[a + F_END]!, slots[a + F_SEQ]!),
      slots,
      a + F_TIME,
      (flags & SEG_APP_LIMITED) !== 0,
      (flags & SEG_RETRANSMITTED) !== 0,
    );
  }

  /**
   * Records a transmission of `[seq, end)` at `now`. New data extends the log at its end; a
   * retransmission updates the entries it covers (split at its edges), marks them retransmitted
   * and no longer lost. Ranges beyond the log's end are appended as new entries. `seq` and `end`
   * may be given unsigned or as signed 32-bit values (`x | 0`, small integers: no heap number per
   * call for a sequence number above 2^31).
   */
  sent(seqBits: number, endBits: number, now: number, retransmission: boolean): void {
    // New data (the usual case) is appended with the values kept as signed 32-bit ones up to the
    // store (the comparisons work on either form); a call with one above 2^31 would box it.
    if (!seqLt(seqBits, endBits)) return;
    if (this.n === 0) {
      this.rate.onFlightEmpty(now);
      this.insertAt(0, seqBits | 0, endBits | 0, now, retransmission ? SEG_RETRANSMITTED : 0);
      return;
    }
    const lastEnd = this.end(this.n - 1);
    if (!seqLt(seqBits, lastEnd)) {
      const from = seqGt(seqBits, lastEnd) ? seqBits | 0 : lastEnd | 0;
      this.insertAt(this.n, from, endBits | 0, now, retransmission ? SEG_RETRANSMITTED : 0);
      return;
    }
    const seq = seqBits >>> 0;
    const end = endBits >>> 0;
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
      this.slots[this.at(i) + F_TIME] = now;
      this.setFlags(i, (this.flags(i) | SEG_RETRANSMITTED) & ~SEG_LOST);
      this.stamp(this.at(i));
    }
    const tail = this.end(this.n - 1);
    if (seqGt(end, tail)) this.insertAt(this.n, tail, end, now, retransmission ? SEG_RETRANSMITTED : 0);
  }

  /**
   * The cumulative ACK reached `una`: entries wholly below it leave (a partly acknowledged one is
   * trimmed). Calls `delivered(i, now)` for each entry leaving that was not SACKed before, before it
   * leaves (so RACK can read its time and flags), with `now` (passed through as given: a time the
   * caller holds boxed already is not boxed again per entry). `una` may be given as an unsigned or a
   * signed 32-bit value (`una | 0`, which stays a small integer: no heap number per call).
   */
  ack(unaBits: number, delivered: (index: number, now: number) => void, now = 0): void {
    const una = unaBits >>> 0;
    while (this.n > 0) {
      const a = this.head * STRIDE;
      const slots = this.slots;
      const e = slots[a + F_END]!;
      const flags = slots[a + F_FLAGS]!;
      if (seqGt(e, una)) {
        if (seqLt(slots[a + F_SEQ]!, una)) {
          this.pipeBytes -= SentSegments.piped(flags, slots[a + F_SEQ]!, una);
          slots[a + F_SEQ] = una;
        }
        return;
      }
      if ((flags & SEG_SACKED) === 0) delivered(0, now);
      this.pipeBytes -= SentSegments.piped(flags, slots[a + F_SEQ]!, e);
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
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

  /** Starts over for a new connection: every field as a new `RackState` has it. */
  restart(): void {
    this.reset(0);
    this.minRtt = Number.POSITIVE_INFINITY;
    this.dsackSeen = false;
  }

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

  /**
   * {@link RackState.delivered} then {@link RackState.noteDelivery} for entry `i` of `log`, its
   * transmit time and end read from the log here: the per-ACK path passes no fractional time or
   * sequence number above 2^31 to a call (each would be a new heap number when V8 does not inline it).
   */
  deliveredEntry(log: SentSegments, i: number, now: number, retransmitted: boolean, echoBeforeXmit: boolean): void {
    const xmitTs = log.time(i);
    const endSeq = log.end(i);
    const rtt = now - xmitTs;
    if (!(retransmitted && (echoBeforeXmit || rtt < this.minRtt))) {
      if (rtt < this.minRtt) this.minRtt = rtt;
      if (this.xmitTs < 0 || xmitTs > this.xmitTs || (xmitTs === this.xmitTs && seqGt(endSeq, this.endSeq))) {
        this.xmitTs = xmitTs;
        this.endSeq = endSeq;
        this.rtt = rtt;
      }
    }
    if (seqLt(endSeq, this.fack)) {
      if (!retransmitted) this.reordering = true;
    } else {
      this.fack = endSeq;
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
 * `delivered(i, now)` is called for each one that was not before (before the flag is set). `finSeq` is
 * the sequence number of our FIN when one was sent: no SACK block ever covers it (SACK blocks name
 * data; Linux's do cover it, ours do not), so an entry ending with data and the FIN counts as SACKed
 * when its last data byte is, the FIN having arrived in the same segment; an entry holding the FIN
 * alone counts only when a block covers the FIN itself.
 */
export function markSacked(
  log: SentSegments,
  isSacked: (seq: number) => boolean,
  delivered: (index: number, now: number) => void,
  finSeq?: number,
  now = 0,
): void {
  for (let i = 0; i < log.count; i++) {
    const f = log.flags(i);
    if ((f & SEG_SACKED) !== 0) continue;
    const seq = log.seq(i);
    let last = seqAdd(log.end(i), -1);
    if (last === finSeq && last !== seq) last = seqAdd(last, -1);
    if (isSacked(seq) && isSacked(last)) {
      delivered(i, now);
      log.setFlags(i, (f | SEG_SACKED) & ~SEG_LOST);
    }
  }
}
