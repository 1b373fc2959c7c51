/**
 * Forwarding (router mode, RFC 1812 §5.2), for a packet not addressed to this host, in this order
 * (each drop counted by name in the stack's `ipv4` counters):
 * 1. route lookup: none, `noRoute` and ICMP net unreachable;
 * 2. a destination that is the directed broadcast of the outgoing interface: `directedBroadcast`
 *    (RFC 2644: not forwarded by default);
 *    a fragment, in firewall mode or leaving through an interface NAT translates on
 *    (`NatEngine.translates`): it goes to the forward reassembler (`forwardReassemblyDropped`
 *    when refused) and the rest of these steps runs once, on the whole datagram
 *    (`forwardDefragmented`), as Linux's connection tracking defragments: the filter then sees the
 *    transport header of every fragment's datagram (a later fragment alone has none, and would
 *    miss every rule with ports or ICMP types and every connection), and NAT translates its ports
 *    and transport checksum. It leaves as fragments no larger than the largest that came in
 *    (Linux's `frag_max_size`); Don't Fragment with that size over the outgoing MTU gets
 *    fragmentation needed. (Fragments addressed to NAT's external address are reassembled by IPv4
 *    input before destination NAT, and come here whole with that size too.);
 * 3. the `forward` filter chain (`forwardFiltered`; a reject is answered);
 * 4. TTL 0 or 1: `ttlExceeded` and ICMP time exceeded;
 * 5. larger than the outgoing MTU (or than the largest fragment it came in) with Don't Fragment:
 *    `fragNeeded` and ICMP fragmentation needed carrying the next-hop MTU (RFC 1191);
 *    then, when NAT is configured (`Stack.nat`), source NAT (masquerade, port-forward replies,
 *    hairpin; a refused packet is counted in the `nat` counters and dropped). The ICMP errors and
 *    resets of steps 3-5 quote the packet as its sender sent it: before source NAT, and with a
 *    destination NAT undone (`NatEngine.revertInbound`);
 * 6. the TTL is decremented in place with the incremental checksum update (RFC 1624);
 * 7. larger than the outgoing MTU (or than the largest fragment it came in): fragmented
 *    (`forwardFragmented` when over the outgoing MTU);
 * 8. otherwise sent without copying: the new Ethernet header is written in front of the IP packet,
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
  Ipv4Packet,
  parseIpv4Packet,
  type Ipv4Repr,
} from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import type { Counters } from '../counters.js';
import type { PacketFilter } from '../filter/filter.js';
import { fillPacketMeta } from '../filter/filter-meta.js';
import { allocateFrame, frameLength } from '../link/frame.js';
import type { IcmpErrorSender } from '../icmp/icmp-errors.js';
import type { NetInterface } from '../link/interface.js';
import type { Ipv4Output } from './output.js';
import type { InterfaceTable } from '../link/interface-table.js';
import { RESOLVE_WITH_ARP, type LinkOutput } from '../link/output.js';
import type { NatEngine } from '../nat/nat-engine.js';
import type { PacketMeta } from '../filter/packet-meta.js';
import { reassembledPacketFrame, type Reassembler } from './reassembly.js';
import type { Rejecter } from '../filter/reject.js';
import type { RoutingTable } from './routing.js';
import type { Ipv4CounterName } from '../stack-counters.js';

const IGNORE_CHECKSUM = { checksum: 'ignore' } as const;

/**
 * The stack's router settings, one object shared by IPv4 input and forwarding and written only by
 * the stack (`Stack.forwarding`, `Stack.configureNat`).
 */
export interface ForwardingMode {
  /** Router mode: forward packets not addressed to this host. */
  forwarding: boolean;
  /** NAT on the forward path, or `undefined`. */
  nat: NatEngine | undefined;
}

