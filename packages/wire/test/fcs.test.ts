import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FCS_LENGTH, checkFcs, crc32, crc32Portable, fcsOf, writeFcs } from '../src/index.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/** Bitwise CRC-32 straight from the definition (reflected 0xEDB88320, init and xor-out 0xFFFFFFFF). */
function bitwiseCrc32(bytes: Uint8Array): number {
  let c = 0xffff_ffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb8_8320 : c >>> 1;
  }
  return (c ^ 0xffff_ffff) >>> 0;
}

/**
 * An ICMP echo request captured with its FCS (NIC in rx-fcs mode): 98 bytes of frame, then the FCS
 * e6 4c b4 86, i.e. 0x86b44ce6 sent least-significant byte first. From github.com/jwbensley/Ethernet-CRC32 (P1.txt).
 */
const CAPTURED_FRAME = hex(`
  08 00 27 27 1a d5 52 54 00 12 35 02 08 00 45 00 00 54 1e 49 40 00 40 01 04 50 0a 00 02 02 0a 00
  02 0f 00 00 59 d6 0f af 00 01 fd b5 f5 5a 00 00 00 00 e1 95 03 00 00 00 00 00 10 11 12 13 14 15
  16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35
  36 37 e6 4c b4 86`);

describe('crc32', () => {
  it('gives the standard check values', () => {
    for (const f of [crc32, crc32Portable]) {
      expect(f(ascii('123456789'))).toBe(0xcbf43926);
      expect(f(new Uint8Array(0))).toBe(0);
      expect(f(Uint8Array.from([]), 0x1234_5678)).toBe(0x1234_5678);
      expect(f(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    }
  });

  it('uses the native path for long buffers and still gives the check value', () => {
    // 1024 copies of "123456789": long enough for zlib.crc32 where it exists.
    const long = new Uint8Array(9 * 1024);
    for (let i = 0; i < long.byteLength; i++) long[i] = 0x31 + (i % 9);
    expect(crc32(long)).toBe(bitwiseCrc32(long));
    expect(crc32Portable(long)).toBe(bitwiseCrc32(long));
  });

  it('portable fallback equals zlib and the bitwise definition on random data and offsets', () => {
    const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(7), fc.nat(0xffff_ffff), (data, skip, initial) => {
        const view = data.subarray(Math.min(skip, data.byteLength));
        const expected = bitwiseCrc32(view);
        expect(crc32Portable(view)).toBe(expected);
        expect(crc32(view)).toBe(expected);
        // Only non-empty data: Node's zlib.crc32 returns 0 for an empty view without a backing store
        // (zlib's crc32(value, NULL, 0) convention), whatever `value` is. crc32() never hands it those.
        if (native !== undefined && view.byteLength > 0) {
          expect(crc32Portable(view, initial)).toBe(native(view, initial));
          expect(crc32(view, initial)).toBe(native(view, initial));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('chains: crc32(b, crc32(a)) is the CRC of a ++ b', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.uint8Array({ maxLength: 700 }), (a, b) => {
        const both = new Uint8Array(a.byteLength + b.byteLength);
        both.set(a);
        both.set(b, a.byteLength);
        expect(crc32(b, crc32(a))).toBe(bitwiseCrc32(both));
        expect(crc32Portable(b, crc32Portable(a))).toBe(bitwiseCrc32(both));
      }),
    );
  });
});

describe('Ethernet FCS', () => {
  const body = CAPTURED_FRAME.subarray(0, CAPTURED_FRAME.byteLength - FCS_LENGTH);

  it('matches the FCS of a captured frame', () => {
    expect(FCS_LENGTH).toBe(4);
    expect(fcsOf(body)).toBe(0x86b44ce6);
    expect(checkFcs(CAPTURED_FRAME)).toBe(true);
  });

  it('writeFcs stores the FCS least-significant byte first, as captured', () => {
    const frame = new Uint8Array(CAPTURED_FRAME.byteLength);
    frame.set(body);
    writeFcs(frame);
    expect(Array.from(frame.subarray(body.byteLength))).toEqual([0xe6, 0x4c, 0xb4, 0x86]);
    expect(frame).toEqual(CAPTURED_FRAME);
  });

  it('checkFcs rejects any single flipped bit and accepts what writeFcs wrote', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.nat(), fc.nat(7), (data, at, bit) => {
        const frame = new Uint8Array(data.byteLength + FCS_LENGTH);
        frame.set(data);
        writeFcs(frame);
        expect(checkFcs(frame)).toBe(true);
        const i = at % frame.byteLength;
        frame[i] = frame[i]! ^ (1 << bit);
        expect(checkFcs(frame)).toBe(false);
      }),
    );
  });

  it('checkFcs accepts exactly the frames whose last 4 bytes are the CRC of the rest, at any offset in a shared buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 1600 }),
        fc.nat(15),
        fc.boolean(),
        (bytes, offset, keepFcs) => {
          const buffer = new Uint8Array(offset + bytes.byteLength + FCS_LENGTH + 8).fill(0xa5);
          const frame = buffer.subarray(offset, offset + bytes.byteLength + FCS_LENGTH);
          frame.set(bytes);
          const body = frame.subarray(0, bytes.byteLength);
          if (keepFcs) writeFcs(frame);
          else frame.set(bytes.subarray(0, FCS_LENGTH), bytes.byteLength);
          const stored = new DataView(frame.buffer, frame.byteOffset + bytes.byteLength, FCS_LENGTH).getUint32(0, true);
          expect(checkFcs(frame)).toBe(bitwiseCrc32(body) === stored);
        },
      ),
    );
  });

  it('handles frames too short to hold an FCS', () => {
    expect(checkFcs(new Uint8Array(3))).toBe(false);
    expect(() => writeFcs(new Uint8Array(3))).toThrow(RangeError);
    const empty = new Uint8Array(4);
    writeFcs(empty); // the CRC of nothing is 0
    expect(Array.from(empty)).toEqual([0, 0, 0, 0]);
    expect(checkFcs(empty)).toBe(true);
  });
});
