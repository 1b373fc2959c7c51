/**
 * The gateway's configuration: its shape ({@link GatewayConfig}), its defaults, and
 * {@link validateConfig}, which checks a parsed JSON value against the JSON Schema
 * (`apps/gateway/config.schema.json`, the one description of the file's structure, see
 * `config-schema.ts`), then makes the checks a schema cannot express (`config-checks.ts`), and
 * stops at the first problem with ONE {@link ConfigError} naming the field by its JSON path
 * (`interfaces[0].ip`). Unknown fields are errors (a typo must not be silently ignored), except
 * inside `http`, which is open for the HTTP server's limits.
 *
 * The file format is documented in the schema and in apps/gateway/README.md.
 */
import type { TcpCongestionName } from '@postern/netstack';
import { checkAgainstSchema } from './config-schema.js';
import { checkConfigSemantics, checkFilterRule, interfaceIp, type ConfigDocument } from './config-checks.js';
import { ConfigError } from './config-error.js';
import {
  DHCP_IP,
  dhcpLeaseFileOf,
  dhcpServerConfigOf,
  dnsConfigOf,
  type DhcpServerConfig,
  type DnsConfig,
} from './lan-config.js';
import { natConfigOf, type NatRuleConfig, type PortForwardConfig } from './nat-config.js';

export { ConfigError, type ConfigSource } from './config-error.js';
export { DEFAULT_SIM_IP } from './config-checks.js';
export type { NatRuleConfig, PortForwardConfig } from './nat-config.js';
export { DHCP_IP, type DhcpServerConfig, type DnsConfig } from './lan-config.js';

/** One interface of the gateway. */
export interface InterfaceConfig {
  /** Name shown in the admin UI. Default `eth<index>`. */
  readonly name: string;
  /** The NIC spec (see `nic-spec.ts`): `sim`, `serial:PATH[?baud=N]`, `socket://HOST:PORT`, `tap:NAME`. */
  readonly nic: string;
  /** The interface address with its prefix length, `ADDR/LEN`, or `dhcp` (a DHCP client configures it). */
  readonly ip: string;
  /** IP MTU; default the driver's. */
  readonly mtu: number | undefined;
  /** A DHCP server on this interface (see `lan-config.ts`). */
  readonly dhcpServer: DhcpServerConfig | undefined;
  /** With ip `dhcp`: the file where its DHCP client keeps its lease across restarts; else `undefined`. */
  readonly dhcpLeaseFile: string | undefined;
}

/** One static route. */
export interface RouteConfig {
  /** `NET/LEN` (host bits clear), a host address, or `default`. */
  readonly to: string;
  /** The gateway address (on a connected network). */
  readonly via: string;
  /** Lower is preferred. Default 0. */
  readonly metric: number;
}

/** The packet filter chains. */
export type ChainName = 'input' | 'forward' | 'output';

/** One filter rule in the config file's (and the admin API's) text form. */
export interface FilterRuleConfig {
  /** The chain the rule is appended to. */
  readonly chain: ChainName;
  /** `accept`, `drop` or `reject`. */
  readonly action: 'accept' | 'drop' | 'reject';
  /** `tcp`, `udp`, `icmp` or an IP protocol number. */
  readonly protocol: 'tcp' | 'udp' | 'icmp' | number | undefined;
  /** Source prefix `NET/LEN` (or an address for /32). */
  readonly src: string | undefined;
  /** Destination prefix. */
  readonly dst: string | undefined;
  /** Source port or range `N-M` (needs tcp or udp). */
  readonly srcPort: string | number | undefined;
  /** Destination port or range (needs tcp or udp). */
  readonly dstPort: string | number | undefined;
  /** For `reject`: `icmp` (port unreachable, the default) or `tcp-reset` (needs tcp). */
  readonly rejectWith: 'icmp' | 'tcp-reset' | undefined;
  /** Free text shown in the admin UI. */
  readonly comment: string | undefined;
}

