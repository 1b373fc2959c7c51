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
