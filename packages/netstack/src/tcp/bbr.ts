/**
 * BBR (version 1, as the IETF draft draft-cardwell-iccrg-bbr-congestion-control describes it): a
 * model-based congestion control. It estimates the path's bottleneck bandwidth (BtlBw, the largest
 * delivery rate over the last 10 round trips) and its round-trip propagation time (RTprop, the
 * smallest RTT over the last 10 s), and sets the window to `cwnd_gain * BtlBw * RTprop` plus a few
 * send quanta and an ACK aggregation budget (the draft's later revisions and Linux add it: the most
 * data ACKs delivered beyond what BtlBw explains over 10 rounds), and the pacing rate to
 * `pacing_gain * BtlBw`. Random loss does not enter the model:
 * a lost segment lowers neither estimate, so the sending rate stays at the path's rate where a
 * loss-based algorithm would halve its window on every loss.
 *
 * States: STARTUP (gains 2/ln 2, doubling the rate each round until the bandwidth stops growing by
 * 25% for three rounds), DRAIN (pacing gain ln 2 / 2 until the queue STARTUP built is gone),
 * PROBE_BW (pacing gain cycling 1.25, 0.75, then six rounds of 1; cwnd gain 2), PROBE_RTT (when
 * RTprop has not been refreshed for 10 s: the window drops to 4 segments for 200 ms and a round so
 * the queue drains and a fresh minimum RTT is seen).
 *
 * Loss recovery stays with RACK-TLP and SACK; BBR only takes part as the draft says: on entering
 * recovery the window becomes the flight plus what the ACK delivered and grows by no more than what
 * is delivered for one round (packet conservation), and on leaving recovery it goes back to at
 * least its value before. After an RTO the window restarts from one segment and grows by what is
 * delivered, and is restored the same way.
 *
 * It is driven by {@link Bbr.onRateSample} (./delivery-rate.ts) on every ACK; `onAck` is not used.
 * Samples need the transmit log, which is kept with SACK only: a connection without SACK is told
 * so ({@link Bbr.onNoRateSamples}) and runs {@link Cubic} instead, behind the same object.
 *
 * Pacing: the rate is computed ({@link Bbr.pacingRate}) but this stack's output path has no pacing
 * timer; sending is ACK-clocked and bounded by the window. The one deviation this needs: DRAIN uses
 * a cwnd gain of 1 (one BDP) instead of STARTUP's, so the queue STARTUP built drains within a
 * round without pacing below the bottleneck rate. The PROBE_BW pacing gains then shape nothing;
 * the cwnd gain of 2 keeps the bottleneck busy through delayed and stretched ACKs.
 *
 * Units: bytes, ms, bytes per ms. No clock is read and nothing is allocated per ACK.
 */
import { MinRttFilter, RoundMaxFilter } from './bbr-filters.js';
import { Cubic, rfc6928InitialWindow, type CongestionControl, type CongestionOptions } from './congestion.js';
import type { DeliveryRate, RateSample } from './delivery-rate.js';

/** STARTUP's pacing and cwnd gain: 2/ln 2, the smallest that doubles the delivery rate each round. */
export const BBR_HIGH_GAIN = 2 / Math.LN2;
/** PROBE_BW's pacing gains, one phase per RTprop. */
export const BBR_PACING_GAIN_CYCLE: readonly number[] = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** PROBE_BW's cwnd gain. */
export const BBR_CWND_GAIN = 2;
/** Round trips the bottleneck bandwidth filter spans. */
export const BBR_BTLBW_FILTER_ROUNDS = 10;
/** How long a minimum RTT stays valid, ms. */
export const BBR_RTPROP_FILTER_MS = 10_000;
/** Time PROBE_RTT holds the small window, ms. */
export const BBR_PROBE_RTT_MS = 200;
/** The smallest window, and PROBE_RTT's, in segments. */
export const BBR_MIN_PIPE_SEGMENTS = 4;
/** Round trips the ACK aggregation filter spans. */
export const BBR_EXTRA_ACKED_FILTER_ROUNDS = 10;
/** Largest ACK aggregation budget, in ms of the bottleneck rate. */
const MAX_EXTRA_ACKED_MS = 100;
/** STARTUP ends when the bandwidth grew by less than this factor ... */
const FULL_BW_GROWTH = 1.25;
/** ... for this many rounds in a row. */
const FULL_BW_ROUNDS = 3;
/** Largest send quantum, bytes (the draft's 64 KB). */
const MAX_SEND_QUANTUM = 64 * 1024;
/** Rates below which the send quantum is one (below 1.2 Mbit/s) or two (below 24 Mbit/s) segments, bytes per ms. */
const ONE_SEGMENT_RATE = 1.2e6 / 8 / 1000;
const TWO_SEGMENT_RATE = 24e6 / 8 / 1000;

