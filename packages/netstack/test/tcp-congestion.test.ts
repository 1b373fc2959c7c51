import { describe, expect, it } from 'vitest';
import {
  Cubic,
  CUBIC_BETA,
  CUBIC_C,
  NewReno,
  cubicK,
  cubicWindow,
  rfc3390InitialWindow,
  rfc6928InitialWindow,
  type CongestionControl,
} from '../src/tcp/index.js';

const MSS = 1000;

/**
 * One round trip of an ack-clocked bulk sender: a full window goes out, then comes back as ACKs of
 * `perAck` segments each, spread over the RTT. After each ACK the sender fills the window again, so
 * the flight size before each ACK is the window (in whole segments).
 */
function roundTrip(cc: CongestionControl, nowMs: number, rttMs: number, perAck = 1): number {
  const window = cc.cwnd;
  const segments = Math.floor(window / MSS);
  let flight = segments * MSS;
  const acks = Math.ceil(segments / perAck);
  for (let i = 0; i < acks; i++) {
    const acked = Math.min(perAck, segments - i * perAck) * MSS;
    cc.onAck(nowMs + ((i + 1) * rttMs) / acks, acked, flight, rttMs);
    flight = Math.max(flight - acked, Math.floor(cc.cwnd / MSS) * MSS);
  }
  return nowMs + rttMs;
}

describe('initial windows', () => {
  it('follows RFC 6928 and RFC 3390', () => {
    expect(rfc6928InitialWindow(1460)).toBe(14_600);
    expect(rfc6928InitialWindow(536)).toBe(5360);
    expect(rfc6928InitialWindow(9000)).toBe(18_000);
    expect(rfc3390InitialWindow(1460)).toBe(4380);
    expect(rfc3390InitialWindow(536)).toBe(2144);
    expect(new NewReno({ mss: 1460 }).cwnd).toBe(14_600);
    expect(new NewReno({ mss: 1460, initialWindowSegments: 4 }).cwnd).toBe(5840);
    expect(new Cubic({ mss: 1460 }).cwnd).toBe(14_600);
    expect(new NewReno({ mss: 1460 }).ssthresh).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses a bad MSS or initial window', () => {
    expect(() => new NewReno({ mss: 0 })).toThrow(RangeError);
    expect(() => new Cubic({ mss: 1000, initialWindowSegments: 0 })).toThrow(RangeError);
    expect(() => new NewReno({ mss: 1000 }).setMss(-1)).toThrow(RangeError);
  });
});

describe.each([
  ['NewReno', () => new NewReno({ mss: MSS })],
  ['Cubic', () => new Cubic({ mss: MSS })],
] as const)('%s slow start', (_name, make) => {
  it('doubles cwnd every RTT with an ACK per segment', () => {
    const cc = make();
    let now = 0;
    const seen = [cc.cwnd];
    for (let i = 0; i < 5; i++) {
      now = roundTrip(cc, now, 100);
      seen.push(cc.cwnd);
    }
    expect(seen).toEqual([10, 20, 40, 80, 160, 320].map((s) => s * MSS));
    expect(cc.inSlowStart).toBe(true);
  });

  it('still doubles with delayed ACKs (appropriate byte counting, L = 2)', () => {
    const cc = make();
    let now = 0;
    for (let i = 0; i < 3; i++) now = roundTrip(cc, now, 100, 2);
    expect(cc.cwnd).toBe(80 * MSS);
  });

  it('grows at most 2 MSS per ACK however much it covers', () => {
    const cc = make();
    cc.onAck(0, 8 * MSS, 10 * MSS);
    expect(cc.cwnd).toBe(12 * MSS);
  });

  it('does not grow while application-limited (RFC 7661)', () => {
    const cc = make();
    cc.onAck(0, MSS, 2 * MSS); // 2 MSS in flight of a 10 MSS window
    expect(cc.cwnd).toBe(10 * MSS);
  });

  it('drops to 1 MSS on RTO with ssthresh from the flight size, and slow-starts again', () => {
    const cc = make();
    cc.onRetransmitTimeout(0, 40 * MSS);
    expect(cc.cwnd).toBe(MSS);
    const expected = cc.name === 'cubic' ? 28 * MSS : 20 * MSS;
    expect(cc.ssthresh).toBe(expected);
    // A second RTO before any ACK keeps ssthresh (RFC 5681 §3.1).
    cc.onRetransmitTimeout(1000, 1 * MSS);
    expect(cc.ssthresh).toBe(expected);
    expect(cc.inSlowStart).toBe(true);
    cc.onAck(2000, MSS, MSS);
    expect(cc.cwnd).toBe(2 * MSS);
  });

  it('restarts from at most the initial window after idle', () => {
    const cc = make();
    let now = 0;
    for (let i = 0; i < 3; i++) now = roundTrip(cc, now, 100);
    cc.onIdleRestart!(now + 10_000);
    expect(cc.cwnd).toBe(10 * MSS);
  });
});

