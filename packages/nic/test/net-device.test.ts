import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { MAC_BROADCAST, checkFcs } from '@postern/wire';
import { NetDevice, NicError, createMemoryLink } from '../src/index.js';
import { FakeDriver } from './fake-driver.js';
import { markOf, wireFrame } from './frames.js';

const OWN = 0x02_00_00_00_00_0a;
const OTHER = 0x02_00_00_00_00_0b;
const GROUP = 0x01_00_5e_00_00_fb; // 224.0.0.251 (mDNS)
const OTHER_GROUP = 0x01_00_5e_00_00_fc;

async function setup(options: { budget?: number; ring?: number; mtu?: number } = {}) {
  const sched = new Scheduler({ budget: options.budget ?? 64 });
  const driver = new FakeDriver('fake0', OWN, options.mtu ?? 1500);
  const device = new NetDevice(driver, sched, { rxRingCapacity: options.ring ?? 256 });
  const got: Array<{ frame: Uint8Array; headerLength: number }> = [];
  device.onEtherType(0x0800, (frame, dev, headerLength) => {
    expect(dev).toBe(device);
    got.push({ frame, headerLength });
  });
  await device.open();
  return { sched, driver, device, got };
}

describe('NetDevice receive path', () => {
  it('delivers a frame for its own MAC without the FCS, as a view of the received buffer', async () => {
    const { sched, driver, device, got } = await setup();
    const frame = wireFrame({ destination: OWN, length: 100, mark: 42 });
    driver.inject(frame);
    expect(got).toHaveLength(0); // nothing runs until the scheduler does
    sched.runPending();
    expect(got).toHaveLength(1);
    const delivered = got[0]!.frame;
    expect(delivered.byteLength).toBe(96);
    expect(delivered.buffer).toBe(frame.buffer);
    expect(delivered.byteOffset).toBe(frame.byteOffset);
    expect(markOf(delivered)).toBe(42);
    expect(got[0]!.headerLength).toBe(14);
    expect(device.stats).toMatchObject({ rxAccepted: 1, rxDelivered: 1, rxBytes: 96, interrupts: 1 });
    expect(device.stats.driver.rxFrames).toBe(1);
  });

  it('drops frames with a bad FCS and counts them', async () => {
    const { sched, driver, device, got } = await setup();
    driver.inject(wireFrame({ destination: OWN, badFcs: true }));
    driver.inject(wireFrame({ destination: OWN, mark: 1 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([1]);
    expect(device.stats.rxDroppedFcs).toBe(1);
  });

  it('filters by destination: unicast for others dropped, broadcast accepted', async () => {
    const { sched, driver, device, got } = await setup();
    driver.inject(wireFrame({ destination: OTHER, mark: 1 }));
    driver.inject(wireFrame({ destination: MAC_BROADCAST, mark: 2 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([2]);
    expect(device.stats.rxDroppedFilter).toBe(1);
  });

  it('accepts a multicast group only while joined, and tells the driver', async () => {
    const { sched, driver, device, got } = await setup();
    driver.inject(wireFrame({ destination: GROUP, mark: 1 }));
    device.joinMulticast(GROUP);
    device.joinMulticast(GROUP); // counted: needs two leaves
    driver.inject(wireFrame({ destination: GROUP, mark: 2 }));
    driver.inject(wireFrame({ destination: OTHER_GROUP, mark: 3 }));
    expect(device.leaveMulticast(GROUP)).toBe(true);
    driver.inject(wireFrame({ destination: GROUP, mark: 4 }));
    expect(device.leaveMulticast(GROUP)).toBe(true);
    expect(device.leaveMulticast(GROUP)).toBe(false);
    driver.inject(wireFrame({ destination: GROUP, mark: 5 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([2, 4]);
    expect(device.stats.rxDroppedFilter).toBe(3);
    expect(driver.filters.map((f) => [...f.multicast])).toEqual([[GROUP], []]);
  });

  it('accepts every group address with all-multicast, but not unicast for others', async () => {
    const { sched, driver, device, got } = await setup();
    device.setAllMulticast(true);
    driver.inject(wireFrame({ destination: OTHER_GROUP, mark: 1 }));
    driver.inject(wireFrame({ destination: OTHER, mark: 2 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([1]);
    expect(driver.filters.at(-1)?.allMulticast).toBe(true);
  });

  it('accepts unicast for others when promiscuous, and stops when switched off', async () => {
    const { sched, driver, device, got } = await setup();
    device.setPromiscuous(true);
    driver.inject(wireFrame({ destination: OTHER, mark: 1 }));
    sched.runPending();
    device.setPromiscuous(false);
    driver.inject(wireFrame({ destination: OTHER, mark: 2 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([1]);
    expect(driver.filters.map((f) => f.promiscuous)).toEqual([true, false]);
    expect(device.stats.rxDroppedFilter).toBe(1);
  });

  it('refuses to join a unicast address', async () => {
    const { device } = await setup();
    expect(() => device.joinMulticast(OTHER)).toThrow(NicError);
    try {
      device.joinMulticast(OTHER);
    } catch (err) {
      expect((err as NicError).code).toBe('BAD_ARGUMENT');
    }
  });

  it('counts runts and oversized frames, allowing 4 more bytes for a VLAN tag', async () => {
    const { sched, driver, device, got } = await setup({ mtu: 100 });
    driver.inject(new Uint8Array(17));
    driver.inject(wireFrame({ destination: OWN, length: 118, mark: 1 })); // mtu + 18: fits
    driver.inject(wireFrame({ destination: OWN, length: 119, mark: 2 })); // one byte over
    driver.inject(wireFrame({ destination: OWN, length: 122, vlan: 5, mark: 3 })); // tagged, mtu + 22: fits
    driver.inject(wireFrame({ destination: OWN, length: 123, vlan: 5, mark: 4 }));
    // A C-tagged frame of 20 bytes: its 18-byte header and the FCS do not fit.
    driver.inject(wireFrame({ destination: OWN, length: 20, vlan: 5 }));
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([1, 3]);
    expect(got[1]!.headerLength).toBe(18);
    expect(device.stats.rxDroppedRunt).toBe(2);
    expect(device.stats.rxDroppedOversize).toBe(2);
  });

  it('dispatches by the EtherType after an 802.1Q tag and counts unknown EtherTypes', async () => {
    const { sched, driver, device, got } = await setup();
    const arp: number[] = [];
    device.onEtherType(0x0806, (frame) => arp.push(markOf(frame)));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, vlan: 7, mark: 1 }));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x86dd, mark: 2 }));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0800, vlan: 7, mark: 3 }));
    sched.runPending();
    expect(arp).toEqual([1]);
    expect(got.map((g) => markOf(g.frame))).toEqual([3]);
    expect(device.stats.rxDroppedUnknownType).toBe(1);
  });

  it('stops delivering to a removed handler', async () => {
    const { sched, driver, device } = await setup();
    const seen: number[] = [];
    const off = device.onEtherType(0x0806, (frame) => seen.push(markOf(frame)));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 1 }));
    sched.runPending();
    off();
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 2 }));
    sched.runPending();
    expect(seen).toEqual([1]);
    expect(device.stats.rxDroppedUnknownType).toBe(1);
  });

  it('a handler replaced or removed between two frames of one poll takes effect from the next frame', async () => {
    const { sched, driver, device } = await setup();
    const seen: string[] = [];
    let off = (): void => {};
    off = device.onEtherType(0x0806, (frame) => {
      seen.push(`first:${markOf(frame)}`);
      off = device.onEtherType(0x0806, (next) => {
        seen.push(`second:${markOf(next)}`);
        off();
      });
    });
    for (const mark of [1, 2, 3, 4]) driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark }));
    sched.runPending();
    expect(seen).toEqual(['first:1', 'second:2']);
    expect(device.stats).toMatchObject({ rxDelivered: 2, rxDroppedUnknownType: 2, napiPolls: 1 });
  });

  it('counts a handler that throws and carries on with the next frame', async () => {
    const { sched, driver, device } = await setup();
    const seen: number[] = [];
    device.onEtherType(0x0806, (frame) => {
      seen.push(markOf(frame));
      if (markOf(frame) === 1) throw new Error('handler bug');
    });
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 1 }));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 2 }));
    sched.runPending();
    expect(seen).toEqual([1, 2]);
    expect(device.stats.rxHandlerErrors).toBe(1);
  });

  it('drops frames that find the RX ring full and counts them', async () => {
    const { sched, driver, device, got } = await setup({ ring: 4 });
    for (let i = 0; i < 6; i++) driver.inject(wireFrame({ destination: OWN, mark: i }));
    expect(device.rxPending).toBe(4);
    sched.runPending();
    expect(got.map((g) => markOf(g.frame))).toEqual([0, 1, 2, 3]);
    expect(device.stats.rxDroppedRingFull).toBe(2);
    expect(device.stats.rxAccepted).toBe(4);
  });

  it('drops frames that arrive while closed, and frames left in the ring at close', async () => {
    const { driver, device, got } = await setup();
    driver.inject(wireFrame({ destination: OWN, mark: 1 }));
    await device.close();
    expect(device.isOpen).toBe(false);
    driver.inject(wireFrame({ destination: OWN, mark: 2 }));
    expect(got).toHaveLength(0);
    expect(device.stats.rxDroppedDown).toBe(2);
    await device.close(); // idempotent
  });
});

