/**
 * {@link TimeWaitRecord}: what a connection in TIME-WAIT still needs once its application has let go
 * of it (Linux's `inet_timewait_sock`). A TIME-WAIT connection sends nothing but ACKs and accepts
 * no data, so its buffers, congestion control, loss recovery and application handle can go; the
 * record keeps only what answering a segment and judging a new SYN on the same 4-tuple take: the
 * 4-tuple, RCV.NXT and SND.NXT, the window it announces, the timestamp state (TS.Recent, our clock
 * offset) and when the wait ends. Records are made and read by `time-wait-input.ts` and the
 * connection table's side of TIME-WAIT; they are never handed to an application. An ended record
 * object is used again for a later connection ({@link TimeWaitRecord.renew}).
 */
import type { Ipv4Address } from '@postern/wire';
import type { Tcb } from './tcb.js';

/** Bits of {@link TimeWaitRecord}'s flags. */
const PASSIVE = 1;
const TS_ENABLED = 2;
const SACK_ENABLED = 4;
const DONT_FRAGMENT = 8;
const ENDED = 16;

/**
 * One connection in TIME-WAIT, as a small record. Fields are the TCB's of the same name at the time it was made.
 *
 * Memory: a record lives 2*MSL, so thousands are held at once with short connections. The 32-bit
 * values (addresses, sequence numbers, timestamps) are kept as signed 32-bit integers, which are
 * small integers to V8 where an unsigned one above 2^31 would be a heap number of its own, and
 * read back unsigned through accessors of their usual names; the booleans are bits of one field.
 */
export class TimeWaitRecord {
  // Field order is memory order (V8 lays out class fields as declared, 8 bytes each after a 24-byte
  // header in Node's heap): first the nine that a SYN's lookup, an RFC 6191 reuse and the end of the
  // record read, so that a record, cold in cache then, is read in its first 96 bytes (two or three
  // cache lines), not over all its 168 (three or four).
  localPort!: number;
  remotePort!: number;
  // The 32-bit values, signed (`x | 0`); read through the accessors below.
  private localBits!: number;
  private remoteBits!: number;
  private flags!: number;
  private tsRecentBits!: number;
  private rcvNxtBits!: number;
  /** @internal Neighbours in the expiry queue (oldest first). */
  older: TimeWaitRecord | undefined = undefined;
  newer: TimeWaitRecord | undefined = undefined;
  // Numbers from the start (a field first undefined is tagged: every fractional time stored in it
  // would be a new heap number, also when a renewed record stores it again).
  /** When the wait ends (ms, scheduler clock); a repeated FIN moves it to 2*MSL from then. */
  expiresAt = 0;
  /** When TS.Recent was stored (ms, scheduler clock). */
  tsRecentAge = 0;
  /** The largest window the peer offered (RFC 5961 §5.2: the oldest acceptable ACK is `sndNxt - maxSndWnd`). */
  maxSndWnd!: number;
  /** The window field every ACK announces (already scaled down). */
  windowField!: number;
  /** The receive window segments are judged against (`RCV.WND`, bytes): the one last advertised. */
  rcvWnd!: number;
  /** The receive window once {@link TimeWaitRecord.windowField} has been announced (bytes). */
  rcvWndAnnounced!: number;
  private sndNxtBits!: number;
  private lastAckSentBits!: number;
  private tsOffsetBits!: number;
  /** How many times the record object was renewed for another connection (0 for its first). */
  life!: number;

  /**
   * The record of `tcb` (in TIME-WAIT, its last ACK sent), announcing `windowField` and judging
   * segments against `rcvWnd` bytes until it announced once, then against `rcvWndAnnounced`;
   * ending at `expiresAt`.
   */
  constructor(tcb: Tcb, windowField: number, rcvWnd: number, rcvWndAnnounced: number, expiresAt: number) {
    this.life = -1;
    this.renew(tcb, windowField, rcvWnd, rcvWndAnnounced, expiresAt);
  }

  /**
   * Makes this ended record the record of another connection (the constructor's work: every field
   * from `tcb` and the arguments, out of the queue), and counts a new {@link TimeWaitRecord.life}: a
   * record object is reused once it ended ({@link ./time-wait.ts}), so whoever keeps one past its end
   * tells its lives apart by that. Returns the record.
   */
  renew(tcb: Tcb, windowField: number, rcvWnd: number, rcvWndAnnounced: number, expiresAt: number): this {
    this.life++;
    this.localPort = tcb.localPort;
    this.remotePort = tcb.remotePort;
    this.maxSndWnd = tcb.maxSndWnd;
    this.windowField = windowField;
    this.rcvWnd = rcvWnd;
    this.rcvWndAnnounced = rcvWndAnnounced;
    this.tsRecentAge = tcb.tsRecentAge;
    this.expiresAt = expiresAt;
    this.localBits = tcb.localAddress | 0;
    this.remoteBits = tcb.remoteAddress | 0;
    this.rcvNxtBits = tcb.rcvNxt | 0;
    this.sndNxtBits = tcb.sndMax | 0;
    this.lastAckSentBits = tcb.lastAckSent | 0;
    this.tsRecentBits = tcb.tsRecent | 0;
    this.tsOffsetBits = tcb.tsOffset | 0;
    this.flags =
      (tcb.passive ? PASSIVE : 0) |
      (tcb.tsEnabled ? TS_ENABLED : 0) |
      (tcb.sackEnabled ? SACK_ENABLED : 0) |
      (tcb.dontFragment ? DONT_FRAGMENT : 0);
    this.older = undefined;
    this.newer = undefined;
    return this;
  }

  get localAddress(): Ipv4Address {
    return this.localBits >>> 0;
  }

  get remoteAddress(): Ipv4Address {
    return this.remoteBits >>> 0;
  }

  /** True when a listener made the connection (for the connection list). */
  get passive(): boolean {
    return (this.flags & PASSIVE) !== 0;
  }

  /** RCV.NXT: past the peer's FIN; the acknowledgement every ACK carries. */
  get rcvNxt(): number {
    return this.rcvNxtBits >>> 0;
  }

  /** SND.NXT (= SND.MAX = SND.UNA: our FIN was acknowledged): the sequence number every ACK carries. */
  get sndNxt(): number {
    return this.sndNxtBits >>> 0;
  }

  /** RCV.NXT when we last acknowledged (RFC 7323 §4.3: which TSval becomes TS.Recent). */
  get lastAckSent(): number {
    return this.lastAckSentBits >>> 0;
  }

  get tsEnabled(): boolean {
    return (this.flags & TS_ENABLED) !== 0;
  }

  /** TS.Recent: the peer's timestamp we echo and judge PAWS and SYN reuse (RFC 6191) by. */
  get tsRecent(): number {
    return this.tsRecentBits >>> 0;
  }

  set tsRecent(value: number) {
    this.tsRecentBits = value | 0;
  }

  /** Our timestamp clock's offset (RFC 7323 §7.1). */
  get tsOffset(): number {
    return this.tsOffsetBits >>> 0;
  }

  get sackEnabled(): boolean {
    return (this.flags & SACK_ENABLED) !== 0;
  }

  /** Our segments carry Don't Fragment. */
  get dontFragment(): boolean {
    return (this.flags & DONT_FRAGMENT) !== 0;
  }

  /** Set when the record ended (2*MSL passed, a RST, a new SYN, recycling): an application handle then reads CLOSED. */
  get ended(): boolean {
    return (this.flags & ENDED) !== 0;
  }

  set ended(on: boolean) {
    this.flags = on ? this.flags | ENDED : this.flags & ~ENDED;
  }
}