/**
 * A filter's next value, passed in a typed array (see {@link RoundMaxFilter.updateFrom}); one for the
 * process, written just before each call that reads it.
 */
const filterValue = new Float64Array(1);

/** BBR's states. */
export type BbrState = 'STARTUP' | 'DRAIN' | 'PROBE_BW' | 'PROBE_RTT';

/** A BBR sender's model and state, for tests and diagnostics. */
export interface BbrSnapshot {
  readonly state: BbrState;
  /** Bottleneck bandwidth estimate, bytes per ms. */
  readonly btlBw: number;
  /** Round-trip propagation time estimate, ms (Infinity before the first sample). */
  readonly rtProp: number;
  readonly pacingGain: number;
  readonly cwndGain: number;
  readonly filledPipe: boolean;
  readonly roundCount: number;
  /** Times PROBE_RTT was entered. */
  readonly probeRttRounds: number;
  /** The ACK aggregation budget in the window, bytes. */
  readonly extraAcked: number;
}

/** See the module comment. */
export class Bbr implements CongestionControl {
  readonly name = 'bbr';
  // Numeric fields start as numbers, not as declared-only fields: a field first defined as
  // `undefined` takes any value afterwards, and every fractional window stored in it (on every ACK)
  // would be a new heap number; started at 0 it holds doubles in place.
  private mss = 0;
  private readonly iwSegments: number | undefined;
  private window = 0;
  /** The initial window in bytes for the current MSS. */
  private iw = 0;
  private readonly btlBwFilter = new RoundMaxFilter(BBR_BTLBW_FILTER_ROUNDS);
  private readonly rtPropFilter = new MinRttFilter(BBR_RTPROP_FILTER_MS);
  /** ACK aggregation: the most data ACKed beyond what BtlBw explains, over the last rounds (bytes). */
  private readonly extraAckedFilter = new RoundMaxFilter(BBR_EXTRA_ACKED_FILTER_ROUNDS);
  private extraAckedStart = 0;
  private extraAckedDelivered = 0;
  private st: BbrState = 'STARTUP';
  private gainPacing = BBR_HIGH_GAIN;
  private gainCwnd = BBR_HIGH_GAIN;
  private rate = 0;
  private rounds = 0;
  private nextRoundDelivered = 0;
  private roundStart = false;
  private pipeFilled = false;
  private fullBw = 0;
  private fullBwCount = 0;
  private cycleIndex = 0;
  private cycleStamp = 0;
  private priorCwnd = 0;
  private recovering = false;
  private conservation = false;
  private conservationRound = 0;
  private probeRttDoneStamp = -1;
  private probeRttRoundDone = false;
  private idleRestart = false;
  private probeRtts = 0;
  private lastInflight = 0;
  private lastDelivered = 0;
  /** The last {@link Bbr.computeInflight} result, bytes (a double field: written in place). */
  private inflightBytes = 0;
  /** The algorithm run instead when no rate sample can come (no SACK). */
  private fallback: Cubic | undefined;

  /** @throws RangeError for a bad MSS or initial window (as {@link Cubic}). */
  constructor(opts: CongestionOptions) {
    if (!(Number.isInteger(opts.mss) && opts.mss > 0))
      throw new RangeError(`MSS must be a positive integer, got ${opts.mss}`);
    const iw = opts.initialWindowSegments;
    if (iw !== undefined && !(Number.isInteger(iw) && iw >= 1))
      throw new RangeError(`initial window must be >= 1 segment, got ${iw}`);
    this.mss = opts.mss;
    this.iwSegments = opts.initialWindowSegments;
    this.iw = this.initialWindow();
    this.window = this.iw;
  }