/** What forwarding needs from the rest of the stack. */
export interface Ipv4ForwarderPorts {
  /** The time source of the filter and the forward reassembler. */
  readonly scheduler: Pick<SchedulerApi, 'now'>;
  /** Counts what was forwarded and dropped. */
  readonly ipCounters: Counters<Ipv4CounterName>;
  /** The router settings (NAT). */
  readonly mode: Readonly<ForwardingMode>;
  /** The routing table. */
  readonly routes: Pick<RoutingTable, 'match'>;
  /** The outgoing interface of a route. */
  readonly interfaces: Pick<InterfaceTable, 'at'>;
  /** The `forward` chain (firewall mode). */
  readonly filter: Pick<PacketFilter, 'enabled' | 'evaluate'>;
  /** The one reused packet description the filter reads. */
  readonly meta: PacketMeta;
  /** Reassembles forwarded fragments in firewall mode. */
  readonly forwardReassembler: Pick<Reassembler, 'add'>;
  /** Net unreachable, time exceeded, fragmentation needed. */
  readonly icmp: IcmpErrorSender;
  /** Answers what the `forward` chain rejects. */
  readonly reject: Pick<Rejecter, 'reject' | 'rejectRaw'>;
  /** Sends a forwarded datagram as fragments. */
  readonly output: Pick<Ipv4Output, 'sendFragments'>;
  /** Sends a forwarded frame. */
  readonly link: Pick<LinkOutput, 'sendIpv4Frame'>;
  /** Re-arms the stack timer (a fragment is waiting for the rest). */
  requestWake(): void;
}

/** The forwarding path. @internal The stack owns the one instance. */
export class Ipv4Forwarder {
  constructor(private readonly ports: Ipv4ForwarderPorts) {}

