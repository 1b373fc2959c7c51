/**
 * The command line of `postern-gateway`: {@link parseCommandLine} turns argv into
 * {@link CommandLine} with `node:util` `parseArgs` (through `parseFlags`, the parser every Postern
 * command uses) and checks each flag's value with the same checks as the config field it sets, so
 * a bad flag is reported by its own name: `--hostfwd tcp:0.0.0.0:8080-:80: the host address must be
 * in 127.0.0.0/8`. {@link applyCommandLine} lays the flags over the config file's JSON before it is
 * validated (flags override the file), and {@link flagSource} tells which flag set a JSON path, so
 * a problem found later in the merged document still names the flag.
 */
import { FlagError, parseFlags } from '@postern/device-simulator';
import { parseIpv4Text } from './addresses.js';
import { DHCP_IP } from './lan-config.js';
import {
  hostForwardProblem,
  interfaceAddressProblem,
  nicSpecProblem,
  routeDestinationProblem,
} from './config-checks.js';
import type { ConfigSource } from './config-error.js';

/** The `--help` text: every flag, the config file, and the environment. */
export const HELP_TEXT = `Usage: postern-gateway [options]

Runs the Postern gateway: NIC driver, interrupt scheduler, TCP/IP stack, sockets and the HTTP server
with its admin UI (/admin/) and JSON API (/api/).

Options (flags override the config file):
  --config FILE           JSON configuration; its JSON Schema is apps/gateway/config.schema.json
                          (see apps/gateway/README.md for every field)
  --nic SPEC              the first interface's NIC:
                            sim                    the device simulator, in this process
                            serial:PATH[?baud=N]   the USB Ethernet device on a serial port
                            socket://HOST:PORT     the device's serial stream over TCP
                            tap:NAME               a Linux TAP device (needs CAP_NET_ADMIN)
  --ip ADDR/PREFIX|dhcp   the first interface's address (default with --nic sim: 198.18.0.1/24), or
                          dhcp: a DHCP client configures it (address, default route, DNS servers)
  --route PREFIX via ADDR a static route (repeatable; PREFIX may be 'default'); replaces the file's routes
  --http-port N           HTTP port on the gateway's stack (default 80)
  --www DIR               serve DIR at / (default: / shows the admin UI); DIR must exist
  --pcap FILE             capture every frame of every interface into FILE (its directory must exist)
  --hostfwd RULE          with --nic sim: tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (repeatable;
                          HOSTADDR in 127.0.0.0/8; default tcp:127.0.0.1:8080-<gateway ip>:<http port>)
  -h, --help              print this text and exit

Environment:
  POSTERN_ADMIN_PASSWORD  the admin password (overrides admin.password in the file); without one,
                          every change through the admin API is refused

Exit status: 0 after SIGINT/SIGTERM and a clean shutdown; 2 with one line on stderr for a bad command
line or configuration (naming the flag, or the file and the field); 1 with one line on stderr when
start-up fails (missing serial device, TAP without privileges, port in use).
`;

/** A route given on the command line. */
export interface CliRoute {
  /** `NET/LEN` or `default`. */
  readonly to: string;
  /** The gateway address. */
  readonly via: string;
}

/** The parsed command line. Absent fields were not given. */
export interface CommandLine {
  /** `-h`/`--help` was given. */
  readonly help: boolean;
  /** `--config FILE`. */
  readonly config?: string;
  /** `--nic SPEC` (a NIC spec, checked as `interfaces[0].nic` is). */
  readonly nic?: string;
  /** `--ip ADDR/PREFIX` or `--ip dhcp` (as `interfaces[0].ip` in the file). */
  readonly ip?: string;
  /** Every `--route`, in order. */
  readonly routes?: readonly CliRoute[];
  /** `--http-port N`. */
  readonly httpPort?: number;
  /** `--www DIR`. */
  readonly www?: string;
  /** `--pcap FILE`. */
  readonly pcap?: string;
  /** Every `--hostfwd RULE`, in order. */
  readonly hostForward?: readonly string[];
}

/** The command line is malformed; `message` is the line to print (`postern-gateway: ...`, exit status 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(`postern-gateway: ${message}`);
    this.name = 'UsageError';
  }
}

const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  nic: { type: 'string' },
  ip: { type: 'string' },
  route: { type: 'string', multiple: true },
  'http-port': { type: 'string' },
  www: { type: 'string' },
  pcap: { type: 'string' },
  hostfwd: { type: 'string', multiple: true },
} as const;

/** `--route PREFIX via ADDR` as three words becomes `--route=PREFIX via ADDR`, one value. */
function joinRouteWords(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--route' && argv[i + 2] === 'via') {
      const via = argv[i + 3]?.startsWith('--') === false ? argv[i + 3]! : '';
      out.push(`--route=${argv[i + 1]!} via ${via}`);
      i += via === '' ? 2 : 3;
    } else {
      out.push(argv[i]!);
    }
  }
  return out;
}

function check(flag: string, value: string, problem: string | undefined): string {
  if (problem !== undefined) throw new UsageError(`${flag} ${value}: ${problem}`);
  return value;
}

/** What is wrong with an `--ip` value other than `dhcp`: the config field's problem, naming both accepted forms. */
function ipFlagProblem(value: string): string | undefined {
  const problem = interfaceAddressProblem(value);
  if (problem === 'is not an IPv4 prefix ADDR/LEN') return `${problem} (or dhcp)`;
  return problem;
}

