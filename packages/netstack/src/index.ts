/**
 * @packageDocumentation
 * The protocol stack: ARP, IPv4 (routing, forwarding, filter, fragments), ICMP, UDP and TCP.
 */
export {};
