/**
 * {@link TimeWaitRecord}: what a connection in TIME-WAIT still needs once its application has let go
 * of it (Linux's `inet_timewait_sock`). A TIME-WAIT connection sends nothing but ACKs and accepts
 * no data, so its buffers, congestion control, loss recovery and application handle can go; the
 * record keeps only what answering a segment and judging a new SYN on the same 4-tuple take: the
 * 4-tuple, RCV.NXT and SND.NXT, the window it announces, the timestamp state (TS.Recent, our clock
 * offset) and when the wait ends. Records are made and read by `time-wait-input.ts` and the
 * connection table's side of TIME-WAIT; they are never handed to an application.
 */
import type { Ipv4Address } from '@postern/wire';
import type { Tcb } from './tcb.js';

/** One connection in TIME-WAIT, as a small record. Fields are the TCB's of the same name at the time it was made. */
export class TimeWaitRecord {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  /** True when a listener made the connection (for the connection list). */
  readonly passive: boolean;
  /** RCV.NXT: past the peer's FIN; the acknowledgement every ACK carries. */
  readonly rcvNxt: number;
  /** SND.NXT (= SND.MAX = SND.UNA: our FIN was acknowledged): the sequence number every ACK carries. */
  readonly sndNxt: number;
  /** The largest window the peer offered (RFC 5961 §5.2: the oldest acceptable ACK is `sndNxt - maxSndWnd`). */
  readonly maxSndWnd: number;
  /** RCV.NXT when we last acknowledged (RFC 7323 §4.3: which TSval becomes TS.Recent). */
  readonly lastAckSent: number;
  /** The window field every ACK announces (already scaled down). */
  readonly windowField: number;
  /** The receive window segments are judged against (`RCV.WND`, bytes): the one last advertised. */
  rcvWnd: number;
  /** The receive window once {@link TimeWaitRecord.windowField} has been announced (bytes). */
  readonly rcvWndAnnounced: number;
  readonly tsEnabled: boolean;
  /** TS.Recent: the peer's timestamp we echo and judge PAWS and SYN reuse (RFC 6191) by. */
  tsRecent: number;
  /** When TS.Recent was stored (ms, scheduler clock). */
  tsRecentAge: number;
  /** Our timestamp clock's offset (RFC 7323 §7.1). */
  readonly tsOffset: number;
  readonly sackEnabled: boolean;
  /** Our segments carry Don't Fragment. */
  readonly dontFragment: boolean;
  /** When the wait ends (ms, scheduler clock); a repeated FIN moves it to 2*MSL from then. */
  expiresAt: number;
  /** Set when the record ended (2*MSL passed, a RST, a new SYN, recycling): an application handle then reads CLOSED. */
  ended = false;
  /** @internal Neighbours in the expiry queue (oldest first). */
  older: TimeWaitRecord | undefined = undefined;
  newer: TimeWaitRecord | undefined = undefined;
  /** @internal The next record in the same bucket of the connection table. */
  bucketNext: TimeWaitRecord | undefined = undefined;

  /**
   * The record of `tcb` (in TIME-WAIT, its last ACK sent), announcing `windowField` and judging
   * segments against `rcvWnd` bytes until it announced once, then against `rcvWndAnnounced`;
   * ending at `expiresAt`.
   */
  constructor(tcb: Tcb, windowField: number, rcvWnd: number, rcvWndAnnounced: number, expiresAt: number) {
    this.localAddress = tcb.localAddress;
    this.localPort = tcb.localPort;
    this.remoteAddress = tcb.remoteAddress;
    this.remotePort = tcb.remotePort;
    this.passive = tcb.passive;
    this.rcvNxt = tcb.rcvNxt;
    this.sndNxt = tcb.sndMax;
    this.maxSndWnd = tcb.maxSndWnd;
    this.lastAckSent = tcb.lastAckSent;
    this.windowField = windowField;
    this.rcvWnd = rcvWnd;
    this.rcvWndAnnounced = rcvWndAnnounced;
    this.tsEnabled = tcb.tsEnabled;
    this.tsRecent = tcb.tsRecent;
    this.tsRecentAge = tcb.tsRecentAge;
    this.tsOffset = tcb.tsOffset;
    this.sackEnabled = tcb.sackEnabled;
    this.dontFragment = tcb.dontFragment;
    this.expiresAt = expiresAt;
  }
}
