import { describe, expect, it } from 'vitest';
import { ETHERTYPE_ARP, IP_PROTO_ICMP, IP_PROTO_UDP, emitIcmpv4, emitUdp, MAC_BROADCAST } from '@postern/wire';
import { ipv4MulticastMac, type Ipv4CounterName } from '../src/index.js';
import { inject, ip, rawIpv4, twoHosts } from './support/net.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

function corrupt(packet: Uint8Array, at: number, value: number): Uint8Array {
  packet[at] = value;
  return packet;
}

function icmp(kind: 'echoRequest' | 'echoReply', size = 8): Uint8Array {
  const out = new Uint8Array(8 + size);
  emitIcmpv4({ kind, identifier: 9, sequenceNumber: 9, data: new Uint8Array(size) }, out);
  return out;
}

describe('Stack: every IPv4 receive drop has its counter', () => {
  const cases: Array<{ name: Ipv4CounterName; packet: () => Uint8Array; mac?: 'broadcast'; unpadded?: boolean }> = [
    { name: 'truncated', packet: () => rawIpv4({ src: A, dst: B }).subarray(0, 19), unpadded: true },
    { name: 'truncated', packet: () => corrupt(rawIpv4({ src: A, dst: B }), 3, 200) },
    { name: 'badVersion', packet: () => corrupt(rawIpv4({ src: A, dst: B }), 0, 0x65) },
    { name: 'badHeaderLength', packet: () => corrupt(rawIpv4({ src: A, dst: B }), 0, 0x44) },
    { name: 'badChecksum', packet: () => corrupt(rawIpv4({ src: A, dst: B }), 10, 0) },
    { name: 'badOptions', packet: () => rawIpv4({ src: A, dst: B, options: Uint8Array.of(7, 9, 0, 0) }) },
    { name: 'badSource', packet: () => rawIpv4({ src: ip('224.0.0.1'), dst: B }) },
    { name: 'badSource', packet: () => rawIpv4({ src: ip('127.0.0.1'), dst: B }) },
    { name: 'notForUs', packet: () => rawIpv4({ src: A, dst: ip('198.18.0.50') }) },
    { name: 'multicastNotJoined', packet: () => rawIpv4({ src: A, dst: ip('239.1.2.3') }), mac: 'broadcast' },
    { name: 'unknownProtocol', packet: () => rawIpv4({ src: A, dst: B, protocol: 253 }) },
    {
      name: 'reassemblyDropped',
      packet: () => rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, mf: true, payload: new Uint8Array(4) }),
    },
  ];
  for (const c of cases) {
    it(`counts ${c.name}`, async () => {
      const { sched, a, b } = await twoHosts();
      const before = b.stack.ipCounters.snapshot();
      inject(a, c.mac === 'broadcast' ? MAC_BROADCAST : b.device.mac, c.packet(), 0x0800, c.unpadded !== true);
      sched.advance(10);
      const after = b.stack.ipCounters.snapshot();
      expect(after[c.name] - before[c.name]).toBe(1);
      expect(after.delivered).toBe(before.delivered);
    });
  }

  it('drops a unicast packet for another host that came as a link broadcast (router)', async () => {
    const { sched, a, b } = await twoHosts({ b: { forwarding: true } });
    inject(a, MAC_BROADCAST, rawIpv4({ src: A, dst: ip('10.9.9.9') }));
    sched.advance(10);
    expect(b.stack.ipCounters.get('linkBroadcastNotForUs')).toBe(1);
    expect(b.stack.ipCounters.get('forwarded')).toBe(0);
  });

  it('answers an unknown protocol with protocol unreachable, and counts a throwing transport', async () => {
    const { sched, a, b } = await twoHosts();
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: 200 }));
    b.stack.registerProtocol(201, () => {
      throw new Error('transport bug');
    });
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: 201 }));
    sched.advance(10);
    expect(b.stack.icmpCounters.get('sentUnreachable')).toBe(1);
    expect(a.stack.icmpCounters.get('errorsReceived')).toBe(1);
    expect(b.stack.ipCounters.get('handlerErrors')).toBe(1);
    expect(() => b.stack.registerProtocol(201, () => undefined)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_IN_USE' }),
    );
    expect(() => b.stack.registerProtocol(17, () => undefined)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_IN_USE' }),
    );
  });

  it('stops delivering a protocol once it is unplugged, and delivers to whoever registers it next', async () => {
    const { sched, a, b } = await twoHosts();
    const first: number[] = [];
    const second: number[] = [];
    const unplug = b.stack.registerProtocol(202, (d) => first.push(d.payload.byteLength));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: 202, payload: new Uint8Array(3) }));
    sched.advance(10);
    unplug();
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: 202, payload: new Uint8Array(4) }));
    sched.advance(10);
    expect(first).toEqual([3]);
    expect(b.stack.ipCounters.get('unknownProtocol')).toBe(1);
    unplug(); // a second call leaves the next registration alone
    b.stack.registerProtocol(202, (d) => second.push(d.payload.byteLength));
    unplug();
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: 202, payload: new Uint8Array(5) }));
    sched.advance(10);
    expect(second).toEqual([5]);
    expect(b.stack.ipCounters.get('unknownProtocol')).toBe(1);
  });

  it('delivers to a joined multicast group', async () => {
    const { sched, a, b } = await twoHosts();
    const group = ip('239.1.2.3');
    b.iface.joinMulticast(group);
    const got: string[] = [];
    b.stack.udp.bind(5353, (_p, info) => got.push(info.destination));
    const udp = new Uint8Array(9);
    emitUdp({ srcPort: 1, dstPort: 5353 }, udp, A, group, new Uint8Array(1));
    inject(a, ipv4MulticastMac(group), rawIpv4({ src: A, dst: group, protocol: IP_PROTO_UDP, payload: udp }));
    sched.advance(10);
    expect(got).toEqual(['multicast']);
  });

  it('counts ICMP and ARP input drops', async () => {
    const { sched, a, b } = await twoHosts();
    const badSum = icmp('echoRequest');
    badSum[2] = badSum[2]! ^ 0xff;
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_ICMP, payload: badSum }));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_ICMP, payload: new Uint8Array(4) }));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_ICMP, payload: icmp('echoReply') }));
    inject(
      a,
      MAC_BROADCAST,
      rawIpv4({ src: A, dst: ip('198.18.0.255'), protocol: IP_PROTO_ICMP, payload: icmp('echoRequest') }),
    );
    const timestamp = new Uint8Array(20);
    timestamp[0] = 13;
    timestamp[3] = 0;
    emitIcmpv4({ kind: 'other', type: 13, code: 0, restOfHeader: 0, data: new Uint8Array(12) }, timestamp);
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_ICMP, payload: timestamp }));
    inject(a, b.device.mac, new Uint8Array(10), ETHERTYPE_ARP);
    sched.advance(10);
    expect(b.stack.icmpCounters.snapshot()).toMatchObject({
      badChecksum: 1,
      malformed: 1,
      echoReplyUnmatched: 1,
      echoBroadcastIgnored: 1,
      otherIgnored: 1,
      echoReplies: 0,
    });
    expect(b.stack.arpCounters.get('rxMalformed')).toBe(1);
  });

  it('lists every counter and the interfaces, routes and ARP table in a snapshot', async () => {
    const { a } = await twoHosts();
    const snap = a.stack.snapshot();
    expect(snap.interfaces[0]).toMatchObject({
      index: 0,
      mtu: 1500,
      link: 'up',
      addresses: [{ address: A, prefixLength: 24, broadcast: ip('198.18.0.255') }],
    });
    expect(snap.interfaces[0]!.device.txFrames).toBeGreaterThan(0);
    expect(snap.routes).toEqual([
      expect.objectContaining({ kind: 'connected', prefix: ip('198.18.0.0'), prefixLength: 24 }),
    ]);
    const groups = new Set(snap.counters.map((c) => c.group));
    for (const g of ['ipv4', 'arpIo', 'icmp', 'udp', 'routing', 'reassembly', 'filter', 'conntrack', 'icmpRateLimit'])
      expect(groups.has(g)).toBe(true);
    expect(JSON.parse(JSON.stringify(snap))).toMatchObject({ forwarding: false });
  });
});
