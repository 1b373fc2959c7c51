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

/** The key of "no source address given" (no address is negative). */
const ANY_SOURCE = -1;

/** One slot: a {@link RouteInfo} (handed out as is) plus its key and epoch. */
interface Slot extends RouteInfo {
  epoch: number;
  dst: number;
  srcKey: number;
}

/** The route choices of one sender (see the module documentation). */
export class RouteCache {
  private readonly slots: Slot[] = [];

  constructor() {
    for (let i = 0; i < ROUTE_CACHE_SLOTS; i++) {
      this.slots.push({
        epoch: -1,
        dst: -1,
        srcKey: ANY_SOURCE,
        iface: undefined as unknown as NetInterface,
        nextHop: 0,
        linkDestination: 0,
        src: 0,
        mtu: 0,
        local: false,
      });
    }
  }

  /**
   * The route chosen for `dst` (from `src`, when given) under `epoch`, or `undefined`. The object
   * returned is the slot itself: valid until the next {@link store}; its `mtu` is the caller's to
   * refresh.
   */
  find(epoch: number, dst: Ipv4Address, src: Ipv4Address | undefined): RouteInfo | undefined {
    const srcKey = src ?? ANY_SOURCE;
    const slot = this.slots[slotOf(dst, srcKey)]!;
    return slot.epoch === epoch && slot.dst === dst && slot.srcKey === srcKey ? slot : undefined;
  }

  /** Remembers `route` (copied) as the choice for `dst` from `src` under `epoch`. */
  store(epoch: number, dst: Ipv4Address, src: Ipv4Address | undefined, route: RouteInfo): void {
    const srcKey = src ?? ANY_SOURCE;
    const slot = this.slots[slotOf(dst, srcKey)]!;
    slot.epoch = epoch;
    slot.dst = dst;
    slot.srcKey = srcKey;
    slot.iface = route.iface;
    slot.nextHop = route.nextHop;
    slot.linkDestination = route.linkDestination as MacAddress;
    slot.src = route.src;
    slot.mtu = route.mtu;
    slot.local = route.local;
  }
}

/** The slot of a (destination, source key) pair: their bits folded together. */
function slotOf(dst: number, srcKey: number): number {
  const h = dst ^ (dst >>> 12) ^ srcKey ^ (srcKey >>> 7);
  return h & (ROUTE_CACHE_SLOTS - 1);
}
