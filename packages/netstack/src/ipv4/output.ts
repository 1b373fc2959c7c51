/**
 * Sending IPv4 datagrams this host originates: route selection (outgoing interface, next hop,
 * link destination, source address), one frame buffer per datagram into which the caller writes
 * its transport header and payload in place, the `output` filter chain, fragmentation to the
 * interface MTU (or `MESSAGE_TOO_LONG` with Don't Fragment), and loopback for our own addresses.
 */
import {
  ETHERNET_HEADER_LENGTH,
  IPV4_BROADCAST,
  IPV4_MAX_TOTAL_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  ipv4ToString,
  writeIpv4Header,
  type Ipv4Address,
  type Ipv4Repr,
  type MacAddress,
  MAC_BROADCAST,
} from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import type { Counters } from '../counters.js';
import { SendError } from '../errors.js';
import type { PacketFilter } from '../filter/filter.js';
import { fillPacketMeta } from '../filter/filter-meta.js';
import { fragmentIpv4 } from './fragment.js';
import { allocateFrame, frameLength, ipv4MulticastMac, isIpv4Multicast } from '../link/frame.js';
import type { NetInterface } from '../link/interface.js';
import type { InterfaceTable } from '../link/interface-table.js';
import { RESOLVE_WITH_ARP, type LinkOutput } from '../link/output.js';
import { NO_INTERFACE, type PacketMeta } from '../filter/packet-meta.js';
import { isIpv4Address } from './prefix.js';
import { ANY_SOURCE, RouteCache, RouteSlot, routeSlotIndex, type RouteInfo } from './route-cache.js';
import type { RoutingTable } from './routing.js';
import type { Ipv4CounterName } from '../stack-counters.js';

/** Default TTL of datagrams this host sends (RFC 1700 recommends 64). */
export const DEFAULT_TTL = 64;

const NO_OPTIONS = new Uint8Array(0);

/**
 * A header with every field zero but `ttl`, and no options: the one object a sender or a receiver
 * refills for each datagram instead of building one per datagram.
 */
export function blankIpv4Repr(ttl = 0): Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    identification: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl,
    protocol: 0,
    source: 0,
    destination: 0,
    options: NO_OPTIONS,
    payloadLength: 0,
  };
}

/** How to send one IPv4 datagram with `Stack.sendIpv4`. */
export interface Ipv4SendOptions {
  /** Source address: one of this host's addresses. Default: chosen from the outgoing interface (see `Stack.routeTo`). */
  src?: Ipv4Address;
  /** Destination: unicast, a directed or limited broadcast, or a multicast group. */
  dst: Ipv4Address;
  /** IP protocol number, 0..255. */
  protocol: number;
  /** Time to live, 1..255. Default {@link DEFAULT_TTL} (1 for multicast). */
  ttl?: number;
  /** The whole type-of-service octet (DSCP << 2 | ECN), 0..255. Default 0. */
  tos?: number;
  /** Don't Fragment: refuse with `MESSAGE_TOO_LONG` instead of fragmenting. Default false. */
  df?: boolean;
  /** Interface to send a limited broadcast or multicast on (by index). Default: the route's, or the first with an address. */
  ifIndex?: number;
}

/**
 * Writes the transport header and payload of an outgoing datagram in place.
 * @param payload exactly `payloadLength` zeroed bytes inside the final frame buffer, right after
 *   the IPv4 header (offset 34 of the frame). Write into it; do not keep it after the call.
 * @param src the source address the datagram will carry (for the pseudo-header checksum).
 * @param dst the destination address.
 */
export type PayloadWriter = (payload: Uint8Array, src: Ipv4Address, dst: Ipv4Address) => void;

/**
 * {@link PayloadWriter} without a view of the payload: writes the `length` bytes at `frame[at]`
 * (zeroed, right after the IPv4 header), and nothing else of `frame`. The sender then makes one
 * view per datagram (the frame) instead of two; `onesComplementSumRange` of `@postern/wire` sums the
 * written range without a view. Do not keep `frame` after the call.
 */
export type FramePayloadWriter = (
  frame: Uint8Array,
  at: number,
  length: number,
  src: Ipv4Address,
  dst: Ipv4Address,
) => void;

export type { RouteInfo } from './route-cache.js';

/** Internal flags of a send. @internal */
export interface SendFlags {
  /** Skip the output chain (ICMP errors and TCP resets the stack makes itself). */
  bypassFilter: boolean;
}

const NORMAL: SendFlags = { bypassFilter: false };

