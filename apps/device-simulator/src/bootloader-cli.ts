/**
 * The `postern-sim` flags of the simulated dev board with a bootloader (`--flash FILE` and its
 * companions), kept apart from the simulator's own flags: {@link extractBootloaderFlags} takes them
 * out of argv and leaves the rest for `parseCommandLine`; {@link runBootloaderBoard} runs the board.
 */
import { readFileSync } from 'node:fs';
import { ipv4ToString } from '@postern/wire';
import { startBootloaderBoard } from './bootloader-endpoint.js';
import { SimulatorError } from './errors.js';
import type { SimulatorOptions } from './simulator.js';

/** Help text for the bootloader flags (appended to `postern-sim --help`). */
export const BOOTLOADER_HELP_TEXT = `
The dev board with a bootloader (docs/flash-protocol.md):
  --flash FILE           keep the board's flash (slots A and B) in FILE and speak the serial
                         bootloader protocol on --serial (for postern-flash); the image the
                         bootloader boots runs as a process whose NIC is the simulated device
  --trusted-key FILE     the Ed25519 public key (PEM) images must be signed with (required with
                         --flash; postern-flash keygen writes one)
  --board-id ID          the board id images must target (default postern-devboard-1)
  --trial-timeout MS     reset a trial image that has not confirmed within MS (default 60000; 0: never)
`;

/** The bootloader flags given. */
export interface BootloaderFlags {
  readonly flashFile: string;
  readonly trustedKeyFile: string;
  readonly boardId: string | undefined;
  readonly trialTimeoutMs: number | undefined;
}

const FLAGS = new Set(['--flash', '--trusted-key', '--board-id', '--trial-timeout']);

/**
 * Takes the bootloader flags out of `argv`. `flags` is undefined without `--flash`.
 * @throws {@link SimulatorError} `BAD_ARGUMENT` for a missing value, `--trusted-key` without `--flash` or the reverse, or a bad timeout.
 */
export function extractBootloaderFlags(argv: readonly string[]): {
  rest: string[];
  flags: BootloaderFlags | undefined;
} {
  const rest: string[] = [];
  const got = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!FLAGS.has(name)) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '')
      throw new SimulatorError('BAD_ARGUMENT', `${name} needs a value (see --help)`);
    got.set(name, value);
  }
  const flashFile = got.get('--flash');
  if (flashFile === undefined) {
    if (got.size > 0) throw new SimulatorError('BAD_ARGUMENT', `${[...got.keys()][0]} needs --flash FILE (see --help)`);
    return { rest, flags: undefined };
  }
  const trustedKeyFile = got.get('--trusted-key');
  if (trustedKeyFile === undefined)
    throw new SimulatorError('BAD_ARGUMENT', '--flash needs --trusted-key FILE (see --help)');
  const t = got.get('--trial-timeout');
  const trialTimeoutMs = t === undefined ? undefined : Number(t);
  if (trialTimeoutMs !== undefined && !(Number.isInteger(trialTimeoutMs) && trialTimeoutMs >= 0))
    throw new SimulatorError('BAD_ARGUMENT', `--trial-timeout wants milliseconds, got ${JSON.stringify(t)}`);
  return { rest, flags: { flashFile, trustedKeyFile, boardId: got.get('--board-id'), trialTimeoutMs } };
}

/** Runs the board until SIGINT/SIGTERM, printing what postern-flash needs. */
export async function runBootloaderBoard(
  flags: BootloaderFlags,
  options: SimulatorOptions,
  say: (line: string) => void,
): Promise<void> {
  let key: string;
  try {
    key = readFileSync(flags.trustedKeyFile, 'utf8');
  } catch (err) {
    throw new SimulatorError(
      'BAD_ARGUMENT',
      `--trusted-key ${flags.trustedKeyFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const { serial, ...simulator } = options;
  const board = await startBootloaderBoard({
    flashFile: flags.flashFile,
    trustedKey: key,
    boardId: flags.boardId,
    trialTimeoutMs: flags.trialTimeoutMs,
    serial: serial ?? 'pty',
    simulator,
    log: (line) => say(line),
  });
  say(`flash port ${board.flashPort.address ?? ''} (postern-flash --port ${board.flashPort.address ?? ''} IMAGE.fw)`);
  say(
    `board ${board.bootloader.boardId}, flash ${flags.flashFile}, running ${board.firmware === undefined ? 'nothing (bootloader)' : `slot ${board.firmware.slot}`}`,
  );
  say(`gateway expected at ${ipv4ToString(board.simulator.gatewayAddress)}`);
  for (const f of board.simulator.forwarders) say(`hostfwd ${f.describe()}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    board.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  say('ready'); // once the signal handlers are in place: a signal right after it stops cleanly
}
