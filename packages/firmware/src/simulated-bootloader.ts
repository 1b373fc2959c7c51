/**
 * {@link SimulatedBootloader}: the board side of the serial bootloader protocol
 * (docs/flash-protocol.md): the slot rules, trial boot and rollback, over a {@link SlotStore} that
 * keeps the state and the slots' bytes, so that a board "power-cycled" (a new instance on the same
 * store) remembers its slots, its confirmed image and a pending trial. {@link SimulatedBootloader.open}
 * runs it on a flash file ({@link FlashFileSlotStore}: the simulated board), and
 * {@link SimulatedBootloader.withStore} on any store (`postern-board` uses a
 * {@link DirectorySlotStore}: slots as files written atomically).
 *
 * Contract: {@link SimulatedBootloader.handle} answers every request (never throws, whatever the
 * payload), and requests are idempotent, so a host may resend after a lost answer. It never reads a
 * clock: booting happens when the owner calls {@link SimulatedBootloader.boot} (at power-up and after
 * {@link SimulatedBootloader.onReboot} fires). File I/O is synchronous (one request at a time).
 */
import type { KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { crc32 } from '@postern/wire';
import { FirmwareError } from './errors.js';
import type { FirmwareErrorCode } from './errors.js';
import { sha256Bytes, verifyImage } from './image.js';
import type { ImageManifest } from './image.js';
import { keyFingerprintBytes, loadPublicKey } from './keys.js';
import { BootFrameDecoder, BootFrameFlag, encodeBootFrame } from './link.js';
import {
  BOOT_PROTOCOL_VERSION,
  BootErrorCode,
  BootFrameType,
  BootProtocolError,
  CHUNK_MAP_MAX_BITS,
  DEFAULT_CHUNK_SIZE,
  InfoFlag,
  NO_SLOT,
  SlotState,
  encodeBootError,
  encodeChunkMap,
  encodeInfo,
  encodeSlotCount,
  parseChunkMapRequest,
  parseErase,
  parseSlot,
  parseWrite,
} from './protocol.js';
import type { BootErrorName, SlotStateValue } from './protocol.js';
import { FlashFileSlotStore } from './slot-store.js';
import type { BootloaderState, SlotRecord, SlotStore } from './slot-store.js';

/** The default slot size: 8 MiB. */
export const DEFAULT_SLOT_SIZE = 8 * 1024 * 1024;
/** The number of slots (A and B). */
export const SLOT_COUNT = 2;
/** This bootloader's version. */
export const SIMULATED_BOOTLOADER_VERSION = { major: 1, minor: 0 } as const;

/** Options of {@link SimulatedBootloader.withStore}. */
export interface BootloaderOptions {
  /** The board id images must target. */
  boardId: string;
  /** The Ed25519 public key (PEM or KeyObject) images must be signed with. */
  trustedKey: string | KeyObject;
  /** Bytes per slot. Default {@link DEFAULT_SLOT_SIZE}. Must match an existing store's. */
  slotSize?: number;
  /** Bytes per chunk, 64..1024. Default {@link DEFAULT_CHUNK_SIZE}. */
  chunkSize?: number;
}

/** Options of {@link SimulatedBootloader.open}. */
export interface SimulatedBootloaderOptions extends BootloaderOptions {
  /** The flash file; created (sparse) when missing or empty. */
  flashFile: string;
}

/** What {@link SimulatedBootloader.boot} chose to run. */
export interface BootTarget {
  readonly slot: number;
  /** Booted on trial: the firmware must CONFIRM before the next reboot, or the board rolls back. */
  readonly trial: boolean;
  /** The image bytes (verified again at boot). */
  readonly image: Uint8Array;
  readonly manifest: ImageManifest;
}

/** Counters of a {@link SimulatedBootloader}. */
export interface BootloaderStats {
  requests: number;
  errors: number;
  chunksWritten: number;
  chunkCrcErrors: number;
  boots: number;
  rollbacks: number;
  /** Frames the link decoders discarded as damaged, over all attached streams. */
  damagedFrames: number;
}

type PersistentState = BootloaderState;

class Refusal extends Error {
  constructor(
    readonly code: BootErrorName,
    message: string,
    readonly detail = 0,
  ) {
    super(message);
  }
}

const FIRMWARE_TO_BOOT: Record<FirmwareErrorCode, BootErrorName> = {
  BAD_IMAGE: 'BAD_IMAGE',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  WRONG_BOARD: 'WRONG_BOARD',
  TOO_LARGE: 'TOO_LARGE',
  BAD_KEY: 'BAD_SIGNATURE',
  BAD_FLASH: 'BAD_IMAGE',
  BAD_ARGUMENT: 'BAD_ARGUMENT',
};

function emptySlot(): SlotRecord {
  return { state: SlotState.EMPTY, size: 0, digest: '0'.repeat(64), written: '' };
}

/** The simulated board's bootloader. See the module contract. */
export class SimulatedBootloader {
  /** Counters. */
  readonly stats: BootloaderStats = {
    requests: 0,
    errors: 0,
    chunksWritten: 0,
    chunkCrcErrors: 0,
    boots: 0,
    rollbacks: 0,
    damagedFrames: 0,
  };
  /** Called after the answer to a REBOOT request was written: the owner stops the firmware and calls {@link boot}. */
  onReboot: (() => void) | undefined;
  /** Called after a CONFIRM request confirmed the running trial slot. */
  onConfirm: ((slot: number) => void) | undefined;
  readonly boardId: string;
  readonly slotSize: number;
  readonly chunkSize: number;

  private readonly store: SlotStore;
  private readonly key: KeyObject;
  private readonly fingerprint: Uint8Array;
  private readonly state: PersistentState;
  private readonly bitmaps: Uint8Array[];
  private running = NO_SLOT;
  private rolledBack = false;
  private closed = false;

  private constructor(store: SlotStore, options: BootloaderOptions, state: PersistentState) {
    this.store = store;
    this.boardId = options.boardId;
    this.key = loadPublicKey(options.trustedKey);
    this.fingerprint = keyFingerprintBytes(this.key);
    this.state = state;
    this.slotSize = state.slotSize;
    this.chunkSize = state.chunkSize;
    this.bitmaps = state.slots.map((s) => {
      const bits = new Uint8Array(Math.ceil(this.chunkCount(s.size) / 8));
      bits.set(Buffer.from(s.written, 'base64').subarray(0, bits.length));
      return bits;
    });
  }

  /**
   * Opens (or creates) the flash file. Nothing boots until {@link boot} is called.
   * @throws {@link FirmwareError} `BAD_FLASH` (damaged state sector, geometry differs from the options), `BAD_KEY`, `BAD_ARGUMENT`.
   */
  static open(options: SimulatedBootloaderOptions): SimulatedBootloader {
    const { slotSize, chunkSize } = checkGeometry(options);
    loadPublicKey(options.trustedKey);
    const store = FlashFileSlotStore.open(options.flashFile, slotSize, chunkSize, SLOT_COUNT);
    try {
      return SimulatedBootloader.withStore(store, options);
    } catch (err) {
      store.close();
      throw err;
    }
  }

  /**
   * Runs the bootloader on `store` (a blank store gets empty slots). Nothing boots until {@link boot}
   * is called. {@link close} closes the store.
   * @throws {@link FirmwareError} `BAD_FLASH` (damaged state, geometry differs from the options), `BAD_KEY`, `BAD_ARGUMENT`.
   */
  static withStore(store: SlotStore, options: BootloaderOptions): SimulatedBootloader {
    const { slotSize, chunkSize } = checkGeometry(options);
    loadPublicKey(options.trustedKey);
    let state = store.load();
    if (state === undefined) {
      state = {
        slotSize,
        chunkSize,
        confirmed: NO_SLOT,
        trial: NO_SLOT,
        trialBooted: false,
        slots: [emptySlot(), emptySlot()],
      };
      store.save(state);
    } else if (state.slotSize !== slotSize || state.chunkSize !== chunkSize) {
      throw new FirmwareError(
        'BAD_FLASH',
        `the flash has slots of ${state.slotSize} bytes in chunks of ${state.chunkSize}, not ${slotSize}/${chunkSize}`,
      );
    }
    return new SimulatedBootloader(store, options, state);
  }

  /** The slot whose firmware runs, or {@link NO_SLOT}. */
  get runningSlot(): number {
    return this.running;
  }

  /** The confirmed slot, or {@link NO_SLOT}. */
  get confirmedSlot(): number {
    return this.state.confirmed;
  }

  /** The running firmware booted on trial and has not confirmed. */
  get runningOnTrial(): boolean {
    return this.running !== NO_SLOT && this.running === this.state.trial;
  }

  /** The state of `slot`. */
  slotState(slot: number): SlotStateValue {
    return this.state.slots[slot]!.state;
  }

  /**
   * Power-up or reset (§7): boots the pending trial slot once; if the trial slot already had its one
   * boot without a CONFIRM, rolls back (the slot becomes REJECTED) and boots the confirmed slot.
   * Every image is verified again before it boots. Returns undefined when nothing can boot (the
   * board stays in the bootloader).
   */
  boot(): BootTarget | undefined {
    this.running = NO_SLOT;
    this.rolledBack = false;
    const s = this.state;
    if (s.trial !== NO_SLOT) {
      const t = s.trial;
      if (!s.trialBooted) {
        const target = this.bootable(t, true);
        if (target !== undefined) {
          s.trialBooted = true;
          this.persist();
          this.running = t;
          this.stats.boots++;
          return target;
        }
        s.slots[t]!.state = SlotState.INVALID;
      } else {
        s.slots[t]!.state = SlotState.REJECTED;
        this.rolledBack = true;
        this.stats.rollbacks++;
      }
      s.trial = NO_SLOT;
      s.trialBooted = false;
      this.persist();
    }
    if (s.confirmed !== NO_SLOT) {
      const target = this.bootable(s.confirmed, false);
      if (target !== undefined) {
        this.running = s.confirmed;
        this.stats.boots++;
        return target;
      }
    }
    return undefined;
  }

  /** Marks that the firmware stopped (crashed, or the owner halted it): the board is in the bootloader until {@link boot}. */
  halt(): void {
    this.running = NO_SLOT;
  }

  /** Serves the protocol on a byte stream; returns a function that detaches it. */
  attach(stream: Duplex): () => void {
    const decoder = new BootFrameDecoder(
      (f) => {
        if ((f.flags & BootFrameFlag.RESPONSE) !== 0) return;
        const { flags, payload, after } = this.respond(f.type, f.payload);
        if (!stream.destroyed) stream.write(encodeBootFrame(f.type, flags, f.seq, payload));
        after?.();
      },
      (f) => {
        if ((f.flags & BootFrameFlag.RESPONSE) !== 0 || f.type === 0x01) return;
        if (!stream.destroyed)
          stream.write(
            encodeBootFrame(
              f.type,
              BootFrameFlag.RESPONSE | BootFrameFlag.ERROR,
              f.seq,
              encodeBootError(BootErrorCode.UNKNOWN_TYPE, 0),
            ),
          );
      },
    );
    let damaged = 0;
    const onData = (chunk: Buffer): void => {
      decoder.push(chunk);
      this.stats.damagedFrames += decoder.stats.damaged - damaged;
      damaged = decoder.stats.damaged;
    };
    stream.on('data', onData);
    return () => stream.off('data', onData);
  }

  /**
   * Answers one request: the response flags and payload (an error payload when `ERROR` is set).
   * Never throws. Used by {@link attach}; callable directly by tests and other transports.
   */
  handle(type: number, payload: Uint8Array): { flags: number; payload: Uint8Array } {
    const { flags, payload: out, after } = this.respond(type, payload);
    after?.();
    return { flags, payload: out };
  }

  /** Closes the store. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.store.close();
  }

  private respond(type: number, payload: Uint8Array): { flags: number; payload: Uint8Array; after?: () => void } {
    this.stats.requests++;
    try {
      if (this.closed) throw new Refusal('BUSY', 'the bootloader is closed');
      switch (type) {
        case BootFrameType.INFO:
          return ok(this.info());
        case BootFrameType.ERASE:
          return ok(this.erase(payload));
        case BootFrameType.WRITE:
          return ok(this.write(payload));
        case BootFrameType.CHUNK_MAP:
          return ok(this.chunkMap(payload));
        case BootFrameType.VERIFY:
          return ok(this.verify(parseSlot(payload)));
        case BootFrameType.SELECT:
          return ok(this.select(parseSlot(payload)));
        case BootFrameType.CONFIRM:
          return ok(this.confirm());
        case BootFrameType.REBOOT:
          return { flags: BootFrameFlag.RESPONSE, payload: new Uint8Array(0), after: () => this.onReboot?.() };
        default:
          throw new Refusal('UNKNOWN_TYPE', `type 0x${type.toString(16)}`);
      }
    } catch (err) {
      this.stats.errors++;
      const code = err instanceof Refusal || err instanceof BootProtocolError ? err.code : 'BAD_ARGUMENT';
      const detail = err instanceof Refusal || err instanceof BootProtocolError ? err.detail : 0;
      return {
        flags: BootFrameFlag.RESPONSE | BootFrameFlag.ERROR,
        payload: encodeBootError(BootErrorCode[code], detail),
      };
    }
  }

  private info(): Uint8Array {
    const s = this.state;
    let flags = 0;
    if (this.runningOnTrial) flags |= InfoFlag.RUNNING_TRIAL;
    if (this.rolledBack) flags |= InfoFlag.ROLLED_BACK;
    if (s.trial !== NO_SLOT && !s.trialBooted) flags |= InfoFlag.TRIAL_PENDING;
    return encodeInfo({
      protocolVersion: BOOT_PROTOCOL_VERSION,
      bootloaderVersion: SIMULATED_BOOTLOADER_VERSION,
      chunkSize: this.chunkSize,
      slotSize: this.slotSize,
      runningSlot: this.running,
      confirmedSlot: s.confirmed,
      trialSlot: s.trial,
      flags,
      keyFingerprint: this.fingerprint,
      slots: s.slots.map((r, i) => ({
        state: r.state,
        imageSize: r.size,
        imageDigest: Buffer.from(r.digest, 'hex'),
        writtenChunks: countBits(this.bitmaps[i]!),
      })),
      boardId: this.boardId,
    });
  }

  private checkSlot(slot: number): SlotRecord {
    const r = this.state.slots[slot];
    if (r === undefined) throw new Refusal('BAD_SLOT', `no slot ${slot}`, slot);
    return r;
  }

  /** A slot that may be written: not running, not the fallback while a trial runs or waits. */
  private checkWritable(slot: number): SlotRecord {
    const r = this.checkSlot(slot);
    if (slot === this.running) throw new Refusal('BAD_SLOT', `slot ${slot} is running`, slot);
    if (slot === this.state.confirmed) throw new Refusal('BAD_SLOT', `slot ${slot} holds the confirmed image`, slot);
    return r;
  }

  private erase(payload: Uint8Array): Uint8Array {
    const req = parseErase(payload);
    const r = this.checkWritable(req.slot);
    if (req.imageSize === 0) throw new Refusal('BAD_ARGUMENT', 'empty image');
    if (req.imageSize > this.slotSize)
      throw new Refusal(
        'TOO_LARGE',
        `${req.imageSize} > ${this.slotSize}`,
        Math.min(0xffff, Math.ceil(req.imageSize / this.slotSize)),
      );
    if (this.state.trial === req.slot) {
      this.state.trial = NO_SLOT;
      this.state.trialBooted = false;
    }
    const chunks = this.chunkCount(req.imageSize);
    this.store.begin(req.slot, req.imageSize);
    r.state = SlotState.WRITING;
    r.size = req.imageSize;
    r.digest = Buffer.from(req.imageDigest).toString('hex');
    this.bitmaps[req.slot] = new Uint8Array(Math.ceil(chunks / 8));
    this.persist();
    return encodeSlotCount({ slot: req.slot, count: chunks });
  }

  private write(payload: Uint8Array): Uint8Array {
    const req = parseWrite(payload);
    const r = this.checkWritable(req.slot);
    if (r.state !== SlotState.WRITING)
      throw new Refusal('NOT_ERASED', `slot ${req.slot} is not being written`, req.slot);
    const chunks = this.chunkCount(r.size);
    if (req.chunk >= chunks) throw new Refusal('BAD_ARGUMENT', `chunk ${req.chunk} >= ${chunks}`);
    const expected = req.chunk === chunks - 1 ? r.size - req.chunk * this.chunkSize : this.chunkSize;
    if (req.data.length !== expected)
      throw new Refusal('BAD_ARGUMENT', `chunk ${req.chunk} has ${req.data.length} bytes, want ${expected}`);
    if (crc32(req.data) !== req.crc) {
      this.stats.chunkCrcErrors++;
      throw new Refusal('CHUNK_CRC', `chunk ${req.chunk} CRC mismatch`);
    }
    const bits = this.bitmaps[req.slot]!;
    const at = req.chunk * this.chunkSize;
    if ((bits[req.chunk >> 3]! & (1 << (req.chunk & 7))) !== 0) {
      const old = Buffer.from(this.store.read(req.slot, at, expected));
      if (!old.equals(req.data)) throw new Refusal('CHUNK_CONFLICT', `chunk ${req.chunk} was written with other data`);
    } else {
      this.store.write(req.slot, at, req.data);
      bits[req.chunk >> 3]! |= 1 << (req.chunk & 7);
      this.stats.chunksWritten++;
      this.persist(true);
    }
    return encodeSlotCount({ slot: req.slot, count: countBits(bits) });
  }

  private chunkMap(payload: Uint8Array): Uint8Array {
    const req = parseChunkMapRequest(payload);
    const r = this.checkSlot(req.slot);
    if (req.first % 8 !== 0) throw new Refusal('BAD_ARGUMENT', 'first chunk must be a multiple of 8');
    const total = r.state === SlotState.EMPTY ? 0 : this.chunkCount(r.size);
    const count = Math.max(0, Math.min(CHUNK_MAP_MAX_BITS, total - req.first));
    const bits = this.bitmaps[req.slot]!;
    return encodeChunkMap({
      slot: req.slot,
      first: req.first,
      total,
      count,
      bitmap: bits.subarray(req.first >> 3, (req.first >> 3) + Math.ceil(count / 8)),
    });
  }

  private verify(slot: number): Uint8Array {
    const r = this.checkSlot(slot);
    if (r.state === SlotState.EMPTY) throw new Refusal('NOT_ERASED', `slot ${slot} is empty`, slot);
    if (r.state === SlotState.WRITING) {
      const missing = this.chunkCount(r.size) - countBits(this.bitmaps[slot]!);
      if (missing > 0) throw new Refusal('INCOMPLETE', `${missing} chunks missing`, Math.min(missing, 0xffff));
    }
    const image = this.readImage(slot);
    try {
      if (Buffer.from(sha256Bytes(image)).toString('hex') !== r.digest)
        throw new FirmwareError('DIGEST_MISMATCH', 'the written image differs from the declared digest');
      verifyImage(image, this.key, this.boardId);
    } catch (err) {
      if (slot !== this.state.confirmed && slot !== this.running) {
        r.state = SlotState.INVALID;
        this.persist();
      }
      throw new Refusal(
        err instanceof FirmwareError ? FIRMWARE_TO_BOOT[err.code] : 'BAD_IMAGE',
        err instanceof Error ? err.message : String(err),
      );
    }
    if (r.state === SlotState.WRITING || r.state === SlotState.INVALID || r.state === SlotState.REJECTED) {
      this.store.commit(slot);
      r.state = SlotState.VERIFIED;
      this.persist();
    }
    return encodeSlotCount({ slot, count: r.size });
  }

  private select(slot: number): Uint8Array {
    const r = this.checkSlot(slot);
    if (slot === this.state.confirmed) {
      this.state.trial = NO_SLOT;
      this.state.trialBooted = false;
    } else {
      if (r.state !== SlotState.VERIFIED) throw new Refusal('NOT_VERIFIED', `slot ${slot} is not verified`, slot);
      if (this.runningOnTrial)
        throw new Refusal('BUSY', 'a trial image is running; it must confirm or be rolled back first');
      this.state.trial = slot;
      this.state.trialBooted = false;
    }
    this.persist();
    return encodeSlotCount({ slot, count: 0 });
  }

  private confirm(): Uint8Array {
    const slot = this.running;
    if (slot === NO_SLOT) throw new Refusal('NOT_RUNNING', 'no firmware is running');
    const s = this.state;
    if (s.trial === slot) {
      if (s.confirmed !== NO_SLOT && s.confirmed !== slot) s.slots[s.confirmed]!.state = SlotState.VERIFIED;
      s.confirmed = slot;
      s.slots[slot]!.state = SlotState.CONFIRMED;
      s.trial = NO_SLOT;
      s.trialBooted = false;
      this.persist();
      this.onConfirm?.(slot);
    }
    return encodeSlotCount({ slot, count: 0 });
  }

  private bootable(slot: number, trial: boolean): BootTarget | undefined {
    const r = this.state.slots[slot]!;
    if (r.state !== SlotState.VERIFIED && r.state !== SlotState.CONFIRMED) return undefined;
    const image = this.readImage(slot);
    try {
      if (Buffer.from(sha256Bytes(image)).toString('hex') !== r.digest) return undefined;
      const parsed = verifyImage(image, this.key, this.boardId);
      return { slot, trial, image, manifest: parsed.manifest };
    } catch {
      return undefined;
    }
  }

  private readImage(slot: number): Uint8Array {
    return this.store.read(slot, 0, this.state.slots[slot]!.size);
  }

  private chunkCount(size: number): number {
    return Math.ceil(size / this.chunkSize);
  }

  /** Saves the state; `progressOnly`: only chunks were recorded as written since the last save. */
  private persist(progressOnly = false): void {
    this.state.slots.forEach((r, i) => {
      r.written = Buffer.from(this.bitmaps[i]!).toString('base64');
    });
    if (progressOnly) this.store.saveProgress(this.state);
    else this.store.save(this.state);
  }
}

function ok(payload: Uint8Array): { flags: number; payload: Uint8Array } {
  return { flags: BootFrameFlag.RESPONSE, payload };
}

function countBits(bits: Uint8Array): number {
  let n = 0;
  for (let b of bits) {
    while (b !== 0) {
      b &= b - 1;
      n++;
    }
  }
  return n;
}

function checkGeometry(options: BootloaderOptions): { slotSize: number; chunkSize: number } {
  const slotSize = options.slotSize ?? DEFAULT_SLOT_SIZE;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 64 || chunkSize > 1024)
    throw new FirmwareError('BAD_ARGUMENT', `chunk size ${chunkSize} is not in 64..1024`);
  if (!Number.isInteger(slotSize) || slotSize < chunkSize || slotSize % chunkSize !== 0 || slotSize > 0xffffffff) {
    throw new FirmwareError(
      'BAD_ARGUMENT',
      `slot size ${slotSize} is not a positive multiple of the chunk size ${chunkSize}`,
    );
  }
  return { slotSize, chunkSize };
}
