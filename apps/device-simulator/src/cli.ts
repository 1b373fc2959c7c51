/**
 * The `postern-sim` command line: {@link parseCommandLine} turns argv into {@link SimulatorOptions}
 * (or a request for help), throwing a one-line {@link SimulatorError} for anything wrong, and
 * {@link HELP_TEXT} documents every flag.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseIpv4, parseMac, ipv4ToString, macToString } from '@postern/wire';
import {
  DEFAULT_DEVICE_MAC,
  DEFAULT_GATEWAY_ADDRESS,
  DEFAULT_HOST_ADDRESS,
  DEFAULT_HOST_MAC,
  DEFAULT_PREFIX_LENGTH,
  DEFAULT_SEED,
} from './defaults.js';
import { SimulatorError } from './errors.js';
import { parseHostForward } from './hostfwd.js';
import { checkSerialSpec } from './serial-endpoint.js';
import type { SimulatorFaults, SimulatorOptions } from './simulator.js';

/** The text `postern-sim --help` prints. */
export const HELP_TEXT = `postern-sim: plays the USB Ethernet device and the network around the Postern gateway.

Usage: postern-sim [flags]

The device (docs/device-protocol.md, board side):
  --serial pty                  create a pseudo-terminal and print its path; the gateway opens it
                                as it would open /dev/ttyACM0 (default; needs python3)
  --serial socket://HOST:PORT   listen on HOST:PORT (HOST in 127.0.0.0/8; PORT 0 picks a free port)
                                and speak the same byte stream; one gateway connection at a time
  --mac MAC                     the device's station MAC (default ${macToString(DEFAULT_DEVICE_MAC)})
  --line-rate BYTES             pace the serial line to BYTES per second (USB full speed: 1000000;
                                default unpaced)

The segment (a learning switch) and the simulated host (Postern's own IP stack and TCP):
  --gateway ADDR                where the gateway is on the segment; the host's default route and
                                hostfwd's default target (default ${ipv4ToString(DEFAULT_GATEWAY_ADDRESS)})
  --host ADDR/LEN               the simulated host's address and the segment's prefix
                                (default ${ipv4ToString(DEFAULT_HOST_ADDRESS)}/${DEFAULT_PREFIX_LENGTH}; MAC ${macToString(DEFAULT_HOST_MAC)})
  --hostfwd tcp:[HADDR]:HPORT-[ADDR]:PORT
                                repeatable: listen on HADDR:HPORT (default HADDR 127.0.0.1, must be
                                in 127.0.0.0/8) and relay each connection through the simulated
                                host's TCP to ADDR:PORT (default ADDR: --gateway), as QEMU's hostfwd
  --tap NAME                    bridge the segment to a new Linux TAP device NAME, so the kernel and
                                real programs are peers on it (needs root)
  --pcap FILE                   capture every frame on the segment into FILE (pcap, Ethernet)

Faults on the device's wire side (both directions; seeded, so a run replays from its seed):
  --loss P      drop a frame with probability P (0..1)
  --dup P       duplicate a frame with probability P
  --reorder P   hold a frame back behind the next one with probability P
  --corrupt P   flip a bit with probability P (the FCS then fails and the frame is dropped)
  --latency MS  add MS milliseconds of one-way latency
  --rate BITS   limit the wire to BITS bits per second
  --seed N      the fault generator's seed (default ${DEFAULT_SEED})

  -h, --help    print this text

On start it prints what the gateway needs, one item per line, e.g.
  postern-sim: serial /dev/pts/5
  postern-sim: hostfwd 127.0.0.1:8080 -> ${ipv4ToString(DEFAULT_GATEWAY_ADDRESS)}:80
  postern-sim: ready
and runs until SIGINT or SIGTERM. Errors print one line on stderr and exit non-zero
(2 for a bad flag, 1 otherwise).

Example:
  postern-sim --serial pty --hostfwd tcp:127.0.0.1:8080-${ipv4ToString(DEFAULT_GATEWAY_ADDRESS)}:80 --pcap segment.pcap
  (then give the printed serial path to the gateway, configured as ${ipv4ToString(DEFAULT_GATEWAY_ADDRESS)}/${DEFAULT_PREFIX_LENGTH})
`;

/** What the command line asks for. */
export type CommandLine = { help: true } | { help: false; options: SimulatorOptions };

function bad(message: string): SimulatorError {
  return new SimulatorError('BAD_ARGUMENT', message);
}

function probability(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v))
    throw bad(`--${flag} ${text}: is not a number (a probability in 0..1)`);
  if (v < 0 || v > 1) throw bad(`--${flag} ${text}: must be a probability in 0..1`);
  return v;
}

function nonNegative(flag: string, text: string | undefined, integer: boolean, positive = false): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  const what = integer ? 'an integer' : 'a number';
  const bound = positive ? '> 0' : '>= 0';
  if (text.trim() === '' || !Number.isFinite(v)) throw bad(`--${flag} ${text}: is not a number (${what} ${bound})`);
  if (v < 0 || (positive && v === 0)) throw bad(`--${flag} ${text}: must be ${bound}`);
  if (integer && !Number.isInteger(v)) throw bad(`--${flag} ${text}: must be ${what} ${bound}`);
  return v;
}

function address(flag: string, text: string): number {
  try {
    return parseIpv4(text);
  } catch {
    throw bad(`--${flag} ${text}: is not an IPv4 address`);
  }
}

/** The flags a command takes, as `node:util` `parseArgs` describes them. */
export type FlagTable = NonNullable<ParseArgsConfig['options']>;

