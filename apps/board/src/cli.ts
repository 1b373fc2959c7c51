/**
 * The `postern-board` command line: {@link parseBoardCommand} turns argv into a checked
 * {@link BoardCommand} (every mistake a {@link BoardError} `BAD_ARGUMENT` whose one-line message
 * names the flag), before anything is opened or written.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseIpv4, parseMac } from '@postern/wire';
import type { MacAddress } from '@postern/wire';
import { DEFAULT_BOARD_ID, DEFAULT_BOARD_SLOT_SIZE, DEFAULT_GADGET_PORT } from './dev-board.js';
import { BoardError } from './errors.js';
import { INSTALL_PATHS } from './install.js';
import { DEFAULT_BOARD_NETWORK } from './network.js';
import type { BoardNetwork } from './network.js';

/** The `--help` text. */
export const BOARD_HELP = `Usage:
  postern-board run --trusted-key KEY.pub [options]    run the board (as root)
  postern-board install --trusted-key KEY.pub [--root DIR] [--board-id ID] [--eth IF]
                                                      write the USB gadget script and the systemd unit

The board: on one USB serial port (a configfs CDC-ACM gadget, /dev/ttyGS0), the USB Ethernet device
(docs/device-protocol.md) bridged to the board's Ethernet, and the bootloader (docs/flash-protocol.md)
with slots A and B as files, trial boot and rollback; the booted image's NIC is the board's network.

run options:
  --port PATH            the USB serial port (default ${DEFAULT_GADGET_PORT}; a PTY works too)
  --eth IF               the board's Ethernet interface (default ${DEFAULT_BOARD_NETWORK.ethernet})
  --bridge NAME          the bridge joining it with the board's TAP devices (default ${DEFAULT_BOARD_NETWORK.bridge})
  --device-tap NAME      the USB Ethernet device's TAP (default ${DEFAULT_BOARD_NETWORK.deviceTap})
  --firmware-tap NAME    the firmware image's TAP (default ${DEFAULT_BOARD_NETWORK.firmwareTap})
  --state DIR            slots and unpacked images (default ${INSTALL_PATHS.state})
  --trusted-key FILE     the Ed25519 public key (PEM) images must be signed with (required)
  --board-id ID          the board id images must target (default ${DEFAULT_BOARD_ID})
  --mac MAC              the USB Ethernet device's MAC (default 02:50:53:42:00:01)
  --image-ip CIDR        the booted image's address (default: its configuration's)
  --trial-timeout MS     reset a trial image not confirmed within MS (default 60000; 0: never)
  --slot-size BYTES      bytes per slot (default ${DEFAULT_BOARD_SLOT_SIZE})

install options:
  --root DIR             write under DIR instead of / (a staging tree)
  --trusted-key FILE     copied to ${INSTALL_PATHS.trustedKey}
  --board-id ID, --eth IF  passed to the unit's postern-board run

Exit status: 0 on success and after SIGINT/SIGTERM; 2 for a bad command line; 1 otherwise.
`;

/** `postern-board run`. */
export interface RunCommand {
  readonly kind: 'run';
  readonly port: string;
  readonly network: BoardNetwork;
  readonly stateDirectory: string;
  readonly trustedKeyPem: string;
  readonly boardId: string;
  readonly mac: MacAddress | undefined;
  readonly imageAddress: string | undefined;
  readonly trialTimeoutMs: number | undefined;
  readonly slotSize: number;
}

/** `postern-board install`. */
export interface InstallCommand {
  readonly kind: 'install';
  readonly root: string;
  readonly trustedKeyPem: string;
  readonly boardId: string;
  readonly ethernet: string;
}

/** A parsed command line. */
export type BoardCommand = RunCommand | InstallCommand | { readonly kind: 'help' };

const bad = (message: string): BoardError => new BoardError('BAD_ARGUMENT', message);

const RUN_FLAGS = {
  port: { type: 'string' },
  eth: { type: 'string' },
  bridge: { type: 'string' },
  'device-tap': { type: 'string' },
  'firmware-tap': { type: 'string' },
  state: { type: 'string' },
  'trusted-key': { type: 'string' },
  'board-id': { type: 'string' },
  mac: { type: 'string' },
  'image-ip': { type: 'string' },
  'trial-timeout': { type: 'string' },
  'slot-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const INSTALL_FLAGS = {
  root: { type: 'string' },
  'trusted-key': { type: 'string' },
  'board-id': { type: 'string' },
  eth: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function flags<T extends typeof RUN_FLAGS | typeof INSTALL_FLAGS>(
  argv: readonly string[],
  options: T,
): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = err instanceof Error ? err.message : String(err);
    const quoted = /'([^']*)'/.exec(msg)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw bad(`unknown flag ${quoted}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw bad(`unexpected argument ${JSON.stringify(quoted)}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      throw bad(`${/--[A-Za-z0-9-]+/.exec(quoted)?.[0] ?? quoted} needs a value`);
    throw bad(msg.split('\n')[0]!);
  }
}

