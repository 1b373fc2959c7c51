/**
 * Sends a UDP datagram in a frame built here, for the two DHCP cases the IP layer cannot route: a
 * client without an address (source 0.0.0.0, RFC 2131 §4.1) and a server answering a client that
 * has no address yet, to its hardware address (no ARP: the client cannot answer one).
 */
import {
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_IPV4,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LENGTH,
  UDP_HEADER_LENGTH,
  emitIpv4,
  emitUdp,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';
import { blankIpv4Repr, DEFAULT_TTL } from '../ipv4/output.js';
import { allocateFrame, writeEthernetDestination, writeEthernetSource } from '../link/frame.js';
import type { NetInterface } from '../link/interface.js';

/** Where a raw datagram goes. */
export interface RawUdpAddressing {
  /** Destination MAC. */
  dstMac: MacAddress;
  /** Source IPv4 address (0.0.0.0 allowed). */
  src: Ipv4Address;
  /** Destination IPv4 address. */
  dst: Ipv4Address;
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
}

/**
 * Builds Ethernet + IPv4 (TTL {@link DEFAULT_TTL}, no options) + UDP around `payload` and hands the frame to
 * `iface`'s device. @returns false when the device refused it (a full queue, a closed device).
 */
export function sendRawUdp(iface: NetInterface, to: RawUdpAddressing, payload: Uint8Array): boolean {
  const ipLength = IPV4_MIN_HEADER_LENGTH + UDP_HEADER_LENGTH + payload.length;
  const frame = allocateFrame(ipLength);
  writeEthernetDestination(frame, to.dstMac);
  writeEthernetSource(frame, iface.mac, ETHERTYPE_IPV4);
  const ip = frame.subarray(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + ipLength);
  emitUdp({ srcPort: to.srcPort, dstPort: to.dstPort }, ip.subarray(IPV4_MIN_HEADER_LENGTH), to.src, to.dst, payload);
  const header = blankIpv4Repr(DEFAULT_TTL);
  header.protocol = IP_PROTO_UDP;
  header.source = to.src;
  header.destination = to.dst;
  header.payloadLength = UDP_HEADER_LENGTH + payload.length;
  emitIpv4(header, ip);
  return iface.device.transmit(frame);
}
