/**
 * The send buffer of one TCP connection: bytes the application wrote that are not yet acknowledged,
 * the unacknowledged ones first, then the unsent ones. The connection copies segments out of it by
 * offset from the oldest held byte (SND.UNA) and drops bytes from the front as ACKs arrive.
 *
 * Memory: the bytes live in chunks of a {@link ChunkPool} (4 KiB by default), taken on first write
 * and given back as soon as the acknowledged front leaves them; an empty buffer holds no chunk at
 * all. So an idle connection costs a few small objects, not `capacity` bytes, and a busy one holds
 * at most `ceil(capacity / chunkSize) + 1` chunks.
 *
 * Resizing ({@link SendBuffer.resize}): growing past the largest capacity so far moves the held
 * bytes into a larger ring (an application call, not per packet); shrinking never drops a byte.
 */
import { ChunkedRing, defaultChunkPool, type ChunkPool } from './chunk-pool.js';
import { copyRingBytes } from './ring-copy.js';

/** Options of a {@link SendBuffer}. */
export interface SendBufferOptions {
  /** Where chunks come from. Default {@link defaultChunkPool}. */
  pool?: ChunkPool;
}

/**
 * A bounded byte FIFO with random-access reads.
 *
 * Invariants: `0 <= length`, and `length <= capacity` except after a {@link SendBuffer.resize}
 * below what was held, until acknowledgements drain it; `free = max(0, capacity - length)`; bytes
 * come out of
 * {@link SendBuffer.copyOut} exactly as written, in order, after the bytes consumed so far.
 * Misuse (reading past `length`, consuming more than held, a destination too small) throws a
 * RangeError and changes nothing.
 */
export class SendBuffer {
  private limit: number;
  /** The largest capacity so far: what the ring is built for. */
  private ringCapacity: number;
  private readonly pool: ChunkPool;
  private ring: ChunkedRing;
  /** Ring position of the oldest held byte. */
  private head = 0;
  private held = 0;

  /** @throws RangeError unless `capacityBytes` is a positive integer. */
  constructor(capacityBytes: number, options: SendBufferOptions = {}) {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`send buffer capacity must be a positive integer, got ${capacityBytes}`);
    this.limit = capacityBytes;
    this.ringCapacity = capacityBytes;
    this.pool = options.pool ?? defaultChunkPool;
    this.ring = new ChunkedRing(capacityBytes, this.pool);
  }

  /** Most bytes {@link SendBuffer.write} fills the buffer to. */
  get capacity(): number {
    return this.limit;
  }

  /**
   * Sets the capacity to `capacityBytes`. Growing is always possible (past the largest capacity so
   * far the held bytes move into a larger ring, so views of the old one are invalid). Shrinking
   * below {@link SendBuffer.length} drops nothing: `write` accepts no byte until acknowledgements
   * bring the held bytes under the new capacity.
   * @throws RangeError unless `capacityBytes` is a positive integer.
   */
  resize(capacityBytes: number): void {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`send buffer capacity must be a positive integer, got ${capacityBytes}`);
    if (capacityBytes > this.ringCapacity) {
      const ring = new ChunkedRing(capacityBytes, this.pool);
      copyRingBytes(this.ring, this.head, ring, 0, this.held);
      this.ring.releaseAll();
      this.ring = ring;
      this.head = 0;
      this.ringCapacity = capacityBytes;
    }
    this.limit = capacityBytes;
  }

  /** Bytes held: unacknowledged plus unsent. */
  get length(): number {
    return this.held;
  }

  /** Bytes {@link SendBuffer.write} can accept now. */
  get free(): number {
    return Math.max(0, this.limit - this.held);
  }

  /** Bytes of chunk memory held now (0 when empty). */
  get allocatedBytes(): number {
    return this.ring.allocatedBytes;
  }

  /**
   * Appends as much of `data[offset, offset + length)` as fits and returns how many bytes were
   * accepted (`min(length, free)`; 0 when full). The bytes are copied; `data` may be reused at once.
   * @throws RangeError if the range lies outside `data`.
   */
  write(data: Uint8Array, offset = 0, length: number = data.length - offset): number {
    if (!(offset >= 0 && length >= 0 && offset + length <= data.length))
      throw new RangeError(`write range ${offset}+${length} outside ${data.length} bytes`);
    const n = Math.min(length, this.limit - this.held);
    if (n <= 0) return 0;
    this.ring.write(this.position(this.held), data, offset, n);
    this.held += n;
    return n;
  }

  /**
   * Copies `length` held bytes starting `offset` bytes after the oldest held byte into `dest` at
   * `destOffset` (a segment being built). Handles the ring's wrap.
   * @throws RangeError if `offset + length > length` held or `dest` is too short.
   */
  copyOut(offset: number, length: number, dest: Uint8Array, destOffset: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.held))
      throw new RangeError(`copyOut ${offset}+${length} beyond ${this.held} held bytes`);
    if (!(destOffset >= 0 && destOffset + length <= dest.length))
      throw new RangeError(`copyOut of ${length} bytes at ${destOffset} overruns a ${dest.length}-byte destination`);
    if (length === 0) return;
    this.ring.read(this.position(offset), dest, destOffset, length);
  }

  /**
   * Drops `n` acknowledged bytes from the front; chunks left behind go back to the pool.
   * @throws RangeError if `n` is negative or more than held.
   */
  consume(n: number): void {
    if (!(n >= 0 && n <= this.held)) throw new RangeError(`cannot consume ${n} of ${this.held} held bytes`);
    if (n === 0) return;
    this.held -= n;
    if (this.held === 0) {
      this.clear();
      return;
    }
    this.ring.releasePassed(this.head, n);
    this.head = this.position(n);
  }

  /**
   * Empties the buffer for a new connection with `capacityBytes`, as a new `SendBuffer` of that
   * capacity on the same pool would be (the ring is kept when it is built for that capacity).
   * @throws RangeError unless `capacityBytes` is a positive integer.
   */
  reuse(capacityBytes: number): void {
    if (!(Number.isInteger(capacityBytes) && capacityBytes > 0))
      throw new RangeError(`send buffer capacity must be a positive integer, got ${capacityBytes}`);
    this.clear();
    if (capacityBytes !== this.ringCapacity) this.ring = new ChunkedRing(capacityBytes, this.pool);
    this.limit = capacityBytes;
    this.ringCapacity = capacityBytes;
  }

  /** Drops every byte and gives back every chunk. */
  clear(): void {
    this.held = 0;
    this.head = 0;
    this.ring.releaseAll();
  }

  private position(offset: number): number {
    const p = this.head + offset;
    return p >= this.ring.size ? p - this.ring.size : p;
  }
}
