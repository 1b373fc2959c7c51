/**
 * The configuration of the services a LAN needs from the gateway, beyond what the JSON Schema
 * says: `interfaces[].ip: "dhcp"` (a DHCP client), `interfaces[].dhcpServer` (a DHCP server) and
 * the top-level `dns` (the forwarder). Each check names its JSON path; {@link lanConfigOf} turns a
 * checked document into the plain values the gateway starts from.
 */
import { ipv4ToString, parseMac, type Ipv4Address, type MacAddress } from '@postern/wire';
import { maskOf, parseIpv4Prefix, parseIpv4Text } from './addresses.js';
import { ConfigError } from './config-error.js';

/** The `ip` of an interface run by a DHCP client. */
export const DHCP_IP = 'dhcp';

/** Default lease time, s. */
export const DEFAULT_LEASE_SECONDS = 3600;

/** `dhcpServer` as written. */
export interface DhcpServerDocument {
  /** `FIRST-LAST`. */
  readonly range: string;
  /** Lease time, s (the schema fills in the default). */
  readonly leaseSeconds?: number;
  /** Static leases. */
  readonly static?: ReadonlyArray<{ readonly mac: string; readonly ip: string }>;
  /** Leases file path. */
  readonly leasesFile?: string;
}

/** The parts of a document these checks read. */
export interface LanServicesDocument {
  /** The interfaces as written. */
  readonly interfaces: ReadonlyArray<{
    readonly name?: string;
    readonly nic: string;
    readonly ip?: string;
    readonly mtu?: number;
    readonly dhcpServer?: DhcpServerDocument;
    readonly dhcpLeaseFile?: string;
  }>;
  /** The DNS forwarder as written. */
  readonly dns?: {
    readonly listen: readonly string[];
    readonly upstream?: readonly string[];
    readonly cacheSize?: number;
  };
}

/** A DHCP server of one interface, checked. */
export interface DhcpServerConfig {
  /** First address of the range. */
  readonly rangeFirst: Ipv4Address;
  /** Last address of the range. */
  readonly rangeLast: Ipv4Address;
  /** Lease time, s. */
  readonly leaseSeconds: number;
  /** Static leases. */
  readonly static: ReadonlyArray<{ readonly mac: MacAddress; readonly ip: Ipv4Address }>;
  /** Where the leases are kept. */
  readonly leasesFile: string;
}

/** The DNS forwarder, checked. */
export interface DnsConfig {
  /** Interface names whose hosts may ask. */
  readonly listen: readonly string[];
  /** Upstream servers; empty: the DHCP client's. */
  readonly upstream: readonly Ipv4Address[];
  /** Most responses cached. */
  readonly cacheSize: number;
}

/** Checks an interface with `ip: "dhcp"`. @throws {@link ConfigError} */
export function checkDhcpClientInterface(iface: LanServicesDocument['interfaces'][number], at: string): void {
  if (iface.nic === 'sim')
    throw new ConfigError(`${at}.ip`, 'dhcp is not for nic "sim" (the simulated segment has no DHCP server)', DHCP_IP);
  if (iface.dhcpServer !== undefined)
    throw new ConfigError(`${at}.dhcpServer`, 'needs a static ip on its interface, not dhcp');
}

/** The DHCP client's lease file of an interface named `name` with `ip: "dhcp"`: as written, or `postern-dhcp-NAME.json`. */
export function dhcpLeaseFileOf(name: string, written: string | undefined): string {
  return written ?? `postern-dhcp-${name}.json`;
}

