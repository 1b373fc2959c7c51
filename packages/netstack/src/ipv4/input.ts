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
 *    (1) and UDP (17) built in, others registered with `Stack.registerProtocol`; none:
 *    `unknownProtocol` and ICMP protocol unreachable (for unicast).
 */
import type { SchedulerApi } from '@postern/irq';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LENGTH,
  Ipv4OptionReader,
  Ipv4Packet,
  MalformedError,
  parseIpv4Packet,
  type Ipv4Repr,
} from '@postern/wire';
import type { Counters } from '../counters.js';
import type { PacketFilter } from '../filter/filter.js';
import { fillPacketMetaFrom } from '../filter/filter-meta.js';
import type { ForwardingMode, Ipv4Forwarder } from './forward.js';
import { isIpv4Multicast } from '../link/frame.js';
import { quoteDatagram, type IcmpErrorSender } from '../icmp/icmp-errors.js';
import type { DestinationKind, Ipv4Delivery, TransportHandler } from './transport.js';
import type { InterfaceTable } from '../link/interface-table.js';
import { NAT_DROPPED } from '../nat/nat-engine.js';
import type { NetInterface } from '../link/interface.js';
import { NO_INTERFACE, type PacketMeta } from '../filter/packet-meta.js';
import { blankIpv4Repr } from './output.js';
import type { Reassembler } from './reassembly.js';
import type { Rejecter } from '../filter/reject.js';
import type { Ipv4CounterName } from '../stack-counters.js';

/** A built-in transport (ICMP, UDP) as IPv4 input hands it datagrams. */
export interface DeliveryReceiver {
  /** Handles one datagram delivered to this host; the delivery is valid only during the call. */
  input(delivery: Ipv4Delivery): void;
}

/** What IPv4 input needs from the rest of the stack. */
export interface Ipv4InputPorts {
  /** The time source of reassembly and the filter, and the path trace. */
  readonly scheduler: Pick<SchedulerApi, 'now' | 'trace'>;
  /** Counts every packet received and every drop by name. */
  readonly ipCounters: Counters<Ipv4CounterName>;
  /** The router settings (forwarding, NAT). */
  readonly mode: Readonly<ForwardingMode>;
  /** Which addresses are ours. */
  readonly interfaces: Pick<InterfaceTable, 'isLocal'>;
  /** Reassembles fragments addressed to this host. */
  readonly reassembler: Pick<Reassembler, 'add'>;
  /** The `input` chain (firewall mode). */
  readonly filter: Pick<PacketFilter, 'enabled' | 'evaluate'>;
  /** The one reused packet description the filter reads. */
  readonly meta: PacketMeta;
  /** Forwards packets not addressed to this host (router mode). */
  readonly forwarder: Pick<Ipv4Forwarder, 'forward'>;
  /** Answers what the `input` chain rejects. */
  readonly reject: Pick<Rejecter, 'reject'>;
  /** Protocol unreachable. */
  readonly icmpErrors: IcmpErrorSender;
  /** The ICMP module (protocol 1). */
  readonly icmp: DeliveryReceiver;
  /** The UDP module (protocol 17). */
  readonly udp: DeliveryReceiver;
  /**
   * The registered transports, indexed by protocol number (256 slots, `undefined` where none is):
   * an array read per datagram instead of a map lookup.
   */
  readonly transports: ReadonlyArray<TransportHandler | undefined>;
  /** Re-arms the stack timer (a fragment is waiting for the rest). */
  requestWake(): void;
}

const IGNORE_CHECKSUM = { checksum: 'ignore' } as const;
const EMPTY = new Uint8Array(0);
const optionReader = new Ipv4OptionReader();

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/** The receive path. @internal The stack owns the one instance. */
export class Ipv4Input {
  /**
   * The one delivery handed to transports, refilled per datagram (no object per packet): the
   * {@link Ipv4Delivery} contract makes it valid only during the handler call.
   */
  private readonly delivery: { -readonly [K in keyof Ipv4Delivery]: Ipv4Delivery[K] };
  /** The header of an unfragmented datagram, refilled per datagram like {@link Ipv4Input.delivery}. */
  private readonly header: Ipv4Repr = blankIpv4Repr();

  /** Slots of the counters every packet bumps (no lookup by name per packet). */
  private readonly receivedSlot: number;
  private readonly deliveredSlot: number;

  constructor(private readonly ports: Ipv4InputPorts) {
    this.receivedSlot = ports.ipCounters.slotOf('received');
    this.deliveredSlot = ports.ipCounters.slotOf('delivered');
    this.delivery = {
      header: undefined as unknown as Ipv4Repr,
      payload: new Uint8Array(0),
      iface: undefined as unknown as NetInterface,
      destination: 'unicast',
      linkBroadcast: false,
    };
  }

