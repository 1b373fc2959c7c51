/**
 * Congestion control: the window a sender may have in flight (RFC 5681), as NewReno and as CUBIC
 * (RFC 9438), behind one interface the connection calls on every event.
 *
 * Units: windows are in bytes; `mss` is the sender's maximum segment size (SMSS). Times are
 * milliseconds passed by the caller. Neither algorithm reads a clock or allocates per call.
 *
 * The connection's part of the contract:
 * - {@link CongestionControl.onAck} on every ACK that advances SND.UNA, with the bytes it newly
 *   acknowledged (SACKed bytes may be included) and the flight size before the ACK (SND.NXT - SND.UNA,
 *   or the RFC 6675 pipe). The window grows only while the sender is cwnd-limited (RFC 7661): at
 *   least half the window in flight during slow start, and all but one MSS of it in congestion
 *   avoidance. During recovery the window does not grow.
 * - {@link CongestionControl.onFastRetransmit} when loss is detected by duplicate ACKs or SACK
 *   (entering fast recovery), then {@link CongestionControl.onRecoveryExit} when SND.UNA passes the
 *   recovery point. During recovery `cwnd` equals `ssthresh` and the caller limits sending with the
 *   RFC 6675 pipe (or counts duplicate ACKs into its flight estimate, RFC 6582); no window inflation
 *   happens here.
 * - {@link CongestionControl.onRetransmitTimeout} on every RTO expiry.
 * - {@link CongestionControl.onIdleRestart} when sending resumes after an idle period longer than
 *   the RTO (RFC 5681 §4.1).
 * - {@link CongestionControl.onRateSample} on every ACK of a connection with SACK (delivery rate
 *   estimation, ./delivery-rate.ts), and {@link CongestionControl.onNoRateSamples} once when the
 *   handshake ends without SACK. The model-based {@link ./bbr.ts} uses these instead of onAck.
 */
import type { DeliveryRate, RateSample } from './delivery-rate.js';

/** The interface the connection drives. See the module comment for when to call each method. */
export interface CongestionControl {
  /** Algorithm name, e.g. `"newreno"` or `"cubic"`. */
  readonly name: string;
  /** The congestion window in bytes, at least one MSS. */
  readonly cwnd: number;
  /** The slow-start threshold in bytes (`Infinity` until the first loss). */
  readonly ssthresh: number;
  /** True while `cwnd < ssthresh` and not in recovery. */
  readonly inSlowStart: boolean;
  /** True between {@link CongestionControl.onFastRetransmit} and {@link CongestionControl.onRecoveryExit}. */
  readonly inRecovery: boolean;
  /**
   * An ACK acknowledged `ackedBytes` new bytes; `flightSizeBytes` were outstanding before it;
   * `rttMs` is the connection's current RTT estimate, negative or `undefined` while there is none
   * (CUBIC uses it; NewReno ignores it).
   */
  onAck(nowMs: number, ackedBytes: number, flightSizeBytes: number, rttMs?: number): void;
  /** Loss detected by duplicate ACKs or SACK: set ssthresh, shrink cwnd, enter recovery. */
  onFastRetransmit(nowMs: number, flightSizeBytes: number): void;
  /** Recovery ended (everything outstanding at its start is acknowledged). */
  onRecoveryExit(nowMs: number): void;
  /** The retransmission timer expired: cwnd drops to one MSS (the loss window). */
  onRetransmitTimeout(nowMs: number, flightSizeBytes: number): void;
  /** Sending resumes after idling longer than an RTO: cwnd drops to at most the initial window. */
  onIdleRestart?(nowMs: number): void;
  /**
   * The last loss response (fast retransmit or RTO) proved spurious (RFC 3522, RFC 2883 D-SACK):
   * recovery ends and cwnd and ssthresh go back to at least `cwnd` and `ssthresh`, their values
   * before it.
   */
  undo(cwnd: number, ssthresh: number): void;
  /** The MSS changed (learned from the peer, or path MTU): windows are rescaled to it. */
  setMss(mss: number): void;
  /**
   * HyStart++ (RFC 9406) input, before {@link CongestionControl.onAck}: an RTT sample of this ACK
   * (`undefined` when it gave none), and whether the ACK ended a round (it acknowledged the
   * highest sequence number sent when the round began; the caller tracks rounds).
   */
  onRoundSample(rttMs: number | undefined, roundEnded: boolean): void;
  /**
   * A delivery rate sample (on every ACK of a connection with SACK, after its deliveries were
   * recorded, in recovery too); `rate` is the connection's delivery state. Model-based algorithms
   * (BBR) drive their window from it; loss-based ones leave it out.
   */
  onRateSample?(nowMs: number, sample: RateSample, rate: DeliveryRate): void;
  /**
   * The connection negotiated no SACK, so it keeps no transmit log and no rate sample will come:
   * an algorithm that needs them falls back to one that does not.
   */
  onNoRateSamples?(): void;
  /**
   * The connection sends nothing more (it entered TIME-WAIT or closed): the algorithm may give
   * back memory only sending needs. `cwnd`, `ssthresh` and `pacingRate` read the same after it.
   */
  onConnectionEnd?(): void;
  /**
   * True when cwnd itself bounds sending in recovery (the flight may grow to cwnd): the algorithm
   * sets its own recovery window (BBR's packet conservation) and PRR's proportional reduction
   * towards ssthresh does not apply.
   */
  readonly ownsRecoveryWindow?: boolean;
  /** The rate the sender should pace at, bytes per ms (undefined: no pacing). */
  readonly pacingRate?: number;
}

