/**
 * The checks of a configuration that its JSON Schema cannot express, each naming its JSON path:
 * host bits, network and broadcast addresses, port ranges with N <= M, which fields need which
 * protocol, unique interface names, one simulator, overlapping interface networks, a route's
 * gateway on a connected network, a host forward's loopback address.
 *
 * The `...Problem` functions check one value in its text form and return what is wrong with it
 * (a phrase without the value, e.g. `has host bits set`) or `undefined`; the command line checks its
 * flags with the same functions, so a flag and the field it sets accept exactly the same things.
 */
import { checkHostForward } from '@postern/device-simulator';
import { ipv4ToString } from '@postern/wire';
import {
  maskOf,
  parseIpv4Prefix,
  parseIpv4Text,
  parsePortRange,
  parseRouteDestination,
  type Ipv4Prefix,
} from './addresses.js';
import { ConfigError } from './config-error.js';
import { parseNicSpec } from './nic-spec.js';
import { DHCP_IP, checkDhcpClientInterface, checkLanServices, type LanServicesDocument } from './lan-config.js';

/** What is wrong with an interface address `ADDR/LEN`, or `undefined`. */
export function interfaceAddressProblem(text: string): string | undefined {
  const p = parseIpv4Prefix(text);
  if (p === undefined) return 'is not an IPv4 prefix ADDR/LEN';
  if (p.length === 0 || p.length === 31) return `has prefix length ${p.length}, expected 1..30 or 32`;
  if (p.length === 32) return undefined;
  const hostMask = ~maskOf(p.length) >>> 0;
  const hostBits = (p.address & hostMask) >>> 0;
  if (hostBits === 0) return 'is the network address of its prefix';
  if (hostBits === hostMask) return 'is the broadcast address of its prefix';
  return undefined;
}

/** What is wrong with a route destination (`NET/LEN`, an address or `default`), or `undefined`. */
export function routeDestinationProblem(text: string): string | undefined {
  if (text === 'default') return undefined;
  return networkProblem(text);
}

/** What is wrong with a network `NET/LEN` (host bits clear) or a host address, or `undefined`. */
export function networkProblem(text: string): string | undefined {
  if (parseRouteDestination(text) !== undefined) return undefined;
  const p = parseIpv4Prefix(text);
  if (p === undefined)
    return parseIpv4Text(text) === undefined ? 'is not an IPv4 network NET/LEN or address' : undefined;
  return `has host bits set (the network is ${ipv4ToString((p.address & maskOf(p.length)) >>> 0)}/${p.length})`;
}

/** What is wrong with a NIC spec, or `undefined`. */
export function nicSpecProblem(text: string): string | undefined {
  const spec = parseNicSpec(text);
  return typeof spec === 'string' ? spec : undefined;
}

/** What is wrong with a host forward rule (its guest address defaulting to `defaultGuest`), or `undefined`. */
export function hostForwardProblem(text: string, defaultGuest = 0): string | undefined {
  const rule = checkHostForward(text, defaultGuest);
  return typeof rule === 'string' ? rule : undefined;
}

/** What is wrong with a port or port range (`N`, `N-M`, or a JSON integer), or `undefined`. */
export function portRangeProblem(value: unknown): string | undefined {
  return parsePortRange(value) === undefined ? 'is not a port or a range N-M with N <= M in 0..65535' : undefined;
}

/** A filter rule as the schema lets it through (the checks below need only these fields). */
export interface FilterRuleDocument {
  /** `accept`, `drop` or `reject`. */
  readonly action: string;
  /** `tcp`, `udp`, `icmp` or a protocol number. */
  readonly protocol?: string | number;
  /** Source network text. */
  readonly src?: string;
  /** Destination network text. */
  readonly dst?: string;
  /** Source port or range. */
  readonly srcPort?: string | number;
  /** Destination port or range. */
  readonly dstPort?: string | number;
  /** `icmp` or `tcp-reset`. */
  readonly rejectWith?: string;
}

/** A configuration document as the schema lets it through, with the schema's defaults filled in. */
export interface ConfigDocument extends LanServicesDocument {
  /** The interfaces as written (name and ip may be absent). */
  readonly interfaces: LanServicesDocument['interfaces'];
  /** The static routes. */
  readonly routes: ReadonlyArray<{ readonly to: string; readonly via: string; readonly metric: number }>;
  /** The filter rules. */
  readonly filter: { readonly rules: readonly FilterRuleDocument[] };
  /** The simulator's host forwards. */
  readonly sim: { readonly hostForward?: readonly string[] };
}

/** The address an interface of `nic: "sim"` gets when it has no `ip`. */
export const DEFAULT_SIM_IP = '198.18.0.1/24';

/** The interface's address, with the simulator's default. */
export function interfaceIp(iface: { readonly nic: string; readonly ip?: string }): string {
  return iface.ip ?? DEFAULT_SIM_IP;
}

/**
 * Checks one filter rule that passed the schema.
 * @throws {@link ConfigError} naming the field under `path` (e.g. `filter.rules[2]`, `body`).
 */
