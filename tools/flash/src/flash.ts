/**
 * {@link flashImage}: writes a firmware image into the board's free slot and boots it on trial
 * (docs/flash-protocol.md §8, the host's procedure): INFO, checks (board, size, key), resume or
 * ERASE, WRITE the missing chunks (each resent on CHUNK_CRC), VERIFY, SELECT, REBOOT.
 *
 * Resume: when the free slot already holds the same declared image (same size and SHA-256) in state
 * WRITING, only the chunks its CHUNK_MAP lacks are sent; a VERIFIED copy of the same image is not
 * written again at all.
 */
import { FirmwareError, SlotState, parseImage, sha256Bytes } from '@postern/firmware';
import type { BootInfo, ImageManifest } from '@postern/firmware';
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
  /** Skip the host's own checks (board id, size, key fingerprint), leaving every check to the board. For tests of the board. */
  skipLocalChecks?: boolean;
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
  let manifest: ImageManifest | undefined;
  if (options.skipLocalChecks !== true) {
    try {
      manifest = parseImage(image).manifest;
    } catch (err) {
      throw new FlashError('BAD_IMAGE', `not a valid image: ${(err as FirmwareError).message}`, undefined, { cause: err });
    }
  }
  const progress = options.onProgress ?? (() => {});
  progress({ phase: 'connect', done: 0, total: 0 });
  const client = await BootloaderClient.open(options.endpoint, options);
  try {
    const info = await client.info();
    if (manifest !== undefined) {
      if (manifest.target !== info.boardId) throw new FlashError('WRONG_BOARD', `wrong board: the image is for ${JSON.stringify(manifest.target)}, the device is ${JSON.stringify(info.boardId)}`);
      if (manifest.keyFingerprint !== hex(info.keyFingerprint)) {
        throw new FlashError('BAD_SIGNATURE', `bad signature: the image is signed with key ${manifest.keyFingerprint.slice(0, 16)}, the board trusts ${hex(info.keyFingerprint).slice(0, 16)}`);
      }
    }
    if (image.length > info.slotSize) throw new FlashError('TOO_LARGE', `image too large: ${image.length} bytes, a slot holds ${info.slotSize}`);
    const slot = chooseSlot(info);
    if (slot === undefined) {
      throw new FlashError('BUSY', 'the board is running an unconfirmed image in one slot and keeps the confirmed one in the other; confirm or reboot it first');
    }
    const digest = sha256Bytes(image);
    const chunkSize = info.chunkSize;
    const total = Math.ceil(image.length / chunkSize);
    const rec = info.slots[slot]!;
    const same = rec.imageSize === image.length && hex(rec.imageDigest) === hex(digest);
    const missing: number[] = [];
    let resumed = 0;
    if (same && rec.state === SlotState.VERIFIED) {
      resumed = total;
    } else if (same && rec.state === SlotState.WRITING) {
      progress({ phase: 'resume', done: 0, total });
      for (let first = 0; first < total; ) {
        const map = await client.chunkMap(slot, first);
        if (map.total !== total || map.count === 0) throw new FlashError('REFUSED', `the board's chunk map does not match the image (${map.total} chunks, want ${total})`);
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
    let done = resumed;
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
    return { slot, manifest, boardId: info.boardId, totalChunks: total, resumedChunks: resumed, sentChunks: missing.length, chunkRetries: retries, resends: client.resends, rebooted: reboot };
  } catch (err) {
    if (err instanceof FlashError && err.refusal !== undefined) {
      const r = err.refusal.name;
      const what = r === 'BAD_SIGNATURE' ? 'bad signature: the board does not trust the key this image is signed with'
        : r === 'WRONG_BOARD' ? 'wrong board: the board refused an image built for another board'
        : r === 'DIGEST_MISMATCH' || r === 'BAD_IMAGE' ? 'the board refused the image: it is damaged (digest or structure check failed)'
        : r === 'TOO_LARGE' ? 'image too large for the board\'s slots'
        : undefined;
      if (what !== undefined) throw new FlashError(err.code, what, err.refusal, { cause: err });
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