/** HyStart++ constants (RFC 9406 §4.3). */
export const HYSTART = {
  /** Smallest RTT increase that ends slow start, ms. */
  minRttThreshMs: 4,
  /** Largest, ms. */
  maxRttThreshMs: 16,
  /** The threshold is the last round's minimum RTT divided by this. */
  minRttDivisor: 8,
  /** RTT samples a round needs before its minimum counts. */
  nRttSample: 8,
  /** Conservative Slow Start grows cwnd by 1/divisor of slow start's increase. */
  cssGrowthDivisor: 4,
  /** CSS rounds before congestion avoidance. */
  cssRounds: 5,
} as const;

/** Construction options shared by {@link NewReno} and {@link Cubic}. */
export interface CongestionOptions {
  /** The sender MSS in bytes (> 0). */
  mss: number;
  /**
   * Initial window in segments. When absent the initial window follows RFC 6928:
   * `min(10 * MSS, max(2 * MSS, 14600))`. Use {@link rfc3390InitialWindow} for the older, smaller one.
   */
  initialWindowSegments?: number;
}

/** RFC 6928 initial window in bytes: `min(10 * MSS, max(2 * MSS, 14600))`. */
export function rfc6928InitialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14_600));
}

/** RFC 3390 initial window in bytes: `min(4 * MSS, max(2 * MSS, 4380))`. */
export function rfc3390InitialWindow(mss: number): number {
  return Math.min(4 * mss, Math.max(2 * mss, 4380));
}

/** RFC 3465 limit L: slow start grows by at most L * MSS per ACK. */
const ABC_LIMIT = 2;

function checkMss(mss: number): void {
  if (!(Number.isInteger(mss) && mss > 0)) throw new RangeError(`MSS must be a positive integer, got ${mss}`);
}

/**
 * What both algorithms share: slow start with appropriate byte counting (RFC 3465, L = 2), the
 * cwnd-limited test, recovery and RTO bookkeeping. Subclasses supply congestion avoidance and the
 * reduction on loss.
 */
