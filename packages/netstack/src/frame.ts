/**
 * Outgoing Ethernet frames as the stack builds them: one buffer holding the 14-byte Ethernet
 * header, the packet, zero padding up to the 60-byte minimum, and 4 bytes of room for the FCS that
 * `NetDevice.transmit` fills in.
 */
import { ETHERNET_HEADER_LENGTH, ETHERNET_MIN_FRAME_LENGTH, FCS_LENGTH, writeMac, type Ipv4Address, type MacAddress } from '@postern/wire';

/** Offset of the EtherType in an untagged frame. */
const ETHERTYPE_OFFSET = 12;

/** Length of the frame buffer that carries a `packetLength`-byte packet: header, packet, padding, FCS room. */
export function frameLength(packetLength: number): number {
  return Math.max(ETHERNET_HEADER_LENGTH + packetLength, ETHERNET_MIN_FRAME_LENGTH) + FCS_LENGTH;
}

/** A zeroed frame buffer for a `packetLength`-byte packet (see {@link frameLength}); the packet goes at offset 14. */
export function allocateFrame(packetLength: number): Uint8Array {
  return new Uint8Array(frameLength(packetLength));
}

/** Writes the source MAC and EtherType of an untagged header at the start of `frame`. */
export function writeEthernetSource(frame: Uint8Array, source: MacAddress, etherType: number): void {
  writeMac(frame, 6, source);
  frame[ETHERTYPE_OFFSET] = etherType >>> 8;
  frame[ETHERTYPE_OFFSET + 1] = etherType & 0xff;
}

/** Writes the destination MAC at the start of `frame`. */
export function writeEthernetDestination(frame: Uint8Array, destination: MacAddress): void {
  writeMac(frame, 0, destination);
}

/** The Ethernet multicast MAC of IPv4 group `group` (RFC 1112 §6.4: 01:00:5e plus the low 23 bits). */
export function ipv4MulticastMac(group: Ipv4Address): MacAddress {
  return 0x01_00_5e_00_00_00 + (group & 0x7f_ffff);
}

/** True for 224.0.0.0/4. */
export function isIpv4Multicast(a: Ipv4Address): boolean {
  return a >>> 28 === 0xe;
}

/**
 * True when `a` may be the source of a packet this host answers (RFC 1122 §3.2.1.3, §3.2.2):
 * not 0.0.0.0, not 127/8, not multicast, not class E (which includes 255.255.255.255).
 */
export function isUnicastSource(a: Ipv4Address): boolean {
  const top = a >>> 24;
  return a !== 0 && top !== 127 && top < 224;
}
