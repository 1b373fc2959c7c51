import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { checkFcs } from '@postern/wire';
import { FaultInjectionDriver, NetDevice, createMemoryLink } from '../src/index.js';
import type { FaultInjectionOptions, LinkState } from '../src/index.js';
import { contractFrame, contractSeq, runDriverContract } from './contract.js';

runDriverContract(
  'fault injection around a memory link, no faults',
  () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    return Promise.resolve({
      a: new FaultInjectionDriver(link.a, sched),
      b: new FaultInjectionDriver(link.b, sched),
      sched,
      setLink: (state: LinkState) => link.setLink(state),
      cleanup: () => Promise.resolve(),
    });
  },
  { linkControl: true },
);

runDriverContract(
  'fault injection around a memory link, 3 ms latency and 10 Mbit/s each way',
  () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    const options: FaultInjectionOptions = { latencyMs: 3, bitsPerSecond: 10e6 };
    return Promise.resolve({
      a: new FaultInjectionDriver(link.a, sched, options),
      b: new FaultInjectionDriver(link.b, sched, options),
      sched,
      setLink: (state: LinkState) => link.setLink(state),
      cleanup: () => Promise.resolve(),
    });
  },
  { linkControl: true },
);

/** A memory link whose `a` end is wrapped; frames a -> b are collected at b with their arrival time. */
async function faultyLink(options: FaultInjectionOptions, seed = 1) {
  const sched = new Scheduler({ seed });
  const link = createMemoryLink(sched);
  const a = new FaultInjectionDriver(link.a, sched, options);
  const received: Array<{ seq: number; ok: boolean; at: number; frame: Uint8Array }> = [];
  link.b.onReceive((frame) => received.push({ seq: contractSeq(frame), ok: checkFcs(frame), at: sched.now, frame }));
  await a.open();
  await link.b.open();
  /** Sends `count` frames; every `batch` frames the scheduler runs (so the link's own queue never fills). */
  const send = (count: number, size = 100, batch = 100): number => {
    let accepted = 0;
    for (let seq = 0; seq < count; seq++) {
      if (a.transmit(contractFrame(link.b.mac, link.a.mac, size, seq))) accepted++;
      if (seq % batch === batch - 1) sched.runPending();
    }
    return accepted;
  };
  return { sched, link, a, received, send };
}

const MIXED: FaultInjectionOptions = { lossRate: 0.1, corruptRate: 0.05, duplicateRate: 0.05, reorderRate: 0.05 };

