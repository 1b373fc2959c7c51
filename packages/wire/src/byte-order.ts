/**
 * Network byte order (big-endian) reads and writes of 16- and 32-bit fields at an offset, by byte
 * arithmetic (no `DataView`): what every header view and builder of this package uses, exported so
 * that code building or reading packet bytes elsewhere calls these instead of keeping its own copy.
 * Every function assumes the caller has checked that the bytes it touches exist.
 */

/** Reads a big-endian 16-bit value at `offset` (byte arithmetic: no `DataView` needed). */
export function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** Reads a big-endian unsigned 32-bit value at `offset` (byte arithmetic: no `DataView` needed). */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Writes a big-endian 16-bit value at `offset`. */
export function writeUint16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

/** Writes a big-endian 32-bit value at `offset`. */
export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 0xff;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}