  /**
   * Starts over for a new connection with `mss` (the same initial-window option): every field as a
   * new `Bbr` has it, the bandwidth filters without slots, no fallback.
   * @throws RangeError for a bad MSS (as the constructor).
   */
  restart(mss: number): void {
    if (!(Number.isInteger(mss) && mss > 0)) throw new RangeError(`MSS must be a positive integer, got ${mss}`);
    this.mss = mss;
    this.iw = this.initialWindow();
    this.window = this.iw;
    this.btlBwFilter.release();
    this.rtPropFilter.value = Number.POSITIVE_INFINITY;
    this.rtPropFilter.stamp = 0;
    this.extraAckedFilter.release();
    this.extraAckedStart = 0;
    this.extraAckedDelivered = 0;
    this.st = 'STARTUP';
    this.gainPacing = BBR_HIGH_GAIN;
    this.gainCwnd = BBR_HIGH_GAIN;
    this.rate = 0;
    this.rounds = 0;
    this.nextRoundDelivered = 0;
    this.roundStart = false;
    this.pipeFilled = false;
    this.fullBw = 0;
    this.fullBwCount = 0;
    this.cycleIndex = 0;
    this.cycleStamp = 0;
    this.priorCwnd = 0;
    this.recovering = false;
    this.conservation = false;
    this.conservationRound = 0;
    this.probeRttDoneStamp = -1;
    this.probeRttRoundDone = false;
    this.idleRestart = false;
    this.probeRtts = 0;
    this.lastInflight = 0;
    this.lastDelivered = 0;
    this.inflightBytes = 0;
    this.fallback = undefined;
  }

  /** The initial window for the current MSS (kept in {@link Bbr.iw}: it is read on every ACK). */
  private initialWindow(): number {
    return this.iwSegments === undefined ? rfc6928InitialWindow(this.mss) : this.iwSegments * this.mss;
  }

  get cwnd(): number {
    if (this.fallback !== undefined) return this.fallback.cwnd;
    return Math.max(this.mss, Math.floor(this.window));
  }

  /** BBR keeps no slow-start threshold (PRR then reduces towards cwnd). */
  get ssthresh(): number {
    return this.fallback !== undefined ? this.fallback.ssthresh : Number.POSITIVE_INFINITY;
  }

  get inSlowStart(): boolean {
    return this.fallback !== undefined ? this.fallback.inSlowStart : this.st === 'STARTUP';
  }

  get inRecovery(): boolean {
    return this.fallback !== undefined ? this.fallback.inRecovery : this.recovering;
  }

  /** In recovery the window is BBR's own (packet conservation, then growth to the target), not PRR's. */
  get ownsRecoveryWindow(): boolean {
    return this.fallback === undefined;
  }

  /** Pacing rate, bytes per ms (undefined while running the fallback). */
  get pacingRate(): number | undefined {
    return this.fallback !== undefined ? undefined : this.rate;
  }

  /** The model and state now. */
  snapshot(): BbrSnapshot {
    return {
      state: this.st,
      btlBw: this.btlBwFilter.max,
      rtProp: this.rtPropFilter.value,
      pacingGain: this.gainPacing,
      cwndGain: this.gainCwnd,
      filledPipe: this.pipeFilled,
      roundCount: this.rounds,
      probeRttRounds: this.probeRtts,
      extraAcked: this.extraAcked,
    };
  }

  /** True after {@link Bbr.onNoRateSamples}: CUBIC runs instead. */
  get usingFallback(): boolean {
    return this.fallback !== undefined;
  }

  onNoRateSamples(): void {
    this.fallback ??= new Cubic({ mss: this.mss, initialWindowSegments: this.iwSegments });
  }

  /** Gives the bandwidth filters' slots back: the model's bandwidths read 0 afterwards (the window and pacing rate stay). */
  onConnectionEnd(): void {
    this.btlBwFilter.release();
    this.extraAckedFilter.release();
  }

  onAck(nowMs: number, ackedBytes: number, flightSizeBytes: number, rttMs?: number): void {
    this.fallback?.onAck(nowMs, ackedBytes, flightSizeBytes, rttMs);
  }

