/**
 * {@link startLanServices}: what a LAN needs from the gateway, on the gateway's stack: a DHCP
 * client on each interface with `ip: "dhcp"` (its lease kept in its `dhcpLeaseFile`, in the
 * leases file format with one record, so that a start after a crash or power cut asks for the same
 * address first; a lease released at a clean stop is forgotten), a DHCP server on each interface with `dhcpServer`
 * (leases kept in its leases file), the DNS forwarder on `dns.listen` (UDP and TCP), and the gateway's own stub
 * resolver. Upstream DNS servers are `dns.upstream`, or else those of the DHCP clients' leases.
 * {@link LanServices.status} is what the admin API and UI show.
 */
import {
  DhcpClient,
  DhcpServer,
  DnsForwarder,
  DnsResolver,
  listCounters,
  type CounterEntry,
  type DhcpClientLease,
  type DhcpScopeOptions,
  type NetInterface,
  type Stack,
  type Tcp,
} from '@postern/netstack';
import { ipv4ToString, macToString, type Ipv4Address } from '@postern/wire';
import type { GatewayConfig, InterfaceConfig } from './config.js';
import { DHCP_IP, dhcpLeaseFileOf, rangeText } from './lan-config.js';
import { LeasesFile, readLeasesFile } from './lease-file.js';

/** What {@link startLanServices} needs. */
export interface LanServicesOptions {
  /** The stack (interfaces added, static ones addressed). */
  readonly stack: Stack;
  /** TCP: the DNS forwarder's TCP port 53, and DNS answers truncated over UDP. */
  readonly tcp: Tcp;
  /** The configuration. */
  readonly config: GatewayConfig;
  /** Each configured interface with its stack interface. */
  readonly interfaces: ReadonlyArray<{ readonly config: InterfaceConfig; readonly iface: NetInterface }>;
  /** Wall-clock ms at scheduler time 0 (leases are stored with wall-clock expiries). */
  readonly epochMs: number;
  /** Where log lines go. */
  readonly log: (line: string) => void;
}

/** The LAN services as the admin API shows them (plain JSON). */
export interface LanStatus {
  /** Each DHCP server's interface, range, lease time and leases. */
  readonly dhcpServers: ReadonlyArray<{
    readonly interface: string;
    readonly range: string;
    readonly leaseSeconds: number;
    readonly leases: ReadonlyArray<{
      mac: string;
      ip: string;
      state: string;
      expires: string;
      expired: boolean;
      hostname: string | null;
    }>;
  }>;
  /** Each DHCP client's interface, state and lease. */
  readonly dhcpClients: ReadonlyArray<{
    readonly interface: string;
    readonly state: string;
    readonly lease: {
      address: string;
      router: string | null;
      dnsServers: string[];
      server: string;
      leaseSeconds: number;
      renewAt: string;
      rebindAt: string;
      expires: string;
    } | null;
  }>;
  /** The DNS forwarder, or null. */
  readonly dns: {
    /** The interfaces it answers on (`dns.listen`). */
    listen: readonly string[];
    upstream: string[];
    inFlight: number;
    /** The addresses its DNS-over-TCP server listens on now (port 53 of each `listen` interface's addresses). */
    tcpListen: string[];
    /** DNS-over-TCP connections open now. */
    tcpConnections: number;
    cache: ReadonlyArray<{ name: string; type: number; rcode: number; answers: number; ttl: number }>;
  } | null;
  /** Counters of the DHCP server, clients, forwarder, cache and resolver. */
  readonly counters: readonly CounterEntry[];
}

