/**
 * @packageDocumentation
 * The protocol stack: ARP, IPv4 (routing, forwarding, filter, fragments), ICMP, UDP and TCP.
 */
export * from './counters.js';
export * from './ipv4/prefix.js';
export * from './ipv4/routing.js';
export * from './filter/packet-meta.js';
export * from './filter/conntrack.js';
export * from './filter/filter.js';
export * from './ipv4/reassembly.js';
export * from './ipv4/fragment.js';
export * from './arp/arp-cache.js';
export * from './icmp/icmp-rate-limit.js';
export * from './tcp/index.js';
export * from './errors.js';
export * from './stack-counters.js';
export { ipv4MulticastMac, isIpv4Multicast, isUnicastSource } from './link/frame.js';
export { fillPacketMeta, fillPacketMetaFrom } from './filter/filter-meta.js';
export * from './link/interface.js';
export { quoteDatagram, ICMP_QUOTE_LIMIT, type IcmpErrorSender } from './icmp/icmp-errors.js';
export type { DestinationKind, Ipv4Delivery } from './ipv4/transport.js';
export {
  DEFAULT_TTL,
  type FramePayloadWriter,
  type Ipv4SendOptions,
  type PayloadWriter,
  type RouteInfo,
} from './ipv4/output.js';
export { RESOLVE_WITH_ARP } from './link/output.js';
export * from './icmp/icmp.js';
export * from './udp/udp.js';
export * from './udp/udp-echo.js';
export * from './stack.js';
export * from './dhcp/index.js';
export * from './dns/index.js';
export * from './nat/index.js';
