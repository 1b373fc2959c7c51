/**
 * {@link flashImage}: writes a firmware image into the board's free slot and boots it on trial
 * (docs/flash-protocol.md §8, the host's procedure): INFO, checks (board, size, key), resume or
 * ERASE, WRITE the missing chunks (each resent on CHUNK_CRC), VERIFY, SELECT, REBOOT.
 *
 * Resume: when the free slot already holds the same declared image (same size and SHA-256) in state
 * WRITING, only the chunks its CHUNK_MAP lacks are sent; a VERIFIED copy of the same image is not
 * written again at all. A transfer that stops (an abort signal, the link lost, the board silent)
 * fails with a {@link FlashError} whose `position` and message say where it stopped.
 *
 * The signature is checked on the host before anything is sent ({@link checkImageSignature}): with
 * the key the caller names, or the key the image carries when its fingerprint is the one the board
 * trusts, so a damaged image and an image signed with an untrusted key get different messages.
 */
import type { KeyObject } from 'node:crypto';
import {
  FirmwareError,
  SlotState,
  checkImageSignature,
  keyFingerprint,
  loadPublicKey,
  parseImage,
  sha256Bytes,
} from '@postern/firmware';
import type { BootInfo, ImageManifest, ParsedImage } from '@postern/firmware';
import { crc32 } from '@postern/wire';
import { BootloaderClient, FlashError } from './client.js';
import type { BootloaderClientOptions } from './client.js';

/** Progress of a flash, reported after each chunk and at each phase. */
export interface FlashProgress {
  readonly phase: 'connect' | 'erase' | 'resume' | 'write' | 'verify' | 'select' | 'reboot' | 'done';
  /** Chunks of the image now on the board. */
  readonly done: number;
  readonly total: number;
}

/** Options of {@link flashImage}. */
export interface FlashOptions extends BootloaderClientOptions {
  /** The serial device path or `socket://HOST:PORT`. */
  endpoint: string;
  /** Called with progress (after every chunk during `write`). */
  onProgress?: (p: FlashProgress) => void;
  /** Resends of one chunk refused with CHUNK_CRC before giving up. Default 5. */
  chunkRetries?: number;
  /** Do not REBOOT after SELECT (the new image boots at the next reset). Default false. */
  noReboot?: boolean;
  /** Skip the host's own checks (board id, size, signature), leaving every check to the board. For tests of the board. */
  skipLocalChecks?: boolean;
  /**
   * The public (or private) key, PEM or KeyObject, the image must verify with. When the board trusts
   * another key, the flash is refused before anything is sent. Default: the key the image carries.
   */
  trustedKey?: string | KeyObject;
}