export function checkFilterRule(rule: FilterRuleDocument, path: string): void {
  const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
  for (const key of ['src', 'dst'] as const) {
    const v = rule[key];
    const problem = v === undefined ? undefined : networkProblem(v);
    if (problem !== undefined) throw new ConfigError(at(key), problem, v);
  }
  const tcpOrUdp = rule.protocol === 'tcp' || rule.protocol === 'udp' || rule.protocol === 6 || rule.protocol === 17;
  for (const key of ['srcPort', 'dstPort'] as const) {
    const v = rule[key];
    if (v === undefined) continue;
    const problem = portRangeProblem(v);
    if (problem !== undefined) throw new ConfigError(at(key), problem, v);
    if (!tcpOrUdp) throw new ConfigError(at(key), 'needs protocol tcp or udp');
  }
  if (rule.rejectWith !== undefined && rule.action !== 'reject')
    throw new ConfigError(at('rejectWith'), 'is only for action reject');
  if (rule.rejectWith === 'tcp-reset' && rule.protocol !== 'tcp' && rule.protocol !== 6)
    throw new ConfigError(at('rejectWith'), 'tcp-reset needs protocol tcp');
}

/**
 * Checks a document that passed the schema for everything the schema cannot say.
 * @throws {@link ConfigError} for the first problem, naming its JSON path.
 */
export function checkConfigSemantics(doc: ConfigDocument): void {
  const prefixes: Ipv4Prefix[] = [];
  const names = new Map<string, number>();
  let simIndex: number | undefined;
  doc.interfaces.forEach((iface, i) => {
    const at = `interfaces[${i}]`;
    const nicProblem = nicSpecProblem(iface.nic);
    if (nicProblem !== undefined) throw new ConfigError(`${at}.nic`, nicProblem, iface.nic);
    if (iface.nic === 'sim') {
      if (simIndex !== undefined)
        throw new ConfigError(
          `${at}.nic`,
          `only one interface may use the simulator (interfaces[${simIndex}] does)`,
          iface.nic,
        );
      simIndex = i;
    }
    const name = iface.name ?? `eth${i}`;
    const other = names.get(name);
    if (other !== undefined) throw new ConfigError(`${at}.name`, `is used by interfaces[${other}] too`, name);
    names.set(name, i);
    const ip = interfaceIp(iface);
    if (ip === DHCP_IP) return checkDhcpClientInterface(iface, at);
    const ipProblem = interfaceAddressProblem(ip);
    if (ipProblem !== undefined) throw new ConfigError(`${at}.ip`, ipProblem, ip);
    const p = parseIpv4Prefix(ip)!;
    if (iface.nic === 'sim' && p.length > 30)
      throw new ConfigError(
        `${at}.ip`,
        'leaves no address for the simulated host (the simulator needs a prefix length of at most 30)',
        ip,
      );
    const overlap = prefixes.findIndex((q) => overlaps(p, q));
    if (overlap >= 0)
      throw new ConfigError(
        `${at}.ip`,
        `overlaps the network of interfaces[${overlap}].ip (${interfaceIp(doc.interfaces[overlap]!)})`,
        ip,
      );
    prefixes.push(p);
  });

  const seenRoutes = new Map<string, number>();
  doc.routes.forEach((route, i) => {
    const at = `routes[${i}]`;
    const toProblem = routeDestinationProblem(route.to);
    if (toProblem !== undefined) throw new ConfigError(`${at}.to`, toProblem, route.to);
    const via = parseIpv4Text(route.via)!;
    if (prefixes.length > 0 && !prefixes.some((q) => ((via ^ q.address) & maskOf(q.length)) >>> 0 === 0)) {
      throw new ConfigError(`${at}.via`, "is on no interface's network", route.via);
    }
    const dest = parseRouteDestination(route.to)!;
    const key = `${dest.address}/${dest.length} ${route.metric}`;
    const twin = seenRoutes.get(key);
    if (twin !== undefined)
      throw new ConfigError(`${at}.to`, `routes[${twin}] has the same destination and metric`, route.to);
    seenRoutes.set(key, i);
  });

  doc.filter.rules.forEach((rule, i) => checkFilterRule(rule, `filter.rules[${i}]`));
  checkLanServices(doc);

  const simIface = simIndex === undefined ? undefined : doc.interfaces[simIndex];
  const guest = simIface === undefined ? 0 : parseIpv4Prefix(interfaceIp(simIface))!.address;
  (doc.sim.hostForward ?? []).forEach((rule, i) => {
    const problem = hostForwardProblem(rule, guest);
    if (problem !== undefined) throw new ConfigError(`sim.hostForward[${i}]`, problem, rule);
    if (simIface === undefined && doc.interfaces.length > 0)
      throw new ConfigError(`sim.hostForward[${i}]`, 'needs an interface with nic "sim"', rule);
  });
}

function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const len = Math.min(a.length, b.length);
  return ((a.address ^ b.address) & maskOf(len)) >>> 0 === 0;
}
