/**
 * The `postern-flash` command ({@link runFlashCli}) and `postern-keygen` ({@link runKeygenCli}):
 *
 * ```
 * postern-flash --port PATH|socket://HOST:PORT [--key KEY] IMAGE.fw    flash, verify, boot on trial
 * postern-flash info --port ...                            the board's bootloader INFO
 * postern-flash confirm --port ...                         confirm the running firmware
 * postern-flash reboot --port ...                          reset the board
 * postern-flash build [--key KEY.pem] --out IMAGE.fw [--target ID] [--serialport stub|external]
 * postern-flash keygen --out PREFIX [--force]              PREFIX.key (private, 0600) and PREFIX.pub
 * ```
 *
 * The command line is checked completely before anything is created, read from a board or sent to
 * it. Every failure prints ONE line on stderr (`postern-flash: ...`) and exits non-zero: 2 for a bad
 * command line (naming the flag or argument), 1 otherwise; a flash stopped by SIGINT exits 130
 * (SIGTERM 143) after saying at which chunk it stopped. Progress is a bar on a TTY and plain lines
 * otherwise.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { InfoFlag, NO_SLOT, generateSigningKeyPair, slotStateName } from '@postern/firmware';
import { DEFAULT_BOARD_ID, buildFirmwareImage } from './build.js';
import { BootloaderClient, FlashError } from './client.js';
import { flashImage, readBoardInfo } from './flash.js';
import type { FlashProgress } from './flash.js';
import {
  KeyFileExistsError,
  PRIVATE_KEY_MODE,
  PUBLIC_KEY_MODE,
  writeFileAtomically,
  writeKeyPair,
} from './key-files.js';

/** The `--help` text. */
export const FLASH_HELP = `Usage:
  postern-flash --port PATH|socket://HOST:PORT [--key KEY] IMAGE.fw
                                                          flash IMAGE.fw into the free slot, verify it, boot it on trial;
                                                          KEY (.pub or .key): the key the board trusts, to check the
                                                          signature before sending (default: the key the image carries)
  postern-flash info    --port ...                        print the board's bootloader information
  postern-flash confirm --port ...                        confirm the running (trial) firmware
  postern-flash reboot  --port ...                        reset the board
  postern-flash build   [--key KEY] --out IMAGE.fw [--target ID] [--serialport stub|external]
                                                          bundle and sign the gateway image (KEY default:
                                                          $POSTERN_SIGNING_KEY, else ~/.postern/dev-signing.key)
  postern-flash keygen  --out PREFIX [--force]            write PREFIX.key (Ed25519 private, mode 0600) and PREFIX.pub;
                                                          --force replaces existing files
  --timeout MS (with --port): time to wait for each answer (default 1000)

An interrupted flash (Ctrl-C, a lost link) says at which chunk it stopped; run the same command
again with the same image and it resumes there.
Exit status: 0 on success; 1 with one line on stderr on failure; 2 for a bad command line;
130 after SIGINT (143 after SIGTERM) during a flash.
`;

/** Something that delivers process signals: `process`, or a test's emitter. */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/** Where the CLI writes. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Draw a progress bar (a TTY) rather than plain lines. */
  tty: boolean;
  /** The program name in messages. Default `postern-flash`. */
  program?: string;
  /** Where SIGINT/SIGTERM come from while a flash runs (they stop it cleanly). Default `process`. */
  signals?: SignalSource;
}

class Usage extends Error {}

/** Environment variable naming the signing key `build` uses when `--key` is not given. */
export const SIGNING_KEY_ENV = 'POSTERN_SIGNING_KEY';

/**
 * The key `build` signs with when `--key` is not given: `$POSTERN_SIGNING_KEY`, else a development
 * key kept in `~/.postern/dev-signing.key` (made on first use with mode 0600, its public half beside
 * it in `dev-signing.pub`, which is what a dev board is told to trust). Never use it for a real product.
 */
export function devSigningKey(io: CliIo): string {
  const fromEnv = process.env[SIGNING_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const dir = join(homedir(), '.postern');
  const path = join(dir, 'dev-signing.key');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const k = generateSigningKeyPair();
    writeFileAtomically(path, k.privateKeyPem, PRIVATE_KEY_MODE, false);
    writeFileAtomically(join(dir, 'dev-signing.pub'), k.publicKeyPem, PUBLIC_KEY_MODE, true);
    io.err(
      `${io.program ?? 'postern-flash'}: made a development signing key ${path} (public key ${join(dir, 'dev-signing.pub')}, fingerprint ${k.fingerprint})\n`,
    );
  }
  return path;
}

