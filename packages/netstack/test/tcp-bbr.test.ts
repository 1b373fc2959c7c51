/**
 * BBR (./src/tcp/bbr.ts) and its inputs: the bandwidth and min-RTT filters, delivery rate samples
 * from the transmit log, the state machine driven by a fluid model of one bottleneck, and whole
 * transfers on the virtual clock through a seeded, rate-limited path, beside CUBIC on the same path.
 */
import { describe, expect, it } from 'vitest';
import {
  BBR_MIN_PIPE_SEGMENTS,
  BBR_PROBE_RTT_MS,
  BBR_RTPROP_FILTER_MS,
  Bbr,
  DeliveryRate,
  MinRttFilter,
  RoundMaxFilter,
  TcpError,
  type BbrState,
  type RateSample,
} from '../src/index.js';
import { resolveTcpSettings } from '../src/tcp/options.js';
import { SentSegments } from '../src/tcp/rack.js';
import { OneWayBulk, patternBytes, tcpPair } from './support/tcp-net.js';

const MSS = 1448;

describe('RoundMaxFilter', () => {
  it('keeps the largest value of the last N rounds, and forgets a round once it leaves the window', () => {
    const f = new RoundMaxFilter(3);
    f.update(10, 1);
    f.update(5, 2);
    f.update(7, 2);
    expect(f.max).toBe(10);
    f.update(4, 3);
    expect(f.max).toBe(10);
    f.update(3, 4); // round 1 leaves: rounds 2..4 remain
    expect(f.max).toBe(7);
    f.advance(6); // rounds with no sample: only round 4's value is in 4..6
    expect(f.max).toBe(3);
    f.advance(7);
    expect(f.max).toBe(0);
  });

  it('gives the largest value of the window after any mix of updates, advances, reads and resets', () => {
    // Seeded sequence; the reference keeps every round's largest value and scans the window each time.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const windowRounds = 4;
    const f = new RoundMaxFilter(windowRounds);
    let perRound = new Map<number, number>();
    let current = 0;
    const reference = (): number => {
      let best = 0;
      for (const [round, value] of perRound) if (round > current - windowRounds && value > best) best = value;
      return best;
    };
    for (let step = 0; step < 5000; step++) {
      const op = next(100);
      if (op < 55) {
        // A value for the current round, one of the rounds still in the window, or a later one.
        const round = Math.max(0, op < 20 ? current - next(windowRounds) : current + next(op < 50 ? 2 : 7));
        const value = next(1000);
        f.update(value, round);
        current = Math.max(current, round);
        perRound.set(round, Math.max(perRound.get(round) ?? 0, value));
      } else if (op < 80) {
        current += next(op < 78 ? 3 : 9);
        f.advance(current);
      } else if (op === 80) {
        f.reset();
        perRound = new Map();
        current = 0;
      }
      if (op % 3 === 0) expect(f.max).toBe(reference());
    }
  });

  it('takes its slots with the first value only: reads, advances and resets before it allocate nothing', () => {
    const f = new RoundMaxFilter(4);
    expect(f.max).toBe(0);
    f.advance(3);
    f.reset();
    f.advance(7);
    expect([f.allocated, f.max]).toEqual([false, 0]);
    f.update(5, 8);
    f.update(2, 9);
    expect([f.allocated, f.max]).toEqual([true, 5]);
    f.advance(12); // the window is rounds 9..12: round 8 left it
    expect(f.max).toBe(2);
    f.advance(13);
    expect(f.max).toBe(0);
    f.update(4, 14);
    f.release();
    expect([f.allocated, f.max]).toEqual([false, 0]);
    f.update(3, 2); // released like new: the window starts again at round 0
    expect([f.allocated, f.max]).toEqual([true, 3]);
  });

  it('filters sharing the slot slab keep their own values, and slots given back come back empty', () => {
    // More filters than one slab page holds, updated in turn: each keeps only its own values.
    const filters = Array.from({ length: 150 }, () => new RoundMaxFilter(5));
    for (let round = 0; round < 8; round++) filters.forEach((f, i) => f.update(i * 100 + round, round));
    filters.forEach((f, i) => expect(f.max).toBe(i * 100 + 7));
    // Half give their slots back; new filters take them and see none of the old values.
    for (let i = 0; i < filters.length; i += 2) filters[i]!.release();
    const fresh = Array.from({ length: 75 }, () => new RoundMaxFilter(5));
    fresh.forEach((f) => f.update(1, 3));
    fresh.forEach((f) => {
      f.advance(4);
      expect(f.max).toBe(1);
    });
    for (let i = 1; i < filters.length; i += 2) expect(filters[i]!.max).toBe(i * 100 + 7);
  });

  it('rejects a window that is not a positive number of rounds', () => {
    expect(() => new RoundMaxFilter(0)).toThrow(RangeError);
  });
});