/** The running LAN services. */
export interface LanServices {
  /** The DHCP server (one for every interface with `dhcpServer`), if any. */
  readonly dhcpServer: DhcpServer | undefined;
  /** The DHCP clients by interface name. */
  readonly dhcpClients: ReadonlyMap<string, DhcpClient>;
  /** The DNS forwarder, if configured. */
  readonly dns: DnsForwarder | undefined;
  /** The gateway's own resolver. */
  readonly resolver: DnsResolver;
  /** The upstream DNS servers now. */
  upstream(): Ipv4Address[];
  /** The admin view. */
  status(): LanStatus;
  /** Empties the DNS cache; returns how many responses it held. */
  flushDnsCache(): number;
  /** Releases the DHCP leases held, stops serving, writes the leases files. */
  close(): Promise<void>;
}

/**
 * Starts the LAN services of `o.config`.
 * @throws `GatewayStartError` `FILE` for an unreadable or damaged leases file; `BindError` for a
 *   taken port 67, 68 or 53.
 */
export async function startLanServices(o: LanServicesOptions): Promise<LanServices> {
  const { stack, config, log, epochMs } = o;
  const iso = (t: number): string => new Date(epochMs + t).toISOString();

  const clients = new Map<string, DhcpClient>();
  const files: LeasesFile[] = [];
  for (const { config: ic, iface } of o.interfaces) {
    if (ic.ip !== DHCP_IP) continue;
    let said = '';
    const leaseFile = ic.dhcpLeaseFile ?? dhcpLeaseFileOf(ic.name, undefined);
    const previous = await previousLease(leaseFile, iface, epochMs + stack.now);
    const file = new LeasesFile(leaseFile, log);
    files.push(file);
    const client = new DhcpClient(stack, {
      iface,
      hostname: 'postern-gateway',
      ...(previous === undefined ? {} : { previousAddress: previous }),
      // One line per change (a renewal that changes nothing says nothing).
      onLease: (lease) => {
        const line = lease === undefined ? `${ic.name}: dhcp: lease gone` : `${ic.name}: dhcp: ${describeLease(lease)}`;
        if (line !== said) log(line);
        said = line;
        // A lease released (the gateway stopped), expired or refused is forgotten: the next start
        // DISCOVERs. One still held when the process dies (a crash, a power cut) is asked for again.
        file.save(
          lease === undefined
            ? []
            : [
                {
                  iface: iface.name,
                  mac: iface.mac,
                  ip: lease.address,
                  state: 'bound',
                  expires: epochMs + lease.expiresAt,
                },
              ],
        );
      },
    });
    clients.set(ic.name, client);
  }
  const upstream = (): Ipv4Address[] => {
    if (config.dns !== undefined && config.dns.upstream.length > 0) return [...config.dns.upstream];
    const out: Ipv4Address[] = [];
    for (const c of clients.values()) for (const s of c.lease?.dnsServers ?? []) if (!out.includes(s)) out.push(s);
    return out;
  };

  const scopes: DhcpScopeOptions[] = [];
  const serverFiles: LeasesFile[] = [];
  const initial = [];
  const listen = new Set(config.dns?.listen ?? []);
  for (const { config: ic, iface } of o.interfaces) {
    const s = ic.dhcpServer;
    if (s === undefined) continue;
    initial.push(...(await readLeasesFile(s.leasesFile, iface.name)));
    const serverFile = new LeasesFile(s.leasesFile, log);
    files.push(serverFile);
    serverFiles.push(serverFile);
    scopes.push({
      iface,
      rangeFirst: s.rangeFirst,
      rangeLast: s.rangeLast,
      leaseSeconds: s.leaseSeconds,
      static: s.static,
      // The hosts ask the gateway when it forwards DNS for them, else the upstream servers configured.
      dnsServers: listen.has(ic.name) ? undefined : (config.dns?.upstream ?? []),
    });
  }
  const server =
    scopes.length === 0
      ? undefined
      : new DhcpServer(stack, {
          scopes,
          initialLeases: initial,
          epochMs,
          store: {
            save: (records) => {
              serverFiles.forEach((f, i) => f.save(records.filter((r) => r.iface === scopes[i]!.iface.name)));
            },
          },
        });
  for (const c of clients.values()) c.start();

  const dns =
    config.dns === undefined
      ? undefined
      : new DnsForwarder(stack, {
          listen: o.interfaces.filter((i) => listen.has(i.config.name)).map((i) => i.iface),
          upstream,
          cache: { maxEntries: config.dns.cacheSize },
          tcp: o.tcp,
        });
  const resolver = new DnsResolver(stack, { servers: upstream, tcp: o.tcp });

  let closing: Promise<void> | undefined;
  return {
    dhcpServer: server,
    dhcpClients: clients,
    dns,
    resolver,
    upstream,
    flushDnsCache: () => {
      const n = dns?.cache.size ?? 0;
      dns?.cache.clear();
      return n;
    },
    status: () => ({
      dhcpServers: scopes.map((s) => {
        const ic = o.interfaces.find((i) => i.iface === s.iface)!.config;
        return {
          interface: ic.name,
          range: rangeText(ic.dhcpServer!),
          leaseSeconds: s.leaseSeconds,
          leases: (server?.leases() ?? [])
            .filter((l) => l.iface === s.iface.name)
            .map((l) => ({
              mac: macToString(l.mac),
              ip: ipv4ToString(l.ip),
              state: l.state,
              expires: new Date(l.expires).toISOString(),
              expired: l.expired,
              hostname: l.hostname ?? null,
            })),
        };
      }),
      dhcpClients: [...clients].map(([name, c]) => {
        const l = c.lease;
        return {
          interface: name,
          state: c.state,
          lease:
            l === undefined
              ? null
              : {
                  address: `${ipv4ToString(l.address)}/${l.prefixLength}`,
                  router: l.router === undefined ? null : ipv4ToString(l.router),
                  dnsServers: l.dnsServers.map(ipv4ToString),
                  server: ipv4ToString(l.server),
                  leaseSeconds: l.leaseSeconds,
                  renewAt: iso(l.renewAt),
                  rebindAt: iso(l.rebindAt),
                  expires: iso(l.expiresAt),
                },
        };
      }),
      dns:
        dns === undefined
          ? null
          : {
              listen: config.dns!.listen,
              upstream: upstream().map(ipv4ToString),
              inFlight: dns.inFlight,
              tcpListen: dns.tcpAddresses.map(ipv4ToString),
              tcpConnections: dns.tcpConnections,
              cache: dns.cache.list(stack.now).map((e) => ({ ...e })),
            },
      counters: listCounters(
        ...(server === undefined ? [] : [server.counters]),
        ...[...clients.values()].map((c) => c.counters),
        ...(dns === undefined ? [] : [dns.counters, dns.cache.counters]),
        resolver.counters,
      ),
    }),
    close: () =>
      (closing ??= (async () => {
        for (const c of clients.values()) c.stop();
        dns?.close();
        server?.close();
        await Promise.all(files.map((f) => f.flush()));
      })()),
  };
}

/**
 * The address of the DHCP client's lease in `path` when it is the interface's (same MAC) and not
 * expired at wall-clock `nowMs`; else `undefined` (no file, or an old one: the client then starts
 * with a DISCOVER). @throws `GatewayStartError` `FILE` for a damaged file, as for a server's.
 */
async function previousLease(path: string, iface: NetInterface, nowMs: number): Promise<Ipv4Address | undefined> {
  const records = await readLeasesFile(path, iface.name);
  return records.find((r) => r.mac === iface.mac && r.state === 'bound' && r.expires > nowMs)?.ip;
}

function describeLease(l: DhcpClientLease): string {
  const router = l.router === undefined ? 'no router' : `router ${ipv4ToString(l.router)}`;
  const servers = l.dnsServers.length === 0 ? 'no DNS servers' : `DNS ${l.dnsServers.map(ipv4ToString).join(', ')}`;
  return `${ipv4ToString(l.address)}/${l.prefixLength} from ${ipv4ToString(l.server)}, ${router}, ${servers}, ${l.leaseSeconds} s`;
}