/** Progress as a bar (TTY) or plain lines; `endLine` ends a bar left mid-line (before an error). */
function progressPrinter(io: CliIo, program: string): { onProgress: (p: FlashProgress) => void; endLine: () => void } {
  let lastTenth = -1;
  let lastPhase = '';
  let midLine = false;
  const onProgress = (p: FlashProgress): void => {
    if (p.phase === 'write' && p.total > 0) {
      if (io.tty) {
        const width = 30;
        const fill = Math.round((p.done / p.total) * width);
        io.err(
          `\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${Math.floor((p.done / p.total) * 100)}% ${p.done}/${p.total} chunks`,
        );
        midLine = p.done !== p.total;
        if (!midLine) io.err('\n');
      } else {
        const tenth = Math.floor((p.done / p.total) * 10);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          io.err(`${program}: write ${p.done}/${p.total} chunks (${tenth * 10}%)\n`);
        }
      }
      return;
    }
    if (p.phase !== lastPhase) {
      lastPhase = p.phase;
      if (p.phase !== 'done') io.err(`${program}: ${p.phase}\n`);
    }
  };
  return {
    onProgress,
    endLine: () => {
      if (midLine) io.err('\n');
      midLine = false;
    },
  };
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new Usage(`${flag} is required`);
  return v;
}

/** The options each command takes (besides --help). */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  flash: ['port', 'key', 'timeout'],
  info: ['port', 'timeout'],
  confirm: ['port', 'timeout'],
  reboot: ['port', 'timeout'],
  build: ['key', 'out', 'target', 'serialport'],
  keygen: ['out', 'force'],
};

