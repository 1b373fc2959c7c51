/**
 * IPv4 receive. For each packet a device hands up, in this order (each drop counted by name in
 * the stack's `ipv4` counters):
 * 1. `truncated` (under 20 bytes, or the frame ends before the total length), `badVersion`,
 *    `badHeaderLength` (IHL under 5, total length under the header), `badChecksum`, `badOptions`;
 * 2. `badSource`: a multicast, limited-broadcast, 0.0.0.0-with-a-unicast-destination or 127/8 source;
 * 3. the destination: one of our addresses (any interface: the weak host model), 255.255.255.255
 *    or a directed broadcast of the receiving interface, a multicast group joined on it
 *    (`multicastNotJoined` otherwise): local delivery. Anything else is forwarded when the stack
 *    forwards (never when it came as a link-layer broadcast: `linkBroadcastNotForUs`; never
 *    0.0.0.0 or 127/8: `notForUs`), else dropped as `notForUs`;
 * 4. local delivery: reassembly (`reassemblyDropped`, the reassembler says why), the `input` filter
 *    chain (`inputFiltered`; a reject is answered), then the handler of the protocol number: ICMP
 *    (1) and UDP (17) built in, others registered with {@link Stack.registerProtocol}; none:
 *    `unknownProtocol` and ICMP protocol unreachable (for unicast).
 */
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LENGTH,
  Ipv4OptionReader,
  Ipv4Packet,
  MalformedError,
  emitIpv4,
  parseIpv4Packet,
  type Ipv4Repr,
} from '@postern/wire';
import { fillPacketMetaFrom } from './filter-meta.js';
import { isIpv4Multicast } from './frame.js';
import { forwardIpv4 } from './forward.js';
import { NAT_DROPPED } from './nat/nat-engine.js';
import type { NetInterface } from './interface.js';
import { NO_INTERFACE } from './packet-meta.js';
import { sendReject } from './reject.js';
import type { Stack } from './stack.js';

/** How a delivered datagram was addressed. */
export type DestinationKind = 'unicast' | 'broadcast' | 'multicast';

/**
 * A datagram delivered to a transport (after reassembly and the input chain). Valid only during
 * the handler call: copy `payload` to keep it (it may be a view into a receive buffer), and copy
 * the fields to keep them (the object itself is reused for the next datagram).
 */
export interface Ipv4Delivery {
  /** The IPv4 header (for a reassembled datagram: the first fragment's, with the fragment fields cleared). */
  readonly header: Ipv4Repr;
  /** The IPv4 payload: the whole transport segment, as a view. */
  readonly payload: Uint8Array;
  /** The interface it arrived on (for a looped-back datagram: the one owning the destination). */
  readonly iface: NetInterface;
  /** How it was addressed at the IP layer. */
  readonly destination: DestinationKind;
  /** True when it came in a link-layer broadcast or multicast frame. */
  readonly linkBroadcast: boolean;
}

/** Largest datagram an ICMP error quotes in full (RFC 1812 §4.3.2.3: the error must fit 576 bytes). */
export const ICMP_QUOTE_LIMIT = 576 - IPV4_MIN_HEADER_LENGTH - 8;

const IGNORE_CHECKSUM = { checksum: 'ignore' } as const;
const optionReader = new Ipv4OptionReader();

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/**
 * The bytes an ICMP error about the datagram `header` + `payload` quotes: its header (as emitted
 * from `header`, total length restored) and the start of its payload, at most
 * {@link ICMP_QUOTE_LIMIT} bytes in all. A new buffer.
 */
export function quoteDatagram(header: Ipv4Repr, payload: Uint8Array): Uint8Array {
  const headerLength = IPV4_MIN_HEADER_LENGTH + header.options.byteLength;
  const take = Math.max(0, Math.min(payload.byteLength, ICMP_QUOTE_LIMIT - headerLength));
  const out = new Uint8Array(headerLength + take);
  emitIpv4({ ...header, payloadLength: payload.byteLength }, out);
  out.set(payload.subarray(0, take), headerLength);
  return out;
}

/** The receive path. @internal The stack owns the one instance. */
export class Ipv4Input {
  /**
   * The one delivery handed to transports, refilled per datagram (no object per packet): the
   * {@link Ipv4Delivery} contract makes it valid only during the handler call.
   */
  private readonly delivery: { -readonly [K in keyof Ipv4Delivery]: Ipv4Delivery[K] };

  constructor(private readonly stack: Stack) {
    this.delivery = { header: undefined as unknown as Ipv4Repr, payload: new Uint8Array(0), iface: undefined as unknown as NetInterface, destination: 'unicast', linkBroadcast: false };
  }