/** What IPv4 output needs from the rest of the stack. */
export interface Ipv4OutputPorts {
  /** Time (filter), the path trace, deferred loopback, and the seed of the identification counter. */
  readonly scheduler: Pick<SchedulerApi, 'now' | 'trace' | 'defer' | 'randomUint32'>;
  /** Counts what was sent and refused. */
  readonly ipCounters: Counters<Ipv4CounterName>;
  /** The interfaces and which owns each local address (route and source selection; `version` keeps the route cache honest). */
  readonly interfaces: Pick<InterfaceTable, 'all' | 'at' | 'ownerOf' | 'isLocal' | 'version'>;
  /** The routing table (`version` keeps the route cache honest). */
  readonly routes: Pick<RoutingTable, 'match' | 'version'>;
  /** The `output` chain (firewall mode). */
  readonly filter: Pick<PacketFilter, 'enabled' | 'evaluate'>;
  /** The one reused packet description the filter reads. */
  readonly meta: PacketMeta;
  /** Puts packets into frames and on the wire. */
  readonly link: Pick<LinkOutput, 'sendIpv4Frame'>;
  /**
   * Delivers a datagram addressed to our own address `iface` owns (loopback), called in a deferred
   * round: the `total`-byte packet at `bytes[at]`, its header (20 bytes, no options) as this sender wrote it.
   */
  loopback(iface: NetInterface, bytes: Uint8Array, at: number, headerLength: number, total: number): void;
}

/** The sender. @internal The stack owns the one instance. */
export class Ipv4Output {
  /** The route {@link Ipv4Output.select} fills for each uncached choice (no object per datagram). */
  private readonly chosen = new RouteSlot();
  /** Recent choices of {@link Ipv4Output.resolve} without an interface index (see `route-cache.ts`). */
  private readonly routeCache = new RouteCache();
  private identification: number;

  /** Slot of the `sent` counter (no lookup by name per datagram). */
  private readonly sentSlot: number;

  constructor(private readonly ports: Ipv4OutputPorts) {
    this.sentSlot = ports.ipCounters.slotOf('sent');
    this.identification = ports.scheduler.randomUint32() & 0xffff;
  }

  /**
   * Chooses interface, next hop, link destination and source for `dst` (a new object, the caller's
   * to keep).
   * @throws {@link SendError} `NO_ROUTE`, `NO_SOURCE_ADDRESS`, `ADDRESS_NOT_AVAILABLE`.
   */
  route(dst: Ipv4Address, src?: Ipv4Address, ifIndex?: number): RouteInfo {
    const r = this.resolve(dst, src, ifIndex);
    return {
      iface: r.iface,
      nextHop: r.nextHop,
      linkDestination: r.linkDestination,
      src: r.src,
      mtu: r.mtu,
      local: r.local,
    };
  }

  /**
   * {@link Ipv4Output.route} into a reused object (no object per datagram): valid until the next
   * call, so a caller reads what it needs from it at once. Without `ifIndex` the choice comes from
   * the route cache when it holds one made since the last change of routes, interfaces or
   * addresses (the same choice {@link Ipv4Output.select} would make); the MTU is always the
   * interface's current one.
   */
  private resolve(dst: Ipv4Address, src: Ipv4Address | undefined, ifIndex: number | undefined): RouteSlot {
    if (ifIndex !== undefined) return this.select(dst, src, ifIndex);
    const ports = this.ports;
    const epoch = ports.routes.version + ports.interfaces.version;
    const cache = this.routeCache;
    // The slot lookup (see `RouteCache.slotAt`) compares here: an address passed to a call that is not inlined is boxed.
    const srcKey = src ?? ANY_SOURCE;
    const hit = cache.slotAt(routeSlotIndex(dst, srcKey));
    if (hit.epoch === epoch && hit.dst === dst && hit.srcKey === srcKey) {
      hit.mtu = hit.local ? IPV4_MAX_TOTAL_LENGTH : hit.iface.mtu;
      return hit;
    }
    return cache.store(epoch, dst, src, this.select(dst, src, undefined));
  }

