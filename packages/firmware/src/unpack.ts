/**
 * {@link unpackImage}: writes an image's archive into a directory, so a board that runs firmware as
 * files (the simulated board runs `node ENTRY`) can start it. The image is parsed (structure and
 * digest) but not verified here: a bootloader verifies before it boots.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { FirmwareError } from './errors.js';
import { decodeArchive, parseImage } from './image.js';
import type { ImageManifest } from './image.js';

/** An unpacked image. */
export interface UnpackedImage {
  readonly manifest: ImageManifest;
  /** The directory the files were written to. */
  readonly directory: string;
  /** Absolute path of the manifest's entry file. */
  readonly entryPath: string;
}

/**
 * Writes every archive file of `image` under `directory` (created), plus `manifest.json`.
 * @throws {@link FirmwareError} `BAD_IMAGE`, `DIGEST_MISMATCH` (from the parser), or a path that escapes the directory.
 */
export function unpackImage(image: Uint8Array, directory: string): UnpackedImage {
  const { manifest, payload } = parseImage(image);
  const root = resolve(directory);
  mkdirSync(root, { recursive: true });
  for (const f of decodeArchive(payload)) {
    const target = resolve(root, f.path);
    if (!target.startsWith(root + sep))
      throw new FirmwareError('BAD_IMAGE', `archive path ${f.path} escapes the directory`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, f.data);
  }
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { manifest, directory: root, entryPath: join(root, manifest.entry) };
}
