/**
 * Latin1 decoding of request bytes (what HTTP/1.x field names and values are): one `Buffer` view per
 * section and Node's own slice decoder. Internal to the package.
 */
import { Buffer } from 'node:buffer';

/**
 * A latin1 decoder over one contiguous section: `bytes` itself when it is a `Buffer` already (what a
 * socket delivers), else one `Buffer` view of the same memory.
 */
export function latin1View(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Buffer's own latin1 decoder, the one `toString('latin1', start, end)` ends in. */
type Latin1Slicer = (this: Buffer, start: number, end: number) => string;

/**
 * Node's `Buffer.prototype.latin1Slice` when the runtime has it (called directly it skips
 * `toString`'s encoding dispatch and argument handling), else `toString('latin1', ...)`.
 */
const latin1Slice: Latin1Slicer =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slicer }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/** The latin1 text of `buf[start, end)` (`start <= end <= buf.length`). */
export function latin1Text(buf: Buffer, start: number, end: number): string {
  return latin1Slice.call(buf, start, end);
}
