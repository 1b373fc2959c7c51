import { describe, expect, it } from 'vitest';
import {
  ICMP_TIME_EXCEEDED_REASSEMBLY,
  ICMP_UNREACH_PORT,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  emitIcmpv4,
  emitUdp,
} from '@postern/wire';
import { BindError, fragmentIpv4, startUdpEcho, type IcmpErrorReport } from '../src/index.js';
import { inject, ip, rawIpv4, routed, settle, twoHosts } from './support/net.js';

function udpDatagram(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  zeroChecksum = false,
): Uint8Array {
  const out = new Uint8Array(8 + payload.byteLength);
  emitUdp({ srcPort, dstPort }, out, src, dst, payload);
  if (zeroChecksum) out[6] = out[7] = 0;
  return out;
}

describe('Stack: UDP', () => {
  it('echoes through startUdpEcho and reports port unreachable for a closed port', async () => {
    const { sched, a, b } = await twoHosts();
    startUdpEcho(b.stack, 7);
    const got: string[] = [];
    const reports: IcmpErrorReport[] = [];
    const s = a.stack.udp.bind(
      0,
      undefined,
      (p) => got.push(new TextDecoder().decode(p)),
      (r) => reports.push(r),
    );
    expect(s.port).toBeGreaterThanOrEqual(49152);
    s.send(ip('198.18.0.2'), 7, new TextEncoder().encode('echo me'));
    s.send(ip('198.18.0.2'), 8, new TextEncoder().encode('nobody'));
    sched.advance(20);
    expect(got).toEqual(['echo me']);
    expect(reports).toEqual([
      expect.objectContaining({ type: 3, code: ICMP_UNREACH_PORT, reporter: ip('198.18.0.2') }),
    ]);
    expect(b.stack.udpCounters.get('noPort')).toBe(1);
    expect(a.stack.udpCounters.get('icmpErrorsDelivered')).toBe(1);
  });

  it('refuses overlapping binds with stable codes', async () => {
    const { a } = await twoHosts();
    a.stack.udp.bind(53, () => undefined);
    expect(() => a.stack.udp.bind(53, ip('198.18.0.1'), () => undefined)).toThrow(
      expect.objectContaining({ code: 'ADDRESS_IN_USE' }),
    );
    expect(() => a.stack.udp.bind(54, ip('198.18.0.77'), () => undefined)).toThrow(BindError);
    expect(() => a.stack.udp.bind(54, ip('198.18.0.77'), () => undefined)).toThrow(
      expect.objectContaining({ code: 'ADDRESS_NOT_AVAILABLE' }),
    );
    expect(() => a.stack.udp.bind(70000, () => undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('accepts a zero checksum, drops a bad one, stays silent for broadcast to a closed port', async () => {
    const { sched, a, b } = await twoHosts();
    const got: number[] = [];
    b.stack.udp.bind(9, (p) => got.push(p.byteLength));
    const A = ip('198.18.0.1');
    const B = ip('198.18.0.2');
    inject(
      a,
      b.device.mac,
      rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, payload: udpDatagram(A, B, 1, 9, new Uint8Array(5), true) }),
    );
    const bad = udpDatagram(A, B, 1, 9, new Uint8Array(6));
    bad[9] = bad[9]! ^ 0xff;
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, payload: bad }));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, payload: new Uint8Array(4) }));
    const bcast = ip('198.18.0.255');
    inject(
      a,
      0xffff_ffff_ffff,
      rawIpv4({ src: A, dst: bcast, protocol: IP_PROTO_UDP, payload: udpDatagram(A, bcast, 1, 10, new Uint8Array(1)) }),
    );
    const handlerThrows = b.stack.udp.bind(11, () => {
      throw new Error('boom');
    });
    handlerThrows.send(A, 1, new Uint8Array(1)); // outward, fine
    inject(
      a,
      b.device.mac,
      rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, payload: udpDatagram(A, B, 1, 11, new Uint8Array(1)) }),
    );
    sched.advance(10);
    expect(got).toEqual([5]);
    expect(b.stack.udpCounters.snapshot()).toMatchObject({
      badChecksum: 1,
      malformed: 1,
      noPortBroadcast: 1,
      noPort: 0,
      handlerErrors: 1,
    });
    expect(b.stack.icmpCounters.get('sentUnreachable')).toBe(0);
  });
});

