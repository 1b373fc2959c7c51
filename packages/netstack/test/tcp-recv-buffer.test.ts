import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkPool, ReceiveBuffer } from '../src/tcp/index.js';

/** The byte at stream offset i of the peer's stream (retransmissions carry the same bytes). */
const streamByte = (i: number) => (i * 31 + 7) & 0xff;

type Op =
  { kind: 'insert'; offset: number; length: number } | { kind: 'read'; max: number } | { kind: 'view'; max: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      offset: fc.integer({ min: -80, max: 400 }),
      length: fc.integer({ min: 0, max: 120 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('view' as const), max: fc.integer({ min: 1, max: 300 }) }) },
);

/** A naive model: a set of received stream offsets, the consumed count and RCV.NXT. */
class Model {
  received = new Set<number>();
  consumed = 0;
  nxt = 0;
  constructor(readonly capacity: number) {}
  insert(offset: number, length: number): { advanced: number; newBytes: number } {
    const before = this.nxt;
    let newBytes = 0;
    for (let i = 0; i < length; i++) {
      const p = this.nxt + offset + i;
      if (p < this.nxt || p >= this.consumed + this.capacity) continue;
      if (!this.received.has(p)) newBytes++;
      this.received.add(p);
    }
    while (this.received.has(this.nxt)) this.nxt++;
    return { advanced: this.nxt - before, newBytes };
  }
  get readable(): number {
    return this.nxt - this.consumed;
  }
  get outOfOrder(): number {
    let n = 0;
    for (const p of this.received) if (p > this.nxt) n++;
    return n;
  }
  blocks(): Array<[number, number]> {
    const ps = [...this.received].filter((p) => p > this.nxt).sort((a, b) => a - b);
    const out: Array<[number, number]> = [];
    for (const p of ps) {
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === p - this.nxt) last[1]++;
      else out.push([p - this.nxt, p - this.nxt + 1]);
    }
    return out;
  }
  consume(n: number): void {
    for (let i = 0; i < n; i++) this.received.delete(this.consumed + i);
    this.consumed += n;
  }
}

