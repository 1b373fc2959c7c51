import { describe, expect, it } from 'vitest';
import { Cubic, HYSTART, NewReno, type CongestionControl } from '../src/tcp/congestion.js';

const MSS = 1000;

/** One round: `samples` RTT samples of `rttMs`, each with an ACK of one MSS and a full flight; then the round ends. */
function round(cc: CongestionControl, rttMs: number, samples: number = HYSTART.nRttSample): void {
  for (let i = 0; i < samples; i++) {
    cc.onRoundSample(rttMs, false);
    cc.onAck(0, MSS, cc.cwnd, rttMs);
  }
  cc.onRoundSample(undefined, true);
}

describe('HyStart++ (RFC 9406) in slow start', () => {
  for (const make of [() => new NewReno({ mss: MSS }), () => new Cubic({ mss: MSS })]) {
    it(`${make().name}: a rising RTT starts Conservative Slow Start (growth / 4), and after ${HYSTART.cssRounds} rounds ssthresh = cwnd`, () => {
      const cc = make();
      round(cc, 10);
      round(cc, 10);
      expect(cc.ssthresh).toBe(Number.POSITIVE_INFINITY);
      // RTT up by 5 ms >= max(4, 10 / 8): CSS from the 8th sample on.
      const before = cc.cwnd;
      for (let i = 0; i < HYSTART.nRttSample; i++) {
        cc.onRoundSample(15, false);
        cc.onAck(0, MSS, cc.cwnd, 15);
      }
      // 7 ACKs at full growth (2 MSS each by ABC, capped by acked = 1 MSS), the 8th at a quarter.
      expect(cc.cwnd).toBe(before + 7 * MSS + MSS / 4);
      cc.onRoundSample(undefined, true);
      for (let r = 1; r < HYSTART.cssRounds; r++) round(cc, 15);
      expect(cc.ssthresh).toBe(cc.cwnd);
      expect(cc.inSlowStart).toBe(false);
    });
  }

  it('an RTT back below the CSS baseline returns to slow start; without 8 samples nothing is decided', () => {
    const cc = new NewReno({ mss: MSS });
    round(cc, 10);
    round(cc, 20, HYSTART.nRttSample - 1); // too few samples: no decision
    round(cc, 10);
    round(cc, 16); // +6 ms: CSS
    const mid = cc.cwnd;
    // A round below the 16 ms baseline: spurious, back to slow start once it has 8 samples.
    for (let i = 0; i < HYSTART.nRttSample; i++) {
      cc.onRoundSample(11, false);
      cc.onAck(0, MSS, cc.cwnd, 11);
    }
    expect(cc.cwnd).toBe(mid + ((HYSTART.nRttSample - 1) * MSS) / 4 + MSS);
    cc.onRoundSample(undefined, true);
    for (let r = 0; r < HYSTART.cssRounds + 1; r++) round(cc, 10);
    expect(cc.ssthresh).toBe(Number.POSITIVE_INFINITY);
  });
});
