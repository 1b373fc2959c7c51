/**
 * RACK-TLP, PRR, D-SACK and undo on the virtual clock with seeded faults: bounds on retransmission
 * timeouts and recovery episodes for bulk transfers through loss, reordering and duplication.
 */
import { describe, expect, it } from 'vitest';
import type { FaultProfile } from '@postern/nic';
import { OneWayBulk, patternBytes, tcpPair } from './support/tcp-net.js';

const MiB = 1024 * 1024;

/** One-way bulk a -> b through `faults` (both directions), 1 ms each way, seeded. */
async function oneWay(bytes: number, seed: number, faults: FaultProfile) {
  const pair = await tcpPair({
    seed,
    faults,
    latencyMs: 1,
    tcpA: { rto: { minRtoMs: 200 } },
    tcpB: { rto: { minRtoMs: 200 } },
  });
  const { sched, tcpA, faultA } = pair;
  const transfer = new OneWayBulk(pair, patternBytes(bytes, seed));
  const start = sched.now;
  const done = sched.runUntil(() => transfer.sink !== undefined && transfer.sink.received >= bytes, 3_600_000);
  return {
    done,
    digest: transfer.sink?.digest(),
    expected: transfer.expected,
    stats: { ...transfer.client.stats },
    elapsedMs: sched.now - start,
    dataFramesLost: faultA!.faults.tx.lost,
    receiverDsacksSent: transfer.sink?.conn.stats.dsacksSent ?? 0,
    counters: tcpA.counters.snapshot(),
  };
}

describe('RACK-TLP loss detection with PRR (virtual clock, seeded faults)', () => {
  it('2% loss both ways, 16 MiB: no retransmission timeout, one PRR recovery per episode, RACK marks what was lost', async () => {
    for (const seed of [11, 12, 13]) {
      const r = await oneWay(16 * MiB, seed, { lossRate: 0.02 });
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      expect(r.stats.timeouts, info).toBe(0);
      expect(r.stats.rackLossMarks, info).toBeGreaterThan(0);
      expect(r.stats.prrRecoveries, info).toBe(r.stats.fastRetransmits);
      // Every recovery episode repairs at least one lost data frame: no more episodes than losses.
      expect(r.stats.fastRetransmits, info).toBeLessThanOrEqual(r.dataFramesLost);
      // Retransmissions stay close to what was lost (not a go-back-N).
      expect(r.stats.retransmits, info).toBeLessThan(2 * r.dataFramesLost + 10);
      // The stack-wide counters agree with the connection's.
      expect(r.counters['rackLossMarks'], info).toBe(r.stats.rackLossMarks);
      expect(r.counters['rtoExpiries'], info).toBe(0);
    }
  }, 120_000);

  it('10% of frames held back and 2% duplicated, no loss: no timeout, D-SACKs both ways, spurious recoveries undone or avoided', async () => {
    for (const seed of [21, 22]) {
      const r = await oneWay(8 * MiB, seed, { reorderRate: 0.1, reorderHoldMs: 3, duplicateRate: 0.02 });
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      expect(r.stats.timeouts, info).toBe(0);
      expect(r.receiverDsacksSent, info).toBeGreaterThan(0);
      expect(r.stats.dsacksReceived, info).toBeGreaterThan(0);
      // Nothing was lost: every recovery is spurious, and each is either undone or kept rare by the
      // reordering window the D-SACKs widened.
      expect(r.stats.reoWndMult, info).toBeGreaterThan(1);
      expect(r.stats.fastRetransmits - r.stats.spuriousUndos, info).toBeLessThanOrEqual(40);
    }
  }, 120_000);

  it('10% loss: RTOs are the exception (bounded), RACK and TLP repair the rest', async () => {
    let timeouts = 0;
    let recoveries = 0;
    for (const seed of [31, 32]) {
      const r = await oneWay(4 * MiB, seed, { lossRate: 0.1 });
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      timeouts += r.stats.timeouts;
      recoveries += r.stats.fastRetransmits;
    }
    expect(timeouts * 8).toBeLessThan(recoveries);
  }, 120_000);
});
