/**
 * FrameViews: the exact-length views the event-loop port writes a frame through are made once per
 * buffer and length (a steady exchange from one reused buffer makes none per frame), and each shows
 * exactly the first `length` bytes of the buffer asked about.
 */
import { describe, expect, it } from 'vitest';
import { FrameViews } from '../src/tap/frame-views.js';

describe('FrameViews', () => {
  it('returns a whole-length buffer itself, and one view per length of the same buffer', () => {
    const views = new FrameViews();
    const buffer = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(views.of(buffer, 100)).toBe(buffer);
    const a = views.of(buffer, 60);
    expect([...a]).toEqual([...buffer.subarray(0, 60)]);
    expect(a.buffer).toBe(buffer.buffer); // a view, not a copy
    expect(views.of(buffer, 60)).toBe(a);
    const b = views.of(buffer, 10);
    expect(b).not.toBe(a);
    expect(b.byteLength).toBe(10);
    expect(views.of(buffer, 60)).toBe(a);
    expect(views.size).toBe(2);
  });

  it('a run of one length gets the same view, and switching lengths or buffers never returns a stale one', () => {
    const views = new FrameViews();
    const first = Uint8Array.from({ length: 40 }, (_, i) => i);
    const second = Uint8Array.from({ length: 40 }, (_, i) => 100 + i);
    const a = views.of(first, 20);
    expect(views.of(first, 20)).toBe(a);
    expect(views.of(first, 20)).toBe(a);
    const b = views.of(first, 21);
    expect(b.byteLength).toBe(21);
    expect(views.of(first, 20)).toBe(a);
    const c = views.of(second, 20); // the same length of another buffer: a view of that one
    expect(c.buffer).toBe(second.buffer);
    expect([...c.subarray(0, 2)]).toEqual([100, 101]);
    expect(views.of(second, 20)).toBe(c);
    expect(views.of(first, 20).buffer).toBe(first.buffer);
  });

  it('a view of a buffer that starts inside its ArrayBuffer starts there too', () => {
    const whole = Uint8Array.from({ length: 50 }, (_, i) => i);
    const frame = whole.subarray(20, 40);
    expect([...new FrameViews().of(frame, 5)]).toEqual([20, 21, 22, 23, 24]);
  });

  it('another buffer starts over, and so does one length more than it keeps', () => {
    const views = new FrameViews(2);
    const first = new Uint8Array(30);
    const second = new Uint8Array(30);
    const a = views.of(first, 10);
    const b = views.of(second, 10);
    expect(b).not.toBe(a);
    expect(b.buffer).toBe(second.buffer);
    expect(views.size).toBe(1);
    expect(views.of(first, 10)).not.toBe(a); // `second` was asked about since
    views.of(first, 11);
    expect(views.size).toBe(2);
    const c = views.of(first, 12); // a third length: the kept ones are forgotten first
    expect(views.size).toBe(1);
    expect(views.of(first, 12)).toBe(c);
  });
});