describe('NetDevice on a medium without FCS', () => {
  async function noFcs() {
    const sched = new Scheduler();
    const driver = new FakeDriver('tap0', OWN, 1500, 'none');
    const device = new NetDevice(driver, sched);
    const got: Uint8Array[] = [];
    device.onEtherType(0x0800, (frame) => got.push(frame));
    await device.open();
    return { sched, driver, device, got };
  }

  it('delivers a frame whole (no FCS to strip or check) and never counts an FCS drop', async () => {
    const { sched, driver, device, got } = await noFcs();
    const withFcs = wireFrame({ destination: OWN, length: 100, mark: 7 });
    const frame = withFcs.subarray(0, 96); // what a TAP hands up: the same bytes without the trailer
    driver.inject(frame);
    sched.runPending();
    expect(got).toHaveLength(1);
    expect(got[0]).toBe(frame); // not even a subarray
    expect(markOf(got[0]!)).toBe(7);
    expect(device.stats).toMatchObject({ rxAccepted: 1, rxDelivered: 1, rxBytes: 96, rxDroppedFcs: 0 });
  });

  it('counts a frame shorter than an Ethernet header as a runt, and accepts a bare 14-byte header', async () => {
    const { sched, driver, device, got } = await noFcs();
    driver.inject(wireFrame({ destination: OWN, length: 64 }).subarray(0, 13));
    driver.inject(wireFrame({ destination: OWN, length: 64 }).subarray(0, 14));
    sched.runPending();
    expect(device.stats.rxDroppedRunt).toBe(1);
    expect(got.map((f) => f.length)).toEqual([14]);
  });

  it('leaves the 4 reserved bytes of a transmitted frame unwritten (no CRC pass)', async () => {
    const { driver, device } = await noFcs();
    const frame = new Uint8Array(64).fill(0xee);
    expect(device.transmit(frame)).toBe(true);
    expect(driver.sent[0]).toBe(frame);
    expect([...frame.subarray(60)]).toEqual([0xee, 0xee, 0xee, 0xee]);
    expect(checkFcs(frame)).toBe(false);
  });
});