describe('NewReno', () => {
  it('adds one MSS per RTT in congestion avoidance', () => {
    const cc = new NewReno({ mss: MSS });
    cc.onFastRetransmit(0, 40 * MSS); // ssthresh 20 MSS
    cc.onRecoveryExit(100);
    expect(cc.cwnd).toBe(20 * MSS);
    expect(cc.inSlowStart).toBe(false);
    let now = 100;
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      now = roundTrip(cc, now, 100);
      seen.push(cc.cwnd / MSS);
    }
    expect(seen).toEqual([21, 22, 23, 24, 25]);
    // Delayed ACKs: the same bytes acknowledged, the same growth.
    for (let i = 0; i < 2; i++) now = roundTrip(cc, now, 100, 2);
    expect(cc.cwnd).toBe(27 * MSS);
  });

  it('halves on fast retransmit, holds during recovery, and floors ssthresh at 2 MSS', () => {
    const cc = new NewReno({ mss: MSS });
    cc.onFastRetransmit(0, 30 * MSS);
    expect([cc.ssthresh, cc.cwnd, cc.inRecovery, cc.inSlowStart]).toEqual([15 * MSS, 15 * MSS, true, false]);
    cc.onAck(10, 5 * MSS, 30 * MSS);
    expect(cc.cwnd).toBe(15 * MSS);
    cc.onRecoveryExit(20);
    expect(cc.inRecovery).toBe(false);
    cc.onFastRetransmit(30, MSS);
    expect(cc.ssthresh).toBe(2 * MSS);
  });

  it('leaves slow start at ssthresh and carries the rest into congestion avoidance', () => {
    const cc = new NewReno({ mss: MSS });
    cc.onRetransmitTimeout(0, 8 * MSS); // ssthresh 4 MSS, cwnd 1
    let now = 0;
    now = roundTrip(cc, now, 100); // 2
    now = roundTrip(cc, now, 100); // 4 = ssthresh
    expect(cc.cwnd).toBe(4 * MSS);
    expect(cc.inSlowStart).toBe(false);
    roundTrip(cc, now, 100);
    expect(cc.cwnd).toBe(5 * MSS);
  });

  it('rescales windows in segments when the MSS changes', () => {
    const cc = new NewReno({ mss: 1000 });
    cc.onFastRetransmit(0, 40_000);
    cc.setMss(500);
    expect(cc.cwnd).toBe(10_000);
    expect(cc.ssthresh).toBe(10_000);
  });
});

describe('CUBIC helpers', () => {
  it('W_cubic passes through cwnd_epoch at t = 0 and W_max at t = K', () => {
    const wMax = 100;
    const epoch = wMax * CUBIC_BETA;
    const k = cubicK(wMax, epoch);
    expect(k).toBeCloseTo(Math.cbrt((wMax * (1 - CUBIC_BETA)) / CUBIC_C), 12);
    expect(cubicWindow(0, k, wMax)).toBeCloseTo(epoch, 9);
    expect(cubicWindow(k, k, wMax)).toBeCloseTo(wMax, 12);
    expect(cubicK(50, 60)).toBe(0);
  });
});

