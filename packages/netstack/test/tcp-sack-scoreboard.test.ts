import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SackScoreboard, seqAdd } from '../src/tcp/index.js';

const MSS = 10;

/** A per-byte model of the scoreboard, in offsets from the initial SND.UNA. */
class Model {
  sacked = new Set<number>();
  una = 0;
  advance(una: number): void {
    if (una <= this.una) return;
    for (const p of [...this.sacked]) if (p < una) this.sacked.delete(p);
    this.una = una;
  }
  add(left: number, right: number, sndNxt: number): number {
    if (right <= left || right <= this.una || right > sndNxt) return 0;
    let n = 0;
    for (let p = Math.max(left, this.una); p < right; p++) {
      if (!this.sacked.has(p)) n++;
      this.sacked.add(p);
    }
    return n;
  }
  isLost(seq: number, dupThresh: number): boolean {
    let bytes = 0;
    let runs = 0;
    for (let p = seq + 1; p < 400; p++) {
      if (this.sacked.has(p)) {
        bytes++;
        if (!this.sacked.has(p - 1) || p === seq + 1) runs++;
      }
    }
    return runs >= dupThresh || bytes > (dupThresh - 1) * MSS;
  }
}

const blockArb = fc.record({ left: fc.integer({ min: -30, max: 300 }), len: fc.integer({ min: -5, max: 60 }) });
const stepArb = fc.record({
  ackAdvance: fc.integer({ min: 0, max: 40 }),
  blocks: fc.array(blockArb, { maxLength: 4 }),
});

