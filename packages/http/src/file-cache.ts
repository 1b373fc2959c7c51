/**
 * {@link FileCache}: what a static file server knows about the files it served, so that serving one
 * again costs no file-system call (nginx's `open_file_cache`, plus the bytes of small files).
 *
 * An entry holds a file's identity (device-independent: inode, size, modification time), the
 * validators computed once per version (`ETag`, `Last-Modified`), its content type and, for a file
 * up to `maxFileBytes`, its bytes. An entry is trusted for `validMs` after it was last checked (on the
 * caller's clock, the scheduler's: this module reads none); after that, the next request checks it
 * with one `stat`: same (inode, size, mtime) and it is trusted again, else it is rebuilt. So a file
 * changed on disk is served stale for at most `validMs`.
 *
 * Bounded: at most `maxEntries` entries and `maxBytes` bytes of file contents; the least recently
 * checked entries go first (an entry moves to the young end when it is checked, not on every hit, so
 * a hit costs one map lookup).
 */
import type { Stats } from 'node:fs';
import type { PreparedResponse } from './server/prepared.js';

/** Options of a {@link FileCache}. */
export interface FileCacheOptions {
  /** The clock, in ms (the scheduler's `now`): entries are trusted for `validMs` of it. */
  readonly now: () => number;
  /** How long an entry is trusted before its file is checked again, ms. Default 1000. */
  readonly validMs?: number;
  /** Most entries. Default 1024. */
  readonly maxEntries?: number;
  /** Largest file whose bytes are kept, bytes. Default 256 KiB. */
  readonly maxFileBytes?: number;
  /** Most bytes of file contents kept in all. Default 32 MiB. */
  readonly maxBytes?: number;
}

/** One cached file. Immutable once made; a changed file gets a new entry. */
export interface CachedFile {
  /** The path that was checked (the directory's index file for a directory). */
  readonly file: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  /** `"size-mtime"` (hex), strong. */
  readonly etag: string;
  /** The modification time as an HTTP date. */
  readonly lastModified: string;
  readonly contentType: string;
  /** The whole file when it is at most `maxFileBytes`, else undefined (stream it). */
  readonly body: Uint8Array | undefined;
  /**
   * With `body`: the whole 200 answer to a plain GET of this version, serialized once (the static
   * server sends it with only its `Date` patched). Made with the entry, so a changed file gets a new one.
   */
  readonly prepared?: PreparedResponse;
}

interface Slot {
  entry: CachedFile;
  checkedAt: number;
}

/** Counters of a {@link FileCache}. */
export interface FileCacheStats {
  /** Requests answered from a trusted entry (no file-system call). */
  hits: number;
  /** Entries checked with `stat` and still valid. */
  revalidated: number;
  /** Entries made (first use, or the file changed). */
  loads: number;
  /** Entries dropped because the file changed or went away. */
  invalidated: number;
  /** Entries dropped to stay within the bounds. */
  evicted: number;
}

/** Whether `stats` describes the same version of the file as `entry`. */
export function sameVersion(entry: CachedFile, stats: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>): boolean {
  return entry.ino === stats.ino && entry.size === stats.size && entry.mtimeMs === stats.mtimeMs;
}

/** A bounded cache of file metadata and small files' bytes, keyed by request path. See the module notes. */
export class FileCache {
  /** Counters (live). */
  readonly stats: FileCacheStats = { hits: 0, revalidated: 0, loads: 0, invalidated: 0, evicted: 0 };
  private readonly now: () => number;
  private readonly validMs: number;
  private readonly maxEntries: number;
  /** Largest file whose bytes are kept. */
  readonly maxFileBytes: number;
  private readonly maxBytes: number;
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;

  /** @throws TypeError for a negative or non-finite bound. */
  constructor(options: FileCacheOptions) {
    this.now = options.now;
    this.validMs = nonNegative('validMs', options.validMs ?? 1000);
    this.maxEntries = nonNegative('maxEntries', options.maxEntries ?? 1024);
    this.maxFileBytes = nonNegative('maxFileBytes', options.maxFileBytes ?? 256 * 1024);
    this.maxBytes = nonNegative('maxBytes', options.maxBytes ?? 32 * 1024 * 1024);
  }

  /** Entries held. */
  get size(): number {
    return this.slots.size;
  }

  /** Bytes of file contents held. */
  get contentBytes(): number {
    return this.bytes;
  }

  /** The entry for `key` if it is trusted now (checked less than `validMs` ago); counts a hit. */
  fresh(key: string): CachedFile | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined || this.now() - slot.checkedAt >= this.validMs) return undefined;
    this.stats.hits++;
    return slot.entry;
  }

  /** The entry for `key` whatever its age (to be checked against a `stat` with {@link sameVersion}). */
  stale(key: string): CachedFile | undefined {
    return this.slots.get(key)?.entry;
  }

  /** Marks `key`'s entry as checked now (its file's `stat` matched). */
  revalidated(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.stats.revalidated++;
    slot.checkedAt = this.now();
    this.slots.delete(key);
    this.slots.set(key, slot);
  }

  /** Stores `entry` for `key` (replacing an older version), checked now; evicts to stay in bounds. */
  store(key: string, entry: CachedFile): void {
    if (this.maxEntries === 0) return;
    this.forget(key, false);
    const bodyBytes = entry.body?.byteLength ?? 0;
    this.slots.set(key, { entry, checkedAt: this.now() });
    this.bytes += bodyBytes;
    this.stats.loads++;
    for (const [oldest, slot] of this.slots) {
      if (this.slots.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      if (slot.entry === entry) continue;
      this.forget(oldest, false);
      this.stats.evicted++;
    }
  }

  /** Drops `key`'s entry (its file changed or went away). */
  invalidate(key: string): void {
    this.forget(key, true);
  }

  private forget(key: string, count: boolean): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.bytes -= slot.entry.body?.byteLength ?? 0;
    if (count) this.stats.invalidated++;
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value))
    throw new TypeError(`FileCache: ${name} must be a finite number >= 0, got ${value}`);
  return value;
}
