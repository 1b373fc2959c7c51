import { describe, expect, it } from 'vitest';
import { IP_PROTO_TCP, IP_PROTO_UDP, TcpFlag, TcpPacket, emitTcp, type Ipv4Address } from '@postern/wire';
import { SendError, type IcmpErrorReport } from '../src/index.js';
import { ip, routed, settle, twoHosts } from './support/net.js';

const NET_A = { prefix: ip('198.18.1.0'), length: 24 };

describe('Stack: packet filter', () => {
  it('lets A reach B through a router with a drop policy, replies via conntrack, and blocks B-initiated traffic', async () => {
    const { sched, a, r, b } = await routed({ router: { firewall: true, filter: { policies: { forward: 'drop' } } } });
    const f = r.stack.filter;
    const established = f.appendRule('forward', { states: ['established', 'related'], action: 'accept' });
    const outbound = f.appendRule('forward', {
      src: NET_A,
      protocol: IP_PROTO_UDP,
      dstPorts: { from: 7, to: 7 },
      action: 'accept',
    });
    const fromA: string[] = [];
    b.stack.udp.bind(7, (payload, info) =>
      b.stack.udp.send({ srcPort: 7, dst: info.src, dstPort: info.srcPort }, payload.slice()),
    );
    a.stack.udp.bind(4000, (payload) => fromA.push(new TextDecoder().decode(payload)));
    a.stack.udp.send({ srcPort: 4000, dst: ip('198.18.2.2'), dstPort: 7 }, new TextEncoder().encode('ping'));
    sched.advance(50);
    expect(fromA).toEqual(['ping']);
    // B opening toward A is not allowed.
    const hits: number[] = [];
    a.stack.udp.bind(5000, () => hits.push(1));
    b.stack.udp.send({ srcPort: 7000, dst: ip('198.18.1.2'), dstPort: 5000 }, new Uint8Array(3));
    sched.advance(50);
    expect(hits).toEqual([]);
    expect(r.stack.ipCounters.get('forwardFiltered')).toBe(1);
    const rules = r.stack.snapshot().filter.rules;
    expect(rules.find((x) => x.id === outbound)?.packets).toBe(1);
    expect(rules.find((x) => x.id === established)?.packets).toBe(1);
    expect(r.stack.snapshot().filter.policies.forward.packets).toBe(1);
    expect(r.stack.filter.conntrack.size).toBe(1);
    // Idle connections are swept by the stack timer.
    sched.advance(121_000); // a replied UDP connection lives 120 s
    expect(r.stack.filter.conntrack.size).toBe(0);
  });

  it('rejects with ICMP (admin prohibited) on the forward chain', async () => {
    const { sched, a, r } = await routed({ router: { firewall: true } });
    r.stack.filter.appendRule('forward', {
      protocol: IP_PROTO_UDP,
      action: 'reject',
      rejectWith: { kind: 'icmp-unreachable', code: 13 },
    });
    const reports: IcmpErrorReport[] = [];
    const s = a.stack.udp.bind(
      0,
      undefined,
      () => undefined,
      (rep) => reports.push(rep),
    );
    s.send(ip('198.18.2.2'), 53, new Uint8Array(10));
    sched.advance(10);
    expect(reports).toEqual([expect.objectContaining({ type: 3, code: 13, reporter: ip('198.18.1.1') })]);
    expect(r.stack.filter.stats.get('rejected')).toBe(1);
  });

  it('rejects TCP with a reset built by the stack', async () => {
    const { sched, a, b } = await twoHosts({ b: { firewall: true } });
    b.stack.filter.appendRule('input', {
      protocol: IP_PROTO_TCP,
      dstPorts: { from: 80, to: 80 },
      action: 'reject',
      rejectWith: { kind: 'tcp-reset' },
    });
    const got: Array<{ flags: number; seq: number; ack: number; srcPort: number; dstPort: number; from: Ipv4Address }> =
      [];
    a.stack.registerProtocol(IP_PROTO_TCP, (d) => {
      const t = TcpPacket.checked(d.payload);
      expect(t.verifyChecksum(d.header.source, d.header.destination)).toBe(true);
      got.push({
        flags: t.flags,
        seq: t.seq,
        ack: t.ack,
        srcPort: t.srcPort,
        dstPort: t.dstPort,
        from: d.header.source,
      });
    });
    const syn = {
      srcPort: 40000,
      dstPort: 80,
      seq: 1000,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 1000,
      urgentPointer: 0,
      options: [],
    };
    a.stack.sendIpv4({ dst: ip('198.18.0.2'), protocol: IP_PROTO_TCP }, 20, (buf, src, dst) =>
      emitTcp(syn, buf, src, dst),
    );
    sched.advance(10);
    expect(got).toEqual([
      { flags: TcpFlag.RST | TcpFlag.ACK, seq: 0, ack: 1001, srcPort: 80, dstPort: 40000, from: ip('198.18.0.2') },
    ]);
    expect(b.stack.ipCounters.get('inputFiltered')).toBe(1);
    expect(b.stack.ipCounters.get('rejectResets')).toBe(1);
  });

  it('drops on the input chain and refuses on the output chain with a typed error', async () => {
    const { sched, a, b } = await twoHosts({ a: { firewall: true }, b: { firewall: true } });
    b.stack.filter.appendRule('input', { protocol: 1, icmpType: 8, action: 'drop' });
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.0.2'), timeoutMs: 300 }));
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(b.stack.ipCounters.get('inputFiltered')).toBe(1);
    a.stack.filter.appendRule('output', { protocol: IP_PROTO_UDP, action: 'drop' });
    expect(() => a.stack.udp.send({ srcPort: 1, dst: ip('198.18.0.2'), dstPort: 9 }, new Uint8Array(1))).toThrow(
      SendError,
    );
    expect(a.stack.ipCounters.get('outputFiltered')).toBe(1);
  });
});
