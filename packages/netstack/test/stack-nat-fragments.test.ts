import { describe, expect, it } from 'vitest';
import { IP_PROTO_UDP } from '@postern/wire';
import type { IcmpErrorReport, StackOptions, UdpMessageInfo } from '../src/index.js';
import { checksumsValid, u16, u32, udp } from './support/nat-packets.js';
import { inject, ip, rawIpv4, routed } from './support/net.js';

const LAN_HOST = ip('198.18.1.2');
const WAN_ADDR = ip('198.18.2.1');
const WAN_HOST = ip('198.18.2.2');

/**
 * `a` (198.18.1.2) behind the router `r`, which masquerades out of its WAN interface (198.18.2.1)
 * toward `b` (198.18.2.2), with a UDP port forward 7000 -> a:7001. `b` has no route back to the
 * LAN: only NAT lets replies through.
 */
async function natted(router?: StackOptions) {
  const net = await routed({ router });
  net.b.stack.routes.removeStatic(0, 0);
  const nat = net.r.stack.configureNat({
    masquerade: [net.r2.iface.index],
    portForwards: [{ inIfIndex: net.r2.iface.index, protocol: 'udp', port: 7000, toAddress: LAN_HOST, toPort: 7001 }],
  })!;
  return { ...net, nat };
}

/** Every IPv4 packet `driver` is asked to transmit from now on (copies), in order. */
function sentPackets(driver: { transmit(frame: Uint8Array): boolean }): Uint8Array[] {
  const packets: Uint8Array[] = [];
  const inner = driver.transmit.bind(driver);
  driver.transmit = (frame: Uint8Array): boolean => {
    if (frame[12] === 0x08 && frame[13] === 0x00) packets.push(frame.slice(14, 14 + u16(frame, 16)));
    return inner(frame);
  };
  return packets;
}

/** `n` bytes of a recognisable pattern. */
function pattern(n: number, seed = 7): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Splits the IPv4 packet `packet` into fragments carrying `sizes` payload bytes each (the last takes the rest). */
function fragments(packet: Uint8Array, sizes: number[], identification = 0x4242, df = false): Uint8Array[] {
  const hl = (packet[0]! & 15) * 4;
  const payload = packet.subarray(hl, u16(packet, 2));
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < payload.length; i++) {
    const n = i < sizes.length ? Math.min(sizes[i]!, payload.length - at) : payload.length - at;
    out.push(
      rawIpv4({
        src: u32(packet, 12),
        dst: u32(packet, 16),
        protocol: packet[9]!,
        df,
        mf: at + n < payload.length,
        fragmentOffset: at,
        identification,
        payload: payload.subarray(at, at + n),
      }),
    );
    at += n;
  }
  return out;
}

/** The fragment fields of an IPv4 packet: [offset, more fragments, total length]. */
function fragmentOf(p: Uint8Array): [number, boolean, number] {
  const word = u16(p, 6);
  return [(word & 0x1fff) * 8, (word & 0x2000) !== 0, u16(p, 2)];
}

