/**
 * Fragmented UDP datagrams over a lossy link: every datagram whose fragments all crossed the link
 * is reassembled and delivered intact, no other is, and the reassembler returns to empty (memory 0)
 * once the incomplete ones time out. Which fragments crossed is seen independently of the stack, by
 * a driver wrapper on the receiving side that records every frame handed up by the link.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { FaultInjectionDriver, NetDevice, createMemoryLink, type FaultProfile } from '@postern/nic';
import { ETHERTYPE_IPV4, IP_PROTO_UDP, parseIpv4 } from '@postern/wire';
import { Stack } from '../src/index.js';
import { FrameFilterDriver } from './support/frame-filter.js';

const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');
const PORT = 7000;
const SIZE = 4000;
const REASSEMBLY_TIMEOUT_MS = 5000;

/** Datagram `index` of the run: the index in its first 4 bytes, then a pattern derived from it. */
function datagram(index: number): Uint8Array {
  const d = new Uint8Array(SIZE);
  new DataView(d.buffer).setUint32(0, index);
  for (let i = 4; i < SIZE; i++) d[i] = (i * 13 + index * 7) & 0xff;
  return d;
}

async function lossyRun(seed: number, count: number, faults: FaultProfile, maxBytes = 4 * 1024 * 1024) {
  const sched = new Scheduler({ seed });
  const link = createMemoryLink(sched, {
    names: [`fl${seed}a`, `fl${seed}b`],
    macA: 0x02_00_00_00_20_01,
    macB: 0x02_00_00_00_20_02,
    mtu: 1500,
  });
  /** IP identification -> fragment offsets (bytes) seen at B, and the index the first fragment carries. */
  const seen = new Map<number, { offsets: Set<number>; index: number | undefined; last: number | undefined }>();
  const observe = (frame: Uint8Array): boolean => {
    if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return true;
    const ip = frame.subarray(14);
    if (ip[9] !== IP_PROTO_UDP || ((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0 !== A)
      return true;
    const id = (ip[4]! << 8) | ip[5]!;
    const flags = (ip[6]! << 8) | ip[7]!;
    const offset = (flags & 0x1fff) * 8;
    const more = (flags & 0x2000) !== 0;
    const total = (ip[2]! << 8) | ip[3]!;
    const ihl = (ip[0]! & 0x0f) * 4;
    if (offset === 0 && !more) return true; // the warm-up datagram
    let entry = seen.get(id);
    if (entry === undefined) seen.set(id, (entry = { offsets: new Set(), index: undefined, last: undefined }));
    entry.offsets.add(offset);
    if (offset === 0) entry.index = new DataView(ip.buffer, ip.byteOffset + ihl + 8, 4).getUint32(0);
    if (!more) entry.last = offset + total - ihl;
    return true;
  };
  const fault = new FaultInjectionDriver(link.a, sched, { tx: faults });
  const devA = new NetDevice(fault, sched, { rxRingCapacity: 1024 });
  const devB = new NetDevice(new FrameFilterDriver(link.b, { rx: observe }), sched, { rxRingCapacity: 1024 });
  const a = new Stack(sched);
  const b = new Stack(sched, { reassembly: { timeoutMs: REASSEMBLY_TIMEOUT_MS, maxBytes } });
  a.addInterface(devA).addAddress(A, 24);
  b.addInterface(devB).addAddress(B, 24);
  await devA.open();
  await devB.open();
  sched.runPending();

  const delivered = new Map<number, boolean>();
  let warm = false;
  b.udp.bind(PORT, (payload) => {
    if (payload.byteLength === 1) {
      warm = true;
      return;
    }
    const index = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
    const want = datagram(index);
    delivered.set(index, payload.byteLength === SIZE && payload.every((v, i) => v === want[i]));
  });
  const sock = a.udp.bind(0, () => undefined);
  // Warm-up: resolve ARP (its frames meet the same loss) before the measured run.
  for (let i = 0; i < 50 && !warm; i++) {
    sock.send(B, PORT, new Uint8Array(1));
    sched.advance(20);
  }
  expect(warm).toBe(true);

  for (let i = 0; i < count; i++) {
    sock.send(B, PORT, datagram(i));
    sched.advance(1);
  }
  sched.advance(100);
  return { sched, a, b, seen, delivered, fault };
}

describe('IPv4 reassembly over a lossy link (fragmented UDP, seeded)', () => {
  const cases: Array<[string, FaultProfile]> = [
    ['10% loss', { lossRate: 0.1 }],
    ['10% loss, reordering and duplication', { lossRate: 0.1, reorderRate: 0.1, duplicateRate: 0.05 }],
  ];
  for (const [name, faults] of cases) {
    it(`delivers exactly the 4000-byte datagrams whose fragments all arrived: ${name}`, async () => {
      const count = 400;
      // Memory for every incomplete datagram of the run (default), so none is evicted and the count is exact.
      const { sched, b, seen, delivered, fault } = await lossyRun(2024, count, faults);
      // The run really was lossy, and every datagram was sent as 3 fragments.
      expect(fault.faults.tx.lost).toBeGreaterThan(count * 3 * 0.05);
      const whole = [...seen.values()].filter(
        (e) => e.index !== undefined && e.last === SIZE + 8 && coversAll(e.offsets),
      );
      const partial = [...seen.values()].filter(
        (e) => !(e.index !== undefined && e.last === SIZE + 8 && coversAll(e.offsets)),
      );
      expect(whole.length).toBeGreaterThan(count * 0.5);
      expect(partial.length).toBeGreaterThan(0);

      // Every complete datagram was delivered byte-exact, and nothing else was.
      expect(new Set(delivered.keys())).toEqual(new Set(whole.map((e) => e.index)));
      expect([...delivered.values()].every(Boolean)).toBe(true);
      expect(b.reassembler.stats.get('reassembled')).toBe(whole.length);

      // The incomplete ones sit in the reassembler until they time out; then nothing is left. (A
      // duplicated fragment of a datagram already delivered opens a new, never-complete entry.)
      const held = b.reassembler.datagrams;
      if (faults.duplicateRate === undefined) expect(held).toBe(partial.length);
      else expect(held).toBeGreaterThanOrEqual(partial.length);
      expect(b.reassembler.memory).toBeGreaterThan(0);
      sched.advance(REASSEMBLY_TIMEOUT_MS + 100);
      expect(b.reassembler.datagrams).toBe(0);
      expect(b.reassembler.memory).toBe(0);
      expect(b.reassembler.stats.get('timeout')).toBe(held);
      for (const reason of ['overlap', 'badLast', 'memoryLimit', 'memoryEvicted', 'tooManyFragments'] as const) {
        expect(b.reassembler.stats.get(reason), reason).toBe(0);
      }
    });
  }

  it('under the memory cap, evicts the oldest incomplete datagrams and still delivers every complete one after them', async () => {
    const count = 400;
    const maxBytes = 64 * 1024;
    const { sched, b, seen, delivered } = await lossyRun(77, count, { lossRate: 0.1 }, maxBytes);
    const whole = [...seen.values()].filter(
      (e) => e.index !== undefined && e.last === SIZE + 8 && coversAll(e.offsets),
    );
    expect(b.reassembler.stats.get('memoryEvicted')).toBeGreaterThan(0);
    expect(b.reassembler.memory).toBeLessThanOrEqual(maxBytes);
    // Fragments of one datagram arrive back to back, so eviction (oldest first) never hits a
    // datagram that is about to complete: every complete one is still delivered.
    expect(new Set(delivered.keys())).toEqual(new Set(whole.map((e) => e.index)));
    expect([...delivered.values()].every(Boolean)).toBe(true);
    sched.advance(REASSEMBLY_TIMEOUT_MS + 100);
    expect(b.reassembler.datagrams).toBe(0);
    expect(b.reassembler.memory).toBe(0);
  });
});

/** True when the offsets are exactly those of a 4008-byte UDP datagram cut at a 1500-byte MTU. */
function coversAll(offsets: ReadonlySet<number>): boolean {
  return offsets.size === 3 && offsets.has(0) && offsets.has(1480) && offsets.has(2960);
}
