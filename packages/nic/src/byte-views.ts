/**
 * {@link viewOf} and {@link copyInto}: `subarray` and `set` of a `Uint8Array` for the per-frame paths,
 * without a property lookup per call.
 *
 * Node 20's optimizing compiler (V8 11.3) does not inline the lookup of a typed array's `subarray`
 * and `set` methods, nor its `byteLength` getter: each one is a call of the generic load IC in the
 * optimized code (`length` it reads inline). So the per-frame code of this package reads `length`,
 * never `byteLength`, of a `Uint8Array` (the same number), and calls the two methods taken once from
 * the prototype here, with `call`: the target is then a constant, and no lookup happens per frame.
 */

const { subarray, set } = Uint8Array.prototype;

/** `bytes.subarray(start, end)`: a view of `bytes[start, end)` (no copy), without a method lookup. */
export function viewOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return subarray.call(bytes, start, end);
}

/** `target.set(source, offset)`: copies all of `source` into `target` from `offset` on, without a method lookup. */
export function copyInto(target: Uint8Array, source: Uint8Array, offset: number): void {
  set.call(target, source, offset);
}