describe('MinRttFilter', () => {
  it('keeps the smallest RTT until it is older than the window, then takes the next sample', () => {
    const f = new MinRttFilter(1000);
    expect(f.expired(0)).toBe(false);
    expect(f.update(20, 0)).toBe(true);
    expect(f.update(25, 500)).toBe(false);
    expect(f.update(18, 600)).toBe(true);
    expect(f.value).toBe(18);
    expect(f.expired(1600)).toBe(false);
    expect(f.expired(1601)).toBe(true);
    expect(f.update(30, 1601)).toBe(true);
    expect(f.value).toBe(30);
    expect(f.update(-1, 1700)).toBe(false);
  });
});

describe('delivery rate samples from the transmit log', () => {
  /** Sends `n` segments of MSS, one per ms from `t0`, starting at `seq`. */
  function send(log: SentSegments, seq: number, n: number, t0: number): number {
    for (let i = 0; i < n; i++) log.sent(seq + i * MSS, seq + (i + 1) * MSS, t0 + i, false);
    return seq + n * MSS;
  }
  function ackTo(log: SentSegments, una: number, now: number): RateSample {
    const prior = log.inFlight();
    log.ack(una, (i) => log.noteDelivered(i, now));
    return log.rate.finishAck(0, log.inFlight(), prior);
  }

  it('rate = bytes delivered over the longer of the send and ACK intervals', () => {
    const log = new SentSegments();
    // 10 segments sent over 9 ms; ACKed one per 2 ms from t = 20: the ACK interval is the longer.
    send(log, 0, 10, 0);
    let rs = ackTo(log, MSS, 20);
    expect(rs.newlyDelivered).toBe(MSS);
    expect(rs.rttMs).toBe(20);
    for (let k = 2; k <= 10; k++) rs = ackTo(log, k * MSS, 20 + 2 * (k - 1));
    // The last sample: the 10th segment (sent at 9 with delivered = 0 and deliveredTime = 0, the
    // flight having started at 0) is ACKed at 38: 10 segments over max(9 - 0, 38 - 0) ms.
    expect(rs.delivered).toBe(10 * MSS);
    expect(rs.intervalMs).toBe(38);
    expect(rs.deliveryRate).toBeCloseTo((10 * MSS) / 38, 6);
    expect(rs.isAppLimited).toBe(false);
    expect(log.rate.delivered).toBe(10 * MSS);
  });

  it('a sample shorter than the minimum RTT (ACK compression) is not valid', () => {
    const log = new SentSegments();
    send(log, 0, 4, 0);
    const prior = log.inFlight();
    log.ack(4 * MSS, (i) => log.noteDelivered(i, 5));
    const rs = log.rate.finishAck(10, log.inFlight(), prior);
    expect(rs.newlyDelivered).toBe(4 * MSS);
    expect(rs.intervalMs).toBe(-1);
    expect(rs.deliveryRate).toBe(0);
  });

  it('segments sent while application-limited give application-limited samples until that flight is delivered', () => {
    const log = new SentSegments();
    let next = send(log, 0, 2, 0);
    log.rate.markAppLimited(log.inFlight());
    next = send(log, next, 2, 2);
    let rs = ackTo(log, 2 * MSS, 10);
    expect(rs.isAppLimited).toBe(false);
    rs = ackTo(log, 4 * MSS, 12);
    expect(rs.isAppLimited).toBe(true);
    // Delivered passed the mark: what is sent now is not application-limited.
    expect(log.rate.sendingAppLimited).toBe(false);
    send(log, next, 1, 13);
    rs = ackTo(log, 5 * MSS, 20);
    expect(rs.isAppLimited).toBe(false);
  });

  it('a retransmitted segment gives no RTT (Karn) but still counts as delivered', () => {
    const log = new SentSegments();
    send(log, 0, 2, 0);
    log.sent(0, MSS, 30, true);
    const rs = ackTo(log, MSS, 31);
    expect(rs.newlyDelivered).toBe(MSS);
    expect(rs.rttMs).toBe(-1);
  });
});