abstract class WindowBase implements CongestionControl {
  abstract readonly name: string;
  // Declared here and set in the constructor, not class fields with initializers: Node 20's
  // optimizing compiler does not inline a base-class constructor that has class fields into a
  // subclass's `super()`. Each starts as a number (a numeric field first stored as `undefined`
  // boxes every fractional value stored in it later, one new heap number per ACK).
  declare protected mss: number;
  declare protected readonly iwSegments: number | undefined;
  /** cwnd in bytes, fractional allowed internally. */
  declare protected window: number;
  declare protected threshold: number;
  declare protected recovering: boolean;
  /** An RTO happened and no ACK advanced since: a further RTO keeps ssthresh (RFC 5681 §3.1 note). */
  declare private timedOutSinceAck: boolean;
  /** HyStart++ (RFC 9406): minimum RTT of the last round and of this one, samples this round. */
  declare private lastRoundMinRtt: number;
  declare private currentRoundMinRtt: number;
  declare private rttSampleCount: number;
  /** In Conservative Slow Start: the RTT that started it, and rounds spent in it (-1: not in CSS). */
  declare private cssBaselineMinRtt: number;
  declare private cssRoundCount: number;
  /** Times HyStart++ ended slow start before a loss did (RFC 9406). */
  declare hystartExits: number;

  constructor(opts: CongestionOptions) {
    this.mss = 0;
    this.iwSegments = undefined;
    this.window = 0;
    this.resetShared();
    checkMss(opts.mss);
    if (
      opts.initialWindowSegments !== undefined &&
      !(Number.isInteger(opts.initialWindowSegments) && opts.initialWindowSegments >= 1)
    ) {
      throw new RangeError(`initial window must be >= 1 segment, got ${opts.initialWindowSegments}`);
    }
    this.mss = opts.mss;
    this.iwSegments = opts.initialWindowSegments;
    this.window = this.initialWindow();
  }

  /**
   * Starts over for a new connection sending `mss`-byte segments: every field as a new instance with
   * the same options has it (the initial window, no ssthresh, no recovery, HyStart++ and the
   * algorithm's own state forgotten). Allocates nothing.
   * @throws RangeError for a bad MSS.
   */
  restart(mss: number): void {
    checkMss(mss);
    this.mss = mss;
    this.window = this.initialWindow();
    this.resetShared();
    this.restartAlgorithm();
  }

  /** The shared fields after the window, as a new instance has them (no ssthresh, recovery or HyStart++ state). */
  private resetShared(): void {
    this.threshold = Number.POSITIVE_INFINITY;
    this.recovering = false;
    this.timedOutSinceAck = false;
    this.lastRoundMinRtt = Number.POSITIVE_INFINITY;
    this.currentRoundMinRtt = Number.POSITIVE_INFINITY;
    this.rttSampleCount = 0;
    this.cssBaselineMinRtt = Number.POSITIVE_INFINITY;
    this.cssRoundCount = -1;
    this.hystartExits = 0;
  }

  /** The algorithm's own part of {@link WindowBase.restart}: its fields as a new instance has them. */
  protected abstract restartAlgorithm(): void;

  /** The initial window in bytes for the current MSS. */
  initialWindow(): number {
    return this.iwSegments === undefined ? rfc6928InitialWindow(this.mss) : this.iwSegments * this.mss;
  }

  get cwnd(): number {
    return Math.max(this.mss, Math.floor(this.window));
  }

  get ssthresh(): number {
    return this.threshold;
  }

  get inSlowStart(): boolean {
    return !this.recovering && this.window < this.threshold;
  }

  get inRecovery(): boolean {
    return this.recovering;
  }

  onAck(nowMs: number, ackedBytes: number, flightSizeBytes: number, rttMs?: number): void {
    if (!(ackedBytes > 0)) return;
    this.timedOutSinceAck = false;
    if (this.recovering) return;
    if (this.window < this.threshold) {
      if (2 * flightSizeBytes < this.window) return; // application-limited (RFC 7661)
      let increase = Math.min(ackedBytes, ABC_LIMIT * this.mss);
      if (this.cssRoundCount >= 0) increase /= HYSTART.cssGrowthDivisor;
      const room = this.threshold - this.window;
      if (increase <= room) {
        this.window += increase;
        return;
      }
      this.window = this.threshold;
      this.congestionAvoidance(nowMs, increase - room, rttMs);
      return;
    }
    if (flightSizeBytes + this.mss < this.window) {
      this.onApplicationLimited(nowMs);
      return;
    }
    this.congestionAvoidance(nowMs, ackedBytes, rttMs);
  }

