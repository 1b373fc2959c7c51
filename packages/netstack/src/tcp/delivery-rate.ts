/**
 * Delivery rate estimation (the algorithm of the IETF draft "Delivery Rate Estimation",
 * draft-cheng-iccrg-delivery-rate-estimation): on every ACK, the rate at which the network delivered
 * the most recent flight, as bytes delivered over the longer of two intervals: how long the
 * delivered segments took to send, and how long their ACKs took to come back. The longer one
 * filters out ACK compression (ACKs arriving faster than the bottleneck could have delivered).
 *
 * The connection keeps a {@link DeliveryRate}; every transmission in the transmit log
 * (`SentSegments`) records the connection's `delivered`, `deliveredTime` and `firstSentTime` at
 * that moment and whether the sender was application-limited ({@link DeliveryRate.stamp}). When a
 * segment is delivered (cumulatively acknowledged or SACKed) the log hands it to
 * {@link DeliveryRate.onDelivered}; after the ACK, {@link DeliveryRate.finishAck} turns the most
 * recently sent delivered segment's stamps into a {@link RateSample}.
 *
 * Units: bytes, milliseconds of the scheduler clock, rates in bytes per millisecond. No clock is
 * read and nothing is allocated per ACK: the sample is one object shared by every connection,
 * rewritten by each ACK's {@link DeliveryRate.finishAck} and read before the next ACK is processed.
 */

/** One delivery rate sample, rewritten on every ACK ({@link DeliveryRate.finishAck}): read it before the next. */
export interface RateSample {
  /** Bytes delivered (ACKed or SACKed) between the sampled segment's transmission and this ACK. */
  delivered: number;
  /** `delivered` over `intervalMs`, bytes per ms; 0 when the sample is not valid. */
  deliveryRate: number;
  /** The longer of the send and ACK intervals, ms (-1: no valid sample on this ACK). */
  intervalMs: number;
  /** RTT of the most recently sent never-retransmitted segment this ACK delivered, ms (-1 when none). */
  rttMs: number;
  /** The sampled segment was sent while the sender was application-limited. */
  isAppLimited: boolean;
  /** The connection's `delivered` when the sampled segment was sent (round trip counting). */
  priorDelivered: number;
  /** Bytes this ACK newly delivered. */
  newlyDelivered: number;
  /** Bytes this ACK newly marked lost (filled in by the caller; 0 unless it knows). */
  newlyLost: number;
  /** Bytes in flight (the pipe) after this ACK. */
  inflight: number;
  /** Bytes in flight before this ACK. */
  priorInflight: number;
}

/**
 * The sample {@link DeliveryRate.finishAck} fills and returns, one for the whole process: a sample is
 * consumed within its ACK, so a connection needs no sample object of its own.
 */
const sharedSample: RateSample = {
  delivered: 0,
  deliveryRate: 0,
  intervalMs: -1,
  rttMs: -1,
  isAppLimited: false,
  priorDelivered: 0,
  newlyDelivered: 0,
  newlyLost: 0,
  inflight: 0,
  priorInflight: 0,
};

/** Scratch for {@link DeliveryRate.onDelivered}'s stamps (one for the process: used within one call). */
const stampScratch = new Float64Array(4);

/** The connection's side of delivery rate estimation. */
export class DeliveryRate {
  /** Bytes delivered so far (ACKed or SACKed), C.delivered. */
  delivered = 0;
  /** When `delivered` last grew, ms, C.delivered_time. */
  deliveredTime = 0;
  /** Send time of the most recently sent segment known delivered, ms, C.first_sent_time. */
  firstSentTime = 0;
  /** 0, or the `delivered` value after which samples stop being application-limited, C.app_limited. */
  appLimited = 0;
  // The sampled segment's stamps as of the last delivery (the sample's priorDelivered and isAppLimited).
  private priorDelivered = 0;
  private priorAppLimited = false;
  // The sampled segment of the ACK being processed (-1: none yet).
  private priorTime = -1;
  private sendElapsed = 0;
  private ackElapsed = 0;
  private priorSent = -1;
  private deliveredBefore = 0;
  /** Smallest RTT of a never-retransmitted segment this ACK delivered, ms (-1: none). */
  private ackRtt = -1;

  /** Nothing is in flight and a segment is sent at `now`: the send and ACK intervals start here. */
  onFlightEmpty(now: number): void {
    this.firstSentTime = now;
    this.deliveredTime = now;
  }

  /** True when segments sent now count as application-limited. */
  get sendingAppLimited(): boolean {
    return this.appLimited !== 0;
  }

