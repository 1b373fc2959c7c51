import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { createMemoryLink } from '@postern/nic';
import type { MemoryLinkEndpoint } from '@postern/nic';
import { checkFcs } from '@postern/wire';
import { DeviceWirePort, EthernetSwitch } from '../src/index.js';

/** A wire frame from `src` to `dst` (header, 46 bytes of payload, a dummy FCS). */
function frame(dst: number, src: number): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  v.setUint16(0, Math.floor(dst / 2 ** 32));
  v.setUint32(2, dst % 2 ** 32);
  v.setUint16(6, Math.floor(src / 2 ** 32));
  v.setUint32(8, src % 2 ** 32);
  v.setUint16(12, 0x88b5);
  return f;
}

describe('EthernetSwitch', () => {
  it('floods unknown and broadcast destinations, learns sources, then forwards to one port, never back out', async () => {
    const sched = new Scheduler({ seed: 1 });
    const sw = new EthernetSwitch();
    const hosts: MemoryLinkEndpoint[] = [];
    const got: number[][] = [[], [], []];
    for (let i = 0; i < 3; i++) {
      const link = createMemoryLink(sched, {
        macA: 0x0200_0000_0100 + i,
        macB: 0x0200_0000_0000 + i + 1,
        names: [`p${i}`, `h${i}`],
      });
      sw.attach(link.a);
      link.b.onReceive((f) => got[i]!.push(f[5]!));
      await link.a.open();
      await link.b.open();
      hosts.push(link.b);
    }
    const mac = (i: number): number => 0x0200_0000_0000 + i + 1;
    hosts[0]!.transmit(frame(mac(1), mac(0))); // unknown: flooded to 1 and 2
    sched.runUntilIdle();
    expect(got).toEqual([[], [2], [2]]);
    hosts[1]!.transmit(frame(mac(0), mac(1))); // learned: only to 0
    sched.runUntilIdle();
    expect(got).toEqual([[1], [2], [2]]);
    hosts[2]!.transmit(frame(0xffff_ffff_ffff, mac(2))); // broadcast: to 0 and 1
    sched.runUntilIdle();
    expect(got).toEqual([[1, 255], [2, 255], [2]]);
    expect(sw.stats).toMatchObject({ frames: 3, forwarded: 1, flooded: 2, runts: 0 });
    expect(sw.portOf(mac(2))).toBe(sw.portList[2]);
  });

  it('bounds its MAC table (oldest entry goes) and drops runts', () => {
    const sw = new EthernetSwitch({ maxMacEntries: 2 });
    // A port whose receive side the test drives by hand.
    let deliver: (f: Uint8Array) => void = () => {};
    const port = new DeviceWirePort(0x0200_0000_0fff);
    port.onReceive = (r) => {
      deliver = r;
    };
    sw.attach(port);
    for (let i = 1; i <= 3; i++) deliver(frame(0xffff_ffff_ffff, 0x0200_0000_1000 + i));
    deliver(new Uint8Array(10));
    expect(sw.stats.evictions).toBe(1);
    expect(sw.portOf(0x0200_0000_1001)).toBeUndefined();
    expect(sw.portOf(0x0200_0000_1003)).toBe(port);
    expect(sw.stats.runts).toBe(1);
    expect(sw.stats.frames).toBe(4);
  });

  it('gives frames from a port without FCS (a TAP) an FCS before they reach other ports', () => {
    const sw = new EthernetSwitch();
    let deliver: (f: Uint8Array) => void = () => {};
    const tapLike = new DeviceWirePort(0x0200_0000_0aaa);
    Object.defineProperty(tapLike, 'fcs', { value: 'none' });
    tapLike.onReceive = (r) => {
      deliver = r;
    };
    const other = new DeviceWirePort(0x0200_0000_0bbb);
    const out: Uint8Array[] = [];
    other.transmit = (f) => {
      out.push(f);
      return true;
    };
    sw.attach(tapLike);
    sw.attach(other);
    const bare = frame(0xffff_ffff_ffff, 0x0200_0000_1001).subarray(0, 60);
    deliver(bare);
    expect(out).toHaveLength(1);
    expect(out[0]!.byteLength).toBe(64);
    expect(out[0]!.subarray(0, 60)).toEqual(bare);
    expect(checkFcs(out[0]!)).toBe(true);
  });
});
