/**
 * @packageDocumentation
 * Zero-copy views and builders for every packet format Postern speaks: Ethernet, ARP, IPv4, ICMP,
 * UDP, TCP, DHCP, DNS, the Internet checksum, the IEEE 802.3 FCS, pcap files, and the frames of
 * the serial device protocol (docs/device-protocol.md) that the USB Ethernet driver and the
 * bootloader link share.
 *
 * Each format comes as a checked view (`XPacket.checked(bytes)`: validates lengths once, after which
 * no accessor throws) and a representation (`parseX(packet)` returns a small validated object,
 * `emitX(repr, buffer)` writes it into a buffer the caller sized). Parsers throw only
 * {@link DecodeError} subclasses.
 */
export * from './errors.js';
export * from './address.js';
export * from './checksum.js';
export * from './byte-order.js';
export * from './pcap.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './icmp.js';
export * from './fcs.js';
export * from './udp.js';
export * from './tcp.js';
export * from './dhcp.js';
export * from './dns.js';
export * from './serial/index.js';
