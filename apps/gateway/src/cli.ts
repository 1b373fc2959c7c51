/**
 * The command line of `postern-gateway`: {@link parseCommandLine} turns argv into
 * {@link CommandLine} (each flag's value checked, so a bad flag is reported by its own name), and
 * {@link applyCommandLine} lays the flags over the config file's JSON before it is validated:
 * flags override the file.
 */
import { parseIpv4Prefix, parseIpv4Text, parseRouteDestination } from './addresses.js';
import { parseHostForward } from './config.js';
import { parseNicSpec } from './nic-spec.js';

/** The `--help` text: every flag, the config file, and the environment. */
export const HELP_TEXT = `Usage: postern-gateway [options]

Runs the Postern gateway: NIC driver, interrupt scheduler, TCP/IP stack, sockets and the HTTP server
with its admin UI (/admin/) and JSON API (/api/).

Options (flags override the config file):
  --config FILE           JSON configuration (see apps/gateway/README.md for every field)
  --nic SPEC              the first interface's NIC:
                            sim                    the device simulator, in this process
                            serial:PATH[?baud=N]   the USB Ethernet device on a serial port
                            socket://HOST:PORT     the device's serial stream over TCP
                            tap:NAME               a Linux TAP device (needs CAP_NET_ADMIN)
  --ip ADDR/PREFIX        the first interface's address (default with --nic sim: 198.18.0.1/24)
  --route PREFIX via ADDR a static route (repeatable; PREFIX may be 'default'); replaces the file's routes
  --http-port N           HTTP port on the gateway's stack (default 80)
  --www DIR               serve DIR at / (default: / shows the admin UI)
  --pcap FILE             capture every frame of every interface into FILE
  --hostfwd RULE          with --nic sim: tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT (repeatable;
                          default tcp:127.0.0.1:8080-<gateway ip>:<http port>)
  -h, --help              print this text and exit

Environment:
  POSTERN_ADMIN_PASSWORD  the admin password (overrides admin.password in the file); without one,
                          every change through the admin API is refused

Exit status: 0 after SIGINT/SIGTERM and a clean shutdown; 1 with one line on stderr when start-up fails
(bad config, missing serial device, TAP without privileges, port in use); 2 for a bad command line.
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
  /** `--nic SPEC` (checked by `parseNicSpec`). */
  readonly nic?: string;
  /** `--ip ADDR/PREFIX`. */
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

/** The command line is malformed; `message` is the line to print (exit status 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(`postern-gateway: ${message} (see --help)`);
    this.name = 'UsageError';
  }
}

const VALUE_FLAGS = new Set(['--config', '--nic', '--ip', '--route', '--http-port', '--www', '--pcap', '--hostfwd']);

/**
 * Parses argv (without the node and script paths). Accepts `--flag value` and `--flag=value`;
 * `--route` takes `PREFIX via ADDR` as three words or one (`"10.1.0.0/16 via 10.0.0.254"`).
 * @throws {@link UsageError} for an unknown flag, a missing value or a malformed value.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const out: { -readonly [K in keyof CommandLine]: CommandLine[K] } = { help: false };
  const routes: CliRoute[] = [];
  const forwards: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (!VALUE_FLAGS.has(arg)) throw new UsageError(arg.startsWith('-') ? `unknown option ${arg}` : `unexpected argument ${JSON.stringify(arg)}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${arg} needs a value`);
    switch (arg) {
      case '--config':
        out.config = value;
        break;
      case '--nic': {
        const spec = parseNicSpec(value);
        if (typeof spec === 'string') throw new UsageError(`--nic: ${JSON.stringify(value)} ${spec}`);
        out.nic = value;
        break;
      }
      case '--ip':
        if (parseIpv4Prefix(value) === undefined) throw new UsageError(`--ip: ${JSON.stringify(value)} is not an IPv4 prefix (ADDR/PREFIX)`);
        out.ip = value;
        break;
      case '--route': {
        let words = value.trim().split(/\s+/);
        if (words.length === 1 && inline === undefined) {
          words = [value, argv[i + 1] ?? '', argv[i + 2] ?? ''];
          i += 2;
        }
        if (words.length !== 3 || words[1] !== 'via') throw new UsageError(`--route: expected PREFIX via ADDR, got ${JSON.stringify(words.join(' ').trim())}`);
        const [to, , via] = words as [string, string, string];
        if (parseRouteDestination(to) === undefined) throw new UsageError(`--route: ${JSON.stringify(to)} is not NET/PREFIX (host bits clear) or default`);
        if (parseIpv4Text(via) === undefined) throw new UsageError(`--route: ${JSON.stringify(via)} is not an IPv4 address`);
        routes.push({ to, via });
        break;
      }
      case '--http-port': {
        const n = /^[1-9][0-9]{0,4}$/.test(value) ? Number(value) : NaN;
        if (!(n <= 65535)) throw new UsageError(`--http-port: ${JSON.stringify(value)} is not a port in 1..65535`);
        out.httpPort = n;
        break;
      }
      case '--www':
        out.www = value;
        break;
      case '--pcap':
        out.pcap = value;
        break;
      case '--hostfwd':
        if (parseHostForward(value) === undefined) throw new UsageError(`--hostfwd: ${JSON.stringify(value)} is not tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`);
        forwards.push(value);
        break;
    }
  }
  if (routes.length > 0) out.routes = routes;
  if (forwards.length > 0) out.hostForward = forwards;
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
    const base = typeof first === 'object' && first !== null && !Array.isArray(first) ? { ...(first as Record<string, unknown>) } : {};
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

function objectOr(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {};
}
