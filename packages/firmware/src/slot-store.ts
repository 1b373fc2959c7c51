/**
 * Where a bootloader keeps its non-volatile state and the bytes of slots A and B: the
 * {@link SlotStore} interface that {@link SimulatedBootloader} runs on, and three stores:
 *
 * - {@link FlashFileSlotStore}: one flash file (a state sector, then both slots), the simulated
 *   board's NOR flash (`postern-sim --flash FILE`);
 * - {@link DirectorySlotStore}: a directory of ordinary files on a Linux board's storage, every
 *   change written atomically (write, fsync, rename), so a power cut at any instant leaves either the
 *   old or the new version of each file (`postern-board`);
 * - {@link MemorySlotStore}: memory only, for tests (a new bootloader on the same store is a
 *   power-cycled board).
 *
 * Contract of every store: {@link SlotStore.load} returns what the last completed
 * {@link SlotStore.save} saved (a copy), or undefined for a blank store; slot bytes written with
 * {@link SlotStore.write} are read back by {@link SlotStore.read} until the next
 * {@link SlotStore.begin} of that slot. All I/O is synchronous. Stores throw {@link FirmwareError}
 * `BAD_FLASH` for damaged state.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '@postern/wire';
import { FirmwareError } from './errors.js';
import type { SlotStateValue } from './protocol.js';

/** One slot's non-volatile record. */
export interface SlotRecord {
  state: SlotStateValue;
  /** The declared image size. */
  size: number;
  /** The declared SHA-256 of the image, 64 lowercase hex digits. */
  digest: string;
  /** Base64 bitmap of written chunks (bit i of byte i>>3, LSB first). */
  written: string;
}

/** The bootloader's non-volatile state (docs/flash-protocol.md §7). */
export interface BootloaderState {
  slotSize: number;
  chunkSize: number;
  /** The confirmed slot, or 0xFF. */
  confirmed: number;
  /** The trial slot, or 0xFF. */
  trial: number;
  /** The trial slot has had its one boot. */
  trialBooted: boolean;
  slots: SlotRecord[];
}

/** Non-volatile storage of a bootloader. See the module contract. */
export interface SlotStore {
  /** The state saved last (a copy the caller may change), or undefined when nothing was ever saved. */
  load(): BootloaderState | undefined;
  /** Saves `state` durably; after a power cut, {@link load} returns either this or the previous state. */
  save(state: BootloaderState): void;
  /**
   * Saves `state` that differs from the last saved one only in chunks recorded as written. A store
   * on slow storage may defer it (the next {@link save}, {@link commit} or {@link close} makes it
   * durable): after a power cut {@link load} may then return an older record that lacks chunks
   * written since, never one that names a chunk whose bytes are not on storage.
   */
  saveProgress(state: BootloaderState): void;
  /** Starts a new image of `size` bytes in `slot`: its previous bytes are no longer read. */
  begin(slot: number, size: number): void;
  /** Writes `data` at `offset` of the image being written into `slot`. */
  write(slot: number, offset: number, data: Uint8Array): void;
  /** Reads `length` bytes at `offset` of the image in `slot` (bytes never written read as 0xFF or 0). */
  read(slot: number, offset: number, length: number): Uint8Array;
  /** The image in `slot` has been verified: keep it durably as a whole. */
  commit(slot: number): void;
  /** Releases the store. Idempotent. */
  close(): void;
}

/** Bytes of the state sector at the start of a flash file. */
export const STATE_SECTOR_LENGTH = 64 * 1024;

const STATE_MAGIC = 0x50424c4d; // "PBLM"
const HEAD = 12;

/** Encodes the state as a state record: magic, JSON length, CRC-32 of the JSON, the JSON. */
function encodeState(state: BootloaderState, limit: number): Buffer {
  const json = Buffer.from(JSON.stringify(state), 'utf8');
  if (json.length > limit - HEAD) throw new FirmwareError('BAD_FLASH', 'bootloader state does not fit its sector');
  const out = Buffer.alloc(HEAD + json.length);
  out.writeUInt32BE(STATE_MAGIC, 0);
  out.writeUInt32BE(json.length, 4);
  out.writeUInt32BE(crc32(json), 8);
  json.copy(out, HEAD);
  return out;
}

/** Decodes a state record. @throws {@link FirmwareError} `BAD_FLASH`. */
function decodeState(head: Buffer, readJson: (length: number) => Buffer, slotCount: number): BootloaderState {
  if (head.length < HEAD || head.readUInt32BE(0) !== STATE_MAGIC)
    throw new FirmwareError('BAD_FLASH', 'not a bootloader state (bad magic)');
  const length = head.readUInt32BE(4);
  if (length > STATE_SECTOR_LENGTH - HEAD) throw new FirmwareError('BAD_FLASH', 'damaged bootloader state (length)');
  const json = readJson(length);
  if (json.length !== length || crc32(json) !== head.readUInt32BE(8))
    throw new FirmwareError('BAD_FLASH', 'damaged bootloader state (CRC)');
  const state = JSON.parse(json.toString('utf8')) as BootloaderState;
  if (!Array.isArray(state.slots) || state.slots.length !== slotCount)
    throw new FirmwareError('BAD_FLASH', 'damaged bootloader state (slots)');
  return state;
}

