import { describe, expect, it } from 'vitest';
import { RackState, SEG_LOST, SEG_RETRANSMITTED, SEG_SACKED, SentSegments, markAllLost, markSacked } from '../src/tcp/rack.js';

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
