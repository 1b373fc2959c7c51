/**
 * Digests that prove a transfer byte-exact: compare the SHA-256 of what was sent with that of what
 * arrived (in memory, in a file a peer wrote, or read in pieces).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** SHA-256 of `data` (bytes, or a string taken as UTF-8) as 64 lower-case hex digits. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * SHA-256 of the file at `path` as 64 lower-case hex digits, read as a stream (a file of any size
 * in constant memory). Rejects with the file system's error when it cannot be read.
 */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
