/**
 * The `postern-flash` command ({@link runFlashCli}):
 *
 * ```
 * postern-flash --port PATH|socket://HOST:PORT IMAGE.fw    flash, verify, boot on trial
 * postern-flash info --port ...                            the board's bootloader INFO
 * postern-flash confirm --port ...                         confirm the running firmware
 * postern-flash reboot --port ...                          reset the board
 * postern-flash build [--key KEY.pem] --out IMAGE.fw [--target ID] [--serialport stub|external]
 * postern-flash keygen --out PREFIX                        PREFIX.key (private) and PREFIX.pub
 * ```
 *
 * Every failure prints ONE line on stderr (`postern-flash: ...`) and exits non-zero: 2 for a bad
 * command line, 1 otherwise. Progress is a bar on a TTY and plain lines otherwise.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FirmwareError, InfoFlag, NO_SLOT, generateSigningKeyPair, slotStateName } from '@postern/firmware';
import { DEFAULT_BOARD_ID, buildFirmwareImage } from './build.js';
import { BootloaderClient, FlashError } from './client.js';
import { flashImage, readBoardInfo } from './flash.js';
import type { FlashProgress } from './flash.js';

/** The `--help` text. */
export const FLASH_HELP = `Usage:
  postern-flash --port PATH|socket://HOST:PORT IMAGE.fw   flash IMAGE.fw into the free slot, verify it, boot it on trial
  postern-flash info    --port ...                        print the board's bootloader information
  postern-flash confirm --port ...                        confirm the running (trial) firmware
  postern-flash reboot  --port ...                        reset the board
  postern-flash build   [--key KEY] --out IMAGE.fw [--target ID] [--serialport stub|external]
                                                          bundle and sign the gateway image (KEY default:
                                                          $POSTERN_SIGNING_KEY, else ~/.postern/dev-signing.key)
  postern-flash keygen  --out PREFIX                      write PREFIX.key (Ed25519 private) and PREFIX.pub

An interrupted flash resumes where it stopped when run again with the same image.
Exit status: 0 on success; 1 with one line on stderr on failure; 2 for a bad command line.
`;

/** Where the CLI writes. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Draw a progress bar (a TTY) rather than plain lines. */
  tty: boolean;
}

class Usage extends Error {}

/** Environment variable naming the signing key `build` uses when `--key` is not given. */
export const SIGNING_KEY_ENV = 'POSTERN_SIGNING_KEY';

/**
 * The key `build` signs with when `--key` is not given: `$POSTERN_SIGNING_KEY`, else a development
 * key kept in `~/.postern/dev-signing.key` (made on first use, its public half beside it in
 * `dev-signing.pub`, which is what a dev board is told to trust). Never use it for a real product.
 */
export function devSigningKey(io: CliIo): string {
  const fromEnv = process.env[SIGNING_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const dir = join(homedir(), '.postern');
  const path = join(dir, 'dev-signing.key');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const k = generateSigningKeyPair();
    writeFileSync(path, k.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'dev-signing.pub'), k.publicKeyPem);
    io.err(`postern-flash: made a development signing key ${path} (public key ${join(dir, 'dev-signing.pub')}, fingerprint ${k.fingerprint})\n`);
  }
  return path;
}