  onRoundSample(rttMs: number | undefined, roundEnded: boolean): void {
    this.fallback?.onRoundSample(rttMs, roundEnded);
  }

  /** The per-ACK update of the model, the state machine, the pacing rate and the window. */
  onRateSample(nowMs: number, rs: RateSample, dr: DeliveryRate): void {
    if (this.fallback !== undefined) return;
    this.lastInflight = rs.inflight;
    this.lastDelivered = rs.newlyDelivered;
    if (rs.newlyDelivered <= 0) return;
    this.updateRound(rs, dr.delivered);
    if (rs.deliveryRate > 0 && (rs.deliveryRate >= this.btlBwFilter.max || !rs.isAppLimited)) {
      filterValue[0] = rs.deliveryRate;
      this.btlBwFilter.updateFrom(filterValue, 0, this.rounds);
    }
    this.updateAckAggregation(nowMs, rs);
    // Each state check is called only when it can act (tested here, so the steady-state ACK of a
    // keep-alive exchange makes none of these calls).
    if (this.st === 'PROBE_BW') this.checkCyclePhase(nowMs, rs);
    if (!this.pipeFilled && this.roundStart && !rs.isAppLimited) this.checkFullPipe();
    if (this.st === 'STARTUP' || this.st === 'DRAIN') this.checkDrain(nowMs, rs.inflight);
    const expired = this.rtPropFilter.expired(nowMs);
    // The filter's own test, made here: on most ACKs the sample changes nothing, and the fractional
    // RTT is then not passed to a call (a new heap number when V8 does not inline it).
    const rtt = rs.rttMs;
    if (rtt >= 0 && (rtt <= this.rtPropFilter.value || expired)) this.rtPropFilter.update(rtt, nowMs, expired);
    if (expired || this.st === 'PROBE_RTT') this.checkProbeRtt(nowMs, rs, dr, expired);
    // This ACK delivered data (`newlyDelivered > 0`): the restart after idle is over.
    this.idleRestart = false;
    this.setPacingRate();
    this.setCwnd(rs);
  }

