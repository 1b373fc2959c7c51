/**
 * ICMP errors about the segments TCP sent, as they reach one connection: which connection the
 * quoted segment names, whether its sequence number is believable, and what the error does (Path
 * MTU decrease, abort during the handshake, or a soft error kept for the timeout). The
 * classification itself is {@link classifyIcmpForTcp}.
 */
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { classifyIcmpForTcp, pmtuFromIcmp, TCP_IP_HEADERS, TCP_MIN_PMTU, type TcpIcmpError } from './icmp-error.js';
import { TCP_TIMESTAMP_OPTION_SPACE, flightSize, tcpOutput } from './output.js';
import { seqLt } from './seq.js';
import { AckUrgency, type Tcb } from './tcb.js';

/**
 * Receives an ICMP error about a segment this module sent (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927,
 * RFC 1191). The quoted segment names the connection; its sequence number must lie in
 * `SND.UNA..SND.NXT` (the highest sent), else the message is dropped as forged or stale
 * (`icmpOutOfWindow`). Then, per {@link classifyIcmpForTcp}:
 * - fragmentation needed lowers the connection's path MTU and MSS (never raises them; a
 *   reported MTU under {@link TCP_MIN_PMTU} clamps to it and clears DF for the connection) and
 *   resends the flight at once in segments of the new size, without a congestion response
 *   (the loss was the path's MTU, not congestion) and skipping SACKed data;
 * - a hard error in SYN-SENT or SYN-RECEIVED (active) aborts the connection with its code
 *   (`ECONNREFUSED` for port or protocol unreachable); in any other state it is soft;
 * - a soft error is remembered and reported instead of `ETIMEDOUT` if the connection times out
 *   before an ACK of new data shows the path works.
 * Never throws; every outcome is counted.
 */
export function icmpError(ctx: TcpContext, error: TcpIcmpError): void {
  ctx.counters.inc('icmpReceived');
  const t = error.transport;
  if (t.length < 8) return ctx.counters.inc('icmpMalformed');
  const localPort = (t[0]! << 8) | t[1]!;
  const remotePort = (t[2]! << 8) | t[3]!;
  const seq = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
  const tcb = ctx.table.find(error.source, localPort, error.destination, remotePort);
  if (tcb === undefined || tcb.state === 'TIME-WAIT') return ctx.counters.inc('icmpNoConnection');
  if (seqLt(seq, tcb.sndUna) || !seqLt(seq, tcb.sndMax)) return ctx.counters.inc('icmpOutOfWindow');
  const action = classifyIcmpForTcp(error.type, error.code);
  switch (action.kind) {
    case 'ignore':
      return ctx.counters.inc('icmpIgnored');
    case 'pmtu':
      return lowerPathMtu(ctx, tcb, error);
    case 'hard':
      if (tcb.state === 'SYN-SENT' || (tcb.state === 'SYN-RECEIVED' && !tcb.passive)) {
        ctx.counters.inc('icmpHardAborts');
        ctx.closeTcb(
          tcb,
          'refused',
          new TcpError(action.code, `a router or the peer answered ICMP type ${error.type} code ${error.code}`),
        );
        return;
      }
      break;
    case 'soft':
      break;
  }
  ctx.counters.inc('icmpSoftErrors');
  tcb.softError = action.code;
  tcb.softErrorUna = tcb.sndUna;
}

/** RFC 1191 for one connection: see {@link icmpError}. */
function lowerPathMtu(ctx: TcpContext, tcb: Tcb, error: TcpIcmpError): void {
  const mtu = pmtuFromIcmp(error.nextHopMtu, error.quotedTotalLength);
  if (mtu >= tcb.pathMtu) return ctx.counters.inc('icmpIgnored');
  if (error.nextHopMtu !== 0 && error.nextHopMtu < TCP_MIN_PMTU) tcb.dontFragment = false;
  ctx.counters.inc('pmtuDecreases');
  tcb.stats.pmtuDecreases++;
  tcb.pathMtu = mtu;
  tcb.stats.pathMtu = mtu;
  const mss = Math.max(64, mtu - TCP_IP_HEADERS - (tcb.tsEnabled ? TCP_TIMESTAMP_OPTION_SPACE : 0));
  if (mss >= tcb.sendMss) return;
  tcb.sendMss = mss;
  tcb.cc.setMss(mss);
  tcb.scoreboard.mss = mss;
  if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED' || flightSize(tcb) === 0) return;
  // Every segment in flight was sized for the old MTU and died at the router: resend the flight
  // now in the new size (Linux's tcp_simple_retransmit), Karn's rule applying to what goes again.
  tcb.rttSeq = -1;
  tcb.sndNxt = tcb.sndUna;
  tcb.probeOutstanding = false;
  tcpOutput(ctx, tcb, AckUrgency.NOW);
  if (tcb.rtxTimer?.active !== true) ctx.restartRetransmit(tcb);
}
