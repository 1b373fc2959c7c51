/**
 * What an idle connection's buffers hold: nothing. A ring takes its chunks and its table of chunk
 * slots from the pool on the first write and gives both back when it empties, so a keep-alive
 * connection between requests pins no buffer memory, and the next request reuses the pooled table
 * instead of allocating one. The out-of-order range arrays start small and grow only when needed,
 * without losing a range.
 */
import { describe, expect, it } from 'vitest';
import { ChunkPool, ReceiveBuffer, SendBuffer } from '../src/index.js';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('idle TCP buffers', () => {
  it('a send buffer gives its chunks and slot table back once acknowledged, and the next write reuses the table', () => {
    const pool = new ChunkPool(64, 16);
    const a = new SendBuffer(1024, { pool });
    const b = new SendBuffer(1024, { pool });
    expect(a.write(bytes(100, 1))).toBe(100);
    expect([pool.retained, pool.retainedTables]).toEqual([0, 0]);
    a.consume(100);
    expect(pool.retained).toBe(2); // 100 bytes spanned two 64-byte chunks
    expect(pool.retainedTables).toBe(1);
    expect(b.write(bytes(10, 2))).toBe(10);
    expect(pool.retainedTables).toBe(0);
    const out = new Uint8Array(10);
    b.copyOut(0, 10, out, 0);
    expect(out).toEqual(bytes(10, 2));
  });

  it('a receive buffer read to empty holds nothing, and is whole again on the next segment', () => {
    const pool = new ChunkPool(64, 16);
    const buf = new ReceiveBuffer(1024, { pool });
    expect(buf.insert(0, bytes(50, 3))).toBe(50);
    const scratch = new Uint8Array(100);
    expect(buf.read(scratch)).toBe(50);
    expect([pool.retained, pool.retainedTables]).toEqual([1, 1]);
    expect(buf.insert(0, bytes(70, 4))).toBe(70);
    expect(pool.retainedTables).toBe(0);
    expect(buf.read(scratch)).toBe(70);
    expect(scratch.subarray(0, 70)).toEqual(bytes(70, 4));
  });

  it('out-of-order ranges beyond the first few slots are all held, then joined in order', () => {
    const buf = new ReceiveBuffer(4096, { pool: new ChunkPool(64, 64), maxRanges: 32 });
    // 20 disjoint ranges: every other 10-byte block, inserted from the highest down.
    for (let k = 19; k >= 0; k--) expect(buf.insert(20 * k + 10, bytes(10, k + 1))).toBe(0);
    expect(buf.outOfOrderRanges).toBe(20);
    let advanced = 0;
    // Each fill is at RCV.NXT (offset 0) and joins the held range after it.
    for (let k = 0; k < 20; k++) advanced += buf.insert(0, bytes(10, 100 + k));
    expect(advanced).toBe(400);
    expect(buf.outOfOrderRanges).toBe(0);
    const out = new Uint8Array(400);
    expect(buf.read(out)).toBe(400);
    for (let k = 0; k < 20; k++) {
      expect(out.subarray(20 * k, 20 * k + 10)).toEqual(bytes(10, 100 + k));
      expect(out.subarray(20 * k + 10, 20 * k + 20)).toEqual(bytes(10, k + 1));
    }
  });
});
