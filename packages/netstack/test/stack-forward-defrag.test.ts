import { describe, expect, it } from 'vitest';
import { IP_PROTO_ICMP, IP_PROTO_UDP } from '@postern/wire';
import { Reassembler } from '../src/index.js';
import { inject, ip, rawIpv4, routed, settle } from './support/net.js';

const NET_A = { prefix: ip('198.18.1.0'), length: 24 };

/** A router with the firewall on, forward policy drop, replies by conntrack, echo requests from A's net. */
async function firewalledRouter() {
  const net = await routed({ router: { firewall: true, filter: { policies: { forward: 'drop' } } } });
  const f = net.r.stack.filter;
  f.appendRule('forward', { states: ['established', 'related'], action: 'accept' });
  f.appendRule('forward', { src: NET_A, protocol: IP_PROTO_ICMP, icmpType: 8, action: 'accept' });
  return net;
}

describe('Stack: forwarding fragments through the firewall', () => {
  it('reassembles forwarded fragments for the forward chain, so replies fragmented by their sender match their connection', async () => {
    const { sched, a, r, r2, b } = await firewalledRouter();
    r2.iface.setMtu(576);
    b.iface.setMtu(576); // B fragments its own replies
    const { value, error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2'), size: 1400 }));
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ size: 1400, dataMatches: true, ttl: 63 });
    const rc = r.stack.ipCounters;
    // The request came whole and left in three fragments; the reply came in three fragments,
    // was filtered whole, and left again as three fragments no larger than B's.
    expect(rc.get('forwardFragmented')).toBe(1);
    expect(rc.get('forwardDefragmented')).toBe(1);
    expect(r.stack.forwardReassembler.stats.get('reassembled')).toBe(1);
    expect(rc.get('fragmentsCreated')).toBe(6);
    expect(rc.get('forwardFiltered')).toBe(0);
    expect(a.stack.reassembler.stats.get('fragments')).toBe(3);
    expect(r.stack.reassembler.stats.get('fragments')).toBe(0); // not the local reassembler's business
  });

  it('drops a fragmented datagram the chain refuses once, as a whole', async () => {
    const { sched, a, r, b } = await firewalledRouter();
    b.iface.setMtu(576);
    const got: number[] = [];
    a.stack.udp.bind(9000, (payload) => got.push(payload.byteLength));
    b.stack.udp.send({ srcPort: 1, dst: ip('198.18.1.2'), dstPort: 9000 }, new Uint8Array(1200));
    sched.advance(50);
    expect(got).toEqual([]);
    expect(r.stack.ipCounters.get('forwardDefragmented')).toBe(1);
    expect(r.stack.ipCounters.get('forwardFiltered')).toBe(1);
    expect(r.stack.filter.policy('forward').packets).toBe(1);
    expect(r.stack.forwardReassembler.datagrams).toBe(0);
  });

  it('answers fragments with DF whose largest piece exceeds the outgoing MTU with fragmentation needed', async () => {
    const { sched, a, r, r2 } = await firewalledRouter();
    r.stack.filter.appendRule('forward', { protocol: IP_PROTO_UDP, action: 'accept' });
    r2.iface.setMtu(576);
    const payload = new Uint8Array(1008);
    const fragment = (offset: number, end: number, mf: boolean) =>
      rawIpv4({
        src: ip('198.18.1.2'),
        dst: ip('198.18.2.2'),
        protocol: IP_PROTO_UDP,
        df: true,
        mf,
        fragmentOffset: offset,
        identification: 77,
        payload: payload.subarray(offset, end),
      });
    inject(a, r.device.mac, fragment(0, 1000, true));
    inject(a, r.device.mac, fragment(1000, 1008, false));
    sched.advance(50);
    expect(r.stack.ipCounters.get('forwardDefragmented')).toBe(1);
    expect(r.stack.ipCounters.get('fragNeeded')).toBe(1);
    expect(r.stack.icmpCounters.get('sentUnreachable')).toBe(1);
    expect(r.stack.ipCounters.get('forwarded')).toBe(0);
    expect(a.stack.icmpCounters.get('errorsReceived')).toBe(1);
  });

  it('a forward reassembler drops an incomplete datagram at its timeout without an ICMP error', async () => {
    const { sched, a, r } = await firewalledRouter();
    const half = rawIpv4({
      src: ip('198.18.1.2'),
      dst: ip('198.18.2.2'),
      protocol: IP_PROTO_ICMP,
      mf: true,
      identification: 5,
      payload: new Uint8Array(64),
    });
    inject(a, r.device.mac, half);
    sched.advance(10);
    expect(r.stack.forwardReassembler.datagrams).toBe(1);
    sched.advance(31_000);
    expect(r.stack.forwardReassembler.datagrams).toBe(0);
    expect(r.stack.forwardReassembler.stats.get('timeout')).toBe(1);
    expect(r.stack.icmpCounters.get('sentTimeExceeded')).toBe(0);
  });
});

describe('Reassembler: the largest fragment', () => {
  it("reports the largest fragment received, header included, and the packet's own length when it was whole", () => {
    const r = new Reassembler();
    const h = {
      dscp: 0,
      ecn: 0,
      identification: 1,
      dontFragment: false,
      ttl: 64,
      protocol: 17,
      source: 1,
      destination: 2,
      options: new Uint8Array(0),
    };
    expect(
      r.add(0, { ...h, moreFragments: true, fragmentOffset: 0, payloadLength: 16 }, new Uint8Array(16)).status,
    ).toBe('pending');
    const done = r.add(0, { ...h, moreFragments: false, fragmentOffset: 16, payloadLength: 40 }, new Uint8Array(40));
    expect(done).toMatchObject({ status: 'complete', largestFragment: 60 });
    expect(
      r.add(0, { ...h, moreFragments: false, fragmentOffset: 0, payloadLength: 30 }, new Uint8Array(30)),
    ).toMatchObject({ status: 'complete', largestFragment: 50 });
  });
});
