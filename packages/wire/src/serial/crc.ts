/**
 * The checks the serial protocol uses (docs/device-protocol.md §4):
 *
 * - CRC-32/ISO-HDLC, the IEEE 802.3 FCS ({@link crc32}): it covers control frames,
 *   and the Ethernet frame inside a DATA frame carries its own.
 * - CRC-8/SMBUS (polynomial 0x07, initial 0x00, no reflection, no final XOR; check value of ASCII
 *   "123456789" is 0xF4): it covers the first 7 header bytes of every frame.
 *
 * Nothing here allocates except the one view {@link hasValidCrc32Trailer} takes.
 */
import { crc32 } from '../fcs.js';

const CRC8_TABLE = buildCrc8Table();

function buildCrc8Table(): Uint8Array {
  const t = new Uint8Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    t[n] = c;
  }
  return t;
}

/** CRC-8/SMBUS over `bytes[start, end)`. */
export function crc8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0;
  for (let i = start; i < end; i++) c = CRC8_TABLE[c ^ bytes[i]!]!;
  return c;
}

/** True when the last 4 bytes of `bytes[start, end)` are the little-endian CRC-32 of the bytes before them. */
export function hasValidCrc32Trailer(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 4) return false;
  const c = crc32(bytes.subarray(start, end - 4));
  return (
    bytes[end - 4] === (c & 0xff) &&
    bytes[end - 3] === ((c >>> 8) & 0xff) &&
    bytes[end - 2] === ((c >>> 16) & 0xff) &&
    bytes[end - 1] === c >>> 24
  );
}