describe('Stack: ICMP error rules', () => {
  it('queues at most 48 packets per unresolved address (the default) while ARP resolves, in order', async () => {
    const { sched, a, b } = await twoHosts();
    const got: number[] = [];
    b.stack.udp.bind(9, (p) => got.push(p[0]!));
    for (let i = 0; i < 50; i++) a.stack.udp.send({ srcPort: 1, dst: ip('198.18.0.2'), dstPort: 9 }, Uint8Array.of(i));
    sched.advance(10);
    expect(got).toEqual([...Array(48).keys()].map((i) => i + 2)); // the oldest give way
    expect(a.stack.ipCounters.get('arpQueueDropped')).toBe(2);
    expect(a.iface.arp.stats.get('queueFull')).toBe(2);
  });

  it('drops packets for an address that never answers ARP (no ICMP for our own packets)', async () => {
    const { sched, a } = await twoHosts();
    for (let i = 0; i < 3; i++) a.stack.udp.send({ srcPort: 1, dst: ip('198.18.0.99'), dstPort: 9 }, Uint8Array.of(i));
    sched.advance(3500);
    expect(a.stack.ipCounters.get('arpUnresolved')).toBe(3);
    expect(a.stack.arpCounters.get('txRequests')).toBe(3);
    expect(a.stack.icmpCounters.get('sentUnreachable')).toBe(0);
  });

  it('rate-limits errors per destination', async () => {
    const { sched, a, b } = await twoHosts();
    await settle(sched, a.stack.ping({ dst: ip('198.18.0.2') }));
    const s = a.stack.udp.bind(0, () => undefined);
    for (let i = 0; i < 10; i++) s.send(ip('198.18.0.2'), 1000 + i, new Uint8Array(1));
    sched.advance(10);
    expect(b.stack.udpCounters.get('noPort')).toBe(10);
    expect(b.stack.icmpCounters.get('sentUnreachable')).toBe(6); // the per-destination burst
    expect(b.stack.icmpCounters.get('errorRateLimited')).toBe(4);
    sched.advance(2000); // 1 per second refills
    s.send(ip('198.18.0.2'), 999, new Uint8Array(1));
    sched.advance(10);
    expect(b.stack.icmpCounters.get('sentUnreachable')).toBe(7);
  });

  it('sends no error about an ICMP error, nor about a later fragment', async () => {
    const { sched, a, r } = await routed();
    const A = ip('198.18.1.2');
    const B = ip('198.18.2.2');
    // An ICMP error with TTL 1 through the router: no time exceeded about it.
    const inner = rawIpv4({ src: B, dst: A, protocol: IP_PROTO_UDP, payload: new Uint8Array(8) });
    const icmp = new Uint8Array(8 + inner.byteLength);
    emitIcmpv4({ kind: 'destinationUnreachable', code: 3, nextHopMtu: 0, quoted: inner }, icmp);
    inject(a, r.device.mac, rawIpv4({ src: A, dst: B, protocol: IP_PROTO_ICMP, ttl: 1, payload: icmp }));
    // A later fragment with TTL 1: no error either; the first fragment does get one.
    inject(
      a,
      r.device.mac,
      rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, ttl: 1, fragmentOffset: 64, payload: new Uint8Array(16) }),
    );
    inject(
      a,
      r.device.mac,
      rawIpv4({ src: A, dst: B, protocol: IP_PROTO_UDP, ttl: 1, mf: true, payload: new Uint8Array(16) }),
    );
    sched.advance(10);
    expect(r.stack.ipCounters.get('ttlExceeded')).toBe(3);
    expect(r.stack.icmpCounters.get('errorSuppressed')).toBe(2);
    expect(r.stack.icmpCounters.get('sentTimeExceeded')).toBe(1);
  });

  it('answers a reassembly timeout with time exceeded (code 1) when the first fragment came', async () => {
    const { sched, a, b } = await twoHosts();
    const A = ip('198.18.0.1');
    const B = ip('198.18.0.2');
    const reports: IcmpErrorReport[] = [];
    a.stack.udp.bind(
      4444,
      undefined,
      () => undefined,
      (r) => reports.push(r),
    );
    const payload = udpDatagram(A, B, 4444, 9, new Uint8Array(2000));
    const frags = fragmentIpv4(
      {
        dscp: 0,
        ecn: 0,
        identification: 77,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        ttl: 64,
        protocol: IP_PROTO_UDP,
        source: A,
        destination: B,
        options: new Uint8Array(0),
        payloadLength: payload.byteLength,
      },
      payload,
      1500,
    );
    inject(a, b.device.mac, frags[0]!); // the second never comes
    sched.advance(29_000);
    expect(reports).toEqual([]);
    sched.advance(2_000);
    expect(b.stack.reassembler.stats.get('timeout')).toBe(1);
    expect(reports).toEqual([expect.objectContaining({ type: 11, code: ICMP_TIME_EXCEEDED_REASSEMBLY })]);
    // Only a later fragment: no error after its timeout.
    inject(a, b.device.mac, frags[1]!.slice());
    sched.advance(31_000);
    expect(b.stack.reassembler.stats.get('timeout')).toBe(2);
    expect(reports).toHaveLength(1);
  });
});
