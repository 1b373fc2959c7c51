/**
 * The gateway's configuration: its shape ({@link GatewayConfig}), its defaults, and
 * {@link validateConfig}, which checks a parsed JSON value field by field and stops at the first
 * problem with ONE {@link ConfigError} naming the field by its path (`interfaces[0].ip`) and saying
 * what is wrong (`"10.0.0.300/24" is not an IPv4 prefix`). Unknown fields are errors too (a typo
 * must not be silently ignored).
 *
 * The file format (every field optional except `interfaces`, which a `--nic` flag may supply):
 *
 * ```json
 * {
 *   "interfaces": [{ "name": "eth0", "nic": "sim", "ip": "198.18.0.1/24", "mtu": 1500 }],
 *   "routes": [{ "to": "default", "via": "198.18.0.254", "metric": 0 }],
 *   "forwarding": false,
 *   "firewall": false,
 *   "filter": {
 *     "policy": { "input": "accept", "forward": "accept", "output": "accept" },
 *     "rules": [{ "chain": "input", "protocol": "tcp", "dstPort": "23", "action": "drop", "comment": "no telnet" }]
 *   },
 *   "http": { "port": 80, "www": "./www", "workers": 64 },
 *   "admin": { "user": "admin", "password": "change me" },
 *   "pcap": "gateway.pcap",
 *   "sim": { "hostForward": ["tcp:127.0.0.1:8080-198.18.0.1:80"] }
 * }
 * ```
 */
import { isNetwork, maskOf, parseIpv4Prefix, parseIpv4Text, parsePortRange, parseRouteDestination } from './addresses.js';
import { parseNicSpec } from './nic-spec.js';

/** One interface of the gateway. */
export interface InterfaceConfig {
  /** Name shown in the admin UI. Default `eth<index>`. */
  readonly name: string;
  /** The NIC spec (see `nic-spec.ts`): `sim`, `serial:PATH[?baud=N]`, `socket://HOST:PORT`, `tap:NAME`. */
  readonly nic: string;
  /** The interface address with its prefix length, `ADDR/LEN`. */
  readonly ip: string;
  /** IP MTU; default the driver's. */
  readonly mtu: number | undefined;
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
  /** The HTTP server on the gateway's stack. */
  readonly http: {
    /** Port. Default 80. */
    readonly port: number;
    /** Directory served at `/`; when absent `/` shows the admin UI. */
    readonly www: string | undefined;
    /** Workers of the HTTP server's pool (each serves one connection at a time; more wait in its queue). Default 64. */
    readonly workers: number;
  };
  /** Admin credentials for changing anything. Without a password every mutating call is refused. */
  readonly admin: {
    /** The admin user name. Default `admin`. */
    readonly user: string;
    /** The password; `undefined` disables changes. */
    readonly password: string | undefined;
  };
  /** Capture every frame of every interface into this pcap file. */
  readonly pcap: string | undefined;
  /** Options of the in-process simulator (interfaces with `nic: "sim"`). */
  readonly sim: {
    /** Host forwards, `tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`. Default: 127.0.0.1:8080 to the gateway's port. */
    readonly hostForward: readonly string[] | undefined;
  };
}

/** The address `--nic sim` gets when no `--ip` is given. */
export const DEFAULT_SIM_IP = '198.18.0.1/24';
/** The host port the default simulator host forward listens on (127.0.0.1). */
export const DEFAULT_SIM_HOST_PORT = 8080;
/** Default HTTP port on the gateway's stack. */
export const DEFAULT_HTTP_PORT = 80;
/** Default workers of the HTTP server's pool. */
export const DEFAULT_HTTP_WORKERS = 64;
/** Default admin user name. */
export const DEFAULT_ADMIN_USER = 'admin';

/** A configuration was refused. `message` is the one line to print: `config: PATH: PROBLEM`. */
export class ConfigError extends Error {
  /** The field, e.g. `interfaces[0].ip` (empty for the whole document). */
  readonly path: string;
  /** What is wrong with it. */
  readonly problem: string;
  constructor(path: string, problem: string) {
    super(`config: ${path === '' ? '' : `${path}: `}${problem}`);
    this.name = 'ConfigError';
    this.path = path;
    this.problem = problem;
  }
}

type Json = unknown;

