import { describe, expect, it } from 'vitest';
import { OneWayBulk, patternBytes, tcpPair } from './support/tcp-net.js';

const MiB = 1024 * 1024;

/** One-way bulk transfer a -> b over a link losing `lossRate` of the frames each way (virtual clock, seeded). */
async function oneWay(bytes: number, seed: number, lossRate: number) {
  const pair = await tcpPair({
    seed,
    faults: { lossRate },
    latencyMs: 1,
    tcpA: { rto: { minRtoMs: 200 } },
    tcpB: { rto: { minRtoMs: 200 } },
  });
  const transfer = new OneWayBulk(pair, patternBytes(bytes, seed));
  const done = pair.sched.runUntil(() => transfer.sink !== undefined && transfer.sink.received >= bytes, 3_600_000);
  return { done, digest: transfer.sink?.digest(), expected: transfer.expected, stats: transfer.client.stats };
}

describe('Tcp sender loss recovery (SACK, early retransmit, lost retransmissions, tail loss probes)', () => {
  // Seeds 1-3 give connections whose initial sequence numbers lie on both sides of 2^31 (seed 2:
  // above), where a scoreboard left counting from 0 ignored every SACK block.
  it('recovers 2% loss without retransmission timeouts, whatever the initial sequence number', async () => {
    let timeouts = 0;
    for (const seed of [1, 2, 3]) {
      const r = await oneWay(8 * MiB, seed, 0.02);
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      expect(r.stats.fastRetransmits, info).toBeGreaterThan(0);
      timeouts += r.stats.timeouts;
    }
    // Was 4 (seed 2 with SACK information ignored).
    expect(timeouts).toBe(0);
  }, 60_000);

  it('at 10% loss, most losses are repaired without waiting for the RTO', async () => {
    let timeouts = 0;
    let retransmits = 0;
    for (const seed of [1, 2, 3]) {
      const r = await oneWay(8 * MiB, seed, 0.1);
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      timeouts += r.stats.timeouts;
      retransmits += r.stats.retransmits;
    }
    // Was 354 timeouts for the three seeds (retransmission of a retransmission counted twice in
    // the pipe, no early retransmit, DupThresh SACKs demanded behind a lost retransmission).
    expect(timeouts).toBeLessThanOrEqual(220);
    expect(timeouts * 8).toBeLessThan(retransmits);
  }, 60_000);
});