  /** Handles one IPv4 frame from `iface`'s device; the packet starts at `headerLength`. Never throws for bad input. */
  receive(iface: NetInterface, frame: Uint8Array, headerLength: number): void {
    const stack = this.stack;
    const c = stack.ipCounters;
    c.inc('received');
    const trace = stack.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('ip', 'input: header checked');
    const available = frame.byteLength - headerLength;
    if (available < IPV4_MIN_HEADER_LENGTH) return c.inc('truncated');
    const first = frame[headerLength]!;
    if (first >>> 4 !== 4) return c.inc('badVersion');
    const ihl = (first & 0x0f) * 4;
    const total = u16(frame, headerLength + 2);
    if (ihl < IPV4_MIN_HEADER_LENGTH || total < ihl) return c.inc('badHeaderLength');
    if (total > available) return c.inc('truncated');
    const packet = Ipv4Packet.checked(frame.subarray(headerLength));
    if (!packet.verifyChecksum()) return c.inc('badChecksum');
    if (ihl > IPV4_MIN_HEADER_LENGTH && !optionsValid(packet.options)) return c.inc('badOptions');
    const src = packet.source;
    const dst = packet.destination;
    const srcTop = src >>> 24;
    if (srcTop >= 224 || srcTop === 127) return c.inc('badSource');
    const linkBroadcast = (frame[0]! & 1) !== 0;
    if (stack.isLocalAddress(dst)) {
      const nat = stack.nat;
      if (nat !== undefined && stack.forwarding) {
        // Destination NAT (port forwards, replies to masqueraded flows): forwarded, not delivered.
        const external = nat.inbound(packet.bytes, stack.now);
        if (external >= 0) return forwardIpv4(stack, iface, frame, headerLength, packet, external);
        if (external === NAT_DROPPED) return;
      }
      return this.deliverLocal(iface, packet, 'unicast', linkBroadcast);
    }
    if (iface.isBroadcast(dst)) return this.deliverLocal(iface, packet, 'broadcast', linkBroadcast);
    if (src === 0) return c.inc('badSource'); // 0.0.0.0 may only talk to broadcast (DHCP)
    if (isIpv4Multicast(dst)) {
      if (iface.isMember(dst)) return this.deliverLocal(iface, packet, 'multicast', linkBroadcast);
      return c.inc('multicastNotJoined');
    }
    if (!stack.forwarding || dst === 0 || dst >>> 24 === 127) return c.inc('notForUs');
    if (linkBroadcast) return c.inc('linkBroadcastNotForUs');
    forwardIpv4(stack, iface, frame, headerLength, packet);
  }

  /**
   * Delivers a checked packet addressed to this host: reassembly, the input chain, then the
   * protocol's handler.
   */
  deliverLocal(iface: NetInterface, packet: Ipv4Packet, destination: DestinationKind, linkBroadcast: boolean): void {
    const stack = this.stack;
    const c = stack.ipCounters;
    let header = parseIpv4Packet(packet, IGNORE_CHECKSUM);
    let payload = packet.payload;
    if (packet.isFragment) {
      const result = stack.reassembler.add(stack.now, header, payload);
      if (result.status === 'pending') {
        stack.requestWake();
        return;
      }
      if (result.status === 'dropped') return c.inc('reassemblyDropped');
      header = result.header;
      payload = result.payload;
    }
    const filter = stack.filter;
    if (filter.enabled) {
      const meta = fillPacketMetaFrom(stack.meta, iface.index, NO_INTERFACE, header.source, header.destination, header.protocol, IPV4_MIN_HEADER_LENGTH + header.options.byteLength + payload.byteLength, payload);
      const verdict = filter.evaluate('input', meta, stack.now);
      if (verdict.action !== 'accept') {
        c.inc('inputFiltered');
        if (verdict.action === 'reject' && destination === 'unicast' && !linkBroadcast) sendReject(stack, verdict.rejectWith, header, payload, iface);
        return;
      }
    }
    const delivery = this.delivery;
    delivery.header = header;
    delivery.payload = payload;
    delivery.iface = iface;
    delivery.destination = destination;
    delivery.linkBroadcast = linkBroadcast;
    const protocol = header.protocol;
    if (protocol === IP_PROTO_ICMP) {
      c.inc('delivered');
      stack.icmp.input(delivery);
      return;
    }
    if (protocol === IP_PROTO_UDP) {
      c.inc('delivered');
      stack.udp.input(delivery);
      return;
    }
    const handler = stack.protocolHandler(protocol);
    if (handler === undefined) {
      c.inc('unknownProtocol');
      if (destination === 'unicast') {
        stack.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL, quoteDatagram(header, payload), iface, linkBroadcast);
      }
      return;
    }
    c.inc('delivered');
    const trace = stack.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark(protocol === 6 ? 'tcp' : 'ip', protocol === 6 ? 'segment in' : `protocol ${protocol} in`);
    try {
      handler.receive(delivery);
    } catch {
      c.inc('handlerErrors');
    }
  }
}

/** True when every option is well-formed (see `Ipv4OptionReader`). */
function optionsValid(options: Uint8Array): boolean {
  optionReader.reset(options);
  try {
    while (optionReader.next());
    return true;
  } catch (err) {
    if (err instanceof MalformedError) return false;
    throw err;
  } finally {
    optionReader.reset(EMPTY);
  }
}

const EMPTY = new Uint8Array(0);
