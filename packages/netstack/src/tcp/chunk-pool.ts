/**
 * Fixed-size byte chunks shared by the TCP send and receive buffers, and the chunked ring both are
 * built on.
 *
 * Why chunks: a buffer of 64 KiB per direction per connection would pin 128 KiB for every idle
 * keep-alive connection. A {@link ChunkedRing} instead maps its ring positions onto chunks that are
 * taken from a {@link ChunkPool} when first written and given back as soon as no held byte lies in
 * them, so memory follows the bytes actually held and an empty buffer holds nothing. Returning and
 * taking a chunk is an array push/pop: no allocation once the pool is warm. The ring's table of
 * chunk slots is pooled the same way: taken on the first write, given back when the ring is empty,
 * so an idle connection holds neither chunks nor slot tables.
 */

/** Default chunk size in bytes (a power of two). */
export const DEFAULT_CHUNK_SIZE = 4096;
/**
 * Default number of free chunks a pool keeps for reuse: 1 MiB of 4 KiB chunks, the churn of four
 * full buffers of the default 256 KiB. Free chunks stay resident for the life of the process (a
 * burst of 10,000 answers in flight at once leaves the pool full), so the bound is memory an idle
 * process keeps; chunks given back beyond it go to the garbage collector.
 */
export const DEFAULT_POOL_RETAINED = 256;
/** Free slot tables a pool keeps for reuse, per table length. */
const SLOT_TABLES_RETAINED = 256;

/*
 * `TypedArray.prototype.set` and `.subarray`, called directly by the ring's copies: the bytes copied
 * in come as plain `Uint8Array`s and as Node `Buffer`s, and `chunk.set(...)`/`src.subarray(...)`
 * then compile to a generic property load (a `LoadIC` call) per method per copy before the
 * builtin's call (seen in the shipped bin's optimized `write`). The same functions either way.
 */
const setOf = Uint8Array.prototype.set;
const subarrayOf = Uint8Array.prototype.subarray;

/** A ring's chunk slots: `undefined` where no chunk is taken. */
type SlotTable = (Uint8Array | undefined)[];
/** The table of a ring that holds nothing (never written to). */
const NO_SLOTS: SlotTable = [];

/**
 * A pool of equal-sized `Uint8Array` chunks. Chunks are not zeroed on reuse: their owner tracks
 * which bytes it wrote and never exposes the rest.
 *
 * Invariant: at most `maxRetained` free chunks are kept; a chunk given back beyond that is left to
 * the garbage collector (counted in {@link ChunkPool.discarded}).
 */
export class ChunkPool {
  /** Bytes per chunk, a power of two >= 64. */
  readonly chunkSize: number;
  /** Most free chunks kept. */
  readonly maxRetained: number;
  /** Chunks allocated because the pool was empty. */
  allocated = 0;
  /** Chunks given back while the pool was full. */
  discarded = 0;
  private readonly free: Uint8Array[] = [];
  /** Free slot tables (every entry `undefined`) by length. */
  private readonly freeTables = new Map<number, SlotTable[]>();
  /** The length {@link ChunkPool.freeTablesOf} was last asked for, and its list. */
  private lastTableLength = -1;
  private lastFreeTables: SlotTable[] = [];

  /** @throws RangeError unless `chunkSize` is a power of two >= 64 and `maxRetained >= 0`. */
  constructor(chunkSize = DEFAULT_CHUNK_SIZE, maxRetained = DEFAULT_POOL_RETAINED) {
    if (!(Number.isInteger(chunkSize) && chunkSize >= 64 && (chunkSize & (chunkSize - 1)) === 0)) {
      throw new RangeError(`chunk size must be a power of two >= 64, got ${chunkSize}`);
    }
    if (!(Number.isInteger(maxRetained) && maxRetained >= 0))
      throw new RangeError(`maxRetained must be >= 0, got ${maxRetained}`);
    this.chunkSize = chunkSize;
    this.maxRetained = maxRetained;
  }

  /** Free chunks held for reuse. */
  get retained(): number {
    return this.free.length;
  }

  /** Free slot tables held for reuse (all lengths). */
  get retainedTables(): number {
    let n = 0;
    for (const free of this.freeTables.values()) n += free.length;
    return n;
  }

  /** A chunk of {@link ChunkPool.chunkSize} bytes with unspecified contents. */
  take(): Uint8Array {
    const chunk = this.free.pop();
    if (chunk !== undefined) return chunk;
    this.allocated++;
    return new Uint8Array(this.chunkSize);
  }

  /** Returns a chunk taken from this pool. The caller must not use it afterwards. */
  give(chunk: Uint8Array): void {
    if (this.free.length < this.maxRetained) this.free.push(chunk);
    else this.discarded++;
  }

  /** @internal A slot table of `length` entries, all `undefined`. */
  takeTable(length: number): SlotTable {
    const table = this.freeTablesOf(length).pop();
    return table ?? new Array<Uint8Array | undefined>(length).fill(undefined);
  }

  /** @internal Returns a slot table whose entries are all `undefined` again. */
  giveTable(table: SlotTable): void {
    const free = this.freeTablesOf(table.length);
    if (free.length < SLOT_TABLES_RETAINED) free.push(table);
  }