function parseRoute(value: string): CliRoute {
  const words = value.trim().split(/\s+/);
  if (words.length !== 3 || words[1] !== 'via') throw new UsageError(`--route ${value}: is not PREFIX via ADDR`);
  const [to, , via] = words as [string, string, string];
  const toProblem = routeDestinationProblem(to);
  if (toProblem !== undefined) throw new UsageError(`--route ${value}: ${to} ${toProblem}`);
  if (parseIpv4Text(via) === undefined) throw new UsageError(`--route ${value}: ${via} is not an IPv4 address`);
  return { to, via };
}

/**
 * Parses argv (without the node and script paths). Accepts `--flag value` and `--flag=value`;
 * `--route` takes `PREFIX via ADDR` as three words or one (`"10.1.0.0/16 via 10.0.0.254"`).
 * Each value is checked as the config field it sets is (see `config-checks.ts`); whether `--www`
 * and the `--pcap` directory exist is checked before start-up by `preflight`.
 * @throws {@link UsageError} for an unknown flag, a missing value or a malformed value: one line
 *   naming the flag and its value.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let values;
  try {
    values = parseFlags(joinRouteWords(argv), FLAGS);
  } catch (err) {
    if (err instanceof FlagError) throw new UsageError(`${err.message} (see --help)`);
    throw err;
  }
  const out: { -readonly [K in keyof CommandLine]: CommandLine[K] } = { help: values.help === true };
  if (values.config !== undefined)
    out.config = check('--config', values.config, values.config === '' ? 'needs a file name' : undefined);
  if (values.nic !== undefined) out.nic = check('--nic', values.nic, nicSpecProblem(values.nic));
  if (values.ip !== undefined)
    out.ip = check('--ip', values.ip, values.ip === DHCP_IP ? undefined : ipFlagProblem(values.ip));
  if (values.route !== undefined) out.routes = values.route.map(parseRoute);
  const port = values['http-port'];
  if (port !== undefined) {
    out.httpPort = Number(
      check(
        '--http-port',
        port,
        /^[1-9][0-9]{0,4}$/.test(port) && Number(port) <= 65535 ? undefined : 'is not a port in 1..65535',
      ),
    );
  }
  if (values.www !== undefined)
    out.www = check('--www', values.www, values.www === '' ? 'needs a directory' : undefined);
  if (values.pcap !== undefined)
    out.pcap = check('--pcap', values.pcap, values.pcap === '' ? 'needs a file name' : undefined);
  if (values.hostfwd !== undefined)
    out.hostForward = values.hostfwd.map((rule) => check('--hostfwd', rule, hostForwardProblem(rule)));
  return out;
}

/**
 * Lays the command line over the config file's parsed JSON (`undefined` when there is no file) and
 * returns the document to validate. `--nic`/`--ip` set the first interface (creating it when the
 * file has none); `--route` replaces the file's routes; the others set their one field. The input
 * is not modified. A file that is not an object is returned as is, for the validator to refuse.
 */
export function applyCommandLine(file: unknown, cli: CommandLine): unknown {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) return file;
  const doc: Record<string, unknown> = { ...(file as Record<string, unknown> | undefined) };
  if (cli.nic !== undefined || cli.ip !== undefined) {
    const list = Array.isArray(doc['interfaces']) ? [...(doc['interfaces'] as unknown[])] : [];
    const first = list[0];
    const base =
      typeof first === 'object' && first !== null && !Array.isArray(first)
        ? { ...(first as Record<string, unknown>) }
        : {};
    if (cli.nic !== undefined) base['nic'] = cli.nic;
    if (cli.ip !== undefined) base['ip'] = cli.ip;
    list[0] = base;
    doc['interfaces'] = list;
  }
  if (cli.routes !== undefined) doc['routes'] = cli.routes.map((r) => ({ to: r.to, via: r.via }));
  if (cli.httpPort !== undefined || cli.www !== undefined) {
    const http = objectOr(doc['http']);
    if (cli.httpPort !== undefined) http['port'] = cli.httpPort;
    if (cli.www !== undefined) http['www'] = cli.www;
    doc['http'] = http;
  }
  if (cli.pcap !== undefined) doc['pcap'] = cli.pcap;
  if (cli.hostForward !== undefined) doc['sim'] = { ...objectOr(doc['sim']), hostForward: [...cli.hostForward] };
  return doc;
}

/**
 * The flag that set the JSON path `path` of the document {@link applyCommandLine} built, with its
 * value (`{flag: '--ip', value: '10.0.0.1/24'}` for `interfaces[0].ip`), or `undefined` when the
 * value at `path` came from the file.
 */
export function flagSource(path: string, cli: CommandLine): ConfigSource | undefined {
  const flag = (name: string, value: string | number): ConfigSource => ({
    kind: 'flag',
    flag: name,
    value: String(value),
  });
  const under = (prefix: string): boolean =>
    path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
  if (cli.nic !== undefined && under('interfaces[0].nic')) return flag('--nic', cli.nic);
  if (cli.ip !== undefined && under('interfaces[0].ip')) return flag('--ip', cli.ip);
  if (cli.httpPort !== undefined && under('http.port')) return flag('--http-port', cli.httpPort);
  if (cli.www !== undefined && under('http.www')) return flag('--www', cli.www);
  if (cli.pcap !== undefined && under('pcap')) return flag('--pcap', cli.pcap);
  const route = /^routes\[(\d+)\]/.exec(path);
  const r = route === null ? undefined : cli.routes?.[Number(route[1])];
  if (r !== undefined) return flag('--route', `${r.to} via ${r.via}`);
  const fwd = /^sim\.hostForward\[(\d+)\]/.exec(path);
  const f = fwd === null ? undefined : cli.hostForward?.[Number(fwd[1])];
  if (f !== undefined) return flag('--hostfwd', f);
  return undefined;
}

function objectOr(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {};
}