describe('ReceiveBuffer', () => {
  it('matches a naive model under random inserts (out of order, overlapping, duplicate, beyond window) and reads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.array(op, { maxLength: 100 }), (capacity, ops) => {
        const buf = new ReceiveBuffer(capacity, { pool: new ChunkPool(64, 4), maxRanges: 1000 });
        const model = new Model(capacity);
        let inserted = 0;
        let newTotal = 0;
        for (const o of ops) {
          if (o.kind === 'insert') {
            const start = model.nxt + o.offset;
            const data = Uint8Array.from({ length: o.length }, (_, i) => streamByte(start + i));
            const ooBefore = model.outOfOrder;
            const { advanced, newBytes } = model.insert(o.offset, o.length);
            expect(buf.insert(o.offset, data)).toBe(advanced);
            inserted += o.length;
            newTotal += newBytes;
            if (advanced === 0 && model.outOfOrder > ooBefore) {
              // The block holding this segment must come first (RFC 2018).
              const first = buf.sackBlocks(1)[0]!;
              const segStart = Math.max(start, model.nxt) - model.nxt;
              expect(first.left).toBeLessThanOrEqual(segStart);
              expect(first.right).toBeGreaterThan(segStart);
            }
          } else if (o.kind === 'read') {
            const dest = new Uint8Array(o.max);
            const n = buf.read(dest);
            expect(n).toBe(Math.min(o.max, model.readable));
            for (let i = 0; i < n; i++) expect(dest[i]).toBe(streamByte(model.consumed + i));
            model.consume(n);
          } else {
            const view = buf.readView(o.max);
            if (model.readable === 0) expect(view).toBeUndefined();
            else {
              expect(view!.length).toBeGreaterThan(0);
              expect(view!.length).toBeLessThanOrEqual(Math.min(o.max, model.readable));
              for (let i = 0; i < view!.length; i++) expect(view![i]).toBe(streamByte(model.consumed + i));
              const n = view!.length;
              buf.consume(n);
              model.consume(n);
            }
          }
          expect(buf.readable).toBe(model.readable);
          expect(buf.window).toBe(capacity - model.readable);
          expect(buf.outOfOrderBytes).toBe(model.outOfOrder);
          const blocks = buf.sackBlocks(1000).map((b) => [b.left, b.right] as [number, number]);
          expect(blocks.sort((a, b) => a[0] - b[0])).toEqual(model.blocks());
          expect(buf.allocatedBytes).toBeLessThanOrEqual((Math.ceil(capacity / 64) + 1) * 64);
          if (model.readable === 0 && model.outOfOrder === 0) expect(buf.allocatedBytes).toBe(0);
        }
        // Every inserted byte is accounted for exactly once.
        expect(buf.duplicateBytes + buf.beyondWindowBytes + newTotal).toBe(inserted);
      }),
      { numRuns: 400, seed: 31 },
    );
  });

  it('reassembles a reordered stream and reports SACK blocks most recent first', () => {
    const buf = new ReceiveBuffer(1000);
    const seg = (from: number, to: number) => Uint8Array.from({ length: to - from }, (_, i) => streamByte(from + i));
    expect(buf.insert(100, seg(100, 200))).toBe(0);
    expect(buf.insert(300, seg(300, 400))).toBe(0);
    expect(buf.insert(500, seg(500, 600))).toBe(0);
    expect(buf.sackBlocks(4)).toEqual([
      { left: 500, right: 600 },
      { left: 300, right: 400 },
      { left: 100, right: 200 },
    ]);
    expect(buf.insert(150, seg(150, 250))).toBe(0); // extends the first block: now most recent
    expect(buf.sackBlocks(2)).toEqual([
      { left: 100, right: 250 },
      { left: 500, right: 600 },
    ]);
    const edges = new Uint32Array(8);
    expect(buf.writeSackEdges(0xffff_ff00, edges, 4)).toBe(3);
    expect([...edges.subarray(0, 6)]).toEqual(
      [
        (0xffff_ff00 + 100) >>> 0,
        (0xffff_ff00 + 250) >>> 0,
        0xffff_ff00 + 500 - 2 ** 32,
        0xffff_ff00 + 600 - 2 ** 32,
        0xffff_ff00 + 300 - 2 ** 32,
        0xffff_ff00 + 400 - 2 ** 32,
      ].map((x) => x >>> 0),
    );
    expect(buf.insert(0, seg(0, 100))).toBe(250); // fills the first gap, absorbs [100, 250)
    expect(buf.sackBlocks(4)).toEqual([
      { left: 250, right: 350 },
      { left: 50, right: 150 },
    ]);
    expect(buf.outOfOrderBytes).toBe(200);
    const out = new Uint8Array(250);
    expect(buf.read(out)).toBe(250);
    expect([...out]).toEqual([...seg(0, 250)]);
    expect(buf.window).toBe(1000);
  });

  it('bounds out-of-order ranges: keeps the lowest, counts what it drops', () => {
    const buf = new ReceiveBuffer(10_000, { maxRanges: 2 });
    buf.insert(100, new Uint8Array(10));
    buf.insert(300, new Uint8Array(10));
    buf.insert(500, new Uint8Array(10)); // above both: dropped
    expect(buf.outOfOrderRanges).toBe(2);
    expect(buf.droppedRangeLimitBytes).toBe(10);
    buf.insert(200, new Uint8Array(20)); // below the highest: replaces [300, 310)
    expect(
      buf
        .sackBlocks(4)
        .map((b) => b.left)
        .sort((a, b) => a - b),
    ).toEqual([100, 200]);
    expect(buf.droppedRangeLimitBytes).toBe(20);
    expect(buf.outOfOrderBytes).toBe(30);
    buf.insert(110, new Uint8Array(90)); // joins the two ranges: no new range needed
    expect(buf.outOfOrderRanges).toBe(1);
  });

  it('trims data beyond the window and keeps the window from shrinking for out-of-order data', () => {
    const buf = new ReceiveBuffer(100);
    expect(buf.insert(50, new Uint8Array(100))).toBe(0);
    expect(buf.beyondWindowBytes).toBe(50);
    expect(buf.window).toBe(100);
    expect(buf.insert(0, new Uint8Array(60))).toBe(100);
    expect(buf.window).toBe(0);
    expect(buf.insert(0, new Uint8Array(1))).toBe(0);
    expect(buf.beyondWindowBytes).toBe(51);
  });

  it('holds no memory when idle', () => {
    const pool = new ChunkPool(4096, 8);
    const buf = new ReceiveBuffer(65_536, { pool });
    expect(buf.allocatedBytes).toBe(0);
    buf.insert(0, new Uint8Array(5000));
    expect(buf.allocatedBytes).toBe(8192);
    buf.consume(5000);
    expect(buf.allocatedBytes).toBe(0);
    buf.insert(30_000, new Uint8Array(10)); // out of order: one chunk where it lands
    expect(buf.allocatedBytes).toBe(4096);
    buf.clear();
    expect(buf.allocatedBytes).toBe(0);
  });

  it('rejects misuse with RangeError', () => {
    const buf = new ReceiveBuffer(100);
    buf.insert(0, new Uint8Array(10));
    expect(() => buf.consume(11)).toThrow(RangeError);
    expect(() => new ReceiveBuffer(0)).toThrow(RangeError);
    expect(() => new ReceiveBuffer(10, { maxRanges: 0 })).toThrow(RangeError);
    expect(buf.insert(0, new Uint8Array(10), 5, 3)).toBe(0); // inverted range: ignored
    expect(buf.readable).toBe(10);
  });
});

describe('ReceiveBuffer.heldOverlap (the D-SACK of a duplicate held out of order)', () => {
  it('names the first part of a segment already held beyond a gap, and nothing for new or in-order bytes', () => {
    const buf = new ReceiveBuffer(10_000);
    const bytes = new Uint8Array(1000).fill(7);
    expect(buf.insert(2000, bytes)).toBe(0); // held [2000, 3000)
    expect(buf.insert(5000, bytes)).toBe(0); // held [5000, 6000)
    const out = { left: 0, right: 0 };
    expect(buf.heldOverlap(0, 1000, out)).toBe(false);
    expect(buf.heldOverlap(3000, 1000, out)).toBe(false);
    expect(buf.heldOverlap(2000, 1000, out)).toBe(true);
    expect(out).toEqual({ left: 2000, right: 3000 });
    expect(buf.heldOverlap(1500, 4000, out)).toBe(true); // spans a held range and new bytes: the held part
    expect(out).toEqual({ left: 2000, right: 3000 });
    expect(buf.heldOverlap(5500, 1000, out)).toBe(true);
    expect(out).toEqual({ left: 5500, right: 6000 });
    // Once the gap fills, offsets move with RCV.NXT.
    expect(buf.insert(0, new Uint8Array(2000))).toBe(3000);
    expect(buf.heldOverlap(2000, 1000, out)).toBe(true);
    expect(out).toEqual({ left: 2000, right: 3000 });
  });
});
