import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '@postern/wire';
import {
  BootErrorCode,
  BootFrameDecoder,
  BootFrameType,
  InfoFlag,
  NO_SLOT,
  SimulatedBootloader,
  SlotState,
  buildImage,
  bootErrorName,
  encodeBootFrame,
  encodeChunkMapRequest,
  encodeErase,
  encodeSlot,
  encodeWrite,
  generateSigningKeyPair,
  parseBootError,
  parseChunkMap,
  parseInfo,
  sha256Bytes,
} from '../src/index.js';

const keys = generateSigningKeyPair();
const BOARD = 'board-1';
const CHUNK = 256;

function makeImage(label: string, size = 3000): Uint8Array {
  const blob = new Uint8Array(size).map((_, i) => (i * 31 + label.length) & 0xff);
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
let bl: SimulatedBootloader;
const open = (): SimulatedBootloader =>
  SimulatedBootloader.open({
    flashFile: join(dir, 'flash'),
    boardId: BOARD,
    trustedKey: keys.publicKeyPem,
    slotSize: 64 * 1024,
    chunkSize: CHUNK,
  });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-bl-'));
  bl = open();
});
afterEach(() => {
  bl.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends a request; returns the payload, or the error name for an error response. */
function req(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array | string {
  const r = bl.handle(type, payload);
  return (r.flags & 2) !== 0 ? bootErrorName(parseBootError(r.payload).code) : r.payload;
}

function writeAll(slot: number, image: Uint8Array, skip: (chunk: number) => boolean = () => false): void {
  expect(
    req(BootFrameType.ERASE, encodeErase({ slot, imageSize: image.length, imageDigest: sha256Bytes(image) })),
  ).toBeInstanceOf(Uint8Array);
  for (let c = 0; c * CHUNK < image.length; c++) {
    if (skip(c)) continue;
    const data = image.subarray(c * CHUNK, (c + 1) * CHUNK);
    expect(req(BootFrameType.WRITE, encodeWrite({ slot, chunk: c, crc: crc32(data), data }))).toBeInstanceOf(
      Uint8Array,
    );
  }
}

function install(slot: number, image: Uint8Array): void {
  writeAll(slot, image);
  expect(req(BootFrameType.VERIFY, encodeSlot(slot))).toBeInstanceOf(Uint8Array);
  expect(req(BootFrameType.SELECT, encodeSlot(slot))).toBeInstanceOf(Uint8Array);
}

const info = () => parseInfo(req(BootFrameType.INFO) as Uint8Array);

describe('SimulatedBootloader', () => {
  it('boots nothing when empty and reports its geometry and key', () => {
    expect(bl.boot()).toBeUndefined();
    const i = info();
    expect(i).toMatchObject({
      boardId: BOARD,
      chunkSize: CHUNK,
      slotSize: 64 * 1024,
      runningSlot: NO_SLOT,
      confirmedSlot: NO_SLOT,
      trialSlot: NO_SLOT,
    });
    expect(Buffer.from(i.keyFingerprint).toString('hex')).toBe(keys.fingerprint);
    expect(req(BootFrameType.CONFIRM)).toBe('NOT_RUNNING');
  });

  it('checks each chunk: CRC, length, range, and a rewrite with other data', () => {
    const img = makeImage('a');
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 0, crc: 0, data: img.subarray(0, CHUNK) }))).toBe(
      'NOT_ERASED',
    );
    req(BootFrameType.ERASE, encodeErase({ slot: 0, imageSize: img.length, imageDigest: sha256Bytes(img) }));
    const data = img.subarray(0, CHUNK);
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 0, crc: crc32(data) ^ 1, data }))).toBe('CHUNK_CRC');
    expect(
      req(
        BootFrameType.WRITE,
        encodeWrite({ slot: 0, chunk: 0, crc: crc32(data.subarray(1)), data: data.subarray(1) }),
      ),
    ).toBe('BAD_ARGUMENT');
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 1000, crc: crc32(data), data }))).toBe(
      'BAD_ARGUMENT',
    );
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 0, crc: crc32(data), data }))).toBeInstanceOf(
      Uint8Array,
    );
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 0, crc: crc32(data), data }))).toBeInstanceOf(
      Uint8Array,
    ); // an idempotent resend
    const other = data.map((b) => b ^ 0xff);
    expect(req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: 0, crc: crc32(other), data: other }))).toBe(
      'CHUNK_CONFLICT',
    );
    expect(req(BootFrameType.VERIFY, encodeSlot(0))).toBe('INCOMPLETE');
    expect(req(BootFrameType.SELECT, encodeSlot(0))).toBe('NOT_VERIFIED');
    expect(bl.stats.chunkCrcErrors).toBe(1);
  });

  it('reports written chunks in CHUNK_MAP, also after a power cycle', () => {
    const img = makeImage('a', 5000);
    writeAll(0, img, (c) => c % 3 === 1);
    bl.close();
    bl = open();
    const map = parseChunkMap(req(BootFrameType.CHUNK_MAP, encodeChunkMapRequest({ slot: 0, first: 0 })) as Uint8Array);
    const total = Math.ceil(img.length / CHUNK);
    expect(map.total).toBe(total);
    for (let c = 0; c < total; c++)
      expect(((map.bitmap[c >> 3]! >> (c & 7)) & 1) === 1, `chunk ${c}`).toBe(c % 3 !== 1);
  });

  it('refuses at VERIFY an image whose written bytes differ from the declared digest', () => {
    const img = makeImage('a');
    const wrong = img.slice();
    wrong[100]! ^= 1;
    expect(
      req(BootFrameType.ERASE, encodeErase({ slot: 0, imageSize: img.length, imageDigest: sha256Bytes(img) })),
    ).toBeInstanceOf(Uint8Array);
    for (let c = 0; c * CHUNK < wrong.length; c++) {
      const data = wrong.subarray(c * CHUNK, (c + 1) * CHUNK);
      req(BootFrameType.WRITE, encodeWrite({ slot: 0, chunk: c, crc: crc32(data), data }));
    }
    expect(req(BootFrameType.VERIFY, encodeSlot(0))).toBe('DIGEST_MISMATCH');
    expect(bl.slotState(0)).toBe(SlotState.INVALID);
  });

  it('boots a new image on trial once, keeps it when confirmed, rolls back when not', () => {
    const a = makeImage('a');
    const b = makeImage('bb');
    install(0, a);
    expect(bl.boot()).toMatchObject({ slot: 0, trial: true });
    expect(req(BootFrameType.CONFIRM)).toBeInstanceOf(Uint8Array);
    expect(bl.confirmedSlot).toBe(0);
    expect(bl.boot()).toMatchObject({ slot: 0, trial: false });
    // The running or confirmed slot cannot be erased.
    expect(req(BootFrameType.ERASE, encodeErase({ slot: 0, imageSize: 10, imageDigest: new Uint8Array(32) }))).toBe(
      'BAD_SLOT',
    );
    bl.halt(); // not running now, but still the fallback image
    expect(req(BootFrameType.ERASE, encodeErase({ slot: 0, imageSize: 10, imageDigest: new Uint8Array(32) }))).toBe(
      'BAD_SLOT',
    );
    expect(bl.boot()).toMatchObject({ slot: 0, trial: false });
    install(1, b);
    expect(info().flags & InfoFlag.TRIAL_PENDING).toBe(InfoFlag.TRIAL_PENDING);
    expect(bl.boot()).toMatchObject({ slot: 1, trial: true, manifest: { name: 'bb' } });
    expect(info().flags & InfoFlag.RUNNING_TRIAL).toBe(InfoFlag.RUNNING_TRIAL);
    // No confirmation, and a power cycle in between: the next boot rolls back.
    bl.close();
    bl = open();
    expect(bl.boot()).toMatchObject({ slot: 0, trial: false, manifest: { name: 'a' } });
    expect(bl.stats.rollbacks).toBe(1);
    expect(bl.slotState(1)).toBe(SlotState.REJECTED);
    expect(info().flags & InfoFlag.ROLLED_BACK).toBe(InfoFlag.ROLLED_BACK);
    // Flash b again, confirm it this time: it becomes the image that boots.
    expect(req(BootFrameType.VERIFY, encodeSlot(1))).toBeInstanceOf(Uint8Array);
    expect(req(BootFrameType.SELECT, encodeSlot(1))).toBeInstanceOf(Uint8Array);
    expect(bl.boot()).toMatchObject({ slot: 1, trial: true });
    req(BootFrameType.CONFIRM);
    expect(bl.boot()).toMatchObject({ slot: 1, trial: false });
    expect(bl.slotState(0)).toBe(SlotState.VERIFIED);
    expect(bl.slotState(1)).toBe(SlotState.CONFIRMED);
  });

  it('does not boot a slot whose flash was damaged after it was verified', () => {
    install(0, makeImage('a'));
    bl.close();
    // Damage a byte in slot 0 behind the bootloader's back (inverted, so it surely changes).
    const fd = openSync(join(dir, 'flash'), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 64 * 1024 + 500);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 64 * 1024 + 500);
    closeSync(fd);
    bl = open();
    expect(bl.boot()).toBeUndefined();
  });

  it('refuses a flash file of another geometry', () => {
    bl.close();
    expect(() =>
      SimulatedBootloader.open({
        flashFile: join(dir, 'flash'),
        boardId: BOARD,
        trustedKey: keys.publicKeyPem,
        slotSize: 128 * 1024,
        chunkSize: CHUNK,
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_FLASH' }));
    bl = open();
  });

  it('answers over a byte stream, UNKNOWN_TYPE for types it does not know', () => {
    const toBoard = new PassThrough();
    const fromBoard = new PassThrough();
    const duplex = Object.assign(toBoard, { write: (b: Uint8Array) => fromBoard.write(b) }) as unknown as Duplex;
    bl.attach(duplex);
    const answers: Array<[number, number, number]> = [];
    const dec = new BootFrameDecoder(
      (f) => answers.push([f.type, f.flags, f.seq]),
      (f) => answers.push([f.type, f.flags, parseBootError(f.payload).code]),
    );
    fromBoard.on('data', (b: Buffer) => dec.push(b));
    toBoard.push(encodeBootFrame(BootFrameType.INFO, 0, 5, new Uint8Array(0)));
    toBoard.push(encodeBootFrame(0x02, 0, 6, new Uint8Array(8)));
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(answers).toEqual([
          [BootFrameType.INFO, 1, 5],
          [0x02, 3, BootErrorCode.UNKNOWN_TYPE],
        ]);
        resolve();
      }),
    );
  });
});