  /**
   * HyStart++ (RFC 9406 §4.2): in slow start, a round whose minimum RTT rose by at least
   * `clamp(lastRoundMinRtt / 8, 4, 16)` ms over the last round's starts Conservative Slow Start
   * (growth / 4); an RTT back below the baseline returns to slow start; after 5 CSS rounds
   * ssthresh is set to cwnd and congestion avoidance begins. Inactive outside slow start.
   */
  onRoundSample(rttMs: number | undefined, roundEnded: boolean): void {
    if (roundEnded) {
      if (this.cssRoundCount >= 0 && this.window < this.threshold) {
        this.cssRoundCount++;
        if (this.cssRoundCount >= HYSTART.cssRounds) {
          this.threshold = Math.max(this.window, 2 * this.mss);
          this.cssRoundCount = -1;
          this.hystartExits++;
        }
      }
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Number.POSITIVE_INFINITY;
      this.rttSampleCount = 0;
    }
    if (rttMs === undefined || this.recovering || this.window >= this.threshold) return;
    if (rttMs < this.currentRoundMinRtt) this.currentRoundMinRtt = rttMs;
    this.rttSampleCount++;
    if (this.rttSampleCount < HYSTART.nRttSample || !Number.isFinite(this.lastRoundMinRtt)) return;
    if (this.cssRoundCount < 0) {
      const thresh = Math.min(
        HYSTART.maxRttThreshMs,
        Math.max(HYSTART.minRttThreshMs, this.lastRoundMinRtt / HYSTART.minRttDivisor),
      );
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.cssRoundCount = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The RTT rise was spurious: back to slow start.
      this.cssBaselineMinRtt = Number.POSITIVE_INFINITY;
      this.cssRoundCount = -1;
    }
  }

  onFastRetransmit(nowMs: number, flightSizeBytes: number): void {
    this.cssRoundCount = -1;
    this.reduce(nowMs, flightSizeBytes);
    this.window = this.threshold;
    this.recovering = true;
  }

  onRecoveryExit(_nowMs: number): void {
    if (!this.recovering) return;
    this.recovering = false;
    this.window = this.threshold;
  }

  onRetransmitTimeout(nowMs: number, flightSizeBytes: number): void {
    this.cssRoundCount = -1;
    if (!this.timedOutSinceAck) this.reduce(nowMs, flightSizeBytes);
    this.timedOutSinceAck = true;
    this.recovering = false;
    this.window = this.mss;
    this.afterTimeout();
  }

  undo(cwnd: number, ssthresh: number): void {
    this.recovering = false;
    this.timedOutSinceAck = false;
    if (cwnd > this.window) this.window = cwnd;
    if (ssthresh > this.threshold) this.threshold = ssthresh;
    this.afterUndo();
  }

  onIdleRestart(_nowMs: number): void {
    this.window = Math.min(this.window, this.initialWindow());
    this.afterIdle();
  }

  /**
   * Rescales the window to a new MSS: cwnd and ssthresh keep their size in segments (so a smaller
   * path MTU does not leave a window of many more packets); cwnd stays at least one new MSS and a
   * finite ssthresh at least two.
   * @throws RangeError unless `mss` is a positive integer.
   */
  setMss(mss: number): void {
    checkMss(mss);
    const ratio = mss / this.mss;
    this.window = Math.max(mss, this.window * ratio);
    if (Number.isFinite(this.threshold)) this.threshold = Math.max(2 * mss, this.threshold * ratio);
    this.mss = mss;
    this.rescaled(ratio);
  }

  /** Congestion avoidance growth for `ackedBytes` newly acknowledged bytes. */
  protected abstract congestionAvoidance(nowMs: number, ackedBytes: number, rttMs: number | undefined): void;
  /** Sets ssthresh (and algorithm state) for a congestion event with `flightSizeBytes` outstanding. */
  protected abstract reduce(nowMs: number, flightSizeBytes: number): void;
  /** Called when an ACK arrives in congestion avoidance while the sender is not cwnd-limited. */
  protected onApplicationLimited(_nowMs: number): void {}
  /** Called after an RTO set cwnd to one MSS. */
  protected afterTimeout(): void {}
  /** Called after {@link WindowBase.undo}. */
  protected afterUndo(): void {}
  /** Called after an idle restart. */
  protected afterIdle(): void {}
  /** Called after {@link WindowBase.setMss} with new MSS / old MSS. */
  protected rescaled(_ratio: number): void {}
}

