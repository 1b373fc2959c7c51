/**
 * The IPv4 routing table: connected routes (one per interface address), static routes (with or
 * without a gateway, with a metric) and the default route (a static route for 0.0.0.0/0), looked
 * up by longest-prefix match.
 *
 * Structure: one `Map` per prefix length, keyed by the network number as a signed 32-bit integer
 * (`prefix | 0`: small integers are unboxed, so keys hash fast), and a summary that says, for each
 * /12 block of the address space, which prefix lengths have a route covering or inside that block.
 * A lookup reads the destination's block summary, probes only those lengths, longest first, and
 * stops at the first hit: at most 33 map probes whatever the number of routes, and usually one or
 * two. Among routes to the same prefix the
 * lowest metric wins; at equal metric a connected route beats a static one, then the older wins.
 *
 * Invariants: every stored prefix has its host bits clear; a static route through a gateway always
 * has a connected route on its interface covering the gateway (it is checked when added, and the
 * route is flushed when the last such connected route goes, as Linux flushes routes whose nexthop
 * became unreachable).
 */
import type { Ipv4Address } from '@postern/wire';
import { ipv4ToString } from '@postern/wire';
import { Counters } from '../counters.js';
import { isIpv4Address, isPrefixLength, networkOf, prefixMask } from './prefix.js';

/** How a route came to be. */
export type RouteKind = 'connected' | 'static';

/** One route, as stored and as listed. Immutable. */
export interface Route {
  /** `connected` (from an interface address) or `static` (configured). */
  readonly kind: RouteKind;
  /** The network number (host bits clear). */
  readonly prefix: Ipv4Address;
  /** The prefix length, 0..32. */
  readonly prefixLength: number;
  /** The outgoing interface. */
  readonly ifIndex: number;
  /** The gateway, for a static route through one; `undefined` for an on-link route. */
  readonly gateway: Ipv4Address | undefined;
  /** Lower is preferred. Connected routes have metric 0. */
  readonly metric: number;
  /** For a connected route: the interface address that made it (the preferred source). */
  readonly source: Ipv4Address | undefined;
}

/** The answer of {@link RoutingTable.lookup}. */
export interface RouteLookup {
  /** The interface to send on. */
  ifIndex: number;
  /** The address to resolve with ARP: the gateway, or the destination itself for an on-link route. */
  nextHop: Ipv4Address;
  /** The route that matched. */
  route: Route;
}

/** A static route as given to {@link RoutingTable.addStatic}. */
export interface StaticRouteSpec {
  /** The network number; its host bits must be clear. */
  prefix: Ipv4Address;
  /** 0..32. */
  prefixLength: number;
  /** The gateway; omit for a route straight onto the link of `ifIndex`. */
  gateway?: Ipv4Address;
  /** The interface; may be omitted when `gateway` is given (it is then found from the connected routes). */
  ifIndex?: number;
  /** Non-negative integer, default 0. */
  metric?: number;
}

/** Stable codes of {@link RouteError}. */
export type RouteErrorCode =
  | 'INVALID_ADDRESS'
  | 'INVALID_PREFIX_LENGTH'
  | 'HOST_BITS_SET'
  | 'INVALID_METRIC'
  | 'INVALID_INTERFACE'
  | 'GATEWAY_UNREACHABLE'
  | 'DUPLICATE'
  | 'NOT_FOUND'
  | 'TABLE_FULL';

/** A routing table operation was refused; branch on {@link RouteError.code}. */
export class RouteError extends Error {
  /** The stable code for this condition. */
  readonly code: RouteErrorCode;
  constructor(code: RouteErrorCode, message: string) {
    super(message);
    this.name = 'RouteError';
    this.code = code;
  }
}

/** Limits of a {@link RoutingTable}. */
export interface RoutingTableOptions {
  /** Most routes the table holds (connected and static together). Default {@link DEFAULT_MAX_ROUTES}. */
  maxRoutes?: number;
}

/** Default for {@link RoutingTableOptions.maxRoutes}. */
export const DEFAULT_MAX_ROUTES = 1024;

/** Names of the routing table's counters. */
export type RoutingCounterName = 'lookups' | 'noRoute' | 'tableFull' | 'flushedUnreachable';

/** Address bits that index the lookup summary: 2^12 blocks of /12, 16 KiB. */
const SUMMARY_BITS = 12;
const MASKS: readonly number[] = Array.from({ length: 33 }, (_, i) => prefixMask(i));