describe('NetDevice NAPI bottom half', () => {
  it('processes a burst larger than the budget over several rounds, letting a higher-priority IRQ run between them', async () => {
    const { sched, driver, device } = await setup({ budget: 4 });
    const log: string[] = [];
    const urgent = sched.requestIrq('urgent', 0, () => log.push('urgent'));
    device.onEtherType(0x0806, (frame) => {
      log.push(`f${markOf(frame)}`);
      if (markOf(frame) === 1) urgent.raise();
    });
    for (let i = 0; i < 10; i++) driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: i }));
    sched.runPending();
    expect(log).toEqual(['f0', 'f1', 'f2', 'f3', 'urgent', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9']);
    expect(device.stats.napiPolls).toBe(3);
    expect(device.stats.interrupts).toBe(1);
    expect(sched.stats.deferred.budgetExhaustions).toBe(2);
  });

  it('keeps the device interrupt off while the poller runs and turns it back on when the ring runs dry', async () => {
    const { sched, driver, device } = await setup({ budget: 2 });
    const seen: number[] = [];
    device.onEtherType(0x0806, (frame) => {
      seen.push(markOf(frame));
      // A frame arriving while the poller runs is picked up by it, without a new interrupt.
      if (markOf(frame) === 0) driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 9 }));
    });
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 0 }));
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 1 }));
    sched.runPending();
    expect(seen).toEqual([0, 1, 9]);
    expect(device.stats.interrupts).toBe(1);
    // Completed: the next frame raises the interrupt again.
    driver.inject(wireFrame({ destination: OWN, etherType: 0x0806, mark: 2 }));
    sched.runPending();
    expect(seen).toEqual([0, 1, 9, 2]);
    expect(device.stats.interrupts).toBe(2);
    expect(device.irqLine?.stats.handled).toBe(2);
  });
});

