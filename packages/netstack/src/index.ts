/**
 * @packageDocumentation
 * The protocol stack: ARP, IPv4 (routing, forwarding, filter, fragments), ICMP, UDP and TCP.
 */
export * from './counters.js';
export * from './prefix.js';
export * from './routing.js';
export * from './packet-meta.js';
export * from './conntrack.js';
export * from './filter.js';
export * from './reassembly.js';
export * from './fragment.js';
export * from './arp-cache.js';
export * from './icmp-rate-limit.js';
export * from './tcp/index.js';
export * from './errors.js';
export * from './stack-counters.js';
export { ipv4MulticastMac, isIpv4Multicast, isUnicastSource } from './frame.js';
export { fillPacketMeta, fillPacketMetaFrom } from './filter-meta.js';
export * from './interface.js';
export { quoteDatagram, ICMP_QUOTE_LIMIT } from './icmp/icmp-errors.js';
export type { DestinationKind, Ipv4Delivery } from './ipv4/transport.js';
export { DEFAULT_TTL, type Ipv4SendOptions, type PayloadWriter, type RouteInfo } from './ipv4-output.js';
export { RESOLVE_WITH_ARP } from './link-output.js';
export * from './icmp.js';
export * from './udp.js';
export * from './udp-echo.js';
export * from './stack.js';
export * from './dhcp/index.js';
export * from './dns/index.js';
export * from './nat/index.js';