  private updateRound(rs: RateSample, delivered: number): void {
    this.roundStart = false;
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = delivered;
      this.rounds++;
      this.roundStart = true;
      this.btlBwFilter.advance(this.rounds);
      if (this.conservation && this.rounds > this.conservationRound) this.conservation = false;
    }
  }

  /**
   * ACK aggregation (the draft's BBRUpdateACKAggregation): how much more data ACKs delivered since
   * the ACK rate last fell to BtlBw than BtlBw explains. Receivers that ACK in batches (delayed ACKs,
   * a TAP reader draining its ring, a busy host) deliver in bursts; the window gets that much extra
   * so the sender is not starved between bursts.
   */
  private updateAckAggregation(nowMs: number, rs: RateSample): void {
    const bw = this.btlBwFilter.max;
    let expected = bw * (nowMs - this.extraAckedStart);
    if (this.extraAckedDelivered <= expected) {
      this.extraAckedDelivered = 0;
      this.extraAckedStart = nowMs;
      expected = 0;
    }
    this.extraAckedDelivered += rs.newlyDelivered;
    const extra = Math.min(this.extraAckedDelivered - expected, this.window, bw * MAX_EXTRA_ACKED_MS);
    if (extra > 0) {
      filterValue[0] = extra;
      this.extraAckedFilter.updateFrom(filterValue, 0, this.rounds);
    } else this.extraAckedFilter.advance(this.rounds);
  }

  /** The ACK aggregation budget added to the window, bytes (0 until the pipe is filled). */
  get extraAcked(): number {
    return this.pipeFilled ? this.extraAckedFilter.max : 0;
  }

  /**
   * Sets {@link Bbr.inflightBytes} to the flight `gain` times the model's BDP calls for, plus three
   * send quanta (the draft's BBRInflight and quantization budget); before the model has a bandwidth
   * and an RTT, the BDP is the initial window. The send quantum is one segment below 1.2 Mbit/s, two
   * below 24 Mbit/s, else the pacing rate's bytes per ms within [2 segments, 64 KB]. One method with
   * no call that returns a fraction, and the result stored in a double field: a fraction returned by
   * a call V8 did not inline is a new heap number, and this runs on every ACK.
   */
  private computeInflight(gain: number): void {
    const bw = this.btlBwFilter.max;
    const rtt = this.rtPropFilter.value;
    const bdp = !Number.isFinite(rtt) || bw <= 0 ? this.iw : gain * bw * rtt;
    const rate = this.rate;
    const mss = this.mss;
    const quantum =
      rate < ONE_SEGMENT_RATE
        ? mss
        : rate < TWO_SEGMENT_RATE
          ? 2 * mss
          : Math.min(Math.max(rate, 2 * mss), MAX_SEND_QUANTUM);
    this.inflightBytes = bdp + 3 * quantum;
  }

  /** {@link Bbr.computeInflight}'s flight for `gain` (for the state checks, which run only in some states). */
  private inflightAt(gain: number): number {
    this.computeInflight(gain);
    return this.inflightBytes;
  }

  private minPipe(): number {
    return BBR_MIN_PIPE_SEGMENTS * this.mss;
  }

  private enterProbeBw(nowMs: number): void {
    this.st = 'PROBE_BW';
    this.gainPacing = 1;
    this.gainCwnd = BBR_CWND_GAIN;
    // Any phase but the draining one (index 1), picked without randomness: the phase after it.
    this.cycleIndex = 2;
    this.cycleStamp = nowMs;
  }

  /** PROBE_BW's next gain phase when this one is over (call in PROBE_BW only). */
  private checkCyclePhase(nowMs: number, rs: RateSample): void {
    const fullLength = nowMs - this.cycleStamp > this.rtPropFilter.value;
    let next: boolean;
    if (this.gainPacing === 1) next = fullLength;
    else if (this.gainPacing > 1)
      next = fullLength && (rs.newlyLost > 0 || rs.priorInflight >= this.inflightAt(this.gainPacing));
    else next = fullLength || rs.priorInflight <= this.inflightAt(1);
    if (!next) return;
    this.cycleIndex = (this.cycleIndex + 1) % BBR_PACING_GAIN_CYCLE.length;
    this.cycleStamp = nowMs;
    this.gainPacing = BBR_PACING_GAIN_CYCLE[this.cycleIndex]!;
  }

  /** The pipe-full test at the start of a round with a sample not application-limited (call only then, pipe not yet full). */
  private checkFullPipe(): void {
    const bw = this.btlBwFilter.max;
    if (bw >= this.fullBw * FULL_BW_GROWTH) {
      this.fullBw = bw;
      this.fullBwCount = 0;
      return;
    }
    if (++this.fullBwCount >= FULL_BW_ROUNDS) this.pipeFilled = true;
  }

  private checkDrain(nowMs: number, inflight: number): void {
    if (this.st === 'STARTUP' && this.pipeFilled) {
      this.st = 'DRAIN';
      this.gainPacing = 1 / BBR_HIGH_GAIN;
      // The draft keeps STARTUP's cwnd gain and drains by pacing below the bottleneck rate. Sending
      // here is window-limited (no pacing timer), so the window itself drains the queue: one BDP.
      this.gainCwnd = 1;
    }
    if (this.st === 'DRAIN' && inflight <= this.inflightAt(1)) this.enterProbeBw(nowMs);
  }

  private checkProbeRtt(nowMs: number, rs: RateSample, dr: DeliveryRate, expired: boolean): void {
    if (this.st !== 'PROBE_RTT' && expired && !this.idleRestart) {
      this.st = 'PROBE_RTT';
      this.probeRtts++;
      this.gainPacing = 1;
      this.gainCwnd = 1;
      this.priorCwnd = this.saveCwnd();
      this.probeRttDoneStamp = -1;
    }
    if (this.st === 'PROBE_RTT') {
      // The low rate of this state says nothing about the path.
      dr.markAppLimited(rs.inflight);
      if (this.probeRttDoneStamp < 0 && rs.inflight <= this.minPipe()) {
        this.probeRttDoneStamp = nowMs + BBR_PROBE_RTT_MS;
        this.probeRttRoundDone = false;
        this.nextRoundDelivered = dr.delivered;
      } else if (this.probeRttDoneStamp >= 0) {
        if (this.roundStart) this.probeRttRoundDone = true;
        if (this.probeRttRoundDone && nowMs > this.probeRttDoneStamp) {
          this.rtPropFilter.stamp = nowMs;
          this.window = Math.max(this.window, this.priorCwnd);
          if (this.pipeFilled) this.enterProbeBw(nowMs);
          else {
            this.st = 'STARTUP';
            this.gainPacing = BBR_HIGH_GAIN;
            this.gainCwnd = BBR_HIGH_GAIN;
          }
        }
      }
    }
  }

  private setPacingRate(): void {
    const bw = this.btlBwFilter.max;
    if (bw <= 0) return;
    const rate = this.gainPacing * bw;
    if (this.pipeFilled || rate > this.rate) this.rate = rate;
  }

  private setCwnd(rs: RateSample): void {
    // The window's target: the flight for the cwnd gain plus the ACK aggregation budget (none in
    // DRAIN, which drains by the window).
    this.computeInflight(this.gainCwnd);
    const target = this.inflightBytes + (this.st === 'DRAIN' ? 0 : this.extraAcked);
    const delivered = rs.newlyDelivered;
    if (rs.newlyLost > 0) this.window = Math.max(this.window - rs.newlyLost, this.mss);
    if (this.conservation) {
      this.window = Math.max(this.window, rs.inflight + delivered);
    } else {
      if (this.pipeFilled) this.window = Math.min(this.window + delivered, target);
      else if (this.window < target || rs.priorDelivered + rs.delivered < this.iw) this.window += delivered;
      this.window = Math.max(this.window, this.minPipe());
    }
    if (this.st === 'PROBE_RTT') this.window = Math.min(this.window, this.minPipe());
  }

  /** The window to come back to after recovery or PROBE_RTT. */
  private saveCwnd(): number {
    return !this.recovering && this.st !== 'PROBE_RTT' ? this.window : Math.max(this.priorCwnd, this.window);
  }

  onFastRetransmit(nowMs: number, flightSizeBytes: number): void {
    if (this.fallback !== undefined) return this.fallback.onFastRetransmit(nowMs, flightSizeBytes);
    this.priorCwnd = this.saveCwnd();
    this.recovering = true;
    this.conservation = true;
    this.conservationRound = this.rounds;
    this.window = Math.max(this.minPipe(), this.lastInflight + Math.max(this.lastDelivered, this.mss));
  }

  onRecoveryExit(nowMs: number): void {
    if (this.fallback !== undefined) return this.fallback.onRecoveryExit(nowMs);
    this.recovering = false;
    this.conservation = false;
    this.window = Math.max(this.window, this.priorCwnd);
  }

  onRetransmitTimeout(nowMs: number, flightSizeBytes: number): void {
    if (this.fallback !== undefined) return this.fallback.onRetransmitTimeout(nowMs, flightSizeBytes);
    this.priorCwnd = this.saveCwnd();
    this.recovering = false;
    this.conservation = false;
    this.window = this.mss;
  }

  undo(cwnd: number, ssthresh: number): void {
    if (this.fallback !== undefined) return this.fallback.undo(cwnd, ssthresh);
    this.recovering = false;
    this.conservation = false;
    this.window = Math.max(this.window, cwnd, this.priorCwnd);
  }

  onIdleRestart(nowMs: number): void {
    if (this.fallback !== undefined) return this.fallback.onIdleRestart(nowMs);
    // The window stays (the model still holds); PROBE_BW restarts at the path's rate.
    this.idleRestart = true;
    if (this.st === 'PROBE_BW') this.rate = this.btlBwFilter.max;
  }

  /** Rescales the windows to a new MSS (their size in segments stays). @throws RangeError for a bad MSS. */
  setMss(mss: number): void {
    if (this.fallback !== undefined) this.fallback.setMss(mss);
    if (!(Number.isInteger(mss) && mss > 0)) throw new RangeError(`MSS must be a positive integer, got ${mss}`);
    const ratio = mss / this.mss;
    this.window = Math.max(mss, this.window * ratio);
    this.priorCwnd *= ratio;
    this.mss = mss;
    this.iw = this.initialWindow();
  }
}