describe('NetDevice transmit and link', () => {
  it('fills the FCS and hands the frame to the driver', async () => {
    const { driver, device } = await setup();
    const frame = wireFrame({ destination: OTHER, length: 80, mark: 5 });
    frame.fill(0, 76); // the reserved FCS bytes
    expect(device.transmit(frame)).toBe(true);
    expect(driver.sent).toEqual([frame]);
    expect(checkFcs(driver.sent[0]!)).toBe(true);
    expect(device.stats).toMatchObject({ txFrames: 1, txBytes: 80 });
  });

  it('refuses frames of a bad length and counts frames the driver refuses', async () => {
    const { driver, device } = await setup({ mtu: 100 });
    expect(device.transmit(new Uint8Array(17))).toBe(false);
    expect(device.transmit(new Uint8Array(119))).toBe(false);
    expect(device.stats.txDroppedBadLength).toBe(2);
    driver.refuseTransmit = true;
    expect(device.transmit(new Uint8Array(118))).toBe(false);
    expect(device.stats.txDroppedDriver).toBe(1);
    expect(device.stats.driver.txDroppedLinkDown).toBe(1);
    expect(driver.sent).toHaveLength(0);
  });

  it('reports link changes to every listener', async () => {
    const { driver, device } = await setup();
    const a: string[] = [];
    const b: string[] = [];
    device.onLinkChange((s) => a.push(s));
    device.onLinkChange((s) => b.push(s));
    driver.setLink('down');
    expect(device.linkState).toBe('down');
    driver.setLink('up');
    expect(a).toEqual(['down', 'up']);
    expect(b).toEqual(['down', 'up']);
  });

  it('talks to another device over a memory link, FCS filled on one end and checked on the other', async () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched, { latencyMs: 1 });
    const left = new NetDevice(link.a, sched);
    const right = new NetDevice(link.b, sched);
    const seen: Uint8Array[] = [];
    right.onEtherType(0x0800, (frame) => seen.push(frame));
    await left.open();
    await right.open();
    const frame = wireFrame({ destination: right.mac, source: left.mac, length: 200, mark: 77 });
    frame.fill(0, 196);
    expect(left.transmit(frame)).toBe(true);
    sched.advance(1);
    expect(seen.map(markOf)).toEqual([77]);
    expect(right.stats.rxDroppedFcs).toBe(0);
    expect(right.stats.driver.rxFrames).toBe(1);
    await left.close();
    await right.close();
  });
});
