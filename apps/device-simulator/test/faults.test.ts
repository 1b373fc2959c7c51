import { describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';
import type { SimulatorFaults } from '../src/index.js';
import { waitFor } from '@postern/netlab';
import { GATEWAY, HOST, openGateway } from './support/gateway.js';

const DATAGRAMS = 300;
const BURST = 30;

/**
 * Runs one simulator (in-process serial stream) with `faults` and `seed`: the simulated host sends
 * numbered UDP datagrams to the gateway in bursts (static ARP on both sides, so nothing else crosses
 * the faulty wire while they do), and returns the numbers in the order the gateway got them.
 */
async function run(seed: number, faults: SimulatorFaults): Promise<{ got: number[]; counters: object }> {
  const sim = await createSimulator({ serial: 'stream', seed, faults });
  const gw = await openGateway(sim.hostStream!);
  try {
    gw.stack.interfaces[0]!.arp.addStatic(HOST, sim.host.device.mac);
    sim.host.stack.interfaces[0]!.arp.addStatic(GATEWAY, sim.device.mac);
    const got: number[] = [];
    gw.stack.udp.bind(9, (payload) => got.push((payload[0]! << 8) | payload[1]!));
    const sock = sim.host.stack.udp.bind(5000, () => {});
    const tx = sim.device.faults.faults.tx;
    for (let start = 0; start < DATAGRAMS; start += BURST) {
      const before = tx.frames;
      for (let i = start; i < start + BURST; i++) sock.send(GATEWAY, 9, new Uint8Array([i >> 8, i & 0xff, 1, 2, 3, 4]));
      // Wait until the burst entered the faulty wire, then give it time to cross before the next one.
      await waitFor('the burst', () => tx.frames - before >= BURST, 2000);
      await new Promise((r) => setTimeout(r, 30));
    }
    await new Promise((r) => setTimeout(r, 50));
    return { got, counters: { ...sim.device.faults.faults.tx } };
  } finally {
    await gw.close();
    await sim.close();
  }
}

describe('seeded fault injection on the device wire', () => {
  // A reordered frame is held until the next frame passes, never released by its timer here: the hold
  // (60 s) outlasts the test, so the order depends on the seed alone. With a hold of 1 ms, then 20 ms, a
  // slow turn of a loaded host let the timer release a held frame before the next frame in one run and
  // after it in another, so the same seed gave another order (failed twice in CI under load). The last
  // held frame of a burst leaves with the first frame of the next burst; the one held at the end stays
  // held in every run alike.
  const faults: SimulatorFaults = { lossRate: 0.2, duplicateRate: 0.1, reorderRate: 0.1, reorderHoldMs: 60_000 };

  it('the same seed gives the same losses, duplicates and order; another seed gives others', async () => {
    const a = await run(42, faults);
    const b = await run(42, faults);
    const c = await run(43, faults);
    expect(a.got).toEqual(b.got);
    expect(a.counters).toEqual(b.counters);
    expect(c.got).not.toEqual(a.got);
    // The faults really happened: some lost, some twice, some out of order.
    const distinct = new Set(a.got);
    expect(distinct.size).toBeLessThan(DATAGRAMS * 0.9);
    expect(distinct.size).toBeGreaterThan(DATAGRAMS * 0.6);
    expect(a.got.length).toBeGreaterThan(distinct.size);
    expect(a.got.some((n, i) => i > 0 && n < a.got[i - 1]!)).toBe(true);
  });

  it('without faults every datagram arrives once, in order', async () => {
    const { got } = await run(42, {});
    expect(got).toEqual(Array.from({ length: DATAGRAMS }, (_, i) => i));
  });

  it('rejects a probability outside [0, 1]', async () => {
    await expect(createSimulator({ faults: { lossRate: 1.5 } })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});
