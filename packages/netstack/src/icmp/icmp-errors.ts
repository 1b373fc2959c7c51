/**
 * What a part needs to report a packet with an ICMP error, without depending on the ICMP module:
 * the {@link IcmpErrorSender} capability (the ICMP module implements it), {@link quoteDatagram}
 * to build the quoted bytes of a parsed datagram, and the {@link IcmpErrorReport} an ICMP error
 * received about one of our datagrams becomes.
 */
import { IPV4_MIN_HEADER_LENGTH, emitIpv4, type Ipv4Packet, type Ipv4Address, type Ipv4Repr } from '@postern/wire';
import type { NetInterface } from '../link/interface.js';

/** Largest datagram an ICMP error quotes in full (RFC 1812 §4.3.2.3: the error must fit 576 bytes). */
export const ICMP_QUOTE_LIMIT = 576 - IPV4_MIN_HEADER_LENGTH - 8;

/**
 * The bytes an ICMP error about the datagram `header` + `payload` quotes: its header (as emitted
 * from `header`, total length restored) and the start of its payload, at most
 * {@link ICMP_QUOTE_LIMIT} bytes in all. A new buffer.
 */
export function quoteDatagram(header: Ipv4Repr, payload: Uint8Array): Uint8Array {
  const headerLength = IPV4_MIN_HEADER_LENGTH + header.options.length;
  const take = Math.max(0, Math.min(payload.length, ICMP_QUOTE_LIMIT - headerLength));
  const out = new Uint8Array(headerLength + take);
  emitIpv4({ ...header, payloadLength: payload.length }, out);
  out.set(payload.subarray(0, take), headerLength);
  return out;
}

/** The capability to answer a packet with an ICMP error (implemented by `IcmpService.sendError`). */
export interface IcmpErrorSender {
  /**
   * Sends ICMP error `type`/`code` about the packet whose raw bytes (IPv4 header first) are `ip`,
   * if RFC 1122 §3.2.2 and the rate limiter allow it. `arrivedOn`: the interface the packet came in
   * on, if any; `linkBroadcast`: it came in a link-layer broadcast or multicast frame;
   * `nextHopMtu`: for fragmentation needed. Returns whether it was sent. Never throws.
   */
  sendError(
    type: number,
    code: number,
    ip: Uint8Array,
    arrivedOn: NetInterface | undefined,
    linkBroadcast?: boolean,
    nextHopMtu?: number,
  ): boolean;
}

/** An ICMP error received about a datagram this host sent, as handed to the transport that sent it. */
export interface IcmpErrorReport {
  /** ICMP type: `ICMP_DEST_UNREACHABLE`, `ICMP_TIME_EXCEEDED`, or another error type. */
  readonly type: number;
  /** ICMP code. */
  readonly code: number;
  /** For fragmentation needed: the next-hop MTU (0 from pre-RFC 1191 routers); otherwise 0. */
  readonly nextHopMtu: number;
  /** Who sent the error. */
  readonly reporter: Ipv4Address;
  /** The quoted header of our datagram (its payload is cut short). */
  readonly quoted: Ipv4Packet;
  /** The first bytes of our datagram's payload (at least 8 for a conforming sender): ports live here. */
  readonly transport: Uint8Array;
}
