/**
 * The stack-wide counters of a {@link Tcp} (`Tcp.counters`): their names and the order they are
 * listed in. Per-connection counters live in `TcpConnection.stats`.
 */
import type { Counters } from '../counters.js';

/** Counters of the TCP module (per-connection ones live in `TcpConnection.stats`). */
export type TcpCounterName =
  /** Segments handed to TCP by the IP layer. */
  | 'segmentsReceived'
  /** Drop: too short, bad data offset or malformed options. */
  | 'malformed'
  /** Drop: checksum mismatch. */
  | 'badChecksum'
  /** Drop: sent to a broadcast or multicast address. */
  | 'notUnicast'
  /** Segments for no connection and no listener (answered with RST unless a RST). */
  | 'noSocket'
  /** RSTs sent without a connection (closed port, bad ACK to a listener, bad cookie). */
  | 'resetsSent'
  /** Segments the IP layer refused to send. */
  | 'sendFailures'
  /** Active opens (connect). */
  | 'activeOpens'
  /** Passive opens (SYN-RECEIVED copies and cookie connections). */
  | 'passiveOpens'
  /** Connections refused at the connection limit (SYN dropped or connect failed). */
  | 'connectionLimit'
  /** TIME-WAIT connections recycled early under pressure. */
  | 'timeWaitRecycled'
  /** TIME-WAIT connections ended by an acceptable new SYN (RFC 6191). */
  | 'timeWaitReused'
  /** Connections reset by the peer. */
  | 'resetsReceived'
  /** Connections that timed out. */
  | 'timeouts'
  /** Connections aborted locally. */
  | 'aborts'
  /** ICMP errors about TCP segments handed to TCP. */
  | 'icmpReceived'
  /** ICMP errors dropped: the quoted segment was too short to name a connection. */
  | 'icmpMalformed'
  /** ICMP errors dropped: no connection matches the quoted segment. */
  | 'icmpNoConnection'
  /** ICMP errors dropped: the quoted sequence number is outside SND.UNA..SND.NXT (RFC 5927 §4.1). */
  | 'icmpOutOfWindow'
  /** ICMP errors ignored (source quench, unknown codes, an MTU no smaller than the current one). */
  | 'icmpIgnored'
  /** Soft errors recorded (reported only if the connection then times out). */
  | 'icmpSoftErrors'
  /** Connections aborted by a hard ICMP error during the handshake. */
  | 'icmpHardAborts'
  /** Path MTU decreases (fragmentation needed, RFC 1191). */
  | 'pmtuDecreases'
  /** Delayed-ACK timer expiries that sent a segment, all connections (see `TcpConnectionStats.delayedAckTimeouts`). */
  | 'delayedAckTimeouts'
  /** Nagle holds started, all connections (see `TcpConnectionStats.nagleHeld`). */
  | 'nagleHeld'
  /** Retransmission timeouts, all connections (see `TcpConnectionStats.timeouts`). */
  | 'rtoExpiries'
  /** Loss recovery episodes entered, all connections (`TcpConnectionStats.fastRetransmits`). */
  | 'fastRecoveries'
  /** Segments RACK marked lost (`TcpConnectionStats.rackLossMarks`). */
  | 'rackLossMarks'
  /** RACK reordering timer expiries (`TcpConnectionStats.rackReorderTimeouts`). */
  | 'rackReorderTimeouts'
  /** Tail loss probes sent (`TcpConnectionStats.tailLossProbes`). */
  | 'tailLossProbes'
  /** Loss responses undone as spurious (`TcpConnectionStats.spuriousUndos`). */
  | 'spuriousUndos'
  /** Retransmission timeouts F-RTO found spurious and undid (`TcpConnectionStats.frtoSpuriousRtos`). */
  | 'frtoSpuriousRtos'
  /** Undos decided by D-SACKs of every retransmission (`TcpConnectionStats.dsackUndos`). */
  | 'dsackUndos'
  /** Tail loss probes that repaired a loss: one window reduction (`TcpConnectionStats.tlpLossRecoveries`). */
  | 'tlpLossRecoveries'
  /** Tail loss probes shown unneeded: no reduction (`TcpConnectionStats.tlpUnneeded`). */
  | 'tlpUnneeded'
  /** Recoveries
 paced by PRR (`TcpConnectionStats.prrRecoveries`). */
  | 'prrRecoveries'
  /** D-SACK blocks received (`TcpConnectionStats.dsacksReceived`). */
  | 'dsacksReceived'
  /** D-SACK blocks sent (`TcpConnectionStats.dsacksSent`). */
  | 'dsacksSent';

/** Every {@link TcpCounterName}, in listing order. */
export const TCP_COUNTER_NAMES: readonly TcpCounterName[] = [
  'segmentsReceived',
  'malformed',
  'badChecksum',
  'notUnicast',
  'noSocket',
  'resetsSent',
  'sendFailures',
  'activeOpens',
  'passiveOpens',
  'connectionLimit',
  'timeWaitRecycled',
  'timeWaitReused',
  'resetsReceived',
  'timeouts',
  'aborts',
  'icmpReceived',
  'icmpMalformed',
  'icmpNoConnection',
  'icmpOutOfWindow',
  'icmpIgnored',
  'icmpSoftErrors',
  'icmpHardAborts',
  'pmtuDecreases',
  'delayedAckTimeouts',
  'nagleHeld',
  'rtoExpiries',
  'fastRecoveries',
  'rackLossMarks',
  'rackReorderTimeouts',
  'tailLossProbes',
  'spuriousUndos',
  'frtoSpuriousRtos',
  'dsackUndos',
  'tlpLossRecoveries',
  'tlpUnneeded',

  'prrRecoveries',
  'dsacksReceived',
  'dsacksSent',
];

/**
 * The slots ({@link Counters.slotOf}) of the counters moved on every connection's way from SYN to the
 * end of TIME-WAIT, taken once per `Tcp`: counting them is an array store, with no look-up by name.
 */
export class TcpCounterSlots {
  /** `passiveOpens`: every SYN-RECEIVED copy and cookie connection. */
  readonly passiveOpens: number;
  /** `timeWaitReused`: a new SYN took over a TIME-WAIT 4-tuple (a client reusing its ports). */
  readonly timeWaitReused: number;
  /** `timeWaitRecycled`: with TIME-WAIT full, every new one ends the oldest. */
  readonly timeWaitRecycled: number;

  /** The slots of these counters in `counters`. */
  constructor(counters: Counters<TcpCounterName>) {
    this.passiveOpens = counters.slotOf('passiveOpens');
    this.timeWaitReused = counters.slotOf('timeWaitReused');
    this.timeWaitRecycled = counters.slotOf('timeWaitRecycled');
  }
}
