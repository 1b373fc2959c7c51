import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateFrame, frameLength } from '../src/link/frame.js';

describe('allocateFrame (frames carved from shared slabs)', () => {
  it('hands out zeroed frames of exactly frameLength bytes that never overlap a frame handed out before', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 200 }), (packetLengths) => {
        const frames: Uint8Array[] = [];
        for (const n of packetLengths) {
          const frame = allocateFrame(n);
          expect(frame.byteLength).toBe(frameLength(n));
          expect(frame.every((b) => b === 0)).toBe(true);
          for (const other of frames) {
            if (other.buffer !== frame.buffer) continue;
            const disjoint =
              frame.byteOffset >= other.byteOffset + other.byteLength ||
              other.byteOffset >= frame.byteOffset + frame.byteLength;
            expect(disjoint).toBe(true);
          }
          // The owner writes all over its frame; later frames must not see it.
          frame.fill(0xff);
          frames.push(frame);
        }
      }),
    );
  });

  it('shares one buffer between consecutive full-size frames, and gives a large datagram a buffer of its own', () => {
    const a = allocateFrame(1500);
    const b = allocateFrame(1500);
    const c = allocateFrame(1500);
    // At most one of the two steps crosses into a new slab.
    expect(a.buffer === b.buffer || b.buffer === c.buffer).toBe(true);
    const big = allocateFrame(60_000);
    expect(big.byteLength).toBe(frameLength(60_000));
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(big.byteLength);
  });
});