function progressPrinter(io: CliIo): (p: FlashProgress) => void {
  let lastTenth = -1;
  let lastPhase = '';
  return (p) => {
    if (p.phase === 'write' && p.total > 0) {
      if (io.tty) {
        const width = 30;
        const fill = Math.round((p.done / p.total) * width);
        io.err(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${Math.floor((p.done / p.total) * 100)}% ${p.done}/${p.total} chunks`);
        if (p.done === p.total) io.err('\n');
      } else {
        const tenth = Math.floor((p.done / p.total) * 10);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          io.err(`postern-flash: write ${p.done}/${p.total} chunks (${tenth * 10}%)\n`);
        }
      }
      return;
    }
    if (p.phase !== lastPhase) {
      lastPhase = p.phase;
      if (p.phase !== 'done') io.err(`postern-flash: ${p.phase}\n`);
    }
  };
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new Usage(`${flag} is required`);
  return v;
}

/** Runs the command line `argv` (without node and the script); resolves with the exit status. */
export async function runFlashCli(argv: readonly string[], io: CliIo): Promise<number> {
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
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) {
      io.out(FLASH_HELP);
      return 0;
    }
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(timeout > 0)) throw new Usage('--timeout wants milliseconds > 0');
    const command = positionals[0];
    switch (command) {
      case 'keygen': {
        if (positionals.length > 1) throw new Usage(`unexpected argument ${positionals[1]}`);
        const prefix = need(values.out, '--out');
        const k = generateSigningKeyPair();
        writeFileSync(`${prefix}.key`, k.privateKeyPem, { mode: 0o600 });
        writeFileSync(`${prefix}.pub`, k.publicKeyPem);
        io.out(`wrote ${prefix}.key and ${prefix}.pub, fingerprint ${k.fingerprint}\n`);
        return 0;
      }
      case 'build': {
        const serialport = values.serialport ?? 'stub';
        if (serialport !== 'stub' && serialport !== 'external') throw new Usage('--serialport wants stub or external');
        const key = readFileSync(values.key ?? devSigningKey(io), 'utf8');
        const out = need(values.out, '--out');
        const { image, manifest } = await buildFirmwareImage({ privateKey: key, target: values.target ?? DEFAULT_BOARD_ID, serialport });
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, image);
        io.out(`wrote ${out}: ${manifest.name} ${manifest.version} build ${manifest.buildId} for ${manifest.target}, ${image.length} bytes, sha256 ${manifest.sha256}\n`);
        return 0;
      }
      case 'info': {
        const info = await readBoardInfo(need(values.port, '--port'), { requestTimeoutMs: timeout });
        const slot = (s: number): string => (s === NO_SLOT ? 'none' : String.fromCharCode(65 + s));
        io.out(`board ${info.boardId}, bootloader ${info.bootloaderVersion.major}.${info.bootloaderVersion.minor}, protocol ${info.protocolVersion}\n`);
        io.out(`slots of ${info.slotSize} bytes in chunks of ${info.chunkSize}; running ${slot(info.runningSlot)}${(info.flags & InfoFlag.RUNNING_TRIAL) !== 0 ? ' (trial)' : ''}, confirmed ${slot(info.confirmedSlot)}, trial ${slot(info.trialSlot)}${(info.flags & InfoFlag.ROLLED_BACK) !== 0 ? ', rolled back at the last boot' : ''}\n`);
        io.out(`trusted key ${Buffer.from(info.keyFingerprint).toString('hex')}\n`);
        info.slots.forEach((s, i) => io.out(`slot ${slot(i)}: ${slotStateName(s.state)}, ${s.imageSize} bytes, ${s.writtenChunks} chunks written, sha256 ${Buffer.from(s.imageDigest).toString('hex')}\n`));
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
        if (command === undefined) throw new Usage('an image file is required');
        if (positionals.length > 1) throw new Usage(`unexpected argument ${positionals[1]}`);
        const port = need(values.port, '--port');
        let image: Uint8Array;
        try {
          image = new Uint8Array(readFileSync(command));
        } catch (err) {
          throw new FlashError('BAD_ARGUMENT', `cannot read ${command}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        const r = await flashImage(image, { endpoint: port, onProgress: progressPrinter(io), requestTimeoutMs: timeout });
        io.out(`flashed ${r.manifest?.name ?? 'image'} ${r.manifest?.version ?? ''} build ${r.manifest?.buildId ?? '?'} into slot ${String.fromCharCode(65 + r.slot)} of ${r.boardId}` +
          ` (${r.sentChunks} chunks sent, ${r.resumedChunks} already there); ${r.rebooted ? 'rebooted into it on trial' : 'it boots at the next reset'}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof Usage || (err instanceof Error && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true)) {
      io.err(`postern-flash: ${err.message.split('\n')[0]} (see --help)\n`);
      return 2;
    }
    if (err instanceof FlashError || err instanceof FirmwareError) {
      io.err(`postern-flash: ${err.message}\n`);
      return 1;
    }
    io.err(`postern-flash: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return 1;
  }
}
