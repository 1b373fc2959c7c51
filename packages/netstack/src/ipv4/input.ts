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
 *    With NAT and forwarding on, a fragment addressed to this host is reassembled first
 *    (`reassemblyDropped` when refused) and the whole datagram offered to destination NAT, then
 *    forwarded or delivered as one packet;
 * 4. local delivery: reassembly (`reassemblyDropped`, the reassembler says why), the `input` filter
 *    chain (`inputFiltered`; a reject is answered), then the handler of the protocol number: ICMP
 *    (1) and UDP (17) built in, others registered with `Stack.registerProtocol`; none:
 *    `unknownProtocol` and ICMP protocol unreachable (for unicast).
 */
import type { SchedulerApi } from '@postern/irq';
import {
  ETHERNET_HEADER_LENGTH,
  FCS_LENGTH,
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LENGTH,
  Ipv4OptionReader,
  Ipv4Packet,
  MalformedError,
  ipv4HeaderChecksumValid,
  parseIpv4Packet,
  readUint32,
  type Ipv4Address,
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
import { NAT_DROPPED, NAT_NOT_MINE } from '../nat/nat-engine.js';
import type { NetInterface } from '../link/interface.js';
import { NO_INTERFACE, type PacketMeta } from '../filter/packet-meta.js';
import { reassembledPacketFrame, type Reassembler } from './reassembly.js';
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
/** A non-number the address fields of `ReceivedHeader` start with (see there). */
const TAGGED = null;
const optionReader = new Ipv4OptionReader();

/**
 * `TypedArray.prototype.subarray`, called directly for the payload view of every datagram: the
 * frames come as plain `Uint8Array`s and as Node `Buffer`s, and `bytes.subarray(...)` then compiles
 * to a generic property load (a `LoadIC` call per datagram in the shipped bin) before the builtin's
 * call. The same function either way (a `Buffer`'s view is still a `Buffer`).
 */
const subarrayOf = Uint8Array.prototype.subarray;

/** More Fragments and the fragment offset in the flags word: a packet with any of them set is a fragment. */
const FRAGMENT_BITS = 0x3fff;

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
  private readonly header: Ipv4Repr = new ReceivedHeader();

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

  /**
   * Handles one IPv4 frame from `iface`'s device; the packet starts at `headerLength`. Never throws for bad input.
   * A datagram for this host is checked and delivered straight from `frame`: no view of the packet and
   * no packet object (only the payload view the transport receives); a packet to forward, or one met by
   * destination NAT, is wrapped in an `Ipv4Packet` view for that path.
   */
  receive(iface: NetInterface, frame: Uint8Array, headerLength: number): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    c.incSlot(this.receivedSlot);
    const trace = ports.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('ip', 'input: header checked');
    const at = headerLength;
    const available = frame.length - at;
    if (available < IPV4_MIN_HEADER_LENGTH) return c.inc('truncated');
    const first = frame[at]!;
    if (first >>> 4 !== 4) return c.inc('badVersion');
    const ihl = (first & 0x0f) * 4;
    const total = u16(frame, at + 2);
    if (ihl < IPV4_MIN_HEADER_LENGTH || total < ihl) return c.inc('badHeaderLength');
    if (total > available) return c.inc('truncated');
    if (!ipv4HeaderChecksumValid(frame, at, ihl)) return c.inc('badChecksum');
    if (ihl > IPV4_MIN_HEADER_LENGTH && !optionsValid(frame.subarray(at + IPV4_MIN_HEADER_LENGTH, at + ihl)))
      return c.inc('badOptions');
    const src = readUint32(frame, at + 12);
    const dst = readUint32(frame, at + 16);
    const srcTop = src >>> 24;
    if (srcTop >= 224 || srcTop === 127) return c.inc('badSource');
    const linkBroadcast = (frame[0]! & 1) !== 0;
    const mode = ports.mode;
    if (ports.interfaces.isLocal(dst)) {
      const nat = mode.nat;
      if (nat !== undefined && mode.forwarding) {
        // A fragment: reassembled first, then offered to NAT whole.
        if ((u16(frame, at + 6) & FRAGMENT_BITS) !== 0)
          return this.natFragment(iface, frame, at, ihl, total, linkBroadcast);
        // Destination NAT (port forwards, replies to masqueraded flows): forwarded, not delivered.
        const packet = Ipv4Packet.prechecked(frame.subarray(at, at + total), ihl, total);
        const external = nat.inbound(packet.bytes, ports.scheduler.now);
        if (external >= 0) return ports.forwarder.forward(iface, frame, at, packet, external);
        if (external === NAT_DROPPED) return;
      }
      return this.deliverLocal(iface, frame, at, ihl, total, 'unicast', linkBroadcast);
    }
    if (iface.isBroadcast(dst)) return this.deliverLocal(iface, frame, at, ihl, total, 'broadcast', linkBroadcast);
    if (src === 0) return c.inc('badSource'); // 0.0.0.0 may only talk to broadcast (DHCP)
    if (isIpv4Multicast(dst)) {
      if (iface.isMember(dst)) return this.deliverLocal(iface, frame, at, ihl, total, 'multicast', linkBroadcast);
      return c.inc('multicastNotJoined');
    }
    if (!mode.forwarding || dst === 0 || dst >>> 24 === 127) return c.inc('notForUs');
    if (linkBroadcast) return c.inc('linkBroadcastNotForUs');
    // One view of exactly the packet: the forwarder's view of it as well.
    ports.forwarder.forward(iface, frame, at, Ipv4Packet.prechecked(frame.subarray(at, at + total), ihl, total));
  }

  /**
   * NAT and forwarding on, a fragment addressed to this host (the checked `total`-byte packet with
   * its `ihl`-byte header at `frame[at]`): the local reassembler takes it, and the whole datagram
   * goes to destination NAT as one packet: forwarded, with the largest fragment's size, when NAT
   * translated it (see `Ipv4Forwarder.forward`), else delivered here. Linux's connection tracking
   * likewise defragments before NAT: a later fragment has no ports to find the mapping by.
   */
  private natFragment(
    iface: NetInterface,
    frame: Uint8Array,
    at: number,
    ihl: number,
    total: number,
    linkBroadcast: boolean,
  ): void {
    const ports = this.ports;
    const packet = Ipv4Packet.prechecked(frame.subarray(at, at + total), ihl, total);
    const result = ports.reassembler.add(ports.scheduler.now, parseIpv4Packet(packet, IGNORE_CHECKSUM), packet.payload);
    if (result.status === 'pending') {
      ports.requestWake();
      return;
    }
    if (result.status === 'dropped') return ports.ipCounters.inc('reassemblyDropped');
    const whole = reassembledPacketFrame(result);
    const wholeIhl = IPV4_MIN_HEADER_LENGTH + result.header.options.length;
    const wholeTotal = wholeIhl + result.payload.length;
    const bytes = whole.subarray(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + wholeTotal);
    const nat = ports.mode.nat;
    const external = nat === undefined ? NAT_NOT_MINE : nat.inbound(bytes, ports.scheduler.now);
    if (external >= 0) {
      // As a received frame: its FCS bytes follow it (the room forwarding sends it in place with).
      const received = whole.subarray(0, whole.length - FCS_LENGTH);
      const view = Ipv4Packet.prechecked(bytes, wholeIhl, wholeTotal);
      return ports.forwarder.forward(iface, received, ETHERNET_HEADER_LENGTH, view, external, result.largestFragment);
    }
    if (external === NAT_DROPPED) return;
    this.deliverLocal(iface, whole, ETHERNET_HEADER_LENGTH, wholeIhl, wholeTotal, 'unicast', linkBroadcast);
  }

  /**
   * Delivers a checked packet addressed to this host, the `total`-byte packet with its `ihl`-byte
   * header at `bytes[at]`: reassembly, the input chain, then the protocol's handler. Of the packet
   * only the payload view the handler gets is made (a fragment is viewed whole: the reassembler
   * keeps its header and payload).
   */
  deliverLocal(
    iface: NetInterface,
    bytes: Uint8Array,
    at: number,
    ihl: number,
    total: number,
    destination: DestinationKind,
    linkBroadcast: boolean,
  ): void {
    const ports = this.ports;
    const c = ports.ipCounters;
    let header: Ipv4Repr;
    let payload: Uint8Array;
    if ((u16(bytes, at + 6) & FRAGMENT_BITS) === 0) {
      header = fillHeader(this.header, bytes, at, ihl, total);
      payload = subarrayOf.call(bytes, at + ihl, at + total);
    } else {
      // The reassembler keeps the first fragment's header: a fresh object.
      const packet = Ipv4Packet.prechecked(bytes.subarray(at), ihl, total);
      header = parseIpv4Packet(packet, IGNORE_CHECKSUM);
      const result = ports.reassembler.add(ports.scheduler.now, header, packet.payload);
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
        IPV4_MIN_HEADER_LENGTH + header.options.length + payload.length,
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
 * The header {@link Ipv4Input} refills per unfragmented datagram. An address at or above 128.0.0.0
 * is not a small integer to V8: a field holding it as an unboxed double (what V8 picks for a field
 * that only ever held numbers) is boxed afresh each time a handler passes it on (16 bytes per
 * address per call: TCP's input takes both). These two fields are made to hold tagged values (each
 * first holds a non-number, so V8 gives this class's fields a tagged representation) and
 * {@link fillHeader} stores an address only when it changed: the box is then made once per change
 * of peer, and every handler call passes the same one.
 */
class ReceivedHeader implements Ipv4Repr {
  dscp = 0;
  ecn = 0;
  identification = 0;
  dontFragment = false;
  moreFragments = false;
  fragmentOffset = 0;
  ttl = 0;
  protocol = 0;
  source: Ipv4Address = TAGGED as unknown as Ipv4Address;
  destination: Ipv4Address = TAGGED as unknown as Ipv4Address;
  options: Uint8Array = EMPTY;
  payloadLength = 0;

  constructor() {
    this.source = 0;
    this.destination = 0;
  }
}

/**
 * Fills `r` with the header of the unfragmented packet at `bytes[at]` (`ihl`-byte header, `total`
 * bytes), as `parseIpv4Packet` would build it (`receive` validated the options already; a
 * looped-back datagram is our own), without an object per datagram. The options, if any, are a
 * view into `bytes`.
 */
function fillHeader(r: Ipv4Repr, bytes: Uint8Array, at: number, ihl: number, total: number): Ipv4Repr {
  const tos = bytes[at + 1]!;
  r.dscp = tos >>> 2;
  r.ecn = tos & 3;
  r.identification = u16(bytes, at + 4);
  r.dontFragment = (bytes[at + 6]! & 0x40) !== 0;
  r.moreFragments = false;
  r.fragmentOffset = 0;
  r.ttl = bytes[at + 8]!;
  r.protocol = bytes[at + 9]!;
  // Stored only when they change: see `ReceivedHeader`.
  const source = readUint32(bytes, at + 12);
  if (r.source !== source) r.source = source;
  const destination = readUint32(bytes, at + 16);
  if (r.destination !== destination) r.destination = destination;
  r.options = ihl === IPV4_MIN_HEADER_LENGTH ? EMPTY : bytes.subarray(at + IPV4_MIN_HEADER_LENGTH, at + ihl);
  r.payloadLength = total - ihl;
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
