/**
 * Small helpers shared by the views and emitters of this package. Not part of the public API.
 * Every function assumes the caller has checked that the bytes it touches exist.
 * @internal
 */
export { readUint16, readUint32, writeUint16, writeUint32 } from './byte-order.js';

/**
 * Copies `payload` into `buffer` at `offset` unless it already lies exactly there (same underlying
 * buffer, same absolute offset). Overlapping copies are safe (`TypedArray.prototype.set` copies as if
 * through a temporary).
 */
export function copyPayloadUnlessInPlace(buffer: Uint8Array, offset: number, payload: Uint8Array): void {
  if (payload.buffer === buffer.buffer && payload.byteOffset === buffer.byteOffset + offset) return;
  buffer.set(payload, offset);
}

/**
 * The error an emitter throws when its caller broke the contract (buffer too short, field out of
 * range): a RangeError, never a decode error. Build it only on the failing path, so the message is
 * not formatted per packet.
 */
export function emitError(format: string, message: string): RangeError {
  return new RangeError(`${format}: ${message}`);
}
