import { describe, expect, it } from 'vitest';
import { B_ADDR, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';
import type { FaultInjectionOptions } from '@postern/nic';

const MiB = 1024 * 1024;

async function transfer(bytes: number, seed: number, faults: FaultInjectionOptions | undefined, limitMs: number) {
  const { sched, tcpA, tcpB, faultA, faultB } = await tcpPair({
    seed,
    faults,
    latencyMs: 1,
    tcpA: { rto: { minRtoMs: 200 } },
    tcpB: { rto: { minRtoMs: 200 } },
  });
  const listener = tcpB.listen({ port: 9000 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 9000 });
  const up = patternBytes(bytes, seed * 3 + 1);
  const down = patternBytes(bytes, seed * 3 + 2);
  const clientSink = new Sink(client);
  let serverSink: Sink | undefined;
  listener.onConnection = (server) => {
    serverSink = new Sink(server);
    pump(server, down);
  };
  pump(client, up);
  const done = sched.runUntil(() => serverSink !== undefined && serverSink.ended && clientSink.ended, limitMs);
  return { done, up, down, clientSink, serverSink, client, sched, faultA, faultB };
}

describe('Tcp bulk transfer over faulty links (SHA-256 compared)', () => {
  const cases: Array<[string, FaultInjectionOptions | undefined]> = [
    ['no faults', undefined],
    ['1% loss', { lossRate: 0.01 }],
    ['10% loss', { lossRate: 0.1 }],
    [
      '1% loss, duplication, reordering, corruption',
      { lossRate: 0.01, duplicateRate: 0.01, reorderRate: 0.02, corruptRate: 0.01 },
    ],
  ];
  for (const [name, faults] of cases) {
    it(`10 MiB each way: ${name}`, async () => {
      const seed = 4242;
      const r = await transfer(10 * MiB, seed, faults, 3_600_000);
      const info = `seed ${seed}, ${name}, up ${r.serverSink?.received}, down ${r.clientSink.received}, stats ${JSON.stringify(r.client.stats)}`;
      expect(r.done, info).toBe(true);
      expect(r.serverSink!.digest(), info).toBe(sha256(r.up));
      expect(r.clientSink.digest(), info).toBe(sha256(r.down));
      if (faults?.lossRate !== undefined) expect(r.client.stats.retransmits, info).toBeGreaterThan(0);
      console.log(`${name}: virtual ${r.sched.now.toFixed(0)} ms, ${info}`);
    }, 120_000);
  }
});
