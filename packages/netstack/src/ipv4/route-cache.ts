/**
 * {@link RouteCache}: what route selection chose for recent (destination, source) pairs, so that a
 * datagram to a peer this host talks to already costs no routing-table lookup and no lookup of
 * its addresses (a connection sends every segment to the same pair).
 *
 * Direct-mapped: a pair has exactly one slot, chosen from its addresses; a new pair there replaces
 * the old one. Each slot remembers the epoch it was filled under, the sum of the routing table's and
 * the interface table's versions, which grows with every route, interface or address added or
 * removed: a slot of an older epoch is a miss, so any such change drops every remembered choice at
 * once, without a pass over the slots. The MTU is not remembered: the sender reads it from the
 * interface on every hit, so an MTU change takes effect at the next datagram.
 */
import type { Ipv4Address, MacAddress } from '@postern/wire';
import type { NetInterface } from '../link/interface.js';

/** Where a datagram to some destination would leave: see `Stack.routeTo`. */
export interface RouteInfo {
  /** The outgoing interface. */
  iface: NetInterface;
  /** The address ARP resolves (gateway or the destination). */
  nextHop: Ipv4Address;
  /** The link destination: a broadcast or multicast MAC, or `RESOLVE_WITH_ARP` (link output). */
  linkDestination: MacAddress;
  /** The source address this host would use. */
  src: Ipv4Address;
  /** The interface's IP MTU. */
  mtu: number;
  /** True when the destination is one of this host's own addresses (looped back, never on a wire). */
  local: boolean;
}

/** Slots of a {@link RouteCache} (a power of two). */
export const ROUTE_CACHE_SLOTS = 64;

/** The source key of "no source address given" (no address is negative). */
export const ANY_SOURCE = -1;

/**
 * A {@link RouteInfo} the sender fills and hands out as is, with the destination it was chosen
 * for: a slot of a {@link RouteCache}, or the sender's one object for an uncached choice.
 *
 * Its address fields hold tagged values. An address at or above 128.0.0.0 is not a small integer
 * to V8, and a field that only ever held numbers would keep it as an unboxed double, boxed afresh
 * (16 bytes) each time the sender passes it on (to the payload writer, to ARP, as its result);
 * each of these fields first holds a non-number, so V8 gives the class tagged fields, and a hit
 * hands the sender the box made when the slot was filled.
 */
export class RouteSlot implements RouteInfo {
  /** {@inheritDoc RouteInfo.iface} */
  iface: NetInterface = undefined as unknown as NetInterface;
  /** {@inheritDoc RouteInfo.nextHop} */
  nextHop: Ipv4Address = TAGGED as unknown as Ipv4Address;
  /** {@inheritDoc RouteInfo.linkDestination} */
  linkDestination: MacAddress = TAGGED as unknown as MacAddress;
  /** {@inheritDoc RouteInfo.src} */
  src: Ipv4Address = TAGGED as unknown as Ipv4Address;
  /** {@inheritDoc RouteInfo.mtu} */
  mtu = 0;
  /** {@inheritDoc RouteInfo.local} */
  local = false;
  /** The destination this choice was made for. */
  dst: Ipv4Address = TAGGED as unknown as Ipv4Address;
  /** The source key: the source asked for, or `ANY_SOURCE`. */
  srcKey: number = TAGGED as unknown as number;
  /** The epoch the slot was filled under; -1: never (and for the sender's own object). */
  epoch = -1;

  constructor() {
    this.nextHop = 0;
    this.linkDestination = 0;
    this.src = 0;
    this.dst = -1;
    this.srcKey = ANY_SOURCE;
  }
}

/** A non-number the address fields of a {@link RouteSlot} start with (see there). */
const TAGGED = null;

/** The route choices of one sender (see the module documentation). */
export class RouteCache {
  private readonly slots: RouteSlot[] = [];

  constructor() {
    for (let i = 0; i < ROUTE_CACHE_SLOTS; i++) this.slots.push(new RouteSlot());
  }

  /**
   * Slot `index` (from {@link routeSlotIndex}), whatever it holds: the route chosen for `dst` from
   * `src` under `epoch` when the slot's `epoch`, `dst` and `srcKey` (`src`, or {@link ANY_SOURCE})
   * are those; any other slot is a miss. The caller compares, so that it passes no address to a
   * call (see {@link RouteSlot}). The slot is valid until the next {@link RouteCache.store}; its
   * `mtu` is the caller's to refresh.
   */
  slotAt(index: number): RouteSlot {
    return this.slots[index]!;
  }

  /**
   * Remembers `route` (copied) as the choice for `dst` from `src` under `epoch`, and returns the
   * slot now holding it (valid as {@link RouteCache.slotAt}'s result is).
   */
  store(epoch: number, dst: Ipv4Address, src: Ipv4Address | undefined, route: RouteInfo): RouteSlot {
    const srcKey = src ?? ANY_SOURCE;
    const slot = this.slots[routeSlotIndex(dst, srcKey)]!;
    slot.epoch = epoch;
    slot.dst = dst;
    slot.srcKey = srcKey;
    slot.iface = route.iface;
    slot.nextHop = route.nextHop;
    slot.linkDestination = route.linkDestination;
    slot.src = route.src;
    slot.mtu = route.mtu;
    slot.local = route.local;
    return slot;
  }
}

/** The slot of a (destination, source key) pair: their bits folded together. */
export function routeSlotIndex(dst: number, srcKey: number): number {
  const h = dst ^ (dst >>> 12) ^ srcKey ^ (srcKey >>> 7);
  return h & (ROUTE_CACHE_SLOTS - 1);
}