/** A longest-prefix-match IPv4 routing table. See the module comment for its structure. */
export class RoutingTable {
  /** The named limit on the number of routes. */
  readonly maxRoutes: number;
  /** `lookups`, `noRoute` (lookup found nothing), `tableFull` (add refused), `flushedUnreachable`. */
  readonly stats = new Counters<RoutingCounterName>('routing', [
    'lookups',
    'noRoute',
    'tableFull',
    'flushedUnreachable',
  ]);
  private readonly byLength: (Map<number, Route[]> | undefined)[] = new Array<Map<number, Route[]> | undefined>(
    33,
  ).fill(undefined);
  /** Populated prefix lengths, longest first. */
  private lengths: number[] = [];
  private count = 0;
  /**
   * The lookup summary: for each block of addresses sharing their top {@link SUMMARY_BITS} bits, bit
   * L-1 is set when some route of length L (1..32) covers or lies inside the block. A removal
   * leaves bits that may be stale (harmless extra probes) until the next lookup rebuilds it.
   */
  private readonly blockLengths = new Uint32Array(2 ** SUMMARY_BITS);
  private summaryDirty = false;
  private changes = 0;

  constructor(options: RoutingTableOptions = {}) {
    this.maxRoutes = options.maxRoutes ?? DEFAULT_MAX_ROUTES;
  }

  /** Number of routes held. */
  get size(): number {
    return this.count;
  }

  /**
   * A number that grows with every route added or removed and never otherwise: a caller that
   * remembers lookups (a route cache) drops them when it differs from the one it saw.
   */
  get version(): number {
    return this.changes;
  }

  /**
   * Adds the connected route for interface address `address/prefixLength` on `ifIndex` (the network
   * is `address` with its host bits cleared). Throws {@link RouteError}: `INVALID_ADDRESS`,
   * `INVALID_PREFIX_LENGTH`, `INVALID_INTERFACE`, `DUPLICATE` (the same address and prefix on the
   * same interface), `TABLE_FULL`.
   */
  addConnected(ifIndex: number, address: Ipv4Address, prefixLength: number): Route {
    checkAddress(address, 'address');
    checkLength(prefixLength);
    checkIfIndex(ifIndex);
    const prefix = networkOf(address, prefixLength);
    const existing = this.bucket(prefixLength, prefix);
    if (existing?.some((r) => r.kind === 'connected' && r.ifIndex === ifIndex && r.source === address)) {
      throw new RouteError(
        'DUPLICATE',
        `connected route ${fmt(prefix, prefixLength)} for ${ipv4ToString(address)} on interface ${ifIndex} exists`,
      );
    }
    return this.insert(
      Object.freeze({
        kind: 'connected',
        prefix,
        prefixLength,
        ifIndex,
        gateway: undefined,
        metric: 0,
        source: address,
      }),
    );
  }

  /**
   * Removes the connected route that {@link addConnected} made for the same arguments, then flushes
   * the static routes on `ifIndex` whose gateway no other connected route of that interface covers.
   * Returns the removed routes (the connected one first). Throws {@link RouteError} `NOT_FOUND`.
   */
  removeConnected(ifIndex: number, address: Ipv4Address, prefixLength: number): Route[] {
    checkAddress(address, 'address');
    checkLength(prefixLength);
    const prefix = networkOf(address, prefixLength);
    const removed = this.removeWhere(
      prefixLength,
      prefix,
      (r) => r.kind === 'connected' && r.ifIndex === ifIndex && r.source === address,
    );
    if (!removed)
      throw new RouteError(
        'NOT_FOUND',
        `no connected route ${fmt(prefix, prefixLength)} for ${ipv4ToString(address)} on interface ${ifIndex}`,
      );
    const out = [removed];
    for (const r of this.list()) {
      if (
        r.kind === 'static' &&
        r.ifIndex === ifIndex &&
        r.gateway !== undefined &&
        !this.connectedCovers(ifIndex, r.gateway)
      ) {
        this.removeWhere(r.prefixLength, r.prefix, (x) => x === r);
        this.stats.inc('flushedUnreachable');
        out.push(r);
      }
    }
    return out;
  }

