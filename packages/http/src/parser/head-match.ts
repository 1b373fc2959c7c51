/**
 * {@link HeadPattern}: the bytes of a remembered request head, compared with the start of a chunk's
 * unread bytes four at a time (the parser's repeated-head check, once per request on a keep-alive
 * connection and once per connection for clients of one kind). Internal to the package.
 *
 * The byte loop it replaces read a string's character (`charCodeAt`) and a chunk byte per position, a
 * compare and a branch each (a 41-byte head from a load generator, an 83-byte one from a benchmark
 * client, several hundred from a browser). Here four chunk bytes are put together into one 32-bit
 * little-endian word and compared with the head's word computed once: one compare and branch per four
 * bytes, no string read, and no `DataView` (whose construction per buffer and `buffer`/`byteOffset`
 * reads are runtime calls on Node 20). The last 0-3 bytes are compared one by one. The answer is the
 * byte loop's for every input: true exactly when the `length` bytes at `chunk[i]` (all before `end`)
 * are the head's.
 */

/** The bytes of one request head, ready to be compared with chunks. Immutable. */
export class HeadPattern {
  /** The head's length in bytes (at least 1). */
  readonly length: number;
  /** The head's bytes. */
  private readonly bytes: Uint8Array;
  /** Its first `4 * words.length` bytes as 32-bit little-endian words. */
  private readonly words: Int32Array;

  /** @param text the head's bytes as a latin1 string (every code unit below 256), not empty */
  constructor(text: string) {
    const n = text.length;
    if (n === 0) throw new RangeError('a head pattern needs at least one byte');
    const bytes = new Uint8Array(n);
    for (let k = 0; k < n; k++) bytes[k] = text.charCodeAt(k);
    const words = new Int32Array(n >>> 2);
    for (let w = 0; w < words.length; w++) {
      const k = 4 * w;
      words[w] = bytes[k]! | (bytes[k + 1]! << 8) | (bytes[k + 2]! << 16) | (bytes[k + 3]! << 24);
    }
    this.length = n;
    this.bytes = bytes;
    this.words = words;
  }

  /** Whether `chunk[i, end)` (with `0 <= i <= end <= chunk.length`) starts with the head's bytes. */
  matchesAt(chunk: Uint8Array, i: number, end: number): boolean {
    const n = this.length;
    if (end - i < n) return false;
    const words = this.words;
    const count = words.length;
    for (let w = 0, j = i; w < count; w++, j += 4) {
      if ((chunk[j]! | (chunk[j + 1]! << 8) | (chunk[j + 2]! << 16) | (chunk[j + 3]! << 24)) !== words[w]) return false;
    }
    const bytes = this.bytes;
    for (let k = 4 * count; k < n; k++) if (chunk[i + k] !== bytes[k]) return false;
    return true;
  }
}
