/**
 * Writing signing keys to disk so that a private key is never readable by others: every key file is
 * written to a new temporary file created with mode 0600 beside it and then moved into place, so an
 * existing file's looser mode (or its inode, hard links included) is never reused.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { SigningKeyPair } from '@postern/firmware';

/** Mode of a private key file. */
export const PRIVATE_KEY_MODE = 0o600;
/** Mode of a public key file. */
export const PUBLIC_KEY_MODE = 0o644;

/** A key file that already exists and was not to be replaced (`code` `EEXIST`, `path` the file). */
export class KeyFileExistsError extends Error {
  override readonly name = 'KeyFileExistsError';
  readonly code = 'EEXIST';
  constructor(readonly paths: readonly string[]) {
    super(
      `${paths.join(' and ')} already ${paths.length > 1 ? 'exist' : 'exists'}; --force replaces ${paths.length > 1 ? 'them' : 'it'}`,
    );
  }
}

/**
 * Writes `data` to `path` with exactly `mode`: a fresh temporary file in the same directory
 * (created 0600, chmod'ed to `mode`, synced), then renamed over `path` (`replace`) or hard-linked
 * to it, which fails with `EEXIST` if `path` appeared meanwhile (no `replace`). Never changes an
 * existing file in place. @throws the file system's error (`EEXIST`, `EACCES`, `ENOENT` ...).
 */
export function writeFileAtomically(path: string, data: string | Uint8Array, mode: number, replace: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', PRIVATE_KEY_MODE);
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    if (replace) renameSync(tmp, path);
    else linkSync(tmp, path);
  } finally {
    if (existsSync(tmp)) unlinkSync(tmp);
  }
}

/**
 * Writes `PREFIX.key` (the private key, mode 0600) and `PREFIX.pub` (mode 0644).
 * @throws {@link KeyFileExistsError} when either exists and `force` is false (nothing is written);
 *   the file system's error otherwise.
 */
export function writeKeyPair(
  prefix: string,
  pair: SigningKeyPair,
  force: boolean,
): { keyPath: string; pubPath: string } {
  const keyPath = `${prefix}.key`;
  const pubPath = `${prefix}.pub`;
  if (!force) {
    const existing = [keyPath, pubPath].filter((p) => existsSync(p));
    if (existing.length > 0) throw new KeyFileExistsError(existing);
  }
  writeFileAtomically(keyPath, pair.privateKeyPem, PRIVATE_KEY_MODE, force);
  writeFileAtomically(pubPath, pair.publicKeyPem, PUBLIC_KEY_MODE, force);
  return { keyPath, pubPath };
}
