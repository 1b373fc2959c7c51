/**
 * Moving held bytes from one {@link ChunkedRing} to another, for a TCP buffer that grows past the
 * ring it was built with (a rare application call, never per packet).
 */
import type { ChunkedRing } from './chunk-pool.js';

/**
 * Copies `length` bytes held in `from` at ring position `fromPos` (wrapping) into `to` at
 * `toPos` (wrapping), chunk by chunk, without an intermediate buffer. Every source byte must have
 * been written (the caller copies held ranges only); `to` takes chunks as it needs them.
 */
export function copyRingBytes(
  from: ChunkedRing,
  fromPos: number,
  to: ChunkedRing,
  toPos: number,
  length: number,
): void {
  let src = fromPos;
  let dst = toPos;
  let left = length;
  while (left > 0) {
    const view = from.view(src, left);
    to.write(dst, view, 0, view.length);
    left -= view.length;
    src += view.length;
    if (src >= from.size) src -= from.size;
    dst += view.length;
    if (dst >= to.size) dst -= to.size;
  }
}
