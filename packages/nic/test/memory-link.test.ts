import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { NicError, createMemoryLink } from '../src/index.js';
import type { LinkState, MemoryLinkOptions } from '../src/index.js';
import { contractFrame, contractSeq, runDriverContract } from './contract.js';
import type { DriverPair } from './contract.js';

function memoryPair(options: MemoryLinkOptions = {}, clock: 'virtual' | 'real' = 'virtual'): () => Promise<DriverPair> {
  return () => {
    const sched = new Scheduler({ clock });
    const link = createMemoryLink(sched, options);
    return Promise.resolve({
      a: link.a,
      b: link.b,
      sched,
      setLink: (state: LinkState) => link.setLink(state),
      cleanup: () => {
        if (clock === 'real') sched.stop();
        return Promise.resolve();
      },
    });
  };
}

runDriverContract('memory link', memoryPair(), { linkControl: true });
runDriverContract('memory link, 2 ms latency, 100 Mbit/s', memoryPair({ latencyMs: 2, bitsPerSecond: 100e6 }), {
  linkControl: true,
});
runDriverContract('memory link, MTU 9000', memoryPair({ mtu: 9000 }), { linkControl: true });
runDriverContract('memory link on a real clock, 1 ms latency', memoryPair({ latencyMs: 1 }, 'real'), {
  linkControl: true,
});

describe('memory link', () => {
  async function openLink(options: MemoryLinkOptions = {}) {
    const sched = new Scheduler();
    const link = createMemoryLink(sched, options);
    const arrivals: Array<{ seq: number; at: number }> = [];
    link.b.onReceive((frame) => arrivals.push({ seq: contractSeq(frame), at: sched.now }));
    await link.a.open();
    await link.b.open();
    return { sched, link, arrivals };
  }

  it('delivers in the next deferred round when it has no latency', async () => {
    const { sched, link, arrivals } = await openLink();
    link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 1));
    expect(arrivals).toHaveLength(0);
    sched.runPending();
    expect(arrivals).toEqual([{ seq: 1, at: 0 }]);
  });

  it('adds latency and serialization delay at the line rate, frames queuing behind each other', async () => {
    // 8 Mbit/s: a byte takes 1 us. A 980-byte frame plus 20 bytes of preamble and gap takes 1 ms.
    const { sched, link, arrivals } = await openLink({ latencyMs: 5, bitsPerSecond: 8e6 });
    for (let seq = 0; seq < 3; seq++) link.a.transmit(contractFrame(link.b.mac, link.a.mac, 980, seq));
    sched.advance(5.5);
    expect(arrivals).toHaveLength(0);
    sched.advance(10);
    expect(arrivals.map((a) => a.seq)).toEqual([0, 1, 2]);
    expect(arrivals.map((a) => a.at)).toEqual([6, 7, 8].map((t) => expect.closeTo(t, 9)));
  });

  it('refuses frames beyond its queue capacity and counts them', async () => {
    const { sched, link, arrivals } = await openLink({ latencyMs: 1, queueCapacity: 2 });
    const results = [0, 1, 2].map((seq) => link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64, seq)));
    expect(results).toEqual([true, true, false]);
    expect(link.a.stats.txDroppedQueueFull).toBe(1);
    sched.advance(1);
    expect(arrivals.map((a) => a.seq)).toEqual([0, 1]);
    expect(link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 3))).toBe(true);
  });

  it('loses frames in flight when the cable is pulled, and both ends see the link go down', async () => {
    const { sched, link, arrivals } = await openLink({ latencyMs: 10 });
    const events: string[] = [];
    link.a.onLinkChange((s) => events.push(`a:${s}`));
    link.b.onLinkChange((s) => events.push(`b:${s}`));
    link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 1));
    sched.advance(5);
    link.setLink('down');
    sched.advance(10);
    link.setLink('up');
    sched.advance(10);
    expect(arrivals).toHaveLength(0);
    expect(link.stats.lostInFlight).toBe(1);
    expect(events).toEqual(['a:down', 'b:down', 'a:up', 'b:up']);
  });

  it('takes the link down on both ends when one end closes', async () => {
    const { link } = await openLink();
    await link.b.close();
    expect(link.a.linkState).toBe('down');
    expect(link.a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 1))).toBe(false);
    await link.b.open();
    expect(link.a.linkState).toBe('up');
  });

  it('rejects a bad MTU and equal MACs with BAD_ARGUMENT', () => {
    const sched = new Scheduler();
    expect(() => createMemoryLink(sched, { mtu: 0 })).toThrow(NicError);
    expect(() => createMemoryLink(sched, { macA: 5, macB: 5 })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
  });
});