/**
 * NewReno window management (RFC 5681, RFC 6582, RFC 3465): slow start by at most 2 MSS per ACK;
 * congestion avoidance adds one MSS once a full window of bytes has been acknowledged; on loss
 * `ssthresh = max(flight / 2, 2 * MSS)`, and cwnd goes to ssthresh (fast retransmit) or one MSS
 * (RTO). A second RTO before any ACK advances keeps ssthresh (RFC 5681 §3.1).
 */
export class NewReno extends WindowBase {
  readonly name = 'newreno';
  /** Bytes acknowledged in congestion avoidance not yet turned into an MSS of window (RFC 3465). */
  private bytesAcked = 0;

  protected restartAlgorithm(): void {
    this.bytesAcked = 0;
  }

  protected congestionAvoidance(_nowMs: number, ackedBytes: number): void {
    this.bytesAcked += ackedBytes;
    if (this.bytesAcked >= this.window) {
      this.bytesAcked -= this.window;
      this.window += this.mss;
    }
  }

  protected reduce(_nowMs: number, flightSizeBytes: number): void {
    this.threshold = Math.max(Math.floor(flightSizeBytes / 2), 2 * this.mss);
    this.bytesAcked = 0;
  }

  protected override afterTimeout(): void {
    this.bytesAcked = 0;
  }
}

/** CUBIC constant C (segments per second cubed). */
export const CUBIC_C = 0.4;
/** CUBIC multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
/** Reno-friendly additive increase factor 3(1 - beta)/(1 + beta) (RFC 9438 §4.3). */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/**
 * W_cubic(t) = C (t - K)^3 + W_max (RFC 9438 Figure 1), in segments, `t` and `k` in seconds.
 */
export function cubicWindow(tSeconds: number, kSeconds: number, wMaxSegments: number): number {
  const d = tSeconds - kSeconds;
  return CUBIC_C * d * d * d + wMaxSegments;
}

/**
 * K = cbrt((W_max - cwnd_epoch) / C) (RFC 9438 Figure 2): the seconds W_cubic takes to climb from
 * `cwndEpochSegments` back to `wMaxSegments`; 0 when the epoch starts at or above W_max.
 */
export function cubicK(wMaxSegments: number, cwndEpochSegments: number): number {
  return wMaxSegments > cwndEpochSegments ? Math.cbrt((wMaxSegments - cwndEpochSegments) / CUBIC_C) : 0;
}

/**
 * CUBIC (RFC 9438) with beta 0.7, C 0.4, the Reno-friendly region and fast convergence; slow start
 * as in {@link NewReno}. A congestion avoidance epoch starts at the first ACK after slow start or
 * recovery: `t` counts from there and excludes application-limited stretches (RFC 9438 §5.8); the
 * target is W_cubic(t + RTT) clamped to [cwnd, 1.5 cwnd] and cwnd moves `(target - cwnd) / cwnd`
 * segments per acknowledged segment; if the Reno estimate W_est is higher, cwnd follows W_est.
 * On loss `ssthresh = max(flight * 0.7, 2 * MSS)` and W_max is cwnd (reduced to cwnd (1 + beta) / 2
 * when below the previous W_max: fast convergence). After an RTO the next epoch uses K = 0 and
 * W_max = cwnd at its start (RFC 9438 §4.8).
 */
export class Cubic extends WindowBase {
  readonly name = 'cubic';
  /** W_max in bytes (0 = none yet). */
  private wMax = 0;
  /** cwnd just before the last reduction, bytes (for alpha switching to 1). */
  private cwndPrior = 0;
  /** Start of the current epoch in ms, or NaN when no epoch runs. */
  private epochStart = Number.NaN;
  /** Time of the last ACK seen in congestion avoidance (to skip application-limited time). */
  private lastAckMs = Number.NaN;
  /** K of the current epoch in seconds. */
  private k = 0;
  /** W_est of the Reno-friendly region, bytes. */
  private wEst = 0;
  /** Latest RTT passed to onAck, ms. */
  private rtt = 0;
  /** The next epoch starts from K = 0 (after an RTO). */
  private epochAfterTimeout = false;
  private fastConvergence: boolean;