function copyState(state: BootloaderState): BootloaderState {
  return { ...state, slots: state.slots.map((s) => ({ ...s })) };
}

/**
 * The simulated board's flash: one file, a {@link STATE_SECTOR_LENGTH} state sector (magic "PBLM",
 * u32 JSON length, u32 CRC-32 of the JSON, the JSON state), then slot 0 and slot 1 of `slotSize`
 * bytes each. {@link FlashFileSlotStore.begin} erases the image's chunks to 0xFF, as NOR flash does.
 */
export class FlashFileSlotStore implements SlotStore {
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly slotSize: number,
    private readonly chunkSize: number,
    private readonly slotCount: number,
  ) {}

  /** Opens (or creates, sparse) the flash file for `slotCount` slots of `slotSize` bytes. */
  static open(path: string, slotSize: number, chunkSize: number, slotCount = 2): FlashFileSlotStore {
    closeSync(openSync(path, 'a+'));
    const fd = openSync(path, 'r+');
    if (fstatSync(fd).size === 0) ftruncateSync(fd, STATE_SECTOR_LENGTH + slotCount * slotSize);
    return new FlashFileSlotStore(fd, slotSize, chunkSize, slotCount);
  }

  /** @inheritDoc */
  load(): BootloaderState | undefined {
    const head = Buffer.alloc(HEAD);
    readSync(this.fd, head, 0, HEAD, 0);
    if (head.every((b) => b === 0)) return undefined;
    return decodeState(
      head,
      (length) => {
        const json = Buffer.alloc(length);
        readSync(this.fd, json, 0, length, HEAD);
        return json;
      },
      this.slotCount,
    );
  }

  /** @inheritDoc */
  save(state: BootloaderState): void {
    const rec = encodeState(state, STATE_SECTOR_LENGTH);
    writeSync(this.fd, rec, 0, rec.length, 0);
  }

  /** Saves at once (a write into the state sector is cheap). */
  saveProgress(state: BootloaderState): void {
    this.save(state);
  }

  /** @inheritDoc */
  begin(slot: number, size: number): void {
    const chunks = Math.ceil(size / this.chunkSize);
    const bytes = chunks * this.chunkSize;
    const blank = Buffer.alloc(this.chunkSize * Math.min(chunks, 256), 0xff);
    for (let off = 0; off < bytes; off += blank.length) {
      writeSync(this.fd, blank, 0, Math.min(blank.length, bytes - off), this.offset(slot) + off);
    }
  }

  /** @inheritDoc */
  write(slot: number, offset: number, data: Uint8Array): void {
    writeSync(this.fd, data, 0, data.length, this.offset(slot) + offset);
  }

  /** @inheritDoc */
  read(slot: number, offset: number, length: number): Uint8Array {
    const out = Buffer.alloc(length);
    readSync(this.fd, out, 0, length, this.offset(slot) + offset);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** Nothing to do: the bytes are in place. */
  commit(_slot: number): void {}

  /** @inheritDoc */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private offset(slot: number): number {
    return STATE_SECTOR_LENGTH + slot * this.slotSize;
  }
}

/** The file names a {@link DirectorySlotStore} uses, inside its directory. */
export const DIRECTORY_STORE_FILES = {
  state: 'state.bin',
  /** The verified image of slot N (`slot-a.img`, `slot-b.img`): only ever replaced whole, by rename. */
  image: (slot: number): string => `slot-${String.fromCharCode(97 + slot)}.img`,
  /** The image being written into slot N. */
  partial: (slot: number): string => `slot-${String.fromCharCode(97 + slot)}.part`,
} as const;

/**
 * Slots as files in a directory on a Linux board's storage:
 * - `state.bin`: the state record (as in a flash file's state sector), replaced by writing
 *   `state.bin.tmp`, fsync, rename over `state.bin`, fsync of the directory;
 * - `slot-a.part` / `slot-b.part`: the image being written (chunks at their offsets);
 * - `slot-a.img` / `slot-b.img`: a verified image, made by fsync of the `.part` file and rename.
 *
 * A slot's bytes are its `.part` file while one exists, else its `.img`. A power cut at any instant
 * leaves the old or the new `state.bin` and each `.img` complete: the confirmed image is never
 * touched while another slot is written. Stale `*.tmp` files are removed on open.
 *
 * Progress (chunks written) is saved every {@link DirectorySlotStore.progressInterval} chunks, after
 * an fsync of the `.part` file, rather than three fsyncs per chunk: a power cut costs at most that
 * many chunks to send again, and the record never names a chunk that is not on storage.
 */
export class DirectorySlotStore implements SlotStore {
  /** Chunk-progress saves deferred before one is written (see the class comment). */
  readonly progressInterval = 64;
  private readonly fds = new Map<string, number>();
  private pending: BootloaderState | undefined;
  private deferred = 0;
  private closed = false;

  private constructor(
    /** The directory. */
    readonly directory: string,
    private readonly slotCount: number,
  ) {}

