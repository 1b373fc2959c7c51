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

/** What {@link sha256OfChunks} read: the digest and the number of bytes. */
export interface ChunksDigest {
  /** SHA-256 of all chunks in order, 64 lower-case hex digits. */
  readonly sha256: string;
  /** How many bytes the chunks held. */
  readonly bytes: number;
}

/**
 * SHA-256 and length of everything `chunks` yields (a request body, a stream), in constant memory.
 * Rejects with the iterator's error.
 */
export async function sha256OfChunks(chunks: AsyncIterable<Uint8Array>): Promise<ChunksDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of chunks) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * SHA-256 of the file at `path` as 64 lower-case hex digits, read as a stream (a file of any size
 * in constant memory). Rejects with the file system's error when it cannot be read.
 */
export async function sha256OfFile(path: string): Promise<string> {
  return (await sha256OfChunks(createReadStream(path))).sha256;
}