/** Checks every `dhcpServer` and `dns` against the interfaces. @throws {@link ConfigError} for the first problem. */
export function checkLanServices(doc: LanServicesDocument): void {
  const names = doc.interfaces.map((iface, i) => iface.name ?? `eth${i}`);
  doc.interfaces.forEach((iface, i) => {
    if (iface.dhcpLeaseFile !== undefined && iface.ip !== DHCP_IP)
      throw new ConfigError(
        `interfaces[${i}].dhcpLeaseFile`,
        'is only for an interface with ip dhcp',
        iface.dhcpLeaseFile,
      );
    const s = iface.dhcpServer;
    if (s === undefined) return;
    const at = `interfaces[${i}].dhcpServer`;
    const net = parseIpv4Prefix(iface.ip ?? '');
    if (net === undefined) throw new ConfigError(at, 'needs a static ip on its interface');
    const inNet = (a: Ipv4Address): boolean => {
      const host = (a & ~maskOf(net.length)) >>> 0;
      return ((a ^ net.address) & maskOf(net.length)) >>> 0 === 0 && host !== 0 && host !== ~maskOf(net.length) >>> 0;
    };
    const [first, last] = s.range.split('-').map((t) => parseIpv4Text(t)!) as [Ipv4Address, Ipv4Address];
    if (!inNet(first) || !inNet(last))
      throw new ConfigError(`${at}.range`, `is not inside the interface's network ${iface.ip}`, s.range);
    if (first > last) throw new ConfigError(`${at}.range`, 'has FIRST after LAST', s.range);
    const seen = new Set<string>();
    (s.static ?? []).forEach((st, j) => {
      const ip = parseIpv4Text(st.ip)!;
      if (!inNet(ip))
        throw new ConfigError(
          `${at}.static[${j}].ip`,
          `is not a host address of the interface's network ${iface.ip}`,
          st.ip,
        );
      if (ip === net.address) throw new ConfigError(`${at}.static[${j}].ip`, "is the interface's own address", st.ip);
      const mac = st.mac.toLowerCase();
      if (seen.has(mac)) throw new ConfigError(`${at}.static[${j}].mac`, 'has two static leases', st.mac);
      seen.add(mac);
    });
  });
  const dns = doc.dns;
  if (dns === undefined) return;
  dns.listen.forEach((name, i) => {
    const index = names.indexOf(name);
    if (index < 0) throw new ConfigError(`dns.listen[${i}]`, 'names no interface', name);
    if (doc.interfaces[index]!.ip === DHCP_IP)
      throw new ConfigError(`dns.listen[${i}]`, 'names an interface with ip dhcp (listen on the LAN side)', name);
  });
  if ((dns.upstream ?? []).length === 0 && !doc.interfaces.some((iface) => iface.ip === DHCP_IP)) {
    throw new ConfigError('dns.upstream', 'is needed: no interface has ip dhcp to learn DNS servers from');
  }
}

/** The checked DHCP server of an interface named `name`, or `undefined`. */
export function dhcpServerConfigOf(name: string, doc: DhcpServerDocument | undefined): DhcpServerConfig | undefined {
  if (doc === undefined) return undefined;
  const [first, last] = doc.range.split('-').map((t) => parseIpv4Text(t)!) as [Ipv4Address, Ipv4Address];
  return {
    rangeFirst: first,
    rangeLast: last,
    leaseSeconds: doc.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    static: (doc.static ?? []).map((s) => ({ mac: parseMac(s.mac), ip: parseIpv4Text(s.ip)! })),
    leasesFile: doc.leasesFile ?? `postern-leases-${name}.json`,
  };
}

/** The checked DNS forwarder, or `undefined`. */
export function dnsConfigOf(doc: LanServicesDocument['dns']): DnsConfig | undefined {
  if (doc === undefined) return undefined;
  return {
    listen: [...doc.listen],
    upstream: (doc.upstream ?? []).map((t) => parseIpv4Text(t)!),
    cacheSize: doc.cacheSize ?? 1024,
  };
}

/** `FIRST-LAST` of a DHCP server's range. */
export function rangeText(c: DhcpServerConfig): string {
  return `${ipv4ToString(c.rangeFirst)}-${ipv4ToString(c.rangeLast)}`;
}