/**
 * A fluid model of one bottleneck of `bw` bytes/ms and a base RTT `rtt` ms: every ms the sender,
 * cwnd-limited, has `cwnd` in flight, the path delivers `min(bw, cwnd / rtt)` and the RTT is the
 * base plus the queue the flight builds. Feeds BBR one rate sample per ms.
 */
class FluidPath {
  readonly dr = new DeliveryRate();
  now = 0;
  private readonly history: number[] = [];
  readonly states: BbrState[] = [];
  readonly gains = new Set<number>();
  minCwndInProbeRtt = Infinity;
  probeRttMs = 0;
  loss = 0;

  /** With `ackEvery` > 1 the receiver ACKs in batches: nothing for `ackEvery - 1` ms, then all of it. */
  constructor(
    readonly bbr: Bbr,
    readonly bw: number,
    readonly rtt: number,
    readonly ackEvery = 1,
  ) {}

  private held = 0;

  step(): void {
    const bbr = this.bbr;
    const inflight = bbr.cwnd;
    const rate = Math.min(this.bw, inflight / this.rtt);
    if (this.ackEvery > 1 && (this.now + 1) % this.ackEvery !== 0) {
      this.held += rate;
      this.history.push(this.dr.delivered);
      this.now++;
      return;
    }
    const acked = rate + this.held;
    this.held = 0;
    const rtt = Math.max(this.rtt, inflight / this.bw);
    this.history.push(this.dr.delivered);
    const sentAt = Math.max(0, this.history.length - 1 - Math.round(rtt));
    const rs: RateSample = {
      delivered: rate * rtt,
      deliveryRate: rate,
      intervalMs: rtt,
      rttMs: rtt,
      isAppLimited: this.dr.appLimited !== 0 && this.dr.delivered <= this.dr.appLimited,
      priorDelivered: this.history[sentAt]!,
      newlyDelivered: acked,
      newlyLost: 0,
      inflight,
      priorInflight: inflight,
    };
    this.dr.delivered += acked;
    if (this.dr.appLimited !== 0 && this.dr.delivered > this.dr.appLimited) this.dr.appLimited = 0;
    bbr.onRateSample(this.now, rs, this.dr);
    const s = bbr.snapshot();
    if (this.states[this.states.length - 1] !== s.state) this.states.push(s.state);
    if (s.state === 'PROBE_BW') this.gains.add(s.pacingGain);
    if (s.state === 'PROBE_RTT') {
      this.minCwndInProbeRtt = Math.min(this.minCwndInProbeRtt, bbr.cwnd);
      this.probeRttMs++;
    }
    this.now++;
  }

  run(ms: number): void {
    for (let i = 0; i < ms; i++) this.step();
  }
}