function ifname(flag: string, value: string | undefined, fallback: string): string {
  const v = value ?? fallback;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v))
    throw bad(`--${flag} ${JSON.stringify(v)}: not an interface name (1..15 of A-Z a-z 0-9 _ . -)`);
  return v;
}

function readKey(value: string | undefined): string {
  if (value === undefined || value === '')
    throw bad('--trusted-key FILE is required (postern-flash keygen writes PREFIX.pub)');
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw bad(`--trusted-key ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!text.includes('-----BEGIN PUBLIC KEY-----')) throw bad(`--trusted-key ${value}: not a PEM public key`);
  return text;
}

function wholeNumber(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw bad(`--${flag} wants a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function boardId(value: string | undefined): string {
  const v = value ?? DEFAULT_BOARD_ID;
  if (!/^[\x21-\x7e]{1,64}$/.test(v))
    throw bad(`--board-id ${JSON.stringify(v)}: 1..64 printable characters without spaces`);
  return v;
}

/**
 * Parses `argv` (without the node and script paths). Reads the key file named by `--trusted-key`.
 * @throws {@link BoardError} `BAD_ARGUMENT`, one line naming the flag or argument.
 */
export function parseBoardCommand(argv: readonly string[]): BoardCommand {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return { kind: 'help' };
  if (sub === 'run') {
    const v = flags(rest, RUN_FLAGS);
    if (v['help'] === true) return { kind: 'help' };
    const s = (k: string): string | undefined => v[k] as string | undefined;
    let mac: MacAddress | undefined;
    if (s('mac') !== undefined) {
      try {
        mac = parseMac(s('mac')!);
      } catch {
        throw bad(`--mac ${s('mac')}: not a MAC address (aa:bb:cc:dd:ee:ff)`);
      }
    }
    const cidr = s('image-ip');
    if (cidr !== undefined) {
      const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
      let ok = m !== null && Number(m[2]) <= 32;
      try {
        if (ok) parseIpv4(m![1]!);
      } catch {
        ok = false;
      }
      if (!ok) throw bad(`--image-ip ${cidr}: want ADDRESS/PREFIX, e.g. 198.18.0.1/24`);
    }
    const port = s('port') ?? DEFAULT_GADGET_PORT;
    if (port === '') throw bad('--port needs a value');
    return {
      kind: 'run',
      port,
      network: {
        ethernet: ifname('eth', s('eth'), DEFAULT_BOARD_NETWORK.ethernet),
        bridge: ifname('bridge', s('bridge'), DEFAULT_BOARD_NETWORK.bridge),
        deviceTap: ifname('device-tap', s('device-tap'), DEFAULT_BOARD_NETWORK.deviceTap),
        firmwareTap: ifname('firmware-tap', s('firmware-tap'), DEFAULT_BOARD_NETWORK.firmwareTap),
      },
      stateDirectory: s('state') ?? INSTALL_PATHS.state,
      boardId: boardId(s('board-id')),
      mac,
      imageAddress: cidr,
      trialTimeoutMs: wholeNumber('trial-timeout', s('trial-timeout'), 0),
      slotSize: wholeNumber('slot-size', s('slot-size'), 1024) ?? DEFAULT_BOARD_SLOT_SIZE,
      trustedKeyPem: readKey(s('trusted-key')),
    };
  }
  if (sub === 'install') {
    const v = flags(rest, INSTALL_FLAGS);
    if (v['help'] === true) return { kind: 'help' };
    const s = (k: string): string | undefined => v[k] as string | undefined;
    const root = s('root') ?? '/';
    if (root === '') throw bad('--root needs a value');
    return {
      kind: 'install',
      root,
      boardId: boardId(s('board-id')),
      ethernet: ifname('eth', s('eth'), DEFAULT_BOARD_NETWORK.ethernet),
      trustedKeyPem: readKey(s('trusted-key')),
    };
  }
  throw bad(`unknown command ${JSON.stringify(sub)} (run or install; see --help)`);
}