describe('Stack: NAT translates fragmented datagrams whole', () => {
  it('brings a reply the WAN host fragments back to the inside host, whole and translated', async () => {
    const { sched, a, r, b, nat, links } = await natted();
    const big = pattern(4000);
    b.stack.udp.bind(9000, (_payload, info: UdpMessageInfo) =>
      b.stack.udp.send({ srcPort: 9000, dst: info.src, dstPort: info.srcPort }, big),
    );
    const back: Array<[number, number, Uint8Array]> = [];
    const sock = a.stack.udp.bind(5000, (payload, info: UdpMessageInfo) =>
      back.push([info.src, info.srcPort, payload.slice()]),
    );
    const toLan = sentPackets(links[0].b);
    sock.send(WAN_HOST, 9000, new Uint8Array([1]));
    sched.advance(50);
    expect(back).toHaveLength(1);
    expect(back[0]![0]).toBe(WAN_HOST);
    expect(back[0]![1]).toBe(9000);
    expect(back[0]![2]).toEqual(big);
    // B sent three fragments to the external address; R reassembled them (not delivered to itself),
    // translated the datagram and sent it on as three fragments no larger than B's.
    expect(r.stack.reassembler.stats.get('reassembled')).toBe(1);
    expect(r.stack.reassembler.datagrams).toBe(0);
    expect(r.stack.udpCounters.get('received')).toBe(0);
    expect(nat.stats.get('translatedIn')).toBe(1);
    expect(nat.stats.get('fragment')).toBe(0);
    expect(toLan.map(fragmentOf)).toEqual([
      [0, true, 1500],
      [1480, true, 1500],
      [2960, false, 20 + 8 + 4000 - 2960],
    ]);
    for (const f of toLan) {
      expect(u32(f, 12)).toBe(WAN_HOST);
      expect(u32(f, 16)).toBe(LAN_HOST);
      expect(f[8]).toBe(63); // one hop
    }
    // The first fragment carries the translated UDP header; the reassembled datagram's checksum holds.
    expect(u16(toLan[0]!, 22)).toBe(5000);
    expect(a.stack.reassembler.stats.get('reassembled')).toBe(1);
    expect(a.stack.udpCounters.get('badChecksum')).toBe(0);
  });

  it('masquerades a datagram the inside host fragments, whole, and lets it leave in fragments', async () => {
    const { sched, a, r, b, nat, links } = await natted();
    const big = pattern(3000, 3);
    const got: Array<[number, number, Uint8Array]> = [];
    b.stack.udp.bind(9000, (payload, info: UdpMessageInfo) => got.push([info.src, info.srcPort, payload.slice()]));
    const toWan = sentPackets(links[1].a);
    a.stack.udp.bind(5000, () => undefined).send(WAN_HOST, 9000, big);
    sched.advance(50);
    expect(got).toEqual([[WAN_ADDR, 5000, big]]);
    expect(r.stack.forwardReassembler.stats.get('reassembled')).toBe(1);
    expect(r.stack.ipCounters.get('forwardDefragmented')).toBe(1);
    expect(r.stack.ipCounters.get('forwardFragmented')).toBe(0); // not over the WAN MTU: as they came
    expect(nat.stats.get('translatedOut')).toBe(1);
    expect(nat.stats.get('fragment')).toBe(0);
    expect(toWan).toHaveLength(3);
    for (const f of toWan) expect(u32(f, 12)).toBe(WAN_ADDR); // never an inside address
    expect(toWan.map((f) => fragmentOf(f)[0])).toEqual([0, 1480, 2960]);
    expect(b.stack.udpCounters.get('badChecksum')).toBe(0);
  });

  it('forwards a fragmented datagram to a port-forward target and its fragmented answer back', async () => {
    const { sched, a, b, nat } = await natted();
    a.stack.udp.bind(7001, (payload, info: UdpMessageInfo) =>
      a.stack.udp.send({ srcPort: 7001, dst: info.src, dstPort: info.srcPort }, payload),
    );
    const got: Array<[number, number, Uint8Array]> = [];
    const sock = b.stack.udp.bind(4444, (payload, info: UdpMessageInfo) =>
      got.push([info.src, info.srcPort, payload.slice()]),
    );
    const big = pattern(5000, 9);
    sock.send(WAN_ADDR, 7000, big);
    sched.advance(50);
    expect(got).toEqual([[WAN_ADDR, 7000, big]]);
    expect(nat.stats.get('translatedIn')).toBe(1);
    expect(nat.stats.get('translatedOut')).toBe(1);
  });

  it('reassembles out-of-order fragments and fragments of unequal sizes, and keeps the largest size', async () => {
    const { sched, a, r, b, nat, links } = await natted();
    const back: Uint8Array[] = [];
    a.stack.udp.bind(5000, (payload) => back.push(payload.slice())).send(WAN_HOST, 9000, new Uint8Array([1]));
    sched.advance(50);
    expect(nat.stats.get('translatedOut')).toBe(1);
    const data = pattern(2000, 5);
    const frags = fragments(udp(WAN_HOST, 9000, WAN_ADDR, 5000, data), [600, 1000]);
    expect(frags).toHaveLength(3);
    const toLan = sentPackets(links[0].b);
    for (const f of [frags[2]!, frags[0]!, frags[1]!]) inject(b, links[1].a.mac, f);
    sched.advance(50);
    expect(back).toEqual([data]);
    // The largest fragment was 20 + 1000 bytes: the translated datagram leaves in pieces no larger.
    expect(toLan.map(fragmentOf)).toEqual([
      [0, true, 1020],
      [1000, true, 1020],
      [2000, false, 28],
    ]);
    expect(a.stack.udpCounters.get('badChecksum')).toBe(0);
    expect(r.stack.reassembler.stats.get('reassembled')).toBe(1);
  });

  it('drops a datagram with overlapping fragments, counted, and lets nothing through', async () => {
    const { sched, a, r, b, nat, links } = await natted();
    const back: Uint8Array[] = [];
    a.stack.udp.bind(5000, (payload) => back.push(payload.slice())).send(WAN_HOST, 9000, new Uint8Array([1]));
    sched.advance(50);
    const translatedIn = nat.stats.get('translatedIn'); // B's port unreachable for that first datagram
    const whole = udp(WAN_HOST, 9000, WAN_ADDR, 5000, pattern(1600));
    const [f0, f1] = fragments(whole, [800]);
    // A second piece that starts inside the first: the classic overlap used to rewrite a header.
    const overlapping = rawIpv4({
      src: WAN_HOST,
      dst: WAN_ADDR,
      protocol: IP_PROTO_UDP,
      mf: false,
      fragmentOffset: 400,
      identification: 0x4242,
      payload: pattern(1208),
    });
    const toLan = sentPackets(links[0].b);
    inject(b, links[1].a.mac, f0!);
    inject(b, links[1].a.mac, overlapping);
    inject(b, links[1].a.mac, f1!);
    sched.advance(50);
    expect(back).toEqual([]);
    expect(toLan).toEqual([]);
    expect(r.stack.reassembler.stats.get('overlap')).toBe(1);
    expect(r.stack.ipCounters.get('reassemblyDropped')).toBeGreaterThanOrEqual(1);
    expect(nat.stats.get('translatedIn')).toBe(translatedIn);
    expect(r.stack.udpCounters.get('received')).toBe(0);
  });

  it('forgets an incomplete inbound datagram at the reassembly timeout and frees its memory', async () => {
    const { sched, a, r, b, links } = await natted();
    a.stack.udp.bind(5000, () => undefined).send(WAN_HOST, 9000, new Uint8Array([1]));
    sched.advance(50);
    const [first] = fragments(udp(WAN_HOST, 9000, WAN_ADDR, 5000, pattern(1600)), [800]);
    const toLan = sentPackets(links[0].b);
    inject(b, links[1].a.mac, first!);
    sched.advance(50);
    expect(r.stack.reassembler.datagrams).toBe(1);
    expect(r.stack.reassembler.memory).toBeGreaterThan(800);
    sched.advance(31_000);
    expect(r.stack.reassembler.datagrams).toBe(0);
    expect(r.stack.reassembler.memory).toBe(0);
    expect(r.stack.reassembler.stats.get('timeout')).toBe(1);
    expect(toLan).toEqual([]);
  });

  it('bounds the memory an inbound fragment flood takes, evicting the oldest, and still translates a datagram that completes', async () => {
    const { sched, a, r, b, nat, links } = await natted({ reassembly: { maxBytes: 8 * 1024 } });
    const back: Uint8Array[] = [];
    a.stack.udp.bind(5000, (payload) => back.push(payload.slice())).send(WAN_HOST, 9000, new Uint8Array([1]));
    sched.advance(50);
    const mac = links[1].a.mac;
    for (let id = 1; id <= 40; id++) {
      const [first] = fragments(udp(WAN_HOST, 9000, WAN_ADDR, 5000, pattern(1600)), [800], id);
      inject(b, mac, first!);
      sched.advance(1);
    }
    expect(r.stack.reassembler.memory).toBeLessThanOrEqual(8 * 1024);
    expect(r.stack.reassembler.stats.get('memoryEvicted')).toBeGreaterThan(0);
    const translatedIn = nat.stats.get('translatedIn');
    const data = pattern(1600, 1);
    for (const f of fragments(udp(WAN_HOST, 9000, WAN_ADDR, 5000, data), [800], 999)) inject(b, mac, f);
    sched.advance(50);
    expect(back).toEqual([data]);
    expect(nat.stats.get('translatedIn')).toBe(translatedIn + 1);
  });

  it('hairpins a fragmented datagram an inside host sends to the external address', async () => {
    const { sched, a, nat } = await natted();
    const got: Array<[number, Uint8Array]> = [];
    a.stack.udp.bind(7001, (payload, info: UdpMessageInfo) => got.push([info.src, payload.slice()]));
    const big = pattern(2500, 11);
    a.stack.udp.bind(6001, () => undefined).send(WAN_ADDR, 7000, big);
    sched.advance(50);
    // To the forward's target (A itself) from A's own mapping on the WAN address.
    expect(got).toEqual([[WAN_ADDR, big]]);
    expect(nat.stats.get('hairpin')).toBe(1);
  });

  it('still delivers a fragmented datagram for the router itself', async () => {
    const { sched, r, b } = await natted();
    const got: number[] = [];
    r.stack.udp.bind(6000, (payload) => got.push(payload.length));
    b.stack.udp.send({ srcPort: 1234, dst: WAN_ADDR, dstPort: 6000 }, pattern(3500));
    sched.advance(50);
    expect(got).toEqual([3500]);
    expect(r.stack.reassembler.stats.get('reassembled')).toBe(1);
  });
});