describe('BBR state machine (fluid bottleneck model)', () => {
  it('STARTUP finds the bottleneck rate, DRAIN empties the queue, PROBE_BW cycles its gains', () => {
    const bbr = new Bbr({ mss: MSS });
    const path = new FluidPath(bbr, 2500, 20); // 20 Mbit/s, 20 ms
    path.run(3000);
    expect(path.states.slice(0, 3)).toEqual(['STARTUP', 'DRAIN', 'PROBE_BW']);
    const s = bbr.snapshot();
    expect(s.btlBw).toBeGreaterThan(0.95 * 2500);
    expect(s.btlBw).toBeLessThanOrEqual(2500);
    expect(s.rtProp).toBe(20);
    expect(s.filledPipe).toBe(true);
    const [cwnd, pacing] = [bbr.cwnd, bbr.pacingRate];
    bbr.onConnectionEnd(); // the connection ended: the bandwidth filters go, the window and pacing rate stay
    expect([bbr.cwnd, bbr.pacingRate, bbr.snapshot().btlBw, bbr.snapshot().rtProp]).toEqual([cwnd, pacing, 0, 20]);
    expect([...path.gains].sort()).toEqual([0.75, 1, 1.25]);
    // PROBE_BW's window: two BDPs plus the send quanta, never less than the pipe needs.
    expect(bbr.cwnd).toBeGreaterThanOrEqual(2 * 2500 * 20);
    expect(bbr.cwnd).toBeLessThan(2.5 * 2500 * 20);
  });

  it('ACKs that come in batches widen the window by the aggregation they show (and only then)', () => {
    const steady = new Bbr({ mss: MSS });
    new FluidPath(steady, 2500, 20).run(3000);
    const batched = new Bbr({ mss: MSS });
    new FluidPath(batched, 2500, 20, 5).run(3000);
    // One ACK per ms: at most one ms of delivery counts as aggregation.
    expect(steady.snapshot().extraAcked).toBeLessThanOrEqual(2500);
    // Five ms of the bottleneck's delivery arrive at once: about four more ms of it is beyond BtlBw.
    expect(batched.snapshot().extraAcked).toBeGreaterThanOrEqual(steady.snapshot().extraAcked + 3 * 2500);
    expect(batched.cwnd).toBeGreaterThanOrEqual(steady.cwnd + 3 * 2500);
  });

  it('PROBE_RTT comes when the minimum RTT is 10 s old, holds 4 segments for 200 ms and a round, refreshes RTprop', () => {
    const bbr = new Bbr({ mss: MSS });
    const path = new FluidPath(bbr, 2500, 20);
    // Cwnd gain 2 keeps a queue of one BDP, so no sample after STARTUP's first rounds sees 20 ms again.
    path.run(BBR_RTPROP_FILTER_MS + 1000);
    expect(path.states).toContain('PROBE_RTT');
    expect(bbr.snapshot().probeRttRounds).toBe(1);
    expect(path.minCwndInProbeRtt).toBe(BBR_MIN_PIPE_SEGMENTS * MSS);
    expect(path.probeRttMs).toBeGreaterThanOrEqual(BBR_PROBE_RTT_MS);
    expect(path.probeRttMs).toBeLessThan(BBR_PROBE_RTT_MS + 100);
    expect(path.states[path.states.length - 1]).toBe('PROBE_BW');
    expect(bbr.snapshot().rtProp).toBe(20);
    // Back at the window it had before.
    expect(bbr.cwnd).toBeGreaterThanOrEqual(2 * 2500 * 20);
  });

  it('loss recovery conserves packets for a round and restores the window after; the model does not move', () => {
    const bbr = new Bbr({ mss: MSS });
    const path = new FluidPath(bbr, 2500, 20);
    path.run(2000);
    const before = bbr.snapshot();
    const cwndBefore = bbr.cwnd;
    bbr.onFastRetransmit(path.now, cwndBefore);
    expect(bbr.inRecovery).toBe(true);
    expect(bbr.ssthresh).toBe(Infinity);
    // Packet conservation: the flight plus what the last ACK delivered, not a multiplicative cut.
    expect(bbr.cwnd).toBeGreaterThanOrEqual(cwndBefore - 2 * MSS);
    path.run(200);
    bbr.onRecoveryExit(path.now);
    expect(bbr.inRecovery).toBe(false);
    expect(bbr.cwnd).toBeGreaterThanOrEqual(cwndBefore);
    const after = bbr.snapshot();
    expect(after.btlBw).toBeGreaterThanOrEqual(0.95 * before.btlBw);
    expect(after.rtProp).toBe(before.rtProp);
  });

  it('an RTO restarts the window from one segment; it grows back and is restored when recovery ends', () => {
    const bbr = new Bbr({ mss: MSS });
    const path = new FluidPath(bbr, 2500, 20);
    path.run(2000);
    const cwndBefore = bbr.cwnd;
    bbr.onRetransmitTimeout(path.now, cwndBefore);
    expect(bbr.cwnd).toBe(MSS);
    path.run(1);
    expect(bbr.cwnd).toBeGreaterThan(MSS);
    bbr.onRecoveryExit(path.now);
    expect(bbr.cwnd).toBeGreaterThanOrEqual(cwndBefore);
  });

  it('without rate samples (no SACK) it runs CUBIC', () => {
    const bbr = new Bbr({ mss: MSS });
    bbr.onNoRateSamples();
    expect(bbr.usingFallback).toBe(true);
    expect(bbr.ownsRecoveryWindow).toBe(false);
    const iw = bbr.cwnd;
    bbr.onAck(0, 2 * MSS, iw, 10);
    expect(bbr.cwnd).toBe(iw + 2 * MSS);
    bbr.onFastRetransmit(1, 20 * MSS);
    expect(bbr.ssthresh).toBe(Math.floor(20 * MSS * 0.7));
  });

  it('bad options are refused', () => {
    expect(() => new Bbr({ mss: 0 })).toThrow(RangeError);
    expect(() => new Bbr({ mss: MSS, initialWindowSegments: 0 })).toThrow(RangeError);
    expect(() => resolveTcpSettings({ congestion: 'vegas' as 'bbr' })).toThrow(TcpError);
    expect(resolveTcpSettings({ congestion: 'bbr' }).congestion).toBe('bbr');
  });
});

