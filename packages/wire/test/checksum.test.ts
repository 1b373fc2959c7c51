import { describe, expect, it } from 'vitest';
import { internetChecksum, checksumUpdate16 } from '../src/index.js';

describe('internetChecksum', () => {
  it('matches the RFC 1071 worked example', () => {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, checksum 220d.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
  });
  it('incremental update equals recomputation', () => {
    const b = Uint8Array.of(0x45, 0, 0, 0x54, 0, 0, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2);
    const before = internetChecksum(b);
    const oldWord = (b[8]! << 8) | b[9]!;
    b[8] = 0x3f;
    const newWord = (b[8]! << 8) | b[9]!;
    expect(checksumUpdate16(before, oldWord, newWord)).toBe(internetChecksum(b));
  });
});
