/**
 * Forwarding (router mode, RFC 1812 §5.2), for a packet not addressed to this host, in this order
 * (each drop counted by name in the stack's `ipv4` counters):
 * 1. route lookup: none, `noRoute` and ICMP net unreachable;
 * 2. a destination that is the directed broadcast of the outgoing interface: `directedBroadcast`
 *    (RFC 2644: not forwarded by default);
 *    firewall mode, a fragment: it goes to the forward reassembler (`forwardReassemblyDropped`
 *    when refused) and the rest of these steps runs once, on the whole datagram
 *    (`forwardDefragmented`), as Linux's connection tracking defragments: the filter then sees the
 *    transport header of every fragment's datagram (a later fragment alone has none, and would
 *    miss every rule with ports or ICMP types and every connection). It leaves as fragments no
 *    larger than the largest that came in (Linux's `frag_max_size`); Don't Fragment with that size
 *    over the outgoing MTU gets fragmentation needed;
 * 3. the `forward` filter chain (`forwardFiltered`; a reject is answered);
 * 4. TTL 0 or 1: `ttlExceeded` and ICMP time exceeded;
 *    then, when NAT is configured (`stack.nat`), source NAT (masquerade, port-forward replies,
 *    hairpin; a refused packet is counted in the `nat` counters and dropped);
 * 5. the TTL is decremented in place with the incremental checksum update (RFC 1624);
 * 6. larger than the outgoing MTU: with Don't Fragment `fragNeeded` and ICMP fragmentation needed
 *    carrying the next-hop MTU (RFC 1191); without, fragmented (`forwardFragmented`);
 * 7. otherwise sent without copying: the new Ethernet header is written in front of the IP packet,
 *    inside the received buffer (the receive frame is owned by the stack once handed up, and is
 *    followed by its 4 FCS bytes, which become the new FCS room). When the buffer has no room
 *    (a runt needing padding), one new frame buffer is allocated and the packet copied once.
 */
import {
  ETHERNET_HEADER_LENGTH,
  ICMP_DEST_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_NET,
  FCS_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  type Ipv4Packet,
  parseIpv4Packet,
} from '@postern/wire';
import { fillPacketMeta, fillPacketMetaFrom } from './filter-meta.js';
import { allocateFrame, frameLength } from './frame.js';
import type { NetInterface } from './interface.js';
import { RESOLVE_WITH_ARP } from './link-output.js';
import { quoteDatagram } from './ipv4-input.js';
import { sendReject, sendRejectRaw } from './reject.js';
import type { Stack } from './stack.js';

const IGNORE_CHECKSUM = { checksum: 'ignore' } as const;

/**
 * Forwards `packet` (checked, checksum verified; its bytes start at `frame[headerLength]`) that
 * arrived on `inIface`. Takes ownership of `frame`. `dnatFrom` is the external interface whose
 * address NAT translated the destination from (see `NatEngine.inbound`), or -1.
 */
