/**
 * Retransmission timeouts under loss, on the virtual clock: a bulk transfer through 2% random loss
 * both ways at a TAP-like round trip (0.2 ms) repairs every loss without an RTO, counted by the
 * stack's `rtoExpiries` (what `/api/tcp` reports); and the tails that used to need one (a lost
 * retransmission with everything after it SACKed, the last data and a FIN sent after it both lost)
 * are repaired by the tail loss probe. Losses are seeded (random) or chosen by a frame filter.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '@postern/wire';
import type { TcpConnection } from '../src/index.js';
import { B_ADDR, filteredTcpPair, tcpFrameInfo, type TcpFrameInfo } from './support/frame-filter.js';
import { OneWayBulk, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';

const MiB = 1024 * 1024;

/** One-way bulk a -> b through `lossRate` both ways, `latencyMs` each way, seeded. */
async function lossyBulk(bytes: number, seed: number, lossRate: number, latencyMs: number) {
  const pair = await tcpPair({ seed, faults: { lossRate }, latencyMs });
  const { sched, tcpA, faultA, faultB } = pair;
  const transfer = new OneWayBulk(pair, patternBytes(bytes, seed));
  const done = sched.runUntil(() => transfer.sink?.ended === true, 3_600_000);
  return {
    done,
    digest: transfer.sink?.digest(),
    expected: transfer.expected,
    stats: { ...transfer.client.stats },
    counters: tcpA.counters.snapshot(),
    dataFramesLost: faultA!.faults.tx.lost,
    ackFramesLost: faultB!.faults.tx.lost,
  };
}

describe('no retransmission timeout at 2% random loss (virtual clock, seeded)', () => {
  it('16 MiB at a 0.2 ms round trip, 2% loss both ways: no RTO, few recovery episodes, no go-back-N', async () => {
    for (const seed of [1, 3, 4]) {
      const r = await lossyBulk(16 * MiB, seed, 0.02, 0.1);
      const info = `seed ${seed}: ${JSON.stringify(r.stats)}; data frames lost ${r.dataFramesLost}, ACK frames lost ${r.ackFramesLost}`;
      expect(r.done, info).toBe(true);
      expect(r.digest, info).toBe(r.expected);
      expect(r.counters['rtoExpiries'], info).toBe(0);
      expect(r.stats.timeouts, info).toBe(0);
      // A window holds several losses at 2%: one recovery episode repairs them together, instead of
      // one episode (and one window reduction) per lost segment.
      expect(r.counters['fastRecoveries'], info).toBeLessThanOrEqual(r.dataFramesLost / 2);
      expect(r.stats.retransmits, info).toBeLessThan(1.2 * r.dataFramesLost + 10);
    }
  }, 120_000);
});

/**
 * A sends `bytes` to B and closes, through a filter that may drop A's data segments; with
 * `finAlone` the close comes once every byte has been sent, so the FIN goes in a segment of its own.
 */
async function filteredBulk(
  bytes: number,
  drop: (t: TcpFrameInfo, client: TcpConnection) => boolean,
  finAlone = false,
) {
  const ref: { client?: TcpConnection } = {};
  const pair = await filteredTcpPair({
    filterA: {
      tx: (frame) => {
        const t = tcpFrameInfo(frame);
        const client = ref.client;
        if (t === undefined || t.dst !== B_ADDR || client === undefined) return true;
        return !drop(t, client);
      },
    },
    tcpA: { rto: { minRtoMs: 200 } },
  });
  const listener = pair.tcpB.listen({ port: 80 });
  const client = (ref.client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
  pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
  const sink = new Sink(listener.accept()!);
  const data = patternBytes(bytes, 7);
  pump(client, data, !finAlone);
  if (finAlone) {
    const end = (client.tcb.iss + 1 + bytes) >>> 0;
    pair.sched.runUntil(() => client.tcb.sndMax === end, 5000);
    client.shutdownWrite();
  }
  const start = pair.sched.now;
  pair.sched.runUntil(() => sink.ended, 20_000);
  return { ...pair, client, sink, data, elapsedMs: pair.sched.now - start };
}

describe('tail losses repaired by the tail loss probe, not the RTO', () => {
  for (const finAlone of [false, true]) {
    it(`a lost retransmission with everything sent after it SACKed: the probe resends it${finAlone ? ' (not the FIN sent alone after it)' : ''}`, async () => {
      const bytes = 40 * 1448;
      let victim = -1;
      let copies = 0;
      const r = await filteredBulk(
        bytes,
        (t, client) => {
          if (t.payloadLength === 0) return false;
          // The 30th segment, original and first retransmission; every segment after it is sent
          // before the retransmission (the whole send fits the window), so nothing new follows it.
          if (victim < 0) victim = (client.tcb.iss + 1 + 29 * 1448) >>> 0;
          return t.seq === victim && ++copies <= 2;
        },
        finAlone,
      );
      const info = JSON.stringify(r.client.stats);
      expect(r.sink.ended, info).toBe(true);
      expect(r.sink.digest(), info).toBe(sha256(r.data));
      expect(copies, info).toBeGreaterThanOrEqual(3);
      expect(r.client.stats.timeouts, info).toBe(0);
      expect(r.client.stats.tailLossProbes, info).toBeGreaterThan(0);
    });
  }

  it('the last data segment and the FIN sent after it both lost: probed after about two RTTs, not the 200 ms of a lone segment', async () => {
    const bytes = 20 * 1448 + 100;
    const dropped = new Set<string>();
    const r = await filteredBulk(bytes, (t, client) => {
      const end = (client.tcb.iss + 1 + bytes) >>> 0;
      const fin = (t.flags & TcpFlag.FIN) !== 0;
      // The last data segment (100 bytes) and the FIN, each once.
      const key =
        fin && t.payloadLength === 0
          ? 'fin'
          : t.payloadLength > 0 && (t.seq + t.payloadLength) >>> 0 === end
            ? 'last'
            : '';
      if (key === '' || dropped.has(key)) return false;
      dropped.add(key);
      return true;
    });
    const info = JSON.stringify(r.client.stats);
    expect(r.sink.ended, info).toBe(true);
    expect(r.sink.digest(), info).toBe(sha256(r.data));
    // The FIN may go with the last data when both are ready together; the test is about the case
    // where it follows in its own segment.
    expect(dropped.has('last'), info).toBe(true);
    expect(r.client.stats.timeouts, info).toBe(0);
    expect(r.client.stats.tailLossProbes, info).toBeGreaterThan(0);
  });
});
