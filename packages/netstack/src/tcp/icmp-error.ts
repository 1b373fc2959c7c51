/**
 * How TCP reads an ICMP error about one of its segments (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927,
 * RFC 1191): the classification into hard and soft errors, and the Path MTU arithmetic.
 *
 * - Destination unreachable, fragmentation needed (code 4): Path MTU discovery, never an error.
 * - Hard errors: protocol and port unreachable (codes 2, 3), and the "unknown", "isolated" and
 *   "administratively prohibited" codes (6, 7, 8, 9, 10, 13) and precedence codes (14, 15). They
 *   abort a connection in SYN-SENT or SYN-RECEIVED (RFC 1122); in a synchronized state they are
 *   treated as soft (RFC 5461 §4.1: an error in the middle of a connection is usually transient,
 *   and aborting on it is a blind-reset vector).
 * - Soft errors: net and host unreachable (0, 1), source route failed (5), TOS unreachable
 *   (11, 12), time exceeded, parameter problem. They are remembered and reported only if the
 *   connection then times out (RFC 1122 §4.2.3.9, Linux's `sk_err_soft`).
 * - Source quench is ignored (RFC 6633); other types never reach TCP.
 *
 * Host and network errors both map to `ENETUNREACH` (the code set of `TcpError` has no
 * `EHOSTUNREACH`). Nothing here reads a clock or keeps state.
 */
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_PARAMETER_PROBLEM,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from '@postern/wire';
import type { TcpErrorCode } from './errors.js';

/** An ICMP error as TCP needs it: what was said, and the start of our quoted segment. */
export interface TcpIcmpError {
  /** ICMP type. */
  readonly type: number;
  /** ICMP code. */
  readonly code: number;
  /** Fragmentation needed: the next-hop MTU (0 from a pre-RFC 1191 router). */
  readonly nextHopMtu: number;
  /** Source address of the quoted datagram (ours). */
  readonly source: number;
  /** Destination address of the quoted datagram (the peer). */
  readonly destination: number;
  /** Total length of the quoted datagram (for the RFC 1191 plateau search when `nextHopMtu` is 0). */
  readonly quotedTotalLength: number;
  /** The first bytes of the quoted segment: ports and sequence number need 8. */
  readonly transport: Uint8Array;
}

/** What an ICMP error means to a connection. */
export type TcpIcmpAction =
  /** Lower the path MTU (fragmentation needed). */
  | { readonly kind: 'pmtu' }
  /** Abort in SYN-SENT/SYN-RECEIVED with `code`; soft in synchronized states. */
  | { readonly kind: 'hard'; readonly code: TcpErrorCode }
  /** Remember `code`; report it only if the connection times out. */
  | { readonly kind: 'soft'; readonly code: TcpErrorCode }
  /** Nothing to do (source quench, unknown types and codes). */
  | { readonly kind: 'ignore' };

/** Smallest path MTU TCP accepts from an ICMP message (Linux's `min_pmtu`); below it segments go out without DF. */
export const TCP_MIN_PMTU = 552;
/** Largest IPv4 + TCP header size without options, subtracted from the path MTU to get the MSS. */
export const TCP_IP_HEADERS = 40;

/** RFC 1191 §7 plateau table, highest first: MTUs tried when a router reports no next-hop MTU. */
export const PMTU_PLATEAUS: readonly number[] = [65_535, 32_000, 17_914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

const PMTU: TcpIcmpAction = Object.freeze({ kind: 'pmtu' });
const IGNORE: TcpIcmpAction = Object.freeze({ kind: 'ignore' });
const REFUSED: TcpIcmpAction = Object.freeze({ kind: 'hard', code: 'ECONNREFUSED' });
const HOST_HARD: TcpIcmpAction = Object.freeze({ kind: 'hard', code: 'ENETUNREACH' });
const NET_HARD: TcpIcmpAction = Object.freeze({ kind: 'hard', code: 'ENETUNREACH' });
const NET_SOFT: TcpIcmpAction = Object.freeze({ kind: 'soft', code: 'ENETUNREACH' });
const HOST_SOFT: TcpIcmpAction = Object.freeze({ kind: 'soft', code: 'ENETUNREACH' });

/** Classifies ICMP `type`/`code` for TCP (see the module comment). */
export function classifyIcmpForTcp(type: number, code: number): TcpIcmpAction {
  if (type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM) return HOST_SOFT;
  if (type !== ICMP_DEST_UNREACHABLE) return IGNORE;
  switch (code) {
    case ICMP_UNREACH_FRAG_NEEDED:
      return PMTU;
    case ICMP_UNREACH_PROTOCOL:
    case ICMP_UNREACH_PORT:
      return REFUSED;
    case ICMP_UNREACH_NET:
    case 11: // network unreachable for TOS
      return NET_SOFT;
    case 1: // host
    case 5: // source route failed
    case 12: // host unreachable for TOS
      return HOST_SOFT;
    case 6: // destination network unknown
    case 9: // network administratively prohibited
      return NET_HARD;
    case 7: // destination host unknown
    case 8: // source host isolated
    case 10: // host administratively prohibited
    case 13: // communication administratively prohibited
    case 14: // host precedence violation
    case 15: // precedence cutoff
      return HOST_HARD;
    default:
      return IGNORE;
  }
}

/**
 * The path MTU to use after a fragmentation-needed message: the reported next-hop MTU, or (from a
 * router that reports 0, RFC 1191 §5) the largest plateau below the quoted datagram's length;
 * never below {@link TCP_MIN_PMTU}.
 */
export function pmtuFromIcmp(nextHopMtu: number, quotedTotalLength: number): number {
  let mtu = nextHopMtu;
  if (mtu === 0) {
    mtu = PMTU_PLATEAUS.find((p) => p < quotedTotalLength) ?? TCP_MIN_PMTU;
  }
  return Math.max(TCP_MIN_PMTU, mtu);
}
