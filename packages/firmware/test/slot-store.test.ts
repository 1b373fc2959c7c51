// The bootloader over each SlotStore: the same slot rules on a flash file, a directory of atomically
// written files, and memory; the directory store's files after a flash, an interrupted write, and a
// damaged state file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '@postern/wire';
import {
  BootFrameType,
  DIRECTORY_STORE_FILES,
  DirectorySlotStore,
  FirmwareError,
  FlashFileSlotStore,
  MemorySlotStore,
  NO_SLOT,
  SimulatedBootloader,
  SlotState,
  buildImage,
  encodeErase,
  encodeSlot,
  encodeWrite,
  generateSigningKeyPair,
  sha256Bytes,
} from '../src/index.js';
import type { SlotStore } from '../src/index.js';

const keys = generateSigningKeyPair();
const BOARD = 'board-1';
const CHUNK = 256;
const SLOT = 64 * 1024;

function makeImage(label: string, size = 3000): Uint8Array {
  const blob = new Uint8Array(size).map((_, i) => (i * 7 + label.length) & 0xff);
  return buildImage(
    [
      { path: 'main.mjs', data: new TextEncoder().encode(label) },
      { path: 'blob', data: blob },
    ],
    { name: label, version: '1.0.0', target: BOARD, entry: 'main.mjs', runtime: '>=20', defaultConfig: {} },
    keys.privateKeyPem,
  );
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const on = (store: SlotStore): SimulatedBootloader =>
  SimulatedBootloader.withStore(store, {
    boardId: BOARD,
    trustedKey: keys.publicKeyPem,
    slotSize: SLOT,
    chunkSize: CHUNK,
  });

function ok(bl: SimulatedBootloader, type: number, payload: Uint8Array = new Uint8Array(0)): void {
  const r = bl.handle(type, payload);
  expect(r.flags & 2, `request 0x${type.toString(16)} refused`).toBe(0);
}

function write(bl: SimulatedBootloader, slot: number, image: Uint8Array, upTo = Infinity): void {
  ok(bl, BootFrameType.ERASE, encodeErase({ slot, imageSize: image.length, imageDigest: sha256Bytes(image) }));
  for (let c = 0; c * CHUNK < image.length && c < upTo; c++) {
    const data = image.subarray(c * CHUNK, (c + 1) * CHUNK);
    ok(bl, BootFrameType.WRITE, encodeWrite({ slot, chunk: c, crc: crc32(data), data }));
  }
}

function install(bl: SimulatedBootloader, slot: number, image: Uint8Array): void {
  write(bl, slot, image);
  ok(bl, BootFrameType.VERIFY, encodeSlot(slot));
  ok(bl, BootFrameType.SELECT, encodeSlot(slot));
}

const stores: Array<[string, () => () => SlotStore]> = [
  ['flash file', () => () => FlashFileSlotStore.open(join(dir, 'flash'), SLOT, CHUNK)],
  ['directory', () => () => DirectorySlotStore.open(join(dir, 'slots'))],
  [
    'memory',
    () => {
      const m = new MemorySlotStore();
      return () => m;
    },
  ],
];

describe.each(stores)('SimulatedBootloader on a %s store', (_name, factory) => {
  it('keeps the confirmed image across power cycles, boots a trial once and rolls it back', () => {
    const open = factory();
    const a = makeImage('a');
    const b = makeImage('b', 5000);
    let bl = on(open());
    install(bl, 0, a);
    expect(bl.boot()?.slot).toBe(0);
    ok(bl, BootFrameType.CONFIRM);
    install(bl, 1, b);
    bl.close();
    bl = on(open());
    const trial = bl.boot();
    expect(trial?.slot).toBe(1);
    expect(trial?.trial).toBe(true);
    expect(Buffer.from(trial!.image).equals(Buffer.from(b))).toBe(true);
    bl.close();
    bl = on(open());
    const back = bl.boot();
    expect(back?.slot).toBe(0);
    expect(Buffer.from(back!.image).equals(Buffer.from(a))).toBe(true);
    expect(bl.slotState(1)).toBe(SlotState.REJECTED);
    bl.close();
  });

  it('boots the confirmed image after a write stopped halfway, and resumes the write', () => {
    const open = factory();
    const a = makeImage('a');
    const b = makeImage('b', 6000);
    let bl = on(open());
    install(bl, 0, a);
    bl.boot();
    ok(bl, BootFrameType.CONFIRM);
    write(bl, 1, b, 5);
    bl.close();
    bl = on(open());
    expect(bl.boot()?.slot).toBe(0);
    expect(bl.slotState(1)).toBe(SlotState.WRITING);
    for (let c = 5; c * CHUNK < b.length; c++) {
      const data = b.subarray(c * CHUNK, (c + 1) * CHUNK);
      ok(bl, BootFrameType.WRITE, encodeWrite({ slot: 1, chunk: c, crc: crc32(data), data }));
    }
    ok(bl, BootFrameType.VERIFY, encodeSlot(1));
    expect(bl.slotState(1)).toBe(SlotState.VERIFIED);
    bl.close();
  });
});

describe('DirectorySlotStore', () => {
  it('keeps each slot in its own file, the image under .part until it verifies, and no temporary files', () => {
    const slots = join(dir, 'slots');
    const bl = on(DirectorySlotStore.open(slots));
    const a = makeImage('a');
    write(bl, 0, a);
    expect(existsSync(join(slots, DIRECTORY_STORE_FILES.partial(0)))).toBe(true);
    expect(existsSync(join(slots, DIRECTORY_STORE_FILES.image(0)))).toBe(false);
    ok(bl, BootFrameType.VERIFY, encodeSlot(0));
    expect(readdirSync(slots).sort()).toEqual([DIRECTORY_STORE_FILES.image(0), DIRECTORY_STORE_FILES.state]);
    expect(Buffer.from(readFileSync(join(slots, DIRECTORY_STORE_FILES.image(0)))).equals(Buffer.from(a))).toBe(true);
    bl.close();
  });

  it('refuses a damaged state file with BAD_FLASH rather than booting from it', () => {
    const slots = join(dir, 'slots');
    on(DirectorySlotStore.open(slots)).close();
    const path = join(slots, DIRECTORY_STORE_FILES.state);
    const bytes = readFileSync(path);
    bytes[bytes.length - 2]! ^= 0x01;
    writeFileSync(path, bytes);
    expect(() => on(DirectorySlotStore.open(slots))).toThrow(FirmwareError);
  });

  it('does not boot an image whose file changed on storage after it verified', () => {
    const slots = join(dir, 'slots');
    let bl = on(DirectorySlotStore.open(slots));
    install(bl, 0, makeImage('a'));
    bl.close();
    const path = join(slots, DIRECTORY_STORE_FILES.image(0));
    const bytes = readFileSync(path);
    bytes[100]! ^= 0x40;
    writeFileSync(path, bytes);
    bl = on(DirectorySlotStore.open(slots));
    expect(bl.boot()).toBeUndefined();
    expect(bl.runningSlot).toBe(NO_SLOT);
    expect(bl.slotState(0)).toBe(SlotState.INVALID);
    bl.close();
  });
});
