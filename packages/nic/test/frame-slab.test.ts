import { describe, expect, it } from 'vitest';
import { FrameSlab } from '../src/tap/frame-slab.js';

const bytes = (n: number, first: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);

describe('FrameSlab', () => {
  it('copies a frame out of a reused buffer: later writes to the source leave the copy unchanged', () => {
    const slab = new FrameSlab(64);
    const source = bytes(20, 1);
    const frame = slab.take(source, 2, 10);
    source.fill(0);
    expect([...frame]).toEqual([...bytes(10, 3)]);
  });

  it('keeps a frame read into the reserved free bytes in place, and the next read lands after it', () => {
    const slab = new FrameSlab(64);
    const area = slab.reserve(16);
    const at = slab.free;
    area.set(bytes(12, 7), at);
    const frame = slab.take(area, at + 2, 10);
    expect(frame.buffer).toBe(area.buffer);
    expect([...frame]).toEqual([...bytes(10, 9)]);
    // The next reservation starts past the kept frame (8-byte aligned), so the frame stays as it is.
    const next = slab.reserve(16);
    expect(next).toBe(area);
    expect(slab.free).toBe(16);
    next.fill(0xee, slab.free, slab.free + 16);
    expect([...frame]).toEqual([...bytes(10, 9)]);
  });

  it('starts a fresh slab when the reservation does not fit, leaving frames of the old one intact', () => {
    const slab = new FrameSlab(32);
    const first = slab.reserve(16);
    first.set(bytes(16, 1), slab.free);
    const kept = slab.take(first, slab.free, 16);
    const second = slab.reserve(24);
    expect(second).not.toBe(first);
    expect(slab.free).toBe(0);
    second.fill(0);
    expect([...kept]).toEqual([...bytes(16, 1)]);
  });

  it('bytes read into the free space and not taken are overwritten by the next read, never handed out', () => {
    const slab = new FrameSlab(64);
    const area = slab.reserve(16);
    area.set(bytes(16, 1), slab.free); // a dropped frame: not taken
    expect(slab.free).toBe(0);
    const frame = slab.take(bytes(8, 100), 0, 8);
    expect([...frame]).toEqual([...bytes(8, 100)]);
    expect(frame.byteOffset).toBe(0);
  });

  it('gives a frame longer than a slab a buffer of its own', () => {
    const slab = new FrameSlab(16);
    const source = bytes(40, 0);
    const frame = slab.take(source, 0, 40);
    expect(frame.byteLength).toBe(40);
    expect(frame.buffer).not.toBe(source.buffer);
    expect([...frame]).toEqual([...source]);
  });

  it('copyFrom copies a header and frame out of a reused buffer and hands out the frame only', () => {
    const slab = new FrameSlab(64);
    const source = bytes(20, 1);
    const prefix = source.subarray(0, 14);
    const frame = slab.copyFrom(prefix, 4);
    source.fill(0);
    expect([...frame]).toEqual([...bytes(10, 5)]);
    // The next frame lands past the copied bytes, header included (8-byte aligned), never over them.
    const next = slab.copyFrom(bytes(6, 50), 2);
    expect(next.buffer).toBe(frame.buffer);
    expect(next.byteOffset).toBe(16 + 2);
    expect([...frame]).toEqual([...bytes(10, 5)]);
    expect([...next]).toEqual([...bytes(4, 52)]);
  });

  it('copyFrom starts a fresh slab when the bytes do not fit, and gives longer ones a buffer of their own', () => {
    const slab = new FrameSlab(16);
    const kept = slab.copyFrom(bytes(12, 1), 2);
    const second = slab.copyFrom(bytes(12, 20), 2);
    expect(second.buffer).not.toBe(kept.buffer);
    expect([...kept]).toEqual([...bytes(10, 3)]);
    expect([...second]).toEqual([...bytes(10, 22)]);
    const long = bytes(40, 0);
    const own = slab.copyFrom(long, 10);
    expect(own.buffer).not.toBe(long.buffer);
    expect([...own]).toEqual([...bytes(30, 10)]);
  });

  it('holds tells a read that landed in the free bytes from one elsewhere', () => {
    const slab = new FrameSlab(64);
    const area = slab.reserve(16);
    expect(slab.holds(area, slab.free)).toBe(true);
    expect(slab.holds(bytes(16, 0), 0)).toBe(false);
    slab.take(area, 0, 10);
    expect(slab.holds(area, 0)).toBe(false); // kept bytes are not free any more
    expect(slab.holds(area, slab.free)).toBe(true);
  });
});