  /** Route and source selection proper, into the one reused {@link Ipv4Output.chosen}; throws as {@link Ipv4Output.route}. */
  private select(dst: Ipv4Address, src: Ipv4Address | undefined, ifIndex: number | undefined): RouteSlot {
    const interfaces = this.ports.interfaces;
    if (src !== undefined && !interfaces.isLocal(src))
      throw new SendError('ADDRESS_NOT_AVAILABLE', `${ipv4ToString(src)} is not an address of this host`);
    const out = this.chosen;
    out.dst = dst;
    const owner = interfaces.ownerOf(dst);
    if (owner !== undefined) {
      out.iface = owner;
      out.nextHop = dst;
      out.linkDestination = RESOLVE_WITH_ARP;
      out.src = src ?? dst;
      out.mtu = IPV4_MAX_TOTAL_LENGTH;
      out.local = true;
      return out;
    }
    let iface: NetInterface | undefined;
    let nextHop = dst;
    let linkDestination: MacAddress = RESOLVE_WITH_ARP;
    let routeSource: Ipv4Address | undefined;
    if (dst === IPV4_BROADCAST || isIpv4Multicast(dst)) {
      linkDestination = dst === IPV4_BROADCAST ? MAC_BROADCAST : ipv4MulticastMac(dst);
      if (ifIndex !== undefined) iface = interfaces.at(ifIndex);
      else if (src !== undefined) iface = interfaces.ownerOf(src);
      if (iface === undefined && dst !== IPV4_BROADCAST) {
        const r = this.ports.routes.match(dst);
        if (r !== undefined) iface = interfaces.at(r.ifIndex);
      }
      iface ??= interfaces.all.find((i) => i.primaryAddress !== undefined);
    } else {
      const r = this.ports.routes.match(dst);
      if (r !== undefined) {
        iface = interfaces.at(r.ifIndex);
        nextHop = r.gateway ?? dst;
        routeSource = r.source;
        if (iface?.isBroadcast(dst)) linkDestination = MAC_BROADCAST;
      }
    }
    if (iface === undefined) throw new SendError('NO_ROUTE', `no route to ${ipv4ToString(dst)}`);
    const chosen = src ?? routeSource ?? iface.sourceFor(nextHop);
    if (chosen === undefined)
      throw new SendError('NO_SOURCE_ADDRESS', `${iface.name} has no IPv4 address to send from`);
    out.iface = iface;
    out.nextHop = nextHop;
    out.linkDestination = linkDestination;
    out.src = chosen;
    out.mtu = iface.mtu;
    out.local = false;
    return out;
  }

  /**
   * Sends one datagram of `payloadLength` bytes that `write` puts in place; see `Stack.sendIpv4`.
   * @returns the source address used.
   */
  send(options: Ipv4SendOptions, payloadLength: number, write: PayloadWriter, flags: SendFlags = NORMAL): Ipv4Address {
    return this.sendWith(options, payloadLength, write, undefined, flags);
  }

  /**
   * {@link Ipv4Output.send} with a writer that writes the payload into the frame at an offset: one
   * typed-array view per datagram less (see {@link FramePayloadWriter}).
   * @returns the source address used.
   */
  sendInFrame(
    options: Ipv4SendOptions,
    payloadLength: number,
    writeAt: FramePayloadWriter,
    flags: SendFlags = NORMAL,
  ): Ipv4Address {
    return this.sendWith(options, payloadLength, undefined, writeAt, flags);
  }