/** Reads a file the command line names; a failure is one line naming it. */
function readNamedFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new FlashError(
      'BAD_ARGUMENT',
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Runs a flash with SIGINT/SIGTERM turned into a clean stop: the transfer is abandoned at once,
 * the board keeps the chunks it has (a rerun resumes), and the status is 128 + the signal number.
 */
async function flashWithSignals(run: (signal: AbortSignal) => Promise<number>, io: CliIo): Promise<number> {
  const signals = io.signals ?? process;
  const abort = new AbortController();
  let received: 'SIGINT' | 'SIGTERM' | undefined;
  const onInt = (): void => {
    received ??= 'SIGINT';
    abort.abort();
  };
  const onTerm = (): void => {
    received ??= 'SIGTERM';
    abort.abort();
  };
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  try {
    return await run(abort.signal);
  } catch (err) {
    if (err instanceof FlashError && err.code === 'INTERRUPTED') {
      io.err(`${io.program ?? 'postern-flash'}: ${err.message}\n`);
      return received === 'SIGTERM' ? 143 : 130;
    }
    throw err;
  } finally {
    // Kept until the end: a second Ctrl-C (the terminal's and the launcher's) must not kill the process silently.
    signals.off('SIGINT', onInt);
    signals.off('SIGTERM', onTerm);
  }
}

/** Runs the command line `argv` (without node and the script); resolves with the exit status. */
export async function runFlashCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = io.program ?? 'postern-flash';
  const progress = progressPrinter(io, program);
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string', short: 'p' },
        key: { type: 'string' },
        out: { type: 'string', short: 'o' },
        target: { type: 'string' },
        serialport: { type: 'string' },
        timeout: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) {
      io.out(FLASH_HELP);
      return 0;
    }
    const first = positionals[0];
    const command = first !== undefined && first in COMMAND_OPTIONS && first !== 'flash' ? first : 'flash';
    const args = command === 'flash' ? positionals : positionals.slice(1);
    for (const name of Object.keys(values)) {
      if (name !== 'help' && !COMMAND_OPTIONS[command]!.includes(name)) {
        throw new Usage(
          command === 'flash'
            ? `--${name} does not apply to flashing an image`
            : `--${name} does not apply to ${command}`,
        );
      }
    }
    const wanted = command === 'flash' ? 1 : 0;
    if (args.length > wanted) throw new Usage(`unexpected argument ${JSON.stringify(args[wanted])}`);
    if (command === 'flash' && args.length === 0) throw new Usage('an image file is required');
    for (const [name, v] of Object.entries(values)) if (v === '') throw new Usage(`--${name} wants a value`);
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(timeout > 0 && Number.isFinite(timeout)))
      throw new Usage(`--timeout wants milliseconds > 0, not ${JSON.stringify(values.timeout)}`);
    switch (command) {
      case 'keygen': {
        const prefix = need(values.out, '--out');
        const k = generateSigningKeyPair();
        let written;
        try {
          written = writeKeyPair(prefix, k, values.force === true);
        } catch (err) {
          if (err instanceof KeyFileExistsError) throw err;
          throw new FlashError(
            'BAD_ARGUMENT',
            `cannot write ${prefix}.key: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          );
        }
        io.out(`wrote ${written.keyPath} and ${written.pubPath}, fingerprint ${k.fingerprint}\n`);
        return 0;
      }
      case 'build': {
        const out = need(values.out, '--out');
        const serialport = values.serialport ?? 'stub';
        if (serialport !== 'stub' && serialport !== 'external')
          throw new Usage(`--serialport wants stub or external, not ${JSON.stringify(serialport)}`);
        const keyPath = values.key ?? devSigningKey(io);
        const key = readNamedFile(keyPath, 'signing key').toString('utf8');
        const { image, manifest } = await buildFirmwareImage({
          privateKey: key,
          target: values.target ?? DEFAULT_BOARD_ID,
          serialport,
        });
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, image);
        io.out(
          `wrote ${out}: ${manifest.name} ${manifest.version} build ${manifest.buildId} for ${manifest.target}, ${image.length} bytes, sha256 ${manifest.sha256}\n`,
        );
        return 0;
      }
      case 'info': {
        const info = await readBoardInfo(need(values.port, '--port'), { requestTimeoutMs: timeout });
        const slot = (s: number): string => (s === NO_SLOT ? 'none' : String.fromCharCode(65 + s));
        io.out(
          `board ${info.boardId}, bootloader ${info.bootloaderVersion.major}.${info.bootloaderVersion.minor}, protocol ${info.protocolVersion}\n`,
        );
        io.out(
          `slots of ${info.slotSize} bytes in chunks of ${info.chunkSize}; running ${slot(info.runningSlot)}${(info.flags & InfoFlag.RUNNING_TRIAL) !== 0 ? ' (trial)' : ''}, confirmed ${slot(info.confirmedSlot)}, trial ${slot(info.trialSlot)}${(info.flags & InfoFlag.ROLLED_BACK) !== 0 ? ', rolled back at the last boot' : ''}\n`,
        );
        io.out(`trusted key ${Buffer.from(info.keyFingerprint).toString('hex')}\n`);
        info.slots.forEach((s, i) =>
          io.out(
            `slot ${slot(i)}: ${slotStateName(s.state)}, ${s.imageSize} bytes, ${s.writtenChunks} chunks written, sha256 ${Buffer.from(s.imageDigest).toString('hex')}\n`,
          ),
        );
        return 0;
      }
      case 'confirm':
      case 'reboot': {
        const client = await BootloaderClient.open(need(values.port, '--port'), { requestTimeoutMs: timeout });
        try {
          if (command === 'confirm') io.out(`confirmed slot ${String.fromCharCode(65 + (await client.confirm()))}\n`);
          else {
            await client.reboot();
            io.out('rebooting\n');
          }
        } finally {
          await client.close();
        }
        return 0;
      }
      default: {
        const port = need(values.port, '--port');
        const file = args[0]!;
        const image = new Uint8Array(readNamedFile(file, 'image'));
        const trustedKey = values.key === undefined ? undefined : readNamedFile(values.key, 'key').toString('utf8');
        return await flashWithSignals(
          async (signal) => {
            const r = await flashImage(image, {
              endpoint: port,
              onProgress: progress.onProgress,
              requestTimeoutMs: timeout,
              trustedKey,
              signal,
            });
            io.out(
              `flashed ${r.manifest?.name ?? 'image'} ${r.manifest?.version ?? ''} build ${r.manifest?.buildId ?? '?'} into slot ${String.fromCharCode(65 + r.slot)} of ${r.boardId}` +
                ` (${r.sentChunks} chunks sent, ${r.resumedChunks} already there); ${r.rebooted ? 'rebooted into it on trial' : 'it boots at the next reset'}\n`,
            );
            return 0;
          },
          {
            ...io,
            err: (t) => {
              progress.endLine();
              io.err(t);
            },
          },
        );
      }
    }
  } catch (err) {
    progress.endLine();
    if (
      err instanceof Usage ||
      (err instanceof Error && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true)
    ) {
      io.err(`${program}: ${err.message.split('\n')[0]} (see --help)\n`);
      return 2;
    }
    io.err(`${program}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return 1;
  }
}

/** `postern-keygen ARGS`: the same as `postern-flash keygen ARGS`, with `postern-keygen` in its messages. */
export function runKeygenCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runFlashCli(['keygen', ...argv], { program: 'postern-keygen', ...io });
}