  /**
   * The sender ran out of data to send with room left in its window (`inflight` bytes in flight):
   * samples of segments sent from now until that flight is delivered are application-limited, so a
   * low rate they show is not taken for the path's.
   */
  markAppLimited(inflight: number): void {
    this.appLimited = Math.max(this.delivered + inflight, 1);
  }

  /**
   * A segment of `bytes` delivered at `now`, sent at `sentTime`, with the stamps it was sent with.
   * Call once per delivered segment, before {@link DeliveryRate.finishAck}.
   */
  onDelivered(
    now: number,
    bytes: number,
    sentTime: number,
    txDelivered: number,
    txDeliveredTime: number,
    txFirstSent: number,
    txAppLimited: boolean,
    retransmitted: boolean,
  ): void {
    const stamps = stampScratch;
    stamps[0] = sentTime;
    stamps[1] = txDelivered;
    stamps[2] = txDeliveredTime;
    stamps[3] = txFirstSent;
    this.onDeliveredStamps(now, bytes, stamps, 0, txAppLimited, retransmitted);
  }

  /**
   * {@link DeliveryRate.onDelivered} with the send time and stamps read from `stamps` at `at`: the
   * send time, `txDelivered`, `txDeliveredTime`, `txFirstSent`, in that order. The transmit log
   * passes its own slot array, so no fractional time is passed to a call on the per-ACK path (a
   * double argument of a call V8 did not inline is a new heap number).
   */
  onDeliveredStamps(
    now: number,
    bytes: number,
    stamps: Float64Array,
    at: number,
    txAppLimited: boolean,
    retransmitted: boolean,
  ): void {
    const sentTime = stamps[at]!;
    const txDelivered = stamps[at + 1]!;
    this.delivered += bytes;
    this.deliveredTime = now;
    // Karn: a retransmitted segment's RTT is ambiguous (an earlier copy may be what arrived).
    if (!retransmitted && (this.ackRtt < 0 || now - sentTime < this.ackRtt)) this.ackRtt = now - sentTime;
    // The most recently sent segment of those delivered gives the sample.
    if (
      this.priorTime < 0 ||
      sentTime > this.priorSent ||
      (sentTime === this.priorSent && txDelivered >= this.priorDelivered)
    ) {
      const txDeliveredTime = stamps[at + 2]!;
      this.priorDelivered = txDelivered;
      this.priorAppLimited = txAppLimited;
      this.priorTime = txDeliveredTime;
      this.priorSent = sentTime;
      this.sendElapsed = sentTime - stamps[at + 3]!;
      this.ackElapsed = now - txDeliveredTime;
      this.firstSentTime = sentTime;
    }
  }

  /**
   * Ends the ACK: fills the shared {@link RateSample} (interval -1 and rate 0 when it gave no valid
   * sample: nothing delivered, or an interval shorter than `minRttMs`, which only ACK compression
   * can produce) and returns it. `inflight` is the pipe now, `priorInflight` before the ACK.
   */
  finishAck(minRttMs: number, inflight: number, priorInflight: number): RateSample {
    const s = sharedSample;
    s.priorDelivered = this.priorDelivered;
    s.isAppLimited = this.priorAppLimited;
    s.newlyDelivered = this.delivered - this.deliveredBefore;
    this.deliveredBefore = this.delivered;
    s.inflight = inflight;
    s.priorInflight = priorInflight;
    s.newlyLost = 0;
    s.rttMs = this.ackRtt;
    this.ackRtt = -1;
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0;
    if (this.priorTime < 0) {
      s.intervalMs = -1;
      s.deliveryRate = 0;
      s.delivered = 0;
      return s;
    }
    this.priorTime = -1;
    this.priorSent = -1;
    const interval = Math.max(this.sendElapsed, this.ackElapsed);
    s.delivered = this.delivered - s.priorDelivered;
    if (!(interval > 0) || interval < minRttMs) {
      s.intervalMs = -1;
      s.deliveryRate = 0;
      return s;
    }
    s.intervalMs = interval;
    s.deliveryRate = s.delivered / interval;
    return s;
  }

  /** Forgets everything (the log was cleared): every field as a new `DeliveryRate` has it. */
  reset(): void {
    this.delivered = 0;
    this.deliveredTime = 0;
    this.firstSentTime = 0;
    this.appLimited = 0;
    this.priorDelivered = 0;
    this.priorAppLimited = false;
    this.priorTime = -1;
    this.sendElapsed = 0;
    this.ackElapsed = 0;
    this.priorSent = -1;
    this.deliveredBefore = 0;
    this.ackRtt = -1;
  }
}