/** A command line that `node:util` `parseArgs` refused; `message` is one line naming the flag or argument. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/**
 * The one argument parser of the Postern commands: `node:util` `parseArgs` in strict mode without
 * positionals, with two additions. A value that starts with `-` but is not a flag (`--latency -5`,
 * `--offset -0.5`) is taken as the value of the string flag before it, so the value's own check
 * can say what is wrong with it. And parseArgs' errors become one line each: `unknown flag
 * --bogus`, `unexpected argument "stray"`, `--tap needs a value`, `--help takes no value`.
 * @throws {@link FlagError}
 */
export function parseFlags<T extends FlagTable>(argv: readonly string[], options: T): ParsedValues<T> {
  const args = [...argv];
  for (let i = 0; i + 1 < args.length && args[i] !== '--'; i++) {
    const a = args[i]!;
    const next = args[i + 1]!;
    if (!a.startsWith('--') || a.includes('=') || options[a.slice(2)]?.type !== 'string') continue;
    if (next.startsWith('-') && !/^--?[A-Za-z]/.test(next)) args.splice(i, 2, `${a}=${next}`);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as ParsedValues<T>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = err instanceof Error ? err.message : String(err);
    const quoted = /'([^']*)'/.exec(msg)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new FlagError(`unknown flag ${quoted}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw new FlagError(`unexpected argument ${JSON.stringify(quoted)}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /--[A-Za-z0-9-]+/.exec(quoted)?.[0] ?? quoted;
      throw new FlagError(
        msg.includes('does not take an argument') ? `${flag} takes no value` : `${flag} needs a value`,
      );
    }
    throw new FlagError(msg.split('\n')[0]!);
  }
}

/** What {@link parseFlags} returns for an options table: each flag's string(s) or boolean, absent when not given. */
export type ParsedValues<T extends FlagTable> = {
  [K in keyof T]?: T[K] extends { type: 'boolean' }
    ? T[K] extends { multiple: true }
      ? boolean[]
      : boolean
    : T[K] extends { multiple: true }
      ? string[]
      : string;
};

const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  serial: { type: 'string' },
  mac: { type: 'string' },
  'line-rate': { type: 'string' },
  gateway: { type: 'string' },
  host: { type: 'string' },
  hostfwd: { type: 'string', multiple: true },
  tap: { type: 'string' },
  pcap: { type: 'string' },
  loss: { type: 'string' },
  dup: { type: 'string' },
  reorder: { type: 'string' },
  corrupt: { type: 'string' },
  latency: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
} as const satisfies FlagTable;

/**
 * Parses `argv` (without the node and script paths).
 * @throws {@link SimulatorError} `BAD_ARGUMENT` with a one-line message for an unknown flag, a
 *   missing value or a malformed one.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let values;
  try {
    values = parseFlags(argv, FLAGS);
  } catch (err) {
    if (err instanceof FlagError) throw bad(`${err.message} (see --help)`);
    throw err;
  }
  if (values.help === true) return { help: true };

  const serial = values.serial ?? 'pty';
  if (serial === 'stream') throw bad('--serial stream is for the library API only; use pty or socket://127.0.0.1:PORT');
  checkSerialSpec(serial);

  let deviceMac = DEFAULT_DEVICE_MAC;
  if (values.mac !== undefined) {
    try {
      deviceMac = parseMac(values.mac);
    } catch {
      throw bad(`--mac ${values.mac}: is not a MAC address aa:bb:cc:dd:ee:ff`);
    }
  }
  const gatewayAddress = values.gateway === undefined ? DEFAULT_GATEWAY_ADDRESS : address('gateway', values.gateway);
  let hostAddress = DEFAULT_HOST_ADDRESS;
  let prefixLength = DEFAULT_PREFIX_LENGTH;
  if (values.host !== undefined) {
    const [a, len, extra] = values.host.split('/');
    hostAddress = address('host', a!);
    if (len !== undefined) {
      const n = Number(len);
      if (extra !== undefined || len === '' || !Number.isInteger(n) || n < 1 || n > 30)
        throw bad(`--host ${values.host}: is not ADDR/LEN with LEN in 1..30`);
      prefixLength = n;
    }
  }
  if (hostAddress === gatewayAddress) throw bad('--host and --gateway must differ');

  const faults: SimulatorFaults = {};
  const set = <K extends keyof SimulatorFaults>(k: K, v: number | undefined): void => {
    if (v !== undefined) faults[k] = v;
  };
  set('lossRate', probability('loss', values.loss));
  set('duplicateRate', probability('dup', values.dup));
  set('reorderRate', probability('reorder', values.reorder));
  set('corruptRate', probability('corrupt', values.corrupt));
  set('latencyMs', nonNegative('latency', values.latency, false));
  set('bitsPerSecond', nonNegative('rate', values.rate, false, true));
  const seed = nonNegative('seed', values.seed, true) ?? DEFAULT_SEED;
  const lineRate = nonNegative('line-rate', values['line-rate'], false, true);

  const hostForwards = (values.hostfwd ?? []).map((spec) => parseHostForward(spec, gatewayAddress));
  if (values.tap !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(values.tap))
    throw bad(`--tap ${values.tap}: is not an interface name of 1..15 letters, digits, '_', '.', '-'`);
  if (values.pcap === '') throw bad('--pcap: needs a file name');

  const options: SimulatorOptions = {
    serial,
    seed,
    deviceMac,
    gatewayAddress,
    hostAddress,
    prefixLength,
    hostForwards,
    faults,
    tap: values.tap,
    pcap: values.pcap,
    lineRateBytesPerSecond: lineRate,
  };
  return { help: false, options };
}