/** What {@link flashImage} did. */
export interface FlashResult {
  readonly slot: number;
  readonly manifest: ImageManifest | undefined;
  readonly boardId: string;
  readonly totalChunks: number;
  /** Chunks found already written (resume). */
  readonly resumedChunks: number;
  /** Chunks sent in this run. */
  readonly sentChunks: number;
  /** Chunks resent after CHUNK_CRC. */
  readonly chunkRetries: number;
  /** Requests resent after a timeout. */
  readonly resends: number;
  readonly rebooted: boolean;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A key fingerprint as messages show it: its first 16 hex digits. */
function short(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}

/** The one-line message for an image whose signature does not verify with `key`. */
export function damagedSignatureMessage(key: string): string {
  return `the image's signature does not verify with key ${short(key)}: the image is damaged or was signed by another key`;
}

/** The one-line message for an image signed with `signedWith` while the board trusts `trusted`. */
export function untrustedKeyMessage(signedWith: string, trusted: string): string {
  return `the board does not trust key ${short(signedWith)} (the image is signed with it; the board trusts ${short(trusted)})`;
}

/** The host's signature check against the board's INFO (see the module comment). @throws {@link FlashError}. */
function checkSignature(parsed: ParsedImage, info: BootInfo, named: KeyObject | undefined): void {
  const trusted = hex(info.keyFingerprint);
  if (named !== undefined && keyFingerprint(named) !== trusted) {
    throw new FlashError(
      'UNTRUSTED_KEY',
      `the board does not trust key ${short(keyFingerprint(named))}, the key given to check the image with (the board trusts ${short(trusted)})`,
    );
  }
  const verdict = checkImageSignature(parsed, { fingerprint: trusted, key: named });
  if (verdict.kind === 'damaged') throw new FlashError('BAD_SIGNATURE', damagedSignatureMessage(verdict.key));
  if (verdict.kind === 'untrusted-key')
    throw new FlashError('UNTRUSTED_KEY', untrustedKeyMessage(verdict.signedWith, verdict.trusted));
}

/**
 * A board's refusal as a one-line message that says what is wrong (distinct per error code), or
 * undefined for one the caller's message already explains. `parsed` (when the image parses) and
 * `info` let a `BAD_SIGNATURE` be told apart as a damaged image or an untrusted key.
 */
function refusalError(
  err: FlashError,
  parsed: ParsedImage | undefined,
  info: BootInfo | undefined,
): FlashError | undefined {
  const r = err.refusal;
  if (r === undefined) return undefined;
  const wrap = (code: FlashError['code'], message: string): FlashError =>
    new FlashError(code, message, r, { cause: err });
  switch (r.name) {
    case 'BAD_SIGNATURE': {
      if (info === undefined)
        return wrap(
          'BAD_SIGNATURE',
          'the board refused the image: its signature does not verify with the key the board trusts',
        );
      const trusted = hex(info.keyFingerprint);
      // The board cannot say which: the host's own check can (an untrusted key only when the image is intact).
      const verdict = parsed === undefined ? undefined : checkImageSignature(parsed, { fingerprint: trusted });
      if (verdict?.kind === 'untrusted-key')
        return wrap(
          'UNTRUSTED_KEY',
          `the board refused the image: ${untrustedKeyMessage(verdict.signedWith, verdict.trusted)}`,
        );
      return wrap(
        'BAD_SIGNATURE',
        `the board refused the image: ${damagedSignatureMessage(verdict?.kind === 'damaged' ? verdict.key : trusted)}`,
      );
    }
    case 'WRONG_BOARD':
      return wrap('WRONG_BOARD', 'wrong board: the board refused an image built for another board');
    case 'DIGEST_MISMATCH':
      return wrap(
        'BAD_IMAGE',
        'the board refused the image: its bytes do not match their SHA-256 (damaged in the file or in transfer); rebuild it or run the same command again',
      );
    case 'BAD_IMAGE':
      return wrap(
        'BAD_IMAGE',
        'the board refused the image: it is not a well-formed image (header, manifest or archive)',
      );
    case 'TOO_LARGE':
      return wrap('TOO_LARGE', "image too large for the board's slots");
    case 'INCOMPLETE':
      return wrap(
        'REFUSED',
        `the board is missing ${r.detail} chunks of the image; run the same command again to send them`,
      );
    case 'CHUNK_CONFLICT':
      return wrap(
        'REFUSED',
        'the board holds other data for a chunk already written (its flash changed under it); run the same command again after erasing: postern-flash reboot, then flash',
      );
    case 'BUSY':
      return wrap(
        'BUSY',
        'the board is running an image on trial that has not confirmed yet; confirm or reboot it first',
      );
    case 'CHUNK_CRC':
      return wrap('REFUSED', 'the board kept receiving damaged chunks (chunk CRC): check the serial line');
    default:
      return undefined;
  }
}

/** The slot a new image goes to: neither running nor confirmed; undefined when there is none. */
export function chooseSlot(info: BootInfo): number | undefined {
  for (let i = 0; i < info.slots.length; i++) if (i !== info.runningSlot && i !== info.confirmedSlot) return i;
  return undefined;
}

/**
 * Flashes `image` and (unless `noReboot`) reboots the board into it on trial.
 * @throws {@link FlashError} with a one-line message: `WRONG_BOARD`, `BAD_SIGNATURE`, `TOO_LARGE`,
 *   `BAD_IMAGE`, `BUSY`, `NO_ANSWER`, `CONNECTION_LOST`, `DEVICE_NOT_FOUND`, `REFUSED`, ...
 */
export async function flashImage(image: Uint8Array, options: FlashOptions): Promise<FlashResult> {
  let parsed: ParsedImage | undefined;
  let parseError: unknown;
  try {
    parsed = parseImage(image);
  } catch (err) {
    parseError = err;
  }
  const local = options.skipLocalChecks !== true;
  if (local && parsed === undefined)
    throw new FlashError('BAD_IMAGE', `not a valid image: ${(parseError as FirmwareError).message}`, undefined, {
      cause: parseError,
    });
  let named: KeyObject | undefined;
  if (options.trustedKey !== undefined) {
    try {
      named = loadPublicKey(options.trustedKey);
    } catch (err) {
      throw new FlashError(
        'BAD_ARGUMENT',
        `the key to check the image with is not usable: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
  }
  const manifest: ImageManifest | undefined = parsed?.manifest;
  const progress = options.onProgress ?? (() => {});
  // Where the transfer stands, for the message when it stops; total is known once the slot is declared.
  let done = 0;
  let total = 0;
  progress({ phase: 'connect', done: 0, total: 0 });
  const client = await BootloaderClient.open(options.endpoint, options);
  let info: BootInfo | undefined;
  try {
    info = await client.info();
    if (local && parsed !== undefined) {
      if (parsed.manifest.target !== info.boardId)
        throw new FlashError(
          'WRONG_BOARD',
          `wrong board: the image is for ${JSON.stringify(parsed.manifest.target)}, the device is ${JSON.stringify(info.boardId)}`,
        );
      checkSignature(parsed, info, named);
    }
    if (image.length > info.slotSize)
      throw new FlashError('TOO_LARGE', `image too large: ${image.length} bytes, a slot holds ${info.slotSize}`);
    const slot = chooseSlot(info);
    if (slot === undefined) {
      throw new FlashError(
        'BUSY',
        'the board is running an unconfirmed image in one slot and keeps the confirmed one in the other; confirm or reboot it first',
      );
    }
    const digest = sha256Bytes(image);
    const chunkSize = info.chunkSize;
    total = Math.ceil(image.length / chunkSize);
    const rec = info.slots[slot]!;
    const same = rec.imageSize === image.length && hex(rec.imageDigest) === hex(digest);
    const missing: number[] = [];
    let resumed = 0;
    if (same && rec.state === SlotState.VERIFIED) {
      resumed = total;
    } else if (same && rec.state === SlotState.WRITING) {
      progress({ phase: 'resume', done: 0, total });
      for (let first = 0; first < total;) {
        const map = await client.chunkMap(slot, first);
        if (map.total !== total || map.count === 0)
          throw new FlashError(
            'REFUSED',
            `the board's chunk map does not match the image (${map.total} chunks, want ${total})`,
          );
        for (let i = 0; i < map.count; i++) {
          if ((map.bitmap[i >> 3]! & (1 << (i & 7))) === 0) missing.push(first + i);
          else resumed++;
        }
        first += map.count;
      }
    } else {
      progress({ phase: 'erase', done: 0, total });
      await client.erase({ slot, imageSize: image.length, imageDigest: digest });
      for (let i = 0; i < total; i++) missing.push(i);
    }
    done = resumed;
    let retries = 0;
    const maxRetries = options.chunkRetries ?? 5;
    progress({ phase: 'write', done, total });
    for (const chunk of missing) {
      const data = image.subarray(chunk * chunkSize, Math.min(image.length, (chunk + 1) * chunkSize));
      const crc = crc32(data);
      for (let attempt = 0; ; attempt++) {
        try {
          await client.write({ slot, chunk, crc, data });
          break;
        } catch (err) {
          if (!(err instanceof FlashError) || err.refusal?.name !== 'CHUNK_CRC' || attempt >= maxRetries) throw err;
          retries++;
        }
      }
      done++;
      progress({ phase: 'write', done, total });
    }
    progress({ phase: 'verify', done, total });
    await client.verify(slot);
    progress({ phase: 'select', done, total });
    await client.select(slot);
    const reboot = options.noReboot !== true;
    if (reboot) {
      progress({ phase: 'reboot', done, total });
      await client.reboot();
    }
    progress({ phase: 'done', done, total });
    return {
      slot,
      manifest,
      boardId: info.boardId,
      totalChunks: total,
      resumedChunks: resumed,
      sentChunks: missing.length,
      chunkRetries: retries,
      resends: client.resends,
      rebooted: reboot,
    };
  } catch (err) {
    if (!(err instanceof FlashError)) throw err;
    const refused = refusalError(err, parsed, info);
    if (refused !== undefined) throw refused;
    if (err.code === 'INTERRUPTED' || err.code === 'CONNECTION_LOST' || err.code === 'NO_ANSWER') {
      const where =
        total === 0
          ? 'before anything was written; nothing changed on the board'
          : `at chunk ${done}/${total}; run the same command again to resume`;
      const message = err.code === 'INTERRUPTED' ? `interrupted ${where}` : `${err.message}: interrupted ${where}`;
      throw new FlashError(err.code, message, undefined, {
        cause: err,
        position: total === 0 ? undefined : { done, total },
      });
    }
    throw err;
  } finally {
    await client.close();
  }
}

/** Reads the board's INFO. @throws {@link FlashError}. */
export async function readBoardInfo(endpoint: string, options?: BootloaderClientOptions): Promise<BootInfo> {
  const client = await BootloaderClient.open(endpoint, options);
  try {
    return await client.info();
  } finally {
    await client.close();
  }
}