  /**
   * Adds a static route. With a gateway, the gateway must lie inside a connected route (of `ifIndex`
   * when given, else of any interface, which then becomes the route's interface). Throws
   * {@link RouteError}: `INVALID_ADDRESS`, `INVALID_PREFIX_LENGTH`, `HOST_BITS_SET`, `INVALID_METRIC`,
   * `INVALID_INTERFACE` (no gateway and no interface), `GATEWAY_UNREACHABLE`, `DUPLICATE` (another
   * static route to the same prefix with the same metric), `TABLE_FULL`.
   */
  addStatic(spec: StaticRouteSpec): Route {
    const { prefix, prefixLength, gateway } = spec;
    const metric = spec.metric ?? 0;
    checkAddress(prefix, 'prefix');
    checkLength(prefixLength);
    if (networkOf(prefix, prefixLength) !== prefix) {
      throw new RouteError(
        'HOST_BITS_SET',
        `${ipv4ToString(prefix)}/${prefixLength} has host bits set (network is ${fmt(networkOf(prefix, prefixLength), prefixLength)})`,
      );
    }
    if (!Number.isInteger(metric) || metric < 0 || metric > 0xffff_ffff)
      throw new RouteError('INVALID_METRIC', `metric must be an integer in 0..2^32-1, got ${metric}`);
    let ifIndex = spec.ifIndex;
    if (ifIndex !== undefined) checkIfIndex(ifIndex);
    if (gateway === undefined) {
      if (ifIndex === undefined)
        throw new RouteError('INVALID_INTERFACE', 'a route without a gateway needs an interface');
    } else {
      checkAddress(gateway, 'gateway');
      if (ifIndex === undefined) {
        ifIndex = this.connectedInterfaceFor(gateway);
        if (ifIndex === undefined)
          throw new RouteError('GATEWAY_UNREACHABLE', `gateway ${ipv4ToString(gateway)} is on no connected network`);
      } else if (!this.connectedCovers(ifIndex, gateway)) {
        throw new RouteError(
          'GATEWAY_UNREACHABLE',
          `gateway ${ipv4ToString(gateway)} is on no connected network of interface ${ifIndex}`,
        );
      }
    }
    if (this.bucket(prefixLength, prefix)?.some((r) => r.kind === 'static' && r.metric === metric)) {
      throw new RouteError('DUPLICATE', `a static route to ${fmt(prefix, prefixLength)} with metric ${metric} exists`);
    }
    return this.insert(
      Object.freeze({ kind: 'static', prefix, prefixLength, ifIndex, gateway, metric, source: undefined }),
    );
  }

  /** Adds the default route (0.0.0.0/0) through `gateway`; see {@link addStatic} for the errors. */
  setDefaultRoute(gateway: Ipv4Address, ifIndex?: number, metric = 0): Route {
    return this.addStatic({ prefix: 0, prefixLength: 0, gateway, ifIndex, metric });
  }

  /**
   * Removes the static route to `prefix/prefixLength` with `metric` (any metric when omitted: then
   * exactly one static route to that prefix must exist). Throws {@link RouteError} `NOT_FOUND`,
   * `DUPLICATE` (metric omitted and several match), or the validation codes of {@link addStatic}.
   */
  removeStatic(prefix: Ipv4Address, prefixLength: number, metric?: number): Route {
    checkAddress(prefix, 'prefix');
    checkLength(prefixLength);
    const matches = (this.bucket(prefixLength, prefix) ?? []).filter(
      (r) => r.kind === 'static' && (metric === undefined || r.metric === metric),
    );
    if (matches.length === 0)
      throw new RouteError(
        'NOT_FOUND',
        `no static route to ${fmt(prefix, prefixLength)}${metric === undefined ? '' : ` with metric ${metric}`}`,
      );
    if (matches.length > 1)
      throw new RouteError(
        'DUPLICATE',
        `${matches.length} static routes to ${fmt(prefix, prefixLength)}: name the metric`,
      );
    const r = matches[0]!;
    this.removeWhere(prefixLength, prefix, (x) => x === r);
    return r;
  }

  /** Removes every route through `ifIndex` (the interface went away). Returns the removed routes. */
  removeInterface(ifIndex: number): Route[] {
    const gone = this.list().filter((r) => r.ifIndex === ifIndex);
    for (const r of gone) this.removeWhere(r.prefixLength, r.prefix, (x) => x === r);
    return gone;
  }

  /**
   * Longest-prefix match for `destination`. Returns `undefined` (and counts `noRoute`) when nothing
   * matches. Pass `out` to reuse a result object (no allocation on the hot path); the same object is
   * then returned.
   */
  lookup(destination: Ipv4Address, out?: RouteLookup): RouteLookup | undefined {
    this.stats.inc('lookups');
    const route = this.match(destination);
    if (route === undefined) {
      this.stats.inc('noRoute');
      return undefined;
    }
    const nextHop = route.gateway ?? destination;
    if (out === undefined) return { ifIndex: route.ifIndex, nextHop, route };
    out.ifIndex = route.ifIndex;
    out.nextHop = nextHop;
    out.route = route;
    return out;
  }

  /** The best route for `destination`, or `undefined`; no counting, no allocation. */
  match(destination: Ipv4Address): Route | undefined {
    if (this.summaryDirty) this.rebuildSummary();
    // Only the lengths that have a route inside (or covering) the destination's block are probed.
    let bits = this.blockLengths[destination >>> (32 - SUMMARY_BITS)]!;
    while (bits !== 0) {
      const len = 32 - Math.clz32(bits);
      bits &= ~(1 << (len - 1));
      const hit = this.byLength[len]?.get(destination & MASKS[len]!);
      if (hit !== undefined) return hit[0];
    }
    return this.byLength[0]?.get(0)?.[0];
  }

