/**
 * The packet metadata the filter and connection tracking read: a flat object of numbers the caller
 * fills from parsed headers, so both stay independent of buffers and allocate nothing per packet
 * (one {@link PacketMeta} can be reused for every packet).
 */
import type { Ipv4Address } from '@postern/wire';

/** "No interface": `ifIn` of a locally generated packet, `ifOut` of a packet for this host. */
export const NO_INTERFACE = -1;

/**
 * What the filter and connection tracking know about one packet. Fields that do not apply are 0
 * (ports, flags, identifiers) or -1 (`icmpType`, `icmpCode`, interfaces).
 *
 * ICMP conventions: for an echo request or echo reply, `srcPort` holds the identifier and
 * `dstPort` is 0. For an ICMP error (destination unreachable, source quench, redirect, time
 * exceeded, parameter problem), the `inner*` fields describe the quoted datagram as it was sent
 * (its source, destination, protocol and ports, or for a quoted echo its identifier and 0);
 * `innerProtocol` is -1 when the caller could not parse a quoted datagram.
 */
export interface PacketMeta {
  /** Receiving interface, or {@link NO_INTERFACE} for a locally generated packet. */
  ifIn: number;
  /** Sending interface, or {@link NO_INTERFACE} for a packet delivered to this host. */
  ifOut: number;
  /** IPv4 source. */
  src: Ipv4Address;
  /** IPv4 destination. */
  dst: Ipv4Address;
  /** IP protocol number. */
  protocol: number;
  /** TCP/UDP source port (or the ICMP echo identifier); 0 otherwise. */
  srcPort: number;
  /** TCP/UDP destination port; 0 otherwise. */
  dstPort: number;
  /** ICMP type, or -1 when not ICMP. */
  icmpType: number;
  /** ICMP code, or -1 when not ICMP. */
  icmpCode: number;
  /** The TCP flags byte (`TcpFlag` bits of `@postern/wire`); 0 when not TCP. */
  tcpFlags: number;
  /** IP total length in bytes (for the byte counters). */
  length: number;
  /** ICMP errors: source of the quoted datagram. */
  innerSrc: Ipv4Address;
  /** ICMP errors: destination of the quoted datagram. */
  innerDst: Ipv4Address;
  /** ICMP errors: protocol of the quoted datagram, or -1. */
  innerProtocol: number;
  /** ICMP errors: source port (or echo identifier) of the quoted datagram. */
  innerSrcPort: number;
  /** ICMP errors: destination port of the quoted datagram (0 for a quoted echo). */
  innerDstPort: number;
}

/** A zeroed {@link PacketMeta} (no interfaces, not ICMP, no quoted datagram) to fill and reuse. */
export function createPacketMeta(fields: Partial<PacketMeta> = {}): PacketMeta {
  return {
    ifIn: NO_INTERFACE,
    ifOut: NO_INTERFACE,
    src: 0,
    dst: 0,
    protocol: 0,
    srcPort: 0,
    dstPort: 0,
    icmpType: -1,
    icmpCode: -1,
    tcpFlags: 0,
    length: 0,
    innerSrc: 0,
    innerDst: 0,
    innerProtocol: -1,
    innerSrcPort: 0,
    innerDstPort: 0,
    ...fields,
  };
}

/** ICMP types that carry a quoted datagram (RFC 792): unreachable, quench, redirect, time exceeded, parameter problem. */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}
