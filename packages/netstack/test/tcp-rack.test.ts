import { describe, expect, it } from 'vitest';
import {
  MAX_REO_WND_MULT,
  RACK_MIN_REO_WND_MS,
  RackState,
  SEG_LOST,
  SEG_RETRANSMITTED,
  SEG_SACKED,
  SentSegments,
  markAllLost,
  markSacked,
} from '../src/tcp/rack.js';

const MSS = 1000;

/** A log of `n` segments of MSS bytes from `base`, the k-th sent at time k. */
function logOf(n: number, base = 0xffff_f000): SentSegments {
  const log = new SentSegments(4);
  for (let k = 0; k < n; k++) log.sent((base + k * MSS) >>> 0, (base + (k + 1) * MSS) >>> 0, k, false);
  return log;
}

describe('SentSegments: the per-segment transmit log', () => {
  it('appends new data, grows past its capacity, and trims on the cumulative ACK (across the sequence wrap)', () => {
    const base = 0xffff_f000;
    const log = logOf(10, base);
    expect(log.count).toBe(10);
    expect(log.seq(9)).toBe((base + 9 * MSS) >>> 0);
    const delivered: number[] = [];
    log.ack((base + 2500) >>> 0, (i) => delivered.push(log.time(i)));
    expect(delivered).toEqual([0, 1]);
    expect(log.count).toBe(8);
    expect(log.seq(0)).toBe((base + 2500) >>> 0); // the partly acknowledged entry is trimmed
    expect(log.inFlight()).toBe(7500);
  });

  it('a retransmission splits entries at its edges, restamps what it covers and clears the lost mark', () => {
    const log = logOf(3, 0);
    markAllLost(log);
    log.sent(500, 1500, 50, true);
    // [0,500) [500,1000) [1000,1500) [1500,2000) [2000,3000)
    expect(log.count).toBe(5);
    const rows = Array.from({ length: log.count }, (_, i) => [log.seq(i), log.end(i), log.time(i), log.flags(i)]);
    expect(rows).toEqual([
      [0, 500, 0, SEG_LOST],
      [500, 1000, 50, SEG_RETRANSMITTED],
      [1000, 1500, 50, SEG_RETRANSMITTED],
      [1500, 2000, 1, SEG_LOST],
      [2000, 3000, 2, SEG_LOST],
    ]);
    expect(log.nextLost(0)).toBe(0);
    expect(log.nextLost(1)).toBe(3);
    // Lost bytes are out of the pipe; retransmitted ones count once.
    expect(log.inFlight()).toBe(1000);
  });

  it('markSacked flags whole SACKed entries once and reports each as delivered', () => {
    const log = logOf(4, 100);
    const sacked = (seq: number): boolean => seq >= 1100 && seq < 3100;
    const seen: number[] = [];
    markSacked(log, sacked, (i) => seen.push(i));
    markSacked(log, sacked, (i) => seen.push(i));
    expect(seen).toEqual([1, 2]);
    expect(log.flags(1) & SEG_SACKED).toBe(SEG_SACKED);
    expect(log.inFlight()).toBe(2000);
  });
  it('inFlight (the pipe) stays the sum of entries neither SACKed nor lost through splits, marks, undo and trims', () => {
    // A seeded walk of every operation that changes an entry, checked against a recount each step.
    const base = 0xffff_f000;
    const log = logOf(40, base);
    let x = 12345;
    const rand = (n: number): number => {
      x = (x * 1103515245 + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const recount = (): number => {
      let bytes = 0;
      for (let i = 0; i < log.count; i++)
        if ((log.flags(i) & (SEG_SACKED | SEG_LOST)) === 0) bytes += (log.end(i) - log.seq(i)) >>> 0;
      return bytes;
    };
    let una = base;
    for (let step = 0; step < 400 && log.count > 0; step++) {
      const i = rand(log.count);
      switch (rand(5)) {
        case 0:
          log.setFlags(i, log.flags(i) | SEG_LOST);
          break;
        case 1:
          log.setFlags(i, (log.flags(i) | SEG_SACKED) & ~SEG_LOST);
          break;
        case 2:
          log.setFlags(i, log.flags(i) & ~SEG_LOST);
          break;
        case 3: {
          // A retransmission of part of an entry (split at both edges).
          const s = log.seq(i);
          const len = (log.end(i) - s) >>> 0;
          if (len > 2) log.sent((s + 1) >>> 0, (s + len - 1) >>> 0, step, true);
          break;
        }
        default:
          una = (una + rand(700)) >>> 0;
          log.ack(una, () => undefined);
      }
      expect(log.inFlight(), `step ${step}`).toBe(recount());
    }
    markAllLost(log);
    expect(log.inFlight()).toBe(0);
    log.clear();
    expect(log.inFlight()).toBe(0);
  });

  it('markSacked counts an entry ending with data and our FIN as SACKed when its last data byte is (our receiver never SACKs a FIN)', () => {
    const log = new SentSegments();
    log.sent(0, 1000, 1, false);
    log.sent(1000, 1501, 2, false); // 500 bytes and the FIN at 1500
    log.sent(1501, 1501, 3, false); // nothing: an empty range is not logged
    const sacked = (seq: number): boolean => seq >= 1000 && seq < 1500;
    const delivered: number[] = [];
    markSacked(log, sacked, (i) => delivered.push(i), 1500);
    expect(delivered).toEqual([1]);
    expect(log.flags(1) & SEG_SACKED).toBe(SEG_SACKED);
    // Without knowing the FIN, the entry's last sequence number (the FIN's) is never SACKed.
    const other = new SentSegments();
    other.sent(1000, 1501, 2, false);
    markSacked(other, sacked, () => undefined);
    expect(other.flags(0) & SEG_SACKED).toBe(0);
    // An entry holding the FIN alone counts only when a block covers the FIN itself (Linux's do).
    const finOnly = new SentSegments();
    finOnly.sent(1500, 1501, 2, false);
    markSacked(finOnly, sacked, () => undefined, 1500);
    expect(finOnly.flags(0) & SEG_SACKED).toBe(0);
    markSacked(
      finOnly,
      (seq) => seq >= 1000 && seq <= 1500,
      () => undefined,
      1500,
    );
    expect(finOnly.flags(0) & SEG_SACKED).toBe(SEG_SACKED);
  });
});

describe('RackState: RFC 8985 loss detection', () => {
  it('marks lost what was sent before a delivered segment once RTT + reo_wnd has passed, and asks for a timer before', () => {
    const log = logOf(5, 0); // sent at t = 0..4
    const rack = new RackState();
    rack.reset(0);
    // Segment 3 (sent at t=3) is SACKed at t=13: RTT 10.
    rack.delivered(13, 3, 4000, false, true);
    rack.noteDelivery(4000, false);
    log.setFlags(3, SEG_SACKED);
    const timeout = { ms: 0 };
    // reo_wnd 2 ms: segment 0 is due at 0+10+2 = 12 (lost), 1 at 13 (lost), 2 at 14 (not yet).
    expect(rack.detectLoss(log, 13, 2, timeout)).toBe(2);
    expect(log.flags(0) & SEG_LOST).toBe(SEG_LOST);
    expect(log.flags(1) & SEG_LOST).toBe(SEG_LOST);
    expect(log.flags(2) & SEG_LOST).toBe(0);
    expect(timeout.ms).toBe(1);
    // Segment 4 was sent after the delivered one: never judged by it.
    expect(rack.detectLoss(log, 100, 2, timeout)).toBe(1);
    expect(log.flags(4) & SEG_LOST).toBe(0);
  });

  it('the reordering window is 0 without reordering once DupThresh segments are SACKed, and widens with D-SACKs once per round', () => {
    const rack = new RackState();
    rack.reset(0);
    rack.delivered(10, 0, 1000, false, true); // min RTT 10
    expect(rack.reoWnd(false, 1, 12, 3)).toBe(2.5);
    expect(rack.reoWnd(false, 3, 12, 3)).toBe(0);
    expect(rack.reoWnd(true, 0, 12, 3)).toBe(0);
    expect(rack.onDsack(0, 5000)).toBe(true);
    expect(rack.onDsack(1000, 6000)).toBe(false); // same round trip
    expect(rack.reordering).toBe(true);
    expect(rack.reoWnd(true, 5, 12, 3)).toBe(5);
    expect(rack.onDsack(5000, 9000)).toBe(true);
    expect(rack.reoWnd(true, 5, 12, 3)).toBe(7.5);
    expect(rack.reoWnd(true, 5, 6, 3)).toBe(6); // never above SRTT
    for (let i = 0; i < 16; i++) rack.onRecoveryEnd();
    expect(rack.reoWndMult).toBe(1);
  });

  it('on a 0.2 ms path, D-SACK rounds widen the window past the 1 ms floor up to SRTT (a frame held 3 ms stops costing a recovery)', () => {
    const rack = new RackState();
    rack.reset(0);
    rack.delivered(0.2, 0, 1000, false, false); // min RTT 0.2 ms
    const srtt = 4; // queueing behind a bridge: SRTT far above the minimum
    expect(rack.reoWnd(false, 1, srtt, 3)).toBe(RACK_MIN_REO_WND_MS);
    let round = 0;
    for (let i = 0; i < 100; i++, round += 1000) rack.onDsack(round, round + 1000);
    // From 1, 100 rounds: 101 * 0.2 / 4 = 5 ms, capped at SRTT (a bound of 16 steps gave 0.8 ms, i.e. the 1 ms floor).
    expect(rack.reoWndMult).toBe(101);
    expect(rack.reoWnd(false, 1, srtt, 3)).toBe(srtt);
    for (let i = 0; i < 500; i++, round += 1000) rack.onDsack(round, round + 1000);
    expect(rack.reoWndMult).toBe(MAX_REO_WND_MULT);
  });

  it("deliveredEntry is delivered then noteDelivery with the entry's transmit time and end (seeded, fractional times, across the wrap)", () => {
    let x = 0x9e3779b9;
    const rand = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    for (let run = 0; run < 20; run++) {
      const base = (0xffff_0000 + Math.floor(rand() * 0x2_0000)) >>> 0;
      const log = new SentSegments(4);
      const n = 2 + Math.floor(rand() * 12);
      for (let k = 0; k < n; k++) {
        const seq = (base + k * MSS) >>> 0;
        log.sent(seq, (seq + MSS) >>> 0, k * 0.37 + rand(), rand() < 0.3);
      }
      const byEntry = new RackState();
      const byValues = new RackState();
      byEntry.reset(base);
      byValues.reset(base);
      for (let step = 0; step < 3 * n; step++) {
        const i = Math.floor(rand() * n);
        const now = n + rand() * 10;
        const retransmitted = (log.flags(i) & SEG_RETRANSMITTED) !== 0;
        const echo = rand() < 0.5;
        byEntry.deliveredEntry(log, i, now, retransmitted, echo);
        byValues.delivered(now, log.time(i), log.end(i), retransmitted, echo);
        byValues.noteDelivery(log.end(i), retransmitted);
        expect({ ...byEntry }).toEqual({ ...byValues });
      }
      expect(byEntry.xmitTs).toBeGreaterThanOrEqual(0);
    }
  });

  it('a delivery below the highest SACKed sequence by a never-retransmitted segment is reordering', () => {
    const rack = new RackState();
    rack.reset(0);
    rack.noteDelivery(5000, false);
    rack.noteDelivery(3000, true);
    expect(rack.reordering).toBe(false);
    rack.noteDelivery(4000, false);
    expect(rack.reordering).toBe(true);
  });
});

describe('SentSegments takes sequence numbers unsigned or as signed 32-bit values', () => {
  /** The entries of `log` as [seq, end, time, flags] rows. */
  const rows = (log: SentSegments): number[][] =>
    Array.from({ length: log.count }, (_, i) => [log.seq(i), log.end(i), log.time(i), log.flags(i)]);

  it('logs, extends, retransmits over and acknowledges the same entries either way, across 2^31 and 2^32', () => {
    for (const base of [0x7fff_f000, 0xffff_f000, 0x8000_0000, 0x1000]) {
      const unsigned = new SentSegments(4);
      const signed = new SentSegments(4);
      const both = (seq: number, end: number, now: number, rtx: boolean): void => {
        unsigned.sent(seq >>> 0, end >>> 0, now, rtx);
        signed.sent(seq | 0, end | 0, now, rtx);
      };
      for (let k = 0; k < 6; k++) both(base + k * MSS, base + (k + 1) * MSS, k, false);
      // A gap, then a retransmission over the middle of two entries (splits at both edges).
      both(base + 7 * MSS, base + 8 * MSS, 7, false);
      both(base + 1.5 * MSS, base + 3.5 * MSS, 9, true);
      expect(rows(signed)).toEqual(rows(unsigned));
      for (const row of rows(signed)) {
        expect(row[0]).toBeGreaterThanOrEqual(0);
        expect(row[1]).toBeGreaterThanOrEqual(0);
      }
      expect(signed.inFlight()).toBe(unsigned.inFlight());
      const una = (base + 3 * MSS) >>> 0;
      const gone: number[][] = [[], []];
      unsigned.ack(una, (i) => gone[0]!.push(unsigned.seq(i)));
      signed.ack(una | 0, (i) => gone[1]!.push(signed.seq(i)));
      expect(gone[1]).toEqual(gone[0]);
      expect(rows(signed)).toEqual(rows(unsigned));
    }
  });
});