  /** Every route, longest prefix first, then by network number, then in preference order. */
  list(): Route[] {
    const out: Route[] = [];
    for (const len of this.lengths) {
      const map = this.byLength[len]!;
      const keys = [...map.keys()].sort((a, b) => (a >>> 0) - (b >>> 0));
      for (const k of keys) out.push(...map.get(k)!);
    }
    return out;
  }

  private bucket(length: number, prefix: number): Route[] | undefined {
    return this.byLength[length]?.get(prefix | 0);
  }

  private insert(route: Route): Route {
    if (this.count >= this.maxRoutes) {
      this.stats.inc('tableFull');
      throw new RouteError('TABLE_FULL', `the routing table holds its limit of ${this.maxRoutes} routes`);
    }
    let map = this.byLength[route.prefixLength];
    if (map === undefined) {
      map = new Map();
      this.byLength[route.prefixLength] = map;
      this.lengths = [...this.lengths, route.prefixLength].sort((a, b) => b - a);
    }
    const list = map.get(route.prefix | 0);
    if (list === undefined) {
      map.set(route.prefix | 0, [route]);
    } else {
      // Stable insert by (metric, connected first): the first element is always the preferred route.
      let i = list.length;
      while (i > 0 && preferred(route, list[i - 1]!)) i--;
      list.splice(i, 0, route);
    }
    this.count++;
    this.changes++;
    this.mark(route);
    return route;
  }

  /** Sets the bit of `route`'s length in every summary block the route covers. */
  private mark(route: Route): void {
    const len = route.prefixLength;
    if (len === 0) return;
    const bit = 1 << (len - 1);
    const first = route.prefix >>> (32 - SUMMARY_BITS);
    const blocks = len >= SUMMARY_BITS ? 1 : 2 ** (SUMMARY_BITS - len);
    for (let b = first; b < first + blocks; b++) this.blockLengths[b] = this.blockLengths[b]! | bit;
  }

  private rebuildSummary(): void {
    this.blockLengths.fill(0);
    for (const r of this.list()) this.mark(r);
    this.summaryDirty = false;
  }

  private removeWhere(length: number, prefix: number, pred: (r: Route) => boolean): Route | undefined {
    const map = this.byLength[length];
    const list = map?.get(prefix | 0);
    if (map === undefined || list === undefined) return undefined;
    const i = list.findIndex(pred);
    if (i < 0) return undefined;
    const [removed] = list.splice(i, 1);
    this.count--;
    this.changes++;
    if (list.length === 0) {
      this.summaryDirty = true;
      map.delete(prefix | 0);
      if (map.size === 0) {
        this.byLength[length] = undefined;
        this.lengths = this.lengths.filter((l) => l !== length);
      }
    }
    return removed;
  }

  private connectedCovers(ifIndex: number, address: Ipv4Address): boolean {
    for (const len of this.lengths) {
      const list = this.byLength[len]!.get(address & MASKS[len]!);
      if (list?.some((r) => r.kind === 'connected' && r.ifIndex === ifIndex)) return true;
    }
    return false;
  }

  private connectedInterfaceFor(address: Ipv4Address): number | undefined {
    for (const len of this.lengths) {
      const r = this.byLength[len]!.get(address & MASKS[len]!)?.find((x) => x.kind === 'connected');
      if (r !== undefined) return r.ifIndex;
    }
    return undefined;
  }
}

/** True when `a` should sort strictly before `b` among routes to the same prefix. */
function preferred(a: Route, b: Route): boolean {
  if (a.metric !== b.metric) return a.metric < b.metric;
  return a.kind === 'connected' && b.kind === 'static';
}

function checkAddress(a: number, what: string): void {
  if (!isIpv4Address(a))
    throw new RouteError('INVALID_ADDRESS', `${what} is not an IPv4 address (an integer in 0..2^32-1): ${a}`);
}

function checkLength(length: number): void {
  if (!isPrefixLength(length))
    throw new RouteError('INVALID_PREFIX_LENGTH', `prefix length must be an integer in 0..32, got ${length}`);
}

function checkIfIndex(ifIndex: number): void {
  if (!Number.isInteger(ifIndex) || ifIndex < 0)
    throw new RouteError('INVALID_INTERFACE', `interface index must be a non-negative integer, got ${ifIndex}`);
}

function fmt(prefix: number, length: number): string {
  return `${ipv4ToString(prefix)}/${length}`;
}
