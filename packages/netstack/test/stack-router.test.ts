import { describe, expect, it } from 'vitest';
import { ICMP_UNREACH_FRAG_NEEDED, ICMP_UNREACH_HOST, ICMP_UNREACH_NET, type Ipv4Address } from '@postern/wire';
import { PingError, type IcmpErrorReport, type UdpMessageInfo } from '../src/index.js';
import { ip, routed, settle } from './support/net.js';

describe('Stack: a router between two hosts', () => {
  it('forwards both ways, decrementing the TTL with a valid checksum', async () => {
    const { sched, a, r, b } = await routed();
    const got: Array<{ ttl: number; src: Ipv4Address; text: string }> = [];
    b.stack.udp.bind(9000, (payload, info: UdpMessageInfo) =>
      got.push({ ttl: info.ttl, src: info.src, text: new TextDecoder().decode(payload) }),
    );
    a.stack.udp.send(
      { srcPort: 1234, dst: ip('198.18.2.2'), dstPort: 9000, ttl: 10 },
      new TextEncoder().encode('hello'),
    );
    sched.advance(10);
    expect(got).toEqual([{ ttl: 9, src: ip('198.18.1.2'), text: 'hello' }]);
    const { value } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2') }));
    expect(value).toMatchObject({ from: ip('198.18.2.2'), ttl: 63 });
    expect(r.stack.ipCounters.get('forwarded')).toBe(3);
    expect(r.stack.ipCounters.get('badChecksum')).toBe(0);
    expect(b.stack.ipCounters.get('badChecksum')).toBe(0);
  });

  it('answers TTL 1 with time exceeded from the router', async () => {
    const { sched, a, r } = await routed();
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2'), ttl: 1 }));
    expect(error).toBeInstanceOf(PingError);
    expect(error).toMatchObject({ code: 'TIME_EXCEEDED', icmpCode: 0, reporter: ip('198.18.1.1') });
    expect(r.stack.ipCounters.get('ttlExceeded')).toBe(1);
    expect(r.stack.icmpCounters.get('sentTimeExceeded')).toBe(1);
  });

  it('answers DF and too big with fragmentation needed carrying the next-hop MTU', async () => {
    const { sched, a, r, r2 } = await routed();
    r2.iface.setMtu(1000);
    const reports: IcmpErrorReport[] = [];
    const sock = a.stack.udp.bind(
      5555,
      undefined,
      () => undefined,
      (report) => reports.push(report),
    );
    sock.send(ip('198.18.2.2'), 9, new Uint8Array(1200), { df: true });
    sched.advance(10);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      type: 3,
      code: ICMP_UNREACH_FRAG_NEEDED,
      nextHopMtu: 1000,
      reporter: ip('198.18.1.1'),
    });
    expect(r.stack.ipCounters.get('fragNeeded')).toBe(1);
  });

  it('fragments a packet without DF for a smaller out MTU, and the far end reassembles it', async () => {
    const { sched, a, r, r2, b } = await routed();
    r2.iface.setMtu(576);
    const { value, error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2'), size: 1400 }));
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ size: 1400, dataMatches: true });
    expect(r.stack.ipCounters.get('forwardFragmented')).toBe(1);
    expect(r.stack.ipCounters.get('fragmentsCreated')).toBe(3);
    expect(b.stack.reassembler.stats.get('reassembled')).toBe(1);
  });

  it('answers an unknown network with net unreachable', async () => {
    const { sched, a, r } = await routed();
    const { error } = await settle(sched, a.stack.ping({ dst: ip('10.1.2.3') }));
    expect(error).toMatchObject({ code: 'UNREACHABLE', icmpCode: ICMP_UNREACH_NET });
    expect(r.stack.ipCounters.get('noRoute')).toBe(1);
  });

  it('drops queued packets when ARP fails and answers the sender with host unreachable', async () => {
    const { sched, a, r2, r } = await routed();
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.99'), timeoutMs: 10_000 }));
    expect(error).toMatchObject({ code: 'UNREACHABLE', icmpCode: ICMP_UNREACH_HOST, reporter: ip('198.18.1.1') });
    expect(r.stack.ipCounters.get('arpUnresolved')).toBe(1);
    expect(r2.iface.arp.stats.get('unresolved')).toBe(1);
    expect(r.stack.arpCounters.get('txRequests')).toBeGreaterThanOrEqual(3);
    expect(sched.now).toBeGreaterThanOrEqual(3000);
  });

  it('does not forward when forwarding is off', async () => {
    const { sched, a, r } = await routed({ router: { forwarding: false } });
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2'), timeoutMs: 200 }));
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(r.stack.ipCounters.get('notForUs')).toBe(1);
  });

  it('never forwards to a directed broadcast', async () => {
    const { sched, a, r } = await routed();
    a.stack.udp.send({ srcPort: 1, dst: ip('198.18.2.255'), dstPort: 9 }, new Uint8Array(4));
    sched.advance(10);
    expect(r.stack.ipCounters.get('directedBroadcast')).toBe(1);
  });

  it('forwards in place: the router allocates no frame for a normal-size packet', async () => {
    const { sched, a, r2, b } = await routed();
    let frameBuffer: ArrayBufferLike | undefined;
    b.stack.udp.bind(9000, () => undefined);
    a.stack.udp.send({ srcPort: 1, dst: ip('198.18.2.2'), dstPort: 9000 }, new Uint8Array(100)); // resolve ARP first
    sched.advance(10);
    const device = r2.device;
    const original = device.transmit.bind(device);
    device.transmit = (frame: Uint8Array) => {
      frameBuffer = frame.buffer;
      return original(frame);
    };
    const link1 = a.device.driver;
    const originalTx = link1.transmit.bind(link1);
    let sentBuffer: ArrayBufferLike | undefined;
    link1.transmit = (frame: Uint8Array) => {
      sentBuffer = frame.buffer;
      return originalTx(frame);
    };
    a.stack.udp.send({ srcPort: 1, dst: ip('198.18.2.2'), dstPort: 9000 }, new Uint8Array(1000));
    sched.advance(10);
    expect(frameBuffer).toBeDefined();
    expect(frameBuffer).toBe(sentBuffer);
  });
});