  /** {@link Ipv4Output.send} with exactly one of `write` and `writeAt`. */
  private sendWith(
    options: Ipv4SendOptions,
    payloadLength: number,
    write: PayloadWriter | undefined,
    writeAt: FramePayloadWriter | undefined,
    flags: SendFlags,
  ): Ipv4Address {
    const ports = this.ports;
    const counters = ports.ipCounters;
    const { dst, protocol } = options;
    const trace = ports.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('ip', `output: protocol ${protocol}, ${payloadLength} B`);
    const ttl = options.ttl ?? (isIpv4Multicast(dst) ? 1 : DEFAULT_TTL);
    const tos = options.tos ?? 0;
    if (!isIpv4Address(dst)) throw new SendError('INVALID_ARGUMENT', `destination is not an IPv4 address: ${dst}`);
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255)
      throw new SendError('INVALID_ARGUMENT', `protocol must be 0..255, got ${protocol}`);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255)
      throw new SendError('INVALID_ARGUMENT', `TTL must be 1..255, got ${ttl}`);
    if (!Number.isInteger(tos) || tos < 0 || tos > 255)
      throw new SendError('INVALID_ARGUMENT', `TOS must be 0..255, got ${tos}`);
    const total = IPV4_MIN_HEADER_LENGTH + payloadLength;
    if (!Number.isInteger(payloadLength) || payloadLength < 0 || total > IPV4_MAX_TOTAL_LENGTH) {
      throw new SendError(
        'INVALID_ARGUMENT',
        `payload length must be 0..${IPV4_MAX_TOTAL_LENGTH - IPV4_MIN_HEADER_LENGTH}, got ${payloadLength}`,
      );
    }
    let route: RouteSlot;
    try {
      route = this.resolve(dst, options.src, options.ifIndex);
    } catch (err) {
      if (err instanceof SendError && err.code === 'NO_ROUTE') counters.inc('sendNoRoute');
      throw err;
    }
    // Read once: the reused route object is refilled by any send the calls below might make. Its
    // addresses are passed on as read (boxed once when the route was chosen: see `RouteSlot`).
    const { iface: routeIface, nextHop, linkDestination, src: routeSrc, mtu: routeMtu, local, dst: routeDst } = route;
    const df = options.df ?? false;
    if (df && total > routeMtu) {
      counters.inc('sendTooLong');
      throw new SendError(
        'MESSAGE_TOO_LONG',
        `${total} bytes exceed the MTU ${routeMtu} of ${routeIface.name} with Don't Fragment set`,
        routeMtu,
      );
    }

    const fits = total <= routeMtu;
    // One buffer: Ethernet header, IP header, payload, padding, FCS room. A datagram that must be
    // fragmented is built without the Ethernet room (each fragment gets its own frame). Two views
    // per datagram: the frame and the payload the writer fills (one with a FramePayloadWriter); the
    // header is written in place.
    const frame = fits ? allocateFrame(total) : new Uint8Array(total);
    const ipStart = fits ? ETHERNET_HEADER_LENGTH : 0;
    const payloadStart = ipStart + IPV4_MIN_HEADER_LENGTH;
    const identification = this.nextIdentification();
    if (writeAt !== undefined) writeAt(frame, payloadStart, payloadLength, routeSrc, routeDst);
    else write!(frame.subarray(payloadStart, payloadStart + payloadLength), routeSrc, routeDst);
    // The header emitIpv4 would write for a 20-byte header, checksummed from the values.
    writeIpv4Header(frame, ipStart, tos, total, identification, df, ttl, protocol, routeSrc, routeDst);

    if (!flags.bypassFilter && ports.filter.enabled) {
      const ip = frame.subarray(ipStart, ipStart + total);
      const meta = fillPacketMeta(ports.meta, ip, NO_INTERFACE, local ? NO_INTERFACE : routeIface.index);
      const verdict = ports.filter.evaluate('output', meta, ports.scheduler.now);
      if (verdict.action !== 'accept') {
        counters.inc('outputFiltered');
        throw new SendError(
          'FILTERED',
          `the output chain ${verdict.action === 'drop' ? 'dropped' : 'rejected'} the datagram to ${ipv4ToString(dst)}`,
        );
      }
    }
    counters.incSlot(this.sentSlot);
    if (local) {
      counters.inc('loopback');
      this.loopBack(routeIface, frame, ipStart, total);
      return routeSrc;
    }
    if (fits) {
      ports.link.sendIpv4Frame(routeIface, frame, nextHop, linkDestination, false);
      return routeSrc;
    }
    counters.inc('sentFragmented');
    const repr = blankIpv4Repr(ttl);
    repr.dscp = tos >>> 2;
    repr.ecn = tos & 3;
    repr.identification = identification;
    repr.protocol = protocol;
    repr.source = routeSrc;
    repr.destination = routeDst;
    repr.payloadLength = payloadLength;
    this.sendFragments(routeIface, repr, frame.subarray(payloadStart, total), nextHop, linkDestination, false);
    return routeSrc;
  }

  /**
   * Fragments `repr` + `payload` to `mtu` (default and at most: `iface`'s MTU) and sends every
   * fragment in its own frame. The caller made sure Don't Fragment is clear.
   */
  sendFragments(
    iface: NetInterface,
    repr: Ipv4Repr,
    payload: Uint8Array,
    nextHop: Ipv4Address,
    linkDestination: MacAddress,
    forwarded: boolean,
    mtu = iface.mtu,
  ): void {
    const fragments = fragmentIpv4(repr, payload, Math.min(mtu, iface.mtu), allocateFragment);
    this.ports.ipCounters.inc('fragmentsCreated', fragments.length);
    for (const f of fragments) {
      const frame = new Uint8Array(f.buffer, f.byteOffset - ETHERNET_HEADER_LENGTH, frameLength(f.length));
      this.ports.link.sendIpv4Frame(iface, frame, nextHop, linkDestination, forwarded);
    }
  }

  /**
   * Hands the `total`-byte datagram at `frame[ipStart]` to {@link Ipv4OutputPorts.loopback} in the
   * next deferred round. A method of its own: a closure in {@link Ipv4Output.send} would make V8
   * allocate a context for the variables it captures on every send, looped back or not.
   */
  private loopBack(iface: NetInterface, frame: Uint8Array, ipStart: number, total: number): void {
    const ports = this.ports;
    ports.scheduler.defer(() => ports.loopback(iface, frame, ipStart, IPV4_MIN_HEADER_LENGTH, total));
  }

  private nextIdentification(): number {
    this.identification = (this.identification + 1) & 0xffff;
    return this.identification;
  }
}

/** Fragment allocator for `fragmentIpv4`: a whole frame buffer, handing out the packet part at offset 14. */
function allocateFragment(length: number): Uint8Array {
  const frame = allocateFrame(length);
  return frame.subarray(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + length);
}