describe('FaultInjectionDriver', () => {
  it('gives the same fates for the same seed and different fates for another seed', async () => {
    const fates = async (seed: number) => {
      const { sched, received, send } = await faultyLink(MIXED, seed);
      send(300);
      sched.advance(10);
      return received.map((r) => `${r.seq}${r.ok ? '' : '!'}`).join(',');
    };
    const first = await fates(7);
    expect(await fates(7)).toBe(first);
    expect(await fates(8)).not.toBe(first);
  });

  it('loses frames at close to the configured rate, and counts each loss', async () => {
    const { sched, a, received, send } = await faultyLink({ lossRate: 0.2 });
    expect(send(2000)).toBe(2000);
    sched.advance(1);
    const lost = a.faults.tx.lost;
    expect(lost).toBeGreaterThan(2000 * 0.2 - 100);
    expect(lost).toBeLessThan(2000 * 0.2 + 100);
    expect(received).toHaveLength(2000 - lost);
    expect(a.faults.tx.frames).toBe(2000);
    expect(a.stats.errors).toBe(0);
  });

  it('corrupts frames so that the receiving NetDevice FCS check catches every one', async () => {
    const sched = new Scheduler({ seed: 3 });
    const link = createMemoryLink(sched);
    const faulty = new FaultInjectionDriver(link.b, sched, { rx: { corruptRate: 0.3 } });
    const device = new NetDevice(faulty, sched);
    const delivered: number[] = [];
    device.onEtherType(0x88b5, (frame) => delivered.push(contractSeq(frame)));
    await device.open();
    await link.a.open();
    const sent = 200;
    for (let seq = 0; seq < sent; seq++) link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64 + (seq % 1400), seq));
    sched.advance(1);
    const corrupted = faulty.faults.rx.corrupted;
    expect(corrupted).toBeGreaterThan(30);
    expect(device.stats.rxDroppedFcs).toBe(corrupted);
    expect(delivered).toHaveLength(sent - corrupted);
    // The transmitter's buffers were not touched: corruption works on a copy.
    expect(faulty.faults.tx.corrupted).toBe(0);
  });

  it('flips the requested number of bits in a copy of the frame', async () => {
    const { sched, received, link, a } = await faultyLink({ corruptRate: 1, corruptBits: 3 });
    const original = contractFrame(link.b.mac, link.a.mac, 200, 5);
    const kept = original.slice();
    a.transmit(original);
    sched.advance(1);
    expect(received).toHaveLength(1);
    expect(original).toEqual(kept);
    let flipped = 0;
    for (let i = 0; i < kept.length; i++)
      for (let x = kept[i]! ^ received[0]!.frame[i]!; x !== 0; x &= x - 1) flipped++;
    expect(flipped).toBe(3);
    expect(received[0]!.ok).toBe(false);
  });

  it('reorders: a held frame arrives right after the next one, and nothing is lost', async () => {
    const { sched, a, received, send } = await faultyLink({ reorderRate: 0.1 });
    send(500);
    sched.advance(5);
    const seqs = received.map((r) => r.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual([...Array(500).keys()]);
    let inversions = 0;
    for (let i = 0; i + 1 < seqs.length; i++) if (seqs[i]! > seqs[i + 1]!) inversions++;
    expect(a.faults.tx.reordered).toBeGreaterThan(20);
    // Each held frame swaps with its successor (the last one, if held, is released by the timer in order).
    expect(inversions).toBeGreaterThanOrEqual(a.faults.tx.reordered - 1);
    expect(inversions).toBeLessThanOrEqual(a.faults.tx.reordered);
  });

  it('releases a held frame after reorderHoldMs when no other frame comes', async () => {
    const { sched, received, send } = await faultyLink({ reorderRate: 1, reorderHoldMs: 4 });
    send(1);
    sched.advance(3.9);
    expect(received).toHaveLength(0);
    sched.advance(0.1);
    expect(received.map((r) => r.at)).toEqual([4]);
  });

  it('duplicates: each copy is byte-identical and the count adds up', async () => {
    const { sched, a, received, send } = await faultyLink({ duplicateRate: 0.25 });
    send(400);
    sched.advance(1);
    const dups = a.faults.tx.duplicated;
    expect(dups).toBeGreaterThan(60);
    expect(received).toHaveLength(400 + dups);
    const bySeq = new Map<number, Uint8Array[]>();
    for (const r of received) bySeq.set(r.seq, [...(bySeq.get(r.seq) ?? []), r.frame]);
    const doubled = [...bySeq.values()].filter((copies) => copies.length === 2);
    expect(doubled).toHaveLength(dups);
    for (const [x, y] of doubled) {
      expect(y).toEqual(x);
      expect(y).not.toBe(x); // a copy, not the same buffer twice (the receiver owns each frame)
    }
  });

  it('adds latency and limits the rate, refusing frames beyond its queue', async () => {
    // 1 Mbit/s: a 105-byte frame plus 20 bytes of overhead takes exactly 1 ms.
    const { sched, a, received, send } = await faultyLink({ latencyMs: 2, bitsPerSecond: 1e6, queueCapacity: 5 });
    expect(send(8, 105)).toBe(5);
    expect(a.stats.txDroppedQueueFull).toBe(3);
    sched.advance(20);
    expect(received.map((r) => r.at)).toEqual([3, 4, 5, 6, 7].map((t) => expect.closeTo(t, 9)));
  });

  it('applies faults per direction', async () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    const a = new FaultInjectionDriver(link.a, sched, { tx: { lossRate: 1 } });
    const atA: number[] = [];
    const atB: number[] = [];
    a.onReceive((frame) => atA.push(contractSeq(frame)));
    link.b.onReceive((frame) => atB.push(contractSeq(frame)));
    await a.open();
    await link.b.open();
    for (let seq = 0; seq < 10; seq++) {
      a.transmit(contractFrame(link.b.mac, link.a.mac, 64, seq));
      link.b.transmit(contractFrame(link.a.mac, link.b.mac, 64, seq));
    }
    sched.advance(1);
    expect(atB).toEqual([]);
    expect(atA).toEqual([...Array(10).keys()]);
    expect(a.faults.tx.lost).toBe(10);
    expect(a.faults.rx.lost).toBe(0);
    expect(a.stats.rxFrames).toBe(10);
  });

  it('flaps the link on schedule: transmit refused and arrivals dropped while down', async () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    const a = new FaultInjectionDriver(link.a, sched, { linkFlap: { upMs: 10, downMs: 5 } });
    const events: string[] = [];
    a.onLinkChange((s) => events.push(`${sched.now}:${s}`));
    const atA: number[] = [];
    a.onReceive((frame) => atA.push(contractSeq(frame)));
    await a.open();
    await link.b.open();
    sched.advance(12);
    expect(a.linkState).toBe('down');
    expect(a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 1))).toBe(false);
    expect(a.stats.txDroppedLinkDown).toBe(1);
    link.b.transmit(contractFrame(link.a.mac, link.b.mac, 64, 2));
    sched.advance(4);
    expect(a.linkState).toBe('up');
    link.b.transmit(contractFrame(link.a.mac, link.b.mac, 64, 3));
    sched.advance(25);
    expect(atA).toEqual([3]);
    expect(a.faults.rx.droppedLinkDown).toBe(1);
    expect(events).toEqual(['0:up', '10:down', '15:up', '25:down', '30:up', '40:down']);
    expect(a.faults.linkFlaps).toBe(3);
    await a.close();
    sched.advance(100);
    expect(events.at(-1)).toBe('40:down');
  });

  it('holds the link down by hand', async () => {
    const { a } = await faultyLink({});
    a.setLinkDown(true);
    expect(a.linkState).toBe('down');
    a.setLinkDown(false);
    expect(a.linkState).toBe('up');
    expect(a.faults.linkFlaps).toBe(1);
  });

  it('rejects rates outside [0, 1]', () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    expect(() => new FaultInjectionDriver(link.a, sched, { lossRate: 1.5 })).toThrow(RangeError);
  });
});