  /**
   * The free tables of `length` entries. Remembers the last length asked for: the buffers of a
   * process mostly share one size, so a keep-alive exchange that empties and refills its buffers
   * takes and gives tables without a map lookup.
   */
  private freeTablesOf(length: number): SlotTable[] {
    if (length === this.lastTableLength) return this.lastFreeTables;
    let free = this.freeTables.get(length);
    if (free === undefined) {
      free = [];
      this.freeTables.set(length, free);
    }
    this.lastTableLength = length;
    this.lastFreeTables = free;
    return free;
  }
}

/** The pool buffers use when none is given. Shared by every connection of the process. */
export const defaultChunkPool = new ChunkPool();

/**
 * A ring of `size` byte positions stored in lazily taken chunks. Internal to the TCP buffers.
 *
 * `size` is the capacity rounded up to whole chunks plus one chunk. With the owner's data always
 * inside `[head, head + capacity)`, a chunk the head has moved past never holds a held byte, so
 * {@link ChunkedRing.releasePassed} can give it back without looking.
 */
export class ChunkedRing {
  /** Ring positions (a multiple of the chunk size). */
  readonly size: number;
  private readonly pool: ChunkPool;
  private readonly shift: number;
  private readonly mask: number;
  private readonly chunkSize: number;
  private readonly slotCount: number;
  /** {@link NO_SLOTS} while no chunk is held (the table goes back to the pool when the ring empties). */
  private slots: SlotTable = NO_SLOTS;
  private held = 0;

  constructor(capacity: number, pool: ChunkPool) {
    this.pool = pool;
    this.chunkSize = pool.chunkSize;
    this.shift = Math.log2(pool.chunkSize);
    this.mask = pool.chunkSize - 1;
    this.slotCount = Math.ceil(capacity / pool.chunkSize) + 1;
    this.size = this.slotCount * pool.chunkSize;
  }

  /** Bytes of chunk memory this ring holds now. */
  get allocatedBytes(): number {
    return this.held * this.chunkSize;
  }

  /** Copies `length` bytes of `src` from `srcOffset` into the ring at `pos` (wrapping), taking chunks as needed. */
  write(pos: number, src: Uint8Array, srcOffset: number, length: number): void {
    if (this.slots === NO_SLOTS && length > 0) this.slots = this.pool.takeTable(this.slotCount);
    while (length > 0) {
      const index = pos >>> this.shift;
      const within = pos & this.mask;
      const n = Math.min(length, this.chunkSize - within);
      let chunk = this.slots[index];
      if (chunk === undefined) {
        chunk = this.pool.take();
        this.slots[index] = chunk;
        this.held++;
      }
      if (n === src.length && srcOffset === 0) setOf.call(chunk, src, within);
      else setOf.call(chunk, subarrayOf.call(src, srcOffset, srcOffset + n), within);
      srcOffset += n;
      length -= n;
      pos += n;
      if (pos === this.size) pos = 0;
    }
  }

  /** Copies `length` bytes from the ring at `pos` (wrapping) into `dest` at `destOffset`. The bytes must have been written. */
  read(pos: number, dest: Uint8Array, destOffset: number, length: number): void {
    while (length > 0) {
      const index = pos >>> this.shift;
      const within = pos & this.mask;
      const n = Math.min(length, this.chunkSize - within);
      const chunk = this.slots[index]!;
      setOf.call(dest, subarrayOf.call(chunk, within, within + n), destOffset);
      destOffset += n;
      length -= n;
      pos += n;
      if (pos === this.size) pos = 0;
    }
  }

  /** A view of up to `max` written bytes from `pos`, ending at the chunk boundary. */
  view(pos: number, max: number): Uint8Array {
    const within = pos & this.mask;
    const n = Math.min(max, this.chunkSize - within);
    return subarrayOf.call(this.slots[pos >>> this.shift]!, within, within + n);
  }

  /** The head moved `n` positions forward from `oldHead`: gives back every chunk it left entirely. */
  releasePassed(oldHead: number, n: number): void {
    if (this.held === 0) return;
    const end = oldHead + n;
    let index = oldHead >>> this.shift;
    let chunkEnd = (index + 1) * this.chunkSize;
    const slotCount = this.slotCount;
    while (chunkEnd <= end) {
      const slot = index % slotCount;
      const chunk = this.slots[slot];
      if (chunk !== undefined) {
        this.slots[slot] = undefined;
        this.held--;
        this.pool.give(chunk);
      }
      index++;
      chunkEnd += this.chunkSize;
    }
  }

  /** Gives back every chunk, and the slot table. */
  releaseAll(): void {
    if (this.slots === NO_SLOTS) return;
    const slots = this.slots;
    // Stops at the last chunk held: a small exchange holds one chunk at slot 0 (the owners move
    // their head back to 0 when they empty), so this is one step, not a walk over every slot.
    let held = this.held;
    for (let i = 0; held > 0; i++) {
      const chunk = slots[i];
      if (chunk !== undefined) {
        slots[i] = undefined;
        this.pool.give(chunk);
        held--;
      }
    }
    this.held = 0;
    this.slots = NO_SLOTS;
    this.pool.giveTable(slots);
  }
}
