/**
 * byte-views: `viewOf` is `subarray` (a view, no copy) and `copyInto` is `set`; and the per-frame
 * modules of the TAP path keep reading `length`, not `byteLength`, of their frames (Node 20's
 * optimizing compiler calls the generic load IC for `byteLength`; see `byte-views.ts`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { copyInto, viewOf } from '../src/byte-views.js';

describe('byte views', () => {
  it('viewOf is a view of the same bytes, copyInto copies all of the source at the offset', () => {
    const whole = Uint8Array.from({ length: 16 }, (_, i) => i);
    const frame = whole.subarray(4, 12);
    const view = viewOf(frame, 2, 5);
    expect([...view]).toEqual([6, 7, 8]);
    expect(view.buffer).toBe(whole.buffer);
    view[0] = 99;
    expect(whole[6]).toBe(99); // no copy
    const target = new Uint8Array(6);
    copyInto(target, Uint8Array.of(1, 2, 3), 2);
    expect([...target]).toEqual([0, 0, 1, 2, 3, 0]);
    expect(() => copyInto(target, Uint8Array.of(1, 2, 3), 4)).toThrow(RangeError);
  });

  it('the per-frame modules read length, not byteLength, outside comments', () => {
    const files = [
      'net-device.ts',
      'transmit-admission.ts',
      'tap/tap-driver.ts',
      'tap/event-loop-port.ts',
      'tap/frame-slab.ts',
      'tap/frame-views.ts',
      'tap/tcp-coalescer.ts',
    ];
    for (const file of files) {
      const code = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      expect(code.match(/\.byteLength\b/g) ?? [], file).toEqual([]);
    }
  });
});