describe('SackScoreboard', () => {
  it('matches a per-byte model: SACKed bytes, holes, IsLost, lost bytes and pipe (RFC 6675), across the wrap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.array(stepArb, { maxLength: 25 }),
        fc.integer({ min: 1, max: 4 }),
        (base, steps, dupThresh) => {
          const sb = new SackScoreboard({ maxRanges: 1000, mss: MSS });
          sb.reset(base);
          const model = new Model();
          const sndNxt = 320;
          const abs = (off: number) => seqAdd(base, off);
          for (const step of steps) {
            const una = Math.min(sndNxt, model.una + step.ackAdvance);
            model.advance(una);
            let expectedNew = 0;
            for (const b of step.blocks) expectedNew += model.add(b.left, b.left + b.len, sndNxt);
            const blocks = step.blocks.map((b) => ({ left: abs(b.left), right: abs(b.left + b.len) }));
            expect(sb.update(abs(una), blocks, abs(sndNxt))).toBe(expectedNew);
            expect(sb.sackedBytes).toBe(model.sacked.size);
            const max = model.sacked.size === 0 ? undefined : abs(Math.max(...model.sacked) + 1);
            expect(sb.highestSacked).toBe(max);
            for (let p = una; p < sndNxt; p += 7) expect(sb.isSacked(abs(p))).toBe(model.sacked.has(p));
            // Holes from a few starting points.
            for (const from of [0, una, una + 13, una + 77]) {
              let s = Math.max(from, una);
              while (s < sndNxt && model.sacked.has(s)) s++;
              let e = s;
              while (e < sndNxt && !model.sacked.has(e)) e++;
              const hole = sb.nextUnsackedHole(abs(from), abs(sndNxt));
              if (s >= sndNxt) expect(hole).toBeUndefined();
              else expect(hole && { start: hole.start, end: hole.end }).toEqual({ start: abs(s), end: abs(e) });
            }
            let lost = 0;
            let pipe = 0;
            const highRxt = una + 25;
            for (let p = una; p < sndNxt; p++) {
              const isLost = model.isLost(p, dupThresh);
              if (p % 5 === 0) expect(sb.isLost(abs(p), dupThresh, MSS)).toBe(isLost);
              if (model.sacked.has(p)) continue;
              if (isLost) lost++;
              // A retransmitted byte counts once (its original was lost), any other once unless lost.
              if (p < highRxt || !isLost) pipe++;
            }
            expect(sb.lostBytes(abs(sndNxt), dupThresh, MSS)).toBe(lost);
            expect(sb.pipe(abs(sndNxt), abs(highRxt), dupThresh, MSS)).toBe(pipe);
          }
        },
      ),
      { numRuns: 300, seed: 41 },
    );
  });

  it('implements IsLost per RFC 6675: DupThresh ranges above, or more than (DupThresh - 1) * SMSS bytes', () => {
    const sb = new SackScoreboard({ mss: 100 });
    sb.reset(1000);
    sb.update(1000, [{ left: 1100, right: 1200 }]);
    expect(sb.isLost(1000)).toBe(false); // 100 bytes above
    sb.update(1000, [{ left: 1300, right: 1400 }]);
    expect(sb.isLost(1000)).toBe(false); // 200 = 2 * SMSS, not more
    sb.update(1000, [{ left: 1400, right: 1401 }]); // adjacent: still two ranges, 201 bytes
    expect(sb.isLost(1000)).toBe(true);
    const runs = new SackScoreboard({ mss: 1000 });
    runs.reset(0);
    runs.update(0, [
      { left: 10, right: 11 },
      { left: 20, right: 21 },
      { left: 30, right: 31 },
    ]);
    expect(runs.isLost(0)).toBe(true); // three discontiguous ranges above
    expect(runs.isLost(10)).toBe(false);
    expect(runs.lostBytes(40)).toBe(10); // bytes 0..9
  });

  it('ignores invalid, stale and beyond-SND.NXT blocks, and drops ranges an ACK covers', () => {
    const sb = new SackScoreboard();
    sb.reset(0xffff_fff0);
    expect(sb.update(0xffff_fff0, [{ left: 0xffff_ffe0, right: 0xffff_ffe8 }])).toBe(0); // below SND.UNA (D-SACK)
    expect(sb.update(0xffff_fff0, [{ left: 20, right: 10 }])).toBe(0); // inverted
    expect(sb.update(0xffff_fff0, [{ left: 10, right: 500 }], 100)).toBe(0); // beyond SND.NXT
    expect(sb.blocksIgnored).toBe(3);
    expect(sb.update(0xffff_fff0, [{ left: 0, right: 50 }])).toBe(50); // across the wrap
    expect(sb.isSacked(0xffff_ffff)).toBe(false);
    expect(sb.isSacked(0)).toBe(true);
    expect(sb.update(10, [])).toBe(0); // cumulative ACK into the range
    expect(sb.sackedBytes).toBe(40);
    expect(sb.update(5, [])).toBe(0); // an older ACK changes nothing
    expect(sb.sackedBytes).toBe(40);
    expect(sb.update(60, [])).toBe(0);
    expect(sb.sackedBytes).toBe(0);
    expect(sb.highestSacked).toBeUndefined();
  });

  it('is bounded in ranges: keeps the lowest ones', () => {
    const sb = new SackScoreboard({ maxRanges: 2 });
    sb.reset(0);
    sb.update(0, [
      { left: 10, right: 20 },
      { left: 30, right: 40 },
      { left: 50, right: 60 },
    ]);
    expect(sb.rangeCount).toBe(2);
    expect(sb.highestSacked).toBe(40);
    sb.update(0, [{ left: 2, right: 4 }]); // lower: replaces [30, 40)
    expect(sb.highestSacked).toBe(20);
    expect(sb.sackedBytes).toBe(12);
    expect(sb.rangesDropped).toBe(2);
    sb.update(0, [{ left: 4, right: 10 }]); // merges: no new range
    expect(sb.rangeCount).toBe(1);
    expect(sb.sackedBytes).toBe(18);
  });

  it('accepts edges in the TcpOptionSummary layout without allocating blocks', () => {
    const sb = new SackScoreboard();
    sb.reset(100);
    const edges = Uint32Array.of(200, 300, 400, 450, 0, 0, 0, 0);
    expect(sb.updateFromEdges(100, edges, 2)).toBe(150);
    expect(sb.nextUnsackedHole(100, 500)).toEqual({ start: 100, end: 200 });
    expect(sb.nextUnsackedHole(200, 500)).toEqual({ start: 300, end: 400 });
    expect(sb.nextUnsackedHole(450, 500)).toEqual({ start: 450, end: 500 });
    expect(sb.nextUnsackedHole(500, 500)).toBeUndefined();
  });
});