/** The whole configuration after validation and defaults. */
export interface GatewayConfig {
  /** At least one interface. */
  readonly interfaces: readonly InterfaceConfig[];
  /** Static routes. */
  readonly routes: readonly RouteConfig[];
  /** Router mode. Default false. */
  readonly forwarding: boolean;
  /** Firewall mode (run the filter chains). Default: true when any rule or non-accept policy is configured. */
  readonly firewall: boolean;
  /** Filter policies and rules. */
  readonly filter: {
    /** Each chain's default policy (default accept). */
    readonly policy: Readonly<Record<ChainName, 'accept' | 'drop'>>;
    /** Rules, appended to their chains in order. */
    readonly rules: readonly FilterRuleConfig[];
  };
  /** NAT rules (masquerade out of an interface). */
  readonly nat: readonly NatRuleConfig[];
  /** Port forwards (destination NAT). */
  readonly portForwards: readonly PortForwardConfig[];
  /** The HTTP server on the gateway's stack. */
  readonly http: HttpConfig;
  /** Admin credentials for changing anything. Without a password every mutating call is refused. */
  readonly admin: {
    /** The admin user name. Default `admin`. */
    readonly user: string;
    /** The password; `undefined` disables changes. */
    readonly password: string | undefined;
  };
  /** Capture every frame of every interface into this pcap file. */
  readonly pcap: string | undefined;
  /** The TCP of the gateway's own stack. */
  readonly tcp: {
    /** Congestion control of its connections. Default {@link DEFAULT_TCP_CONGESTION}. */
    readonly congestion: TcpCongestionName;
  };
  /** The DNS forwarder for the LAN (see `lan-config.ts`). */
  readonly dns: DnsConfig | undefined;
  /** Options of the in-process simulator (interfaces with `nic: "sim"`). */
  readonly sim: {
    /** Host forwards, `tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`. Default: 127.0.0.1:8080 to the gateway's port. */
    readonly hostForward: readonly string[] | undefined;
  };
}

/**
 * The `http` object: the HTTP server on the gateway's stack. Besides the three fields below it
 * carries the HTTP server's limits, passed through as given (the schema declares `http` open).
 */
export interface HttpConfig {
  /** Port. Default 80. */
  readonly port: number;
  /** Directory served at `/`; when absent `/` shows the admin UI. */
  readonly www: string | undefined;
  /** Workers of the HTTP server's pool (each serves one request at a time; more wait in its queue). Default 64. */
  readonly workers: number;
  /** The HTTP server limits (timeouts, connection caps), as the file gives them. */
  readonly [limit: string]: unknown;
}

/** The host port the default simulator host forward listens on (127.0.0.1). */
export const DEFAULT_SIM_HOST_PORT = 8080;
/** Default HTTP port on the gateway's stack. */
export const DEFAULT_HTTP_PORT = 80;
/** Default workers of the HTTP server's pool. */
export const DEFAULT_HTTP_WORKERS = 64;
/**
 * Default congestion control of the gateway's TCP: `bbr`. Chosen with the `tcp-loss` benchmark
 * (tools/bench: 64 MiB to the kernel's curl over TAP through a seeded fault bridge, beside Linux BBR,
 * this host's default, behind the same faults, same run). On a quiet host the gateway took 1.17x
 * Linux's time at 2% loss, 0.97x with 10% of frames held back 3 ms and 2% duplicated and 0.86x
 * without faults with `bbr`, against 1.46-1.52x, 0.97-0.98x and 0.91-1.24x with `cubic` in two runs
 * (0 retransmission timeouts in all). On loaded hosts the two were within each other's noise. `bbr`
 * keeps the path's rate through random loss; `cubic` halves its window per loss event.
 */
export const DEFAULT_TCP_CONGESTION: TcpCongestionName = 'bbr';
/** Default admin user name. */
export const DEFAULT_ADMIN_USER = 'admin';

const CHAIN_NAMES: readonly ChainName[] = ['input', 'forward', 'output'];

/** The document as the schema lets it through, with its defaults filled in. */
interface ValidDocument extends ConfigDocument {
  readonly forwarding: boolean;
  readonly firewall?: boolean;
  readonly filter: {
    readonly policy: Readonly<Record<ChainName, 'accept' | 'drop'>>;
    readonly rules: ReadonlyArray<
      Omit<FilterRuleConfig, 'rejectWith'> & { readonly rejectWith?: 'icmp' | 'tcp-reset' }
    >;
  };
  readonly http: {
    readonly port: number;
    readonly www?: string;
    readonly workers: number;
    readonly [limit: string]: unknown;
  };
  readonly admin: { readonly user: string; readonly password?: string };
  readonly pcap?: string;
  readonly tcp?: { readonly congestion?: TcpCongestionName };
  readonly nat: readonly NatRuleConfig[];
  readonly portForwards: readonly PortForwardConfig[];
}