describe('Cubic', () => {
  it('reduces to 0.7 of the flight size and computes K from W_max', () => {
    const cc = new Cubic({ mss: MSS });
    let now = 0;
    for (let i = 0; i < 4; i++) now = roundTrip(cc, now, 100); // 160 MSS
    expect(cc.cwnd).toBe(160 * MSS);
    cc.onFastRetransmit(now, 160 * MSS);
    expect(cc.ssthresh).toBe(112 * MSS);
    expect(cc.cwnd).toBe(112 * MSS);
    expect(cc.wMaxBytes).toBe(160 * MSS);
    cc.onRecoveryExit(now + 100);
    cc.onAck(now + 110, MSS, 112 * MSS, 100);
    expect(cc.kSeconds).toBeCloseTo(Math.cbrt((160 - 112) / 0.4), 9);
  });

  it('grows concave up to W_max, plateaus near it at t = K, then convex', () => {
    const cc = new Cubic({ mss: MSS });
    let now = 0;
    for (let i = 0; i < 4; i++) now = roundTrip(cc, now, 100);
    cc.onFastRetransmit(now, 160 * MSS);
    cc.onRecoveryExit(now);
    const start = now;
    const rtt = 100;
    const samples: Array<{ t: number; w: number }> = [];
    while (now - start < 12_000) {
      now = roundTrip(cc, now, rtt);
      samples.push({ t: (now - start) / 1000, w: cc.cwnd / MSS });
    }
    const k = Math.cbrt((160 - 112) / 0.4); // ~4.93 s
    const growth = samples.slice(1).map((s, i) => s.w - samples[i]!.w);
    const idx = (t: number) => samples.findIndex((s) => s.t >= t);
    // Concave: growth per RTT shrinks on the way to W_max.
    expect(growth[idx(0.5)]!).toBeGreaterThan(growth[idx(2.5)]!);
    expect(growth[idx(2.5)]!).toBeGreaterThan(growth[idx(k - 0.3)]!);
    // Near K the window sits close to W_max and barely moves.
    const atK = samples[idx(k)]!.w;
    expect(Math.abs(atK - 160)).toBeLessThan(3);
    expect(growth[idx(k)]!).toBeLessThan(1);
    // Convex: growth per RTT increases beyond W_max.
    expect(growth[idx(k + 2)]!).toBeGreaterThan(growth[idx(k + 0.5)]!);
    expect(growth[idx(k + 4)]!).toBeGreaterThan(growth[idx(k + 2)]!);
    // And the window tracks W_cubic(t) (one RTT ahead, clamped): within a few segments.
    for (const t of [1, 3, 6, 8]) {
      const s = samples[idx(t)]!;
      expect(Math.abs(s.w - cubicWindow(s.t, k, 160))).toBeLessThan(6);
    }
  });

  it('follows the Reno-friendly estimate when the cubic curve is slower (short RTT)', () => {
    const cc = new Cubic({ mss: MSS });
    let now = 0;
    now = roundTrip(cc, now, 1); // 20 MSS
    cc.onFastRetransmit(now, 20 * MSS); // cwnd 14, W_max 20, K = cbrt(15) ~ 2.47 s
    cc.onRecoveryExit(now);
    for (let i = 0; i < 10; i++) now = roundTrip(cc, now, 1);
    // 10 RTTs of 1 ms: W_cubic barely moved; Reno-friendly alpha = 3 * 0.3 / 1.7 ~ 0.53 MSS per RTT.
    expect(cubicWindow(0.01, cubicK(20, 14), 20)).toBeLessThan(14.1);
    const alpha = (3 * (1 - 0.7)) / 1.7;
    expect(cc.cwnd / MSS).toBeGreaterThan(14 + 10 * alpha - 1);
    expect(cc.cwnd / MSS).toBeLessThan(14 + 10 * alpha + 1);
    // Once W_est passes the window before the loss (20 MSS), alpha becomes 1: Reno's 1 MSS per RTT.
    for (let i = 0; i < 3; i++) now = roundTrip(cc, now, 1);
    const w13 = cc.cwnd / MSS;
    for (let i = 0; i < 7; i++) now = roundTrip(cc, now, 1);
    expect(cc.cwnd / MSS - w13).toBeGreaterThan(6);
    expect(cc.cwnd / MSS - w13).toBeLessThan(7.5);
  });

  it('applies fast convergence when losses come below the previous W_max', () => {
    const cc = new Cubic({ mss: MSS });
    cc.onFastRetransmit(0, 10 * MSS); // W_max 10 MSS (the IW), cwnd 7
    cc.onRecoveryExit(0);
    cc.onFastRetransmit(100, 7 * MSS); // cwnd 7 < W_max 10
    expect(cc.wMaxBytes).toBeCloseTo((7 * MSS * (1 + 0.7)) / 2, 6);
    const noFc = new Cubic({ mss: MSS, fastConvergence: false });
    noFc.onFastRetransmit(0, 10 * MSS);
    noFc.onRecoveryExit(0);
    noFc.onFastRetransmit(100, 7 * MSS);
    expect(noFc.wMaxBytes).toBe(7 * MSS);
  });

  it('does not count application-limited time in t', () => {
    const a = new Cubic({ mss: MSS });
    const b = new Cubic({ mss: MSS });
    for (const cc of [a, b]) {
      cc.onFastRetransmit(0, 100 * MSS);
      cc.onRecoveryExit(0);
      cc.onAck(10, MSS, 70 * MSS, 100);
    }
    // b idles along with tiny flights for 3 s; a does not see that time at all.
    for (let t = 100; t <= 3000; t += 100) b.onAck(t, MSS, 5 * MSS, 100);
    const aw = a.cwnd;
    a.onAck(20, MSS, 70 * MSS, 100);
    b.onAck(3010, MSS, 70 * MSS, 100);
    expect(Math.abs(b.cwnd - a.cwnd)).toBeLessThan(MSS);
    expect(a.cwnd).toBeGreaterThanOrEqual(aw);
  });

  it('after an RTO, slow-starts to 0.7 of the flight and then grows from K = 0', () => {
    const cc = new Cubic({ mss: MSS });
    cc.onRetransmitTimeout(0, 100 * MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    let now = 0;
    while (cc.inSlowStart) now = roundTrip(cc, now, 100);
    expect(cc.cwnd).toBeGreaterThanOrEqual(70 * MSS);
    expect(cc.kSeconds).toBe(0);
    const before = cc.cwnd;
    now = roundTrip(cc, now, 100);
    expect(cc.cwnd).toBeGreaterThanOrEqual(before);
  });
});