export function forwardIpv4(stack: Stack, inIface: NetInterface, frame: Uint8Array, headerLength: number, packet: Ipv4Packet, dnatFrom = -1): void {
  const c = stack.ipCounters;
  const dst = packet.destination;
  const total = packet.totalLength;
  const ip = packet.bytes.subarray(0, total);
  const route = stack.routes.match(dst);
  const out = route === undefined ? undefined : stack.interfaceAt(route.ifIndex);
  if (route === undefined || out === undefined) {
    c.inc('noRoute');
    stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_NET, ip, inIface);
    return;
  }
  if (out.isBroadcast(dst)) return c.inc('directedBroadcast');
  const filter = stack.filter;
  const nat = stack.nat;
  if (filter.enabled && packet.isFragment) {
    // NAT does not translate fragments: never let one out with an inside address.
    if (nat !== undefined && nat.masquerades(out.index)) return nat.stats.inc('fragment');
    return forwardFragment(stack, inIface, out, route.gateway ?? dst, packet);
  }
  if (filter.enabled) {
    const verdict = filter.evaluate('forward', fillPacketMeta(stack.meta, ip, inIface.index, out.index), stack.now);
    if (verdict.action !== 'accept') {
      c.inc('forwardFiltered');
      if (verdict.action === 'reject') sendRejectRaw(stack, verdict.rejectWith, ip, inIface);
      return;
    }
  }
  const ttl = packet.ttl;
  if (ttl <= 1) {
    c.inc('ttlExceeded');
    stack.icmp.sendError(ICMP_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL, ip, inIface);
    return;
  }
  if (nat !== undefined && !nat.outbound(ip, inIface.index, out.index, dnatFrom, stack.now)) return;
  const nextHop = route.gateway ?? dst;
  if (total > out.mtu) {
    if (packet.dontFragment) {
      c.inc('fragNeeded');
      stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, ip, inIface, false, out.mtu);
      return;
    }
    packet.setTtl(ttl - 1);
    c.inc('forwarded');
    c.inc('forwardFragmented');
    stack.output.sendFragments(out, parseIpv4Packet(packet, IGNORE_CHECKSUM), packet.payload, nextHop, RESOLVE_WITH_ARP, true);
    return;
  }
  packet.setTtl(ttl - 1);
  c.inc('forwarded');
  // In place: the new 14-byte header goes right before the IP header, inside the received frame
  // and its trailing FCS bytes.
  const needed = frameLength(total);
  const start = frame.byteOffset + headerLength - ETHERNET_HEADER_LENGTH;
  const limit = frame.byteOffset + frame.byteLength + FCS_LENGTH;
  let outFrame: Uint8Array;
  if (start + needed <= limit && limit <= frame.buffer.byteLength) {
    outFrame = new Uint8Array(frame.buffer, start, needed);
    // Padding of a short packet: clear whatever the received frame had there.
    outFrame.fill(0, ETHERNET_HEADER_LENGTH + total, needed - FCS_LENGTH);
  } else {
    outFrame = allocateFrame(total);
    outFrame.set(ip, ETHERNET_HEADER_LENGTH);
  }
  stack.link.sendIpv4Frame(out, outFrame, nextHop, RESOLVE_WITH_ARP, true);
}

/**
 * Firewall mode, one fragment of a datagram being forwarded: reassembles it, then runs the forward
 * chain, the TTL check and the MTU check on the whole datagram and sends it again as fragments of
 * at most the largest received fragment's size (see the module comment, step 2).
 */
function forwardFragment(stack: Stack, inIface: NetInterface, out: NetInterface, nextHop: number, packet: Ipv4Packet): void {
  const c = stack.ipCounters;
  const result = stack.forwardReassembler.add(stack.now, parseIpv4Packet(packet, IGNORE_CHECKSUM), packet.payload);
  if (result.status === 'pending') {
    stack.requestWake();
    return;
  }
  if (result.status === 'dropped') return c.inc('forwardReassemblyDropped');
  c.inc('forwardDefragmented');
  const { header, payload, largestFragment } = result;
  const headerLength = IPV4_MIN_HEADER_LENGTH + header.options.byteLength;
  const filter = stack.filter;
  const meta = fillPacketMetaFrom(stack.meta, inIface.index, out.index, header.source, header.destination, header.protocol, headerLength + payload.byteLength, payload);
  const verdict = filter.evaluate('forward', meta, stack.now);
  if (verdict.action !== 'accept') {
    c.inc('forwardFiltered');
    if (verdict.action === 'reject') sendReject(stack, verdict.rejectWith, header, payload, inIface);
    return;
  }
  if (header.ttl <= 1) {
    c.inc('ttlExceeded');
    stack.icmp.sendError(ICMP_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL, quoteDatagram(header, payload), inIface);
    return;
  }
  if (largestFragment > out.mtu) {
    if (header.dontFragment) {
      c.inc('fragNeeded');
      stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, quoteDatagram(header, payload), inIface, false, out.mtu);
      return;
    }
    c.inc('forwardFragmented');
  }
  c.inc('forwarded');
  // Fragments that carried DF (legal, if odd) leave without it: they were fragments already.
  stack.output.sendFragments(out, { ...header, ttl: header.ttl - 1, dontFragment: false }, payload, nextHop, RESOLVE_WITH_ARP, true, largestFragment);
}