describe('Stack: NAT and Don’t Fragment', () => {
  it('answers an inside host’s oversized DF datagram with fragmentation needed quoting what it sent', async () => {
    const { sched, a, r, r2, nat } = await natted();
    r2.iface.setMtu(576);
    const reports: IcmpErrorReport[] = [];
    const sock = a.stack.udp.bind(
      5000,
      undefined,
      () => undefined,
      (report) => reports.push(report),
    );
    a.stack.udp.send({ srcPort: 5000, dst: WAN_HOST, dstPort: 9000, df: true }, pattern(1000));
    sched.advance(50);
    expect(r.stack.ipCounters.get('fragNeeded')).toBe(1);
    // The quote shows the inside source, so the inside socket matches it.
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ type: 3, code: 4, nextHopMtu: 576, reporter: ip('198.18.1.1') });
    expect(u32(reports[0]!.quoted.bytes, 12)).toBe(LAN_HOST);
    expect(nat.stats.get('translatedOut')).toBe(0);
    expect(nat.table.dynamicSize).toBe(0);
    sock.close();
  });

  it('answers a WAN host’s oversized DF datagram to a port forward with fragmentation needed quoting the external address', async () => {
    const { sched, r, b, nat } = await natted();
    r.iface.setMtu(576); // the LAN side
    const reports: IcmpErrorReport[] = [];
    b.stack.udp.bind(
      4444,
      undefined,
      () => undefined,
      (report) => reports.push(report),
    );
    b.stack.udp.send({ srcPort: 4444, dst: WAN_ADDR, dstPort: 7000, df: true }, pattern(1000));
    sched.advance(50);
    expect(r.stack.ipCounters.get('fragNeeded')).toBe(1);
    expect(nat.stats.get('translatedIn')).toBe(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ type: 3, code: 4, nextHopMtu: 576 });
    const quoted = reports[0]!.quoted.bytes;
    expect(u32(quoted, 16)).toBe(WAN_ADDR);
    expect(u16(quoted, 22)).toBe(7000);
    expect(checksumsValid(quoted.subarray(0, 20))).toBe(true);
  });

  it('answers inside fragments carrying DF whose largest piece exceeds the WAN MTU with fragmentation needed', async () => {
    const { sched, a, r, r2, nat } = await natted();
    r2.iface.setMtu(576);
    const whole = udp(LAN_HOST, 5000, WAN_HOST, 9000, pattern(992));
    for (const f of fragments(whole, [800], 77, true)) inject(a, r.device.mac, f);
    sched.advance(50);
    expect(r.stack.ipCounters.get('forwardDefragmented')).toBe(1);
    expect(r.stack.ipCounters.get('fragNeeded')).toBe(1);
    expect(r.stack.ipCounters.get('forwarded')).toBe(0);
    expect(a.stack.icmpCounters.get('errorsReceived')).toBe(1);
    expect(nat.stats.get('translatedOut')).toBe(0);
  });

  it('fragments a translated inbound datagram for a smaller LAN MTU when DF is clear', async () => {
    const { sched, a, r, b, nat } = await natted();
    r.iface.setMtu(576);
    a.iface.setMtu(576);
    // R has not resolved A yet: every fragment waits in R's ARP queue for the first reply.
    const got: number[] = [];
    a.stack.udp.bind(7001, (payload) => got.push(payload.length));
    b.stack.udp.send({ srcPort: 4444, dst: WAN_ADDR, dstPort: 7000 }, pattern(3000));
    sched.advance(50);
    expect(nat.stats.get('translatedIn')).toBe(1);
    expect(r.stack.ipCounters.get('forwardFragmented')).toBe(1);
    expect(a.stack.reassembler.stats.get('reassembled')).toBe(1);
    expect(got).toEqual([3000]);
  });
});