  /** Handles one IPv4 frame from `iface`'s device; the packet starts at `headerLength`. Never throws for bad input. */
  receive(iface: NetInterface, frame: Uint8Array, headerLength: number): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    c.incSlot(this.receivedSlot);
    const trace = ports.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('ip', 'input: header checked');
    const available = frame.byteLength - headerLength;
    if (available < IPV4_MIN_HEADER_LENGTH) return c.inc('truncated');
    const first = frame[headerLength]!;
    if (first >>> 4 !== 4) return c.inc('badVersion');
    const ihl = (first & 0x0f) * 4;
    const total = u16(frame, headerLength + 2);
    if (ihl < IPV4_MIN_HEADER_LENGTH || total < ihl) return c.inc('badHeaderLength');
    if (total > available) return c.inc('truncated');
    // Checked just above, field by field (each failure has its own counter): not checked again.
    const packet = Ipv4Packet.prechecked(frame.subarray(headerLength), ihl, total);
    if (!packet.verifyChecksum()) return c.inc('badChecksum');
    if (ihl > IPV4_MIN_HEADER_LENGTH && !optionsValid(packet.options)) return c.inc('badOptions');
    const src = packet.source;
    const dst = packet.destination;
    const srcTop = src >>> 24;
    if (srcTop >= 224 || srcTop === 127) return c.inc('badSource');
    const linkBroadcast = (frame[0]! & 1) !== 0;
    const mode = ports.mode;
    if (ports.interfaces.isLocal(dst)) {
      const nat = mode.nat;
      if (nat !== undefined && mode.forwarding) {
        // Destination NAT (port forwards, replies to masqueraded flows): forwarded, not delivered.
        const external = nat.inbound(packet.bytes, ports.scheduler.now);
        if (external >= 0) return ports.forwarder.forward(iface, frame, headerLength, packet, external);
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
    if (!mode.forwarding || dst === 0 || dst >>> 24 === 127) return c.inc('notForUs');
    if (linkBroadcast) return c.inc('linkBroadcastNotForUs');
    ports.forwarder.forward(iface, frame, headerLength, packet);
  }

  /**
   * Delivers a checked packet addressed to this host: reassembly, the input chain, then the
   * protocol's handler.
   */
  deliverLocal(iface: NetInterface, packet: Ipv4Packet, destination: DestinationKind, linkBroadcast: boolean): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    let header: Ipv4Repr;
    let payload = packet.payload;
    if (!packet.isFragment) {
      header = fillHeader(this.header, packet);
    } else {
      // The reassembler keeps the first fragment's header: a fresh object.
      header = parseIpv4Packet(packet, IGNORE_CHECKSUM);
      const result = ports.reassembler.add(ports.scheduler.now, header, payload);
      if (result.status === 'pending') {
        ports.requestWake();
        return;
      }
      if (result.status === 'dropped') return c.inc('reassemblyDropped');
      header = result.header;
      payload = result.payload;
    }
    const filter = ports.filter;
    if (filter.enabled) {
      const meta = fillPacketMetaFrom(
        ports.meta,
        iface.index,
        NO_INTERFACE,
        header.source,
        header.destination,
        header.protocol,
        IPV4_MIN_HEADER_LENGTH + header.options.byteLength + payload.byteLength,
        payload,
      );
      const verdict = filter.evaluate('input', meta, ports.scheduler.now);
      if (verdict.action !== 'accept') {
        c.inc('inputFiltered');
        if (verdict.action === 'reject' && destination === 'unicast' && !linkBroadcast)
          ports.reject.reject(verdict.rejectWith, header, payload, iface);
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
      c.incSlot(this.deliveredSlot);
      ports.icmp.input(delivery);
      return;
    }
    if (protocol === IP_PROTO_UDP) {
      c.incSlot(this.deliveredSlot);
      ports.udp.input(delivery);
      return;
    }
    const handler = ports.transports[protocol];
    if (handler === undefined) {
      c.inc('unknownProtocol');
      if (destination === 'unicast') {
        ports.icmpErrors.sendError(
          ICMP_DEST_UNREACHABLE,
          ICMP_UNREACH_PROTOCOL,
          quoteDatagram(header, payload),
          iface,
          linkBroadcast,
        );
      }
      return;
    }
    c.incSlot(this.deliveredSlot);
    const trace = ports.scheduler.trace;
    if (trace !== undefined && trace.on)
      trace.mark(protocol === 6 ? 'tcp' : 'ip', protocol === 6 ? 'segment in' : `protocol ${protocol} in`);
    try {
      handler.receive(delivery);
    } catch {
      c.inc('handlerErrors');
    }
  }
}

/**
 * Fills `r` with the header of `packet`, as `parseIpv4Packet` would build it (`receive` validated the
 * options already; a looped-back datagram is our own), without an object per datagram.
 */
function fillHeader(r: Ipv4Repr, packet: Ipv4Packet): Ipv4Repr {
  const headerLength = packet.headerLength;
  r.dscp = packet.dscp;
  r.ecn = packet.ecn;
  r.identification = packet.identification;
  r.dontFragment = packet.dontFragment;
  r.moreFragments = packet.moreFragments;
  r.fragmentOffset = packet.fragmentOffset;
  r.ttl = packet.ttl;
  r.protocol = packet.protocol;
  r.source = packet.source;
  r.destination = packet.destination;
  r.options = headerLength === IPV4_MIN_HEADER_LENGTH ? EMPTY : packet.options;
  r.payloadLength = packet.totalLength - headerLength;
  return r;
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