  /** Opens (creating it when missing) the store in `directory`. */
  static open(directory: string, slotCount = 2): DirectorySlotStore {
    mkdirSync(directory, { recursive: true });
    rmSync(join(directory, `${DIRECTORY_STORE_FILES.state}.tmp`), { force: true });
    return new DirectorySlotStore(directory, slotCount);
  }

  /** @inheritDoc */
  load(): BootloaderState | undefined {
    const path = join(this.directory, DIRECTORY_STORE_FILES.state);
    if (!existsSync(path)) return undefined;
    const bytes = readFileSync(path);
    return decodeState(bytes.subarray(0, HEAD), (length) => bytes.subarray(HEAD, HEAD + length), this.slotCount);
  }

  /** @inheritDoc */
  save(state: BootloaderState): void {
    this.syncPartials();
    this.pending = undefined;
    this.deferred = 0;
    const rec = encodeState(state, STATE_SECTOR_LENGTH);
    const path = join(this.directory, DIRECTORY_STORE_FILES.state);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, rec, 0, rec.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    this.syncDirectory();
  }

  /** @inheritDoc */
  saveProgress(state: BootloaderState): void {
    if (++this.deferred >= this.progressInterval) this.save(state);
    else this.pending = copyState(state);
  }

  /** @inheritDoc */
  begin(slot: number, size: number): void {
    this.closeFd(slot);
    const path = this.path(DIRECTORY_STORE_FILES.partial(slot));
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, size);
    fsyncSync(fd);
    this.fds.set(path, fd);
    this.syncDirectory();
  }

  /** @inheritDoc */
  write(slot: number, offset: number, data: Uint8Array): void {
    const fd = this.partialFd(slot);
    writeSync(fd, data, 0, data.length, offset);
  }

  /** @inheritDoc */
  read(slot: number, offset: number, length: number): Uint8Array {
    const out = Buffer.alloc(length);
    const partial = this.path(DIRECTORY_STORE_FILES.partial(slot));
    const path = existsSync(partial) ? partial : this.path(DIRECTORY_STORE_FILES.image(slot));
    if (!existsSync(path)) return new Uint8Array(out.buffer, out.byteOffset, out.length);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, out, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** Makes the slot's `.part` file its `.img` (fsync, rename, fsync of the directory); nothing when no `.part` exists. */
  commit(slot: number): void {
    const partial = this.path(DIRECTORY_STORE_FILES.partial(slot));
    if (!existsSync(partial)) return;
    fsyncSync(this.partialFd(slot));
    this.closeFd(slot);
    renameSync(partial, this.path(DIRECTORY_STORE_FILES.image(slot)));
    this.syncDirectory();
  }

  /** @inheritDoc */
  close(): void {
    if (this.closed) return;
    if (this.pending !== undefined) this.save(this.pending);
    this.closed = true;
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  /** Chunk bytes reach storage before any record that names them. */
  private syncPartials(): void {
    for (const fd of this.fds.values()) fsyncSync(fd);
  }

  private path(name: string): string {
    return join(this.directory, name);
  }

  private partialFd(slot: number): number {
    const path = this.path(DIRECTORY_STORE_FILES.partial(slot));
    let fd = this.fds.get(path);
    if (fd === undefined) {
      if (!existsSync(path)) throw new FirmwareError('BAD_FLASH', `slot ${slot} has no image being written`);
      fd = openSync(path, 'r+');
      this.fds.set(path, fd);
    }
    return fd;
  }

  private closeFd(slot: number): void {
    const path = this.path(DIRECTORY_STORE_FILES.partial(slot));
    const fd = this.fds.get(path);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(path);
  }

  private syncDirectory(): void {
    const fd = openSync(this.directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** A store in memory only (tests): a new bootloader on the same store is a power-cycled board. */
export class MemorySlotStore implements SlotStore {
  private state: BootloaderState | undefined;
  private readonly slots = new Map<number, Uint8Array>();

  /** @inheritDoc */
  load(): BootloaderState | undefined {
    return this.state === undefined ? undefined : copyState(this.state);
  }

  /** @inheritDoc */
  save(state: BootloaderState): void {
    this.state = copyState(state);
  }

  /** Saves at once. */
  saveProgress(state: BootloaderState): void {
    this.save(state);
  }

  /** @inheritDoc */
  begin(slot: number, size: number): void {
    this.slots.set(slot, new Uint8Array(size).fill(0xff));
  }

  /** @inheritDoc */
  write(slot: number, offset: number, data: Uint8Array): void {
    const bytes = this.slots.get(slot);
    if (bytes === undefined) throw new FirmwareError('BAD_FLASH', `slot ${slot} has no image being written`);
    bytes.set(data, offset);
  }

  /** @inheritDoc */
  read(slot: number, offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const bytes = this.slots.get(slot);
    if (bytes !== undefined) out.set(bytes.subarray(offset, offset + length));
    return out;
  }

  /** Nothing to do: memory holds the bytes. */
  commit(_slot: number): void {}

  /** Nothing to release. */
  close(): void {}
}