/**
 * Validates a parsed JSON document and fills in defaults. The input is not modified; the result is
 * deep-frozen plain data.
 * @throws {@link ConfigError} for the first problem found (and only that one).
 */
export function validateConfig(value: unknown): GatewayConfig {
  const doc = structuredClone(value);
  checkAgainstSchema('config', doc);
  const d = doc as ValidDocument;
  checkConfigSemantics(d);
  const rules = d.filter.rules.map(filterRuleOf);
  const policy = { ...d.filter.policy };
  const restrictive = rules.length > 0 || CHAIN_NAMES.some((c) => policy[c] !== 'accept');
  const { port, www, workers, ...limits } = d.http;
  return deepFreeze({
    interfaces: d.interfaces.map((iface, i) => ({
      name: iface.name ?? `eth${i}`,
      nic: iface.nic,
      ip: interfaceIp(iface),
      mtu: iface.mtu,
      dhcpServer: dhcpServerConfigOf(iface.name ?? `eth${i}`, iface.dhcpServer),
      dhcpLeaseFile:
        interfaceIp(iface) === DHCP_IP ? dhcpLeaseFileOf(iface.name ?? `eth${i}`, iface.dhcpLeaseFile) : undefined,
    })),
    routes: d.routes.map((r) => ({ to: r.to, via: r.via, metric: r.metric })),
    forwarding: d.forwarding,
    firewall: d.firewall ?? restrictive,
    filter: { policy, rules },
    ...natConfigOf(d),
    http: { ...limits, port, www, workers },
    admin: { user: d.admin.user, password: d.admin.password },
    pcap: d.pcap,
    tcp: { congestion: d.tcp?.congestion ?? DEFAULT_TCP_CONGESTION },
    dns: dnsConfigOf(d.dns),
    sim: { hostForward: d.sim.hostForward === undefined ? undefined : [...d.sim.hostForward] },
  });
}

/**
 * Validates one filter rule in its text form (the config file's `filter.rules[i]`, and the body of
 * the admin API's `POST /api/filter/rules`) against the same schema and checks.
 * @throws {@link ConfigError} naming the field under `path`.
 */
export function validateFilterRule(value: unknown, path: string): FilterRuleConfig {
  const rule = structuredClone(value);
  checkAgainstSchema('filterRule', rule, path);
  checkFilterRule(rule as FilterRuleConfig, path);
  return deepFreeze(filterRuleOf(rule as FilterRuleConfig));
}

function filterRuleOf(
  r: Omit<FilterRuleConfig, 'rejectWith'> & { readonly rejectWith?: 'icmp' | 'tcp-reset' },
): FilterRuleConfig {
  return {
    chain: r.chain,
    action: r.action,
    protocol: r.protocol,
    src: r.src,
    dst: r.dst,
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    rejectWith: r.rejectWith,
    comment: r.comment,
  };
}

/**
 * Checks what start-up needs beyond the file's shape: at least one interface.
 * @throws {@link ConfigError}
 */
export function requireRunnable(config: GatewayConfig): GatewayConfig {
  if (config.interfaces.length === 0)
    throw new ConfigError('interfaces', 'is empty: configure at least one interface (or pass --nic)');
  return config;
}

/**
 * Parses configuration text: JSON, optionally starting with a UTF-8 byte-order mark (as some
 * editors save it).
 * @throws {@link ConfigError} for a syntax error, with its position.
 */
export function parseConfigJson(text: string): unknown {
  try {
    return JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (err) {
    throw new ConfigError('', `is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Parses configuration text (JSON) and validates it.
 * @throws {@link ConfigError} for a syntax error (with its position) or the first invalid field.
 */
export function parseConfigText(text: string): GatewayConfig {
  return validateConfig(parseConfigJson(text));
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