const BOTTLENECK_BPS = 20e6;
/** Payload bits per second the bottleneck carries: 1448 payload bytes per 1514-byte frame. */
const PAYLOAD_BPS = (BOTTLENECK_BPS * MSS) / 1514;

/** A bulk transfer a -> b through a 20 Mbit/s bottleneck both ways, 10 ms each way, seeded loss. */
async function bulk(congestion: 'cubic' | 'bbr', seed: number, lossRate: number, bytes = 4 * 1024 * 1024) {
  const pair = await tcpPair({
    seed,
    faults: { lossRate, bitsPerSecond: BOTTLENECK_BPS, queueCapacity: 200 },
    latencyMs: 10,
    tcpA: { congestion, sendBufferSize: 1024 * 1024, maxBufferSize: 1024 * 1024 },
    tcpB: { receiveBufferSize: 1024 * 1024, maxBufferSize: 1024 * 1024 },
  });
  const { sched, faultA } = pair;
  const start = sched.now;
  const transfer = new OneWayBulk(pair, patternBytes(bytes, seed));
  const { client } = transfer;
  const done = sched.runUntil(() => transfer.sink?.ended === true, 600_000);
  const ms = sched.now - start;
  return {
    done,
    intact: transfer.sink?.digest() === transfer.expected,
    bps: (bytes * 8 * 1000) / ms,
    cc: client.tcb.cc,
    queueDrops: faultA!.faults.tx.droppedQueueFull,
    info: `${congestion} seed ${seed} loss ${lossRate}: ${ms} ms, ${JSON.stringify(client.stats)}`,
  };
}

describe('BBR on a rate-limited path (virtual clock, seeded faults)', () => {
  it('reaches the bottleneck rate and measures it, without overflowing the bottleneck queue (no pacing needed here)', async () => {
    const r = await bulk('bbr', 1, 0);
    // Window-limited without pacing: STARTUP's overshoot and PROBE_BW's two BDPs fit a queue of 200
    // frames (CUBIC's slow start does not: it overflows it on the same path).
    expect(r.queueDrops, r.info).toBe(0);
    const cubic = await bulk('cubic', 1, 0);
    expect(cubic.queueDrops, cubic.info).toBeGreaterThan(0);
    expect(r.done, r.info).toBe(true);
    expect(r.intact, r.info).toBe(true);
    expect(r.bps, r.info).toBeGreaterThan(0.85 * PAYLOAD_BPS);
    const s = (r.cc as Bbr).snapshot();
    // BtlBw counts payload bytes: within 10% of what the bottleneck carries.
    expect(s.btlBw * 8 * 1000, r.info).toBeGreaterThan(0.9 * PAYLOAD_BPS);
    expect(s.btlBw * 8 * 1000, r.info).toBeLessThan(1.1 * PAYLOAD_BPS);
    expect(s.rtProp, r.info).toBeGreaterThanOrEqual(20);
    expect(s.rtProp, r.info).toBeLessThan(25);
  }, 60_000);

  it('keeps most of the bottleneck rate through 2% random loss both ways, where CUBIC falls well below it', async () => {
    for (const seed of [1, 2]) {
      const bbr = await bulk('bbr', seed, 0.02);
      const cubic = await bulk('cubic', seed, 0.02);
      for (const r of [bbr, cubic]) {
        expect(r.done, r.info).toBe(true);
        expect(r.intact, r.info).toBe(true);
      }
      expect(bbr.bps, bbr.info).toBeGreaterThan(0.7 * PAYLOAD_BPS);
      expect(bbr.bps, `${bbr.info}\n${cubic.info}`).toBeGreaterThan(1.5 * cubic.bps);
      // Random loss did not lower the model.
      expect((bbr.cc as Bbr).snapshot().btlBw * 8 * 1000, bbr.info).toBeGreaterThan(0.9 * PAYLOAD_BPS);
    }
  }, 120_000);
});