  /**
   * Forwards `packet` (checked, checksum verified; its bytes start at `frame[headerLength]`) that
   * arrived on `inIface`. Takes ownership of `frame`. `dnatFrom` is the external interface whose
   * address NAT translated the destination from (see `NatEngine.inbound`), or -1. `largestFragment`
   * is, for a datagram reassembled from fragments, the total length of the largest of them (it
   * leaves as fragments no larger), else 0.
   */
  forward(
    inIface: NetInterface,
    frame: Uint8Array,
    headerLength: number,
    packet: Ipv4Packet,
    dnatFrom = -1,
    largestFragment = 0,
  ): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    const dst = packet.destination;
    const total = packet.totalLength;
    // IPv4 input hands over a view of exactly the packet: no second one then.
    const bytes = packet.bytes;
    const ip = bytes.length === total ? bytes : bytes.subarray(0, total);
    const route = ports.routes.match(dst);
    const out = route === undefined ? undefined : ports.interfaces.at(route.ifIndex);
    if (route === undefined || out === undefined) {
      c.inc('noRoute');
      this.revert(ip, dnatFrom);
      ports.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_NET, ip, inIface);
      return;
    }
    if (out.isBroadcast(dst)) return c.inc('directedBroadcast');
    const filter = ports.filter;
    const nat = ports.mode.nat;
    if (
      (filter.enabled || nat !== undefined) &&
      packet.isFragment &&
      (filter.enabled || nat?.translates(out.index) === true)
    ) {
      return this.forwardFragment(inIface, packet);
    }
    if (filter.enabled) {
      const verdict = filter.evaluate(
        'forward',
        fillPacketMeta(ports.meta, ip, inIface.index, out.index),
        ports.scheduler.now,
      );
      if (verdict.action !== 'accept') {
        c.inc('forwardFiltered');
        if (verdict.action === 'reject') {
          this.revert(ip, dnatFrom);
          ports.reject.rejectRaw(verdict.rejectWith, ip, inIface);
        }
        return;
      }
    }
    const ttl = packet.ttl;
    if (ttl <= 1) {
      c.inc('ttlExceeded');
      this.revert(ip, dnatFrom);
      ports.icmp.sendError(ICMP_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL, ip, inIface);
      return;
    }
    // A reassembled datagram leaves in pieces no larger than it came in.
    const mtu = out.mtu;
    const limit = largestFragment > 0 && largestFragment < mtu ? largestFragment : mtu;
    if (total > limit && packet.dontFragment && (largestFragment === 0 || largestFragment > mtu)) {
      c.inc('fragNeeded');
      this.revert(ip, dnatFrom);
      ports.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, ip, inIface, false, mtu);
      return;
    }
    if (nat !== undefined && !nat.outbound(ip, inIface.index, out.index, dnatFrom, ports.scheduler.now)) return;
    const nextHop = route.gateway ?? dst;
    if (total > limit) {
      packet.setTtl(ttl - 1);
      c.inc('forwarded');
      if (total > mtu && (largestFragment === 0 || largestFragment > mtu)) c.inc('forwardFragmented');
      const repr = parseIpv4Packet(packet, IGNORE_CHECKSUM);
      // Pieces of a datagram that came in pieces with DF (legal, if odd) leave without it.
      repr.dontFragment = false;
      ports.output.sendFragments(out, repr, packet.payload, nextHop, RESOLVE_WITH_ARP, true, limit);
      return;
    }
    packet.setTtl(ttl - 1);
    c.inc('forwarded');
    // In place: the new 14-byte header goes right before the IP header, inside the received frame
    // and its trailing FCS bytes.
    const needed = frameLength(total);
    const start = frame.byteOffset + headerLength - ETHERNET_HEADER_LENGTH;
    const limitByte = frame.byteOffset + frame.length + FCS_LENGTH;
    let outFrame: Uint8Array;
    if (start + needed <= limitByte && limitByte <= frame.buffer.byteLength) {
      outFrame = new Uint8Array(frame.buffer, start, needed);
      // Padding of a short packet: clear whatever the received frame had there.
      outFrame.fill(0, ETHERNET_HEADER_LENGTH + total, needed - FCS_LENGTH);
    } else {
      outFrame = allocateFrame(total);
      outFrame.set(ip, ETHERNET_HEADER_LENGTH);
    }
    ports.link.sendIpv4Frame(out, outFrame, nextHop, RESOLVE_WITH_ARP, true);
  }

  /**
   * One fragment of a datagram being forwarded through the firewall or out of a NAT interface:
   * reassembles it, then forwards the whole datagram (see the module comment, step 2), which
   * leaves again as fragments of at most the largest received fragment's size.
   */
  private forwardFragment(inIface: NetInterface, packet: Ipv4Packet): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    const result = ports.forwardReassembler.add(
      ports.scheduler.now,
      parseIpv4Packet(packet, IGNORE_CHECKSUM),
      packet.payload,
    );
    if (result.status === 'pending') {
      ports.requestWake();
      return;
    }
    if (result.status === 'dropped') return c.inc('forwardReassemblyDropped');
    c.inc('forwardDefragmented');
    this.forwardReassembled(inIface, result);
  }

  /**
   * Forwards a datagram reassembled from fragments (a `complete` result of `Reassembler.add`) as
   * one packet: the filter, TTL, NAT and MTU steps see it whole, and it leaves as fragments no
   * larger than the largest that came in.
   */
  private forwardReassembled(
    inIface: NetInterface,
    result: {
      readonly header: Ipv4Repr;
      readonly payload: Uint8Array;
      readonly largestFragment: number;
      readonly frame?: Uint8Array;
    },
  ): void {
    const frame = reassembledPacketFrame(result);
    const ihl = IPV4_MIN_HEADER_LENGTH + result.header.options.length;
    const total = ihl + result.payload.length;
    const packet = Ipv4Packet.prechecked(
      frame.subarray(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + total),
      ihl,
      total,
    );
    // As a received frame: its FCS bytes follow it (the room `forward` sends it in place with).
    const received = frame.subarray(0, frame.length - FCS_LENGTH);
    this.forward(inIface, received, ETHERNET_HEADER_LENGTH, packet, -1, result.largestFragment);
  }

  /** Before a translated packet is quoted or answered: the destination its sender used (see the module comment). */
  private revert(ip: Uint8Array, dnatFrom: number): void {
    if (dnatFrom >= 0) this.ports.mode.nat?.revertInbound(ip, dnatFrom, this.ports.scheduler.now);
  }
}