  /** `fastConvergence` defaults to true (RFC 9438 §4.7). */
  constructor(opts: CongestionOptions & { fastConvergence?: boolean }) {
    super(opts);
    this.fastConvergence = opts.fastConvergence ?? true;
  }

  protected restartAlgorithm(): void {
    this.wMax = 0;
    this.cwndPrior = 0;
    this.epochStart = Number.NaN;
    this.lastAckMs = Number.NaN;
    this.k = 0;
    this.wEst = 0;
    this.rtt = 0;
    this.epochAfterTimeout = false;
  }

  /** W_max in bytes (0 before the first congestion event). */
  get wMaxBytes(): number {
    return this.wMax;
  }

  /** K of the running epoch in seconds (0 when no epoch runs). */
  get kSeconds(): number {
    return Number.isNaN(this.epochStart) ? 0 : this.k;
  }

  protected congestionAvoidance(nowMs: number, ackedBytes: number, rttMs: number | undefined): void {
    if (rttMs !== undefined && rttMs >= 0) this.rtt = rttMs;
    const mss = this.mss;
    if (Number.isNaN(this.epochStart)) this.startEpoch(nowMs);
    this.lastAckMs = nowMs;
    const cwndSeg = this.window / mss;
    const acked = ackedBytes / mss;
    // Reno-friendly estimate (§4.3): alpha becomes 1 once W_est reaches the pre-loss window.
    const alpha = this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * acked * mss) / cwndSeg;
    const t = (nowMs - this.epochStart) / 1000;
    const wMaxSeg = this.wMax / mss;
    if (cubicWindow(t, this.k, wMaxSeg) * mss < this.wEst) {
      this.window = Math.max(this.window, this.wEst);
      return;
    }
    let target = cubicWindow(t + this.rtt / 1000, this.k, wMaxSeg);
    if (target < cwndSeg) target = cwndSeg;
    else if (target > 1.5 * cwndSeg) target = 1.5 * cwndSeg;
    this.window += ((target - cwndSeg) / cwndSeg) * acked * mss;
  }

  private startEpoch(nowMs: number): void {
    this.epochStart = nowMs;
    this.lastAckMs = nowMs;
    const mss = this.mss;
    if (this.epochAfterTimeout || this.wMax < this.window) {
      this.wMax = this.window;
      this.k = 0;
    } else {
      this.k = cubicK(this.wMax / mss, this.window / mss);
    }
    this.epochAfterTimeout = false;
    this.wEst = this.window;
  }

  protected override onApplicationLimited(nowMs: number): void {
    // Time spent not cwnd-limited does not count towards t (RFC 9438 §5.8).
    if (!Number.isNaN(this.epochStart) && nowMs > this.lastAckMs) this.epochStart += nowMs - this.lastAckMs;
    this.lastAckMs = nowMs;
  }

  protected reduce(_nowMs: number, flightSizeBytes: number): void {
    const cwnd = this.window;
    this.wMax = this.fastConvergence && cwnd < this.wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    this.cwndPrior = cwnd;
    this.threshold = Math.max(Math.floor(flightSizeBytes * CUBIC_BETA), 2 * this.mss);
    this.epochStart = Number.NaN;
  }

  override onRecoveryExit(nowMs: number): void {
    super.onRecoveryExit(nowMs);
    this.epochStart = Number.NaN;
  }

  protected override afterTimeout(): void {
    this.epochStart = Number.NaN;
    this.epochAfterTimeout = true;
  }

  protected override afterIdle(): void {
    this.epochStart = Number.NaN;
  }

  protected override afterUndo(): void {
    this.epochStart = Number.NaN;
    this.epochAfterTimeout = false;
    if (this.cwndPrior > this.wMax) this.wMax = this.cwndPrior;
  }

  protected override rescaled(ratio: number): void {
    this.wMax *= ratio;
    this.cwndPrior *= ratio;
    this.wEst *= ratio;
  }
}
