import { describe, expect, it } from 'vitest';
import { encodeSerialFrameToBytes } from '@postern/wire';
import {
  BootFrameDecoder,
  BootFrameType,
  BootProtocolError,
  InfoFlag,
  SlotState,
  encodeBootFrame,
  encodeChunkMap,
  encodeChunkMapRequest,
  encodeErase,
  encodeInfo,
  encodeWrite,
  parseChunkMap,
  parseChunkMapRequest,
  parseErase,
  parseInfo,
  parseWrite,
} from '../src/index.js';
import type { BootFrame, BootInfo } from '../src/index.js';

const info: BootInfo = {
  protocolVersion: 1,
  bootloaderVersion: { major: 1, minor: 2 },
  chunkSize: 1024,
  slotSize: 8 << 20,
  runningSlot: 0,
  confirmedSlot: 0,
  trialSlot: 0xff,
  flags: InfoFlag.ROLLED_BACK,
  keyFingerprint: new Uint8Array(32).fill(7),
  slots: [
    { state: SlotState.CONFIRMED, imageSize: 1234, imageDigest: new Uint8Array(32).fill(1), writtenChunks: 2 },
    { state: SlotState.WRITING, imageSize: 99_999, imageDigest: new Uint8Array(32).fill(2), writtenChunks: 17 },
  ],
  boardId: 'postern-devboard-1',
};

describe('bootloader payloads', () => {
  it('round-trip', () => {
    expect(parseInfo(encodeInfo(info))).toEqual(info);
    const erase = { slot: 1, imageSize: 70_000, imageDigest: new Uint8Array(32).fill(9) };
    expect(parseErase(encodeErase(erase))).toEqual(erase);
    const data = new Uint8Array([1, 2, 3, 0, 5]);
    expect(parseWrite(encodeWrite({ slot: 1, chunk: 65_537, crc: 0xdeadbeef, data }))).toEqual({
      slot: 1,
      chunk: 65_537,
      crc: 0xdeadbeef,
      data,
    });
    expect(parseChunkMapRequest(encodeChunkMapRequest({ slot: 1, first: 8192 }))).toEqual({ slot: 1, first: 8192 });
    const map = { slot: 0, first: 16, total: 30, count: 14, bitmap: new Uint8Array([0xff, 0x2f]) };
    expect(parseChunkMap(encodeChunkMap(map))).toEqual(map);
  });

  it('refuse short payloads with BAD_LENGTH, whatever the cut', () => {
    const whole = [
      encodeInfo(info),
      encodeErase({ slot: 0, imageSize: 1, imageDigest: new Uint8Array(32) }),
      encodeWrite({ slot: 0, chunk: 0, crc: 0, data: new Uint8Array(10) }),
    ];
    const parsers = [parseInfo, parseErase, parseWrite];
    whole.forEach((bytes, k) => {
      for (let n = 0; n < bytes.length; n++) {
        expect(() => parsers[k]!(bytes.subarray(0, n))).toThrow(BootProtocolError);
      }
    });
  });
});

describe('bootloader framing (the device protocol codec)', () => {
  it('delivers bootloader frames across any chunking, drops damaged ones and passes on foreign ones', () => {
    const got: Array<[number, number, string]> = [];
    const foreign: number[] = [];
    const d = new BootFrameDecoder(
      (f: BootFrame) => got.push([f.type, f.seq, Buffer.from(f.payload).toString('hex')]),
      (f) => foreign.push(f.type),
    );
    const a = encodeBootFrame(BootFrameType.WRITE, 0, 7, new Uint8Array(1036).fill(0));
    const b = encodeBootFrame(BootFrameType.INFO, 1, 8, new Uint8Array(0));
    const damaged = encodeBootFrame(BootFrameType.VERIFY, 0, 9, new Uint8Array([0, 0, 0, 0]));
    damaged[damaged.length - 3]! ^= 0x04;
    const hello = encodeSerialFrameToBytes({ type: 0x02, flags: 0, seq: 3, payload: new Uint8Array(8) });
    const stream = Buffer.concat([a, damaged, hello, b]);
    for (let i = 0; i < stream.length; i += 13) d.push(stream.subarray(i, i + 13));
    expect(got).toEqual([
      [BootFrameType.WRITE, 7, '00'.repeat(1036)],
      [BootFrameType.INFO, 8, ''],
    ]);
    expect(foreign).toEqual([0x02]);
    expect(d.stats).toEqual({ frames: 2, damaged: 1, foreign: 1 });
  });
});

describe('the worked examples of docs/flash-protocol.md §9', () => {
  const hex = (b: Uint8Array): string =>
    Buffer.from(b)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ');
  it('encode byte for byte', () => {
    expect(hex(encodeBootFrame(BootFrameType.INFO, 0, 1, new Uint8Array(0)))).toBe(
      '00 02 40 01 02 01 01 01 06 53 7a 34 bd 83 00',
    );
    expect(hex(encodeBootFrame(BootFrameType.SELECT, 0, 7, new Uint8Array([1, 0, 0, 0])))).toBe(
      '00 02 45 01 02 07 02 04 03 d9 01 01 01 05 18 35 62 7f 00',
    );
    expect(hex(encodeBootFrame(BootFrameType.SELECT, 1, 7, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])))).toBe(
      '00 03 45 01 02 07 02 08 03 0c 01 01 01 01 01 01 01 05 c6 af 49 ec 00',
    );
    expect(hex(encodeBootFrame(BootFrameType.SELECT, 3, 7, new Uint8Array([26, 0, 0, 1])))).toBe(
      '00 03 45 03 02 07 02 04 03 a2 1a 01 06 01 cf 62 9d 98 00',
    );
  });
});