/** A cursor over one JSON object: reads typed fields and remembers which ones it read. */
class Fields {
  private readonly seen = new Set<string>();
  constructor(
    private readonly obj: Record<string, Json>,
    private readonly path: string,
  ) {}

  static of(value: Json, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(path, `is ${describe(value)}, expected an object`);
    return new Fields(value as Record<string, Json>, path);
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  raw(key: string): Json {
    this.seen.add(key);
    return this.obj[key];
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new ConfigError(this.at(key), `is ${describe(v)}, expected a string`);
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new ConfigError(this.at(key), `is ${describe(v)}, expected true or false`);
    return v;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(this.at(key), `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
    }
    return v;
  }

  array(key: string): Json[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw new ConfigError(this.at(key), `is ${describe(v)}, expected an array`);
    return v;
  }

  /** Throws for the first key that no reader asked for. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key)) throw new ConfigError(this.at(key), 'is not a known field');
    }
  }
}

function describe(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const CHAIN_NAMES: readonly ChainName[] = ['input', 'forward', 'output'];
const ACTIONS = ['accept', 'drop', 'reject'] as const;

/**
 * Validates a parsed JSON document and fills in defaults. The result is deep-frozen plain data.
 * @throws {@link ConfigError} for the first problem found (and only that one).
 */
export function validateConfig(value: Json): GatewayConfig {
  const top = Fields.of(value, '');
  const ifaceList = top.array('interfaces') ?? [];
  const interfaces = ifaceList.map((v, i) => validateInterface(v, `interfaces[${i}]`, i));
  const names = new Set<string>();
  interfaces.forEach((iface, i) => {
    if (names.has(iface.name)) throw new ConfigError(`interfaces[${i}].name`, `${JSON.stringify(iface.name)} is used twice`);
    names.add(iface.name);
  });
  const routes = (top.array('routes') ?? []).map((v, i) => validateRoute(v, `routes[${i}]`));
  const forwarding = top.boolean('forwarding') ?? false;
  const firewallFlag = top.boolean('firewall');
  const filter = validateFilter(top.raw('filter'), 'filter');
  const http = validateHttp(top.raw('http'), 'http');
  const admin = validateAdmin(top.raw('admin'), 'admin');
  const pcap = top.string('pcap');
  if (pcap === '') throw new ConfigError('pcap', 'is empty, expected a file name');
  const sim = validateSim(top.raw('sim'), 'sim');
  top.done();
  const restrictive = filter.rules.length > 0 || CHAIN_NAMES.some((c) => filter.policy[c] !== 'accept');
  return deepFreeze({ interfaces, routes, forwarding, firewall: firewallFlag ?? restrictive, filter, http, admin, pcap, sim });
}

/**
 * Checks what start-up needs beyond the file's shape: at least one interface.
 * @throws {@link ConfigError}
 */
export function requireRunnable(config: GatewayConfig): GatewayConfig {
  if (config.interfaces.length === 0) throw new ConfigError('interfaces', 'is empty: configure at least one interface (or pass --nic)');
  return config;
}

function validateInterface(value: Json, path: string, index: number): InterfaceConfig {
  const f = Fields.of(value, path);
  const name = f.string('name') ?? `eth${index}`;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new ConfigError(f.at('name'), `${JSON.stringify(name)} is not a name of 1..15 characters [A-Za-z0-9_.-]`);
  const nic = f.string('nic');
  if (nic === undefined) throw new ConfigError(f.at('nic'), 'is missing (sim, serial:PATH, socket://HOST:PORT or tap:NAME)');
  const spec = parseNicSpec(nic);
  if (typeof spec === 'string') throw new ConfigError(f.at('nic'), `${JSON.stringify(nic)} ${spec}`);
  let ip = f.string('ip');
  if (ip === undefined) {
    if (spec.kind !== 'sim') throw new ConfigError(f.at('ip'), 'is missing (ADDR/PREFIX, e.g. 192.168.1.1/24)');
    ip = DEFAULT_SIM_IP;
  }
  const p = parseIpv4Prefix(ip);
  if (p === undefined) throw new ConfigError(f.at('ip'), `${JSON.stringify(ip)} is not an IPv4 prefix`);
  if (p.length === 0 || (p.length > 30 && p.length !== 32)) throw new ConfigError(f.at('ip'), `${JSON.stringify(ip)} has prefix length ${p.length}, expected 1..30 or 32`);
  const hostMask = ~maskOf(p.length) >>> 0;
  const hostBits = (p.address & hostMask) >>> 0;
  if (p.length < 32 && (hostBits === 0 || hostBits === hostMask)) {
    throw new ConfigError(f.at('ip'), `${JSON.stringify(ip)} is the network or broadcast address of its prefix`);
  }
  const mtu = f.integer('mtu', 576, 9000);
  f.done();
  return { name, nic, ip, mtu };
}

function validateRoute(value: Json, path: string): RouteConfig {
  const f = Fields.of(value, path);
  const to = f.string('to');
  if (to === undefined) throw new ConfigError(f.at('to'), 'is missing (NET/PREFIX or default)');
  if (parseRouteDestination(to) === undefined) {
    const p = parseIpv4Prefix(to);
    throw new ConfigError(f.at('to'), p !== undefined && !isNetwork(p) ? `${JSON.stringify(to)} has host bits set` : `${JSON.stringify(to)} is not NET/PREFIX or default`);
  }
  const via = f.string('via');
  if (via === undefined) throw new ConfigError(f.at('via'), 'is missing (the gateway address)');
  if (parseIpv4Text(via) === undefined) throw new ConfigError(f.at('via'), `${JSON.stringify(via)} is not an IPv4 address`);
  const metric = f.integer('metric', 0, 0xffff_ffff) ?? 0;
  f.done();
  return { to, via, metric };
}

function validateFilter(value: Json, path: string): GatewayConfig['filter'] {
  const policy: Record<ChainName, 'accept' | 'drop'> = { input: 'accept', forward: 'accept', output: 'accept' };
  if (value === undefined) return { policy, rules: [] };
  const f = Fields.of(value, path);
  const pv = f.raw('policy');
  if (pv !== undefined) {
    const pf = Fields.of(pv, f.at('policy'));
    for (const chain of CHAIN_NAMES) {
      const p = pf.string(chain);
      if (p === undefined) continue;
      if (p !== 'accept' && p !== 'drop') throw new ConfigError(pf.at(chain), `${JSON.stringify(p)} is not accept or drop`);
      policy[chain] = p;
    }
    pf.done();
  }
  const rules = (f.array('rules') ?? []).map((v, i) => validateFilterRule(v, `${f.at('rules')}[${i}]`));
  f.done();
  return { policy, rules };
}

/**
 * Validates one filter rule in its text form (the config file's `filter.rules[i]`, and the body of
 * the admin API's `POST /api/filter/rules`).
 * @throws {@link ConfigError} naming the field under `path`.
 */
export function validateFilterRule(value: Json, path: string): FilterRuleConfig {
  const f = Fields.of(value, path);
  const chain = f.string('chain');
  if (chain === undefined || !(CHAIN_NAMES as readonly string[]).includes(chain)) {
    throw new ConfigError(f.at('chain'), `${chain === undefined ? 'is missing' : `${JSON.stringify(chain)} is not a chain`} (input, forward or output)`);
  }
  const action = f.string('action');
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new ConfigError(f.at('action'), `${action === undefined ? 'is missing' : `${JSON.stringify(action)} is not an action`} (accept, drop or reject)`);
  }
  const protoRaw = f.raw('protocol');
  let protocol: FilterRuleConfig['protocol'];
  if (protoRaw === 'tcp' || protoRaw === 'udp' || protoRaw === 'icmp') protocol = protoRaw;
  else if (typeof protoRaw === 'number' && Number.isInteger(protoRaw) && protoRaw >= 0 && protoRaw <= 255) protocol = protoRaw;
  else if (protoRaw !== undefined) throw new ConfigError(f.at('protocol'), `${JSON.stringify(protoRaw)} is not tcp, udp, icmp or 0..255`);
  const prefix = (key: string): string | undefined => {
    const t = f.string(key);
    if (t !== undefined && parseRouteDestination(t) === undefined) throw new ConfigError(f.at(key), `${JSON.stringify(t)} is not an IPv4 network (NET/PREFIX with host bits clear, or an address)`);
    return t;
  };
  const src = prefix('src');
  const dst = prefix('dst');
  const port = (key: string): string | number | undefined => {
    const v = f.raw(key);
    if (v === undefined) return undefined;
    if (parsePortRange(v) === undefined) throw new ConfigError(f.at(key), `${JSON.stringify(v)} is not a port or a range N-M in 0..65535`);
    if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 6 && protocol !== 17) throw new ConfigError(f.at(key), 'needs protocol tcp or udp');
    return v as string | number;
  };
  const srcPort = port('srcPort');
  const dstPort = port('dstPort');
  const rw = f.string('rejectWith');
  if (rw !== undefined && rw !== 'icmp' && rw !== 'tcp-reset') throw new ConfigError(f.at('rejectWith'), `${JSON.stringify(rw)} is not icmp or tcp-reset`);
  if (rw !== undefined && action !== 'reject') throw new ConfigError(f.at('rejectWith'), 'is only for action reject');
  if (rw === 'tcp-reset' && protocol !== 'tcp' && protocol !== 6) throw new ConfigError(f.at('rejectWith'), 'tcp-reset needs protocol tcp');
  const comment = f.string('comment');
  f.done();
  return { chain: chain as ChainName, action: action as FilterRuleConfig['action'], protocol, src, dst, srcPort, dstPort, rejectWith: rw, comment };
}

function validateHttp(value: Json, path: string): GatewayConfig['http'] {
  if (value === undefined) return { port: DEFAULT_HTTP_PORT, www: undefined, workers: DEFAULT_HTTP_WORKERS };
  const f = Fields.of(value, path);
  const port = f.integer('port', 1, 65535) ?? DEFAULT_HTTP_PORT;
  const www = f.string('www');
  if (www === '') throw new ConfigError(f.at('www'), 'is empty, expected a directory');
  const workers = f.integer('workers', 1, 4096) ?? DEFAULT_HTTP_WORKERS;
  f.done();
  return { port, www, workers };
}

function validateAdmin(value: Json, path: string): GatewayConfig['admin'] {
  if (value === undefined) return { user: DEFAULT_ADMIN_USER, password: undefined };
  const f = Fields.of(value, path);
  const user = f.string('user') ?? DEFAULT_ADMIN_USER;
  if (user === '' || user.includes(':')) throw new ConfigError(f.at('user'), 'must be non-empty and contain no colon');
  const password = f.string('password');
  if (password === '') throw new ConfigError(f.at('password'), 'is empty (leave it out to disable changes)');
  f.done();
  return { user, password };
}

function validateSim(value: Json, path: string): GatewayConfig['sim'] {
  if (value === undefined) return { hostForward: undefined };
  const f = Fields.of(value, path);
  const list = f.array('hostForward');
  const hostForward = list?.map((v, i) => {
    const at = `${f.at('hostForward')}[${i}]`;
    if (typeof v !== 'string' || parseHostForward(v) === undefined) throw new ConfigError(at, `${JSON.stringify(v)} is not tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`);
    return v;
  });
  f.done();
  return { hostForward };
}

/** A parsed host forward: connections to `hostAddress:hostPort` on this machine go to `guestAddress:guestPort` on the simulated segment. */
export interface HostForwardRule {
  /** Host side listen address (dotted quad). */
  readonly hostAddress: string;
  /** Host side port (0 asks the OS for one). */
  readonly hostPort: number;
  /** Guest side address (dotted quad). */
  readonly guestAddress: string;
  /** Guest side port. */
  readonly guestPort: number;
}

/** Parses `tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT` (QEMU's `hostfwd` form); `undefined` if malformed. */
export function parseHostForward(text: string): HostForwardRule | undefined {
  const m = /^tcp:([0-9.]+):(\d{1,5})-([0-9.]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const [hostAddress, hostPort, guestAddress, guestPort] = [m[1]!, Number(m[2]), m[3]!, Number(m[4])];
  if (parseIpv4Text(hostAddress) === undefined || parseIpv4Text(guestAddress) === undefined) return undefined;
  if (hostPort > 65535 || guestPort < 1 || guestPort > 65535) return undefined;
  return { hostAddress, hostPort, guestAddress, guestPort };
}

/**
 * Parses configuration text (JSON) and validates it.
 * @throws {@link ConfigError} for a syntax error (with its position) or the first invalid field.
 */
export function parseConfigText(text: string): GatewayConfig {
  let value: Json;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('', `not valid JSON: ${(err as Error).message}`);
  }
  return validateConfig(value);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
