import { describe, expect, it } from 'vitest';
import type { IcmpErrorReport, UdpMessageInfo } from '../src/index.js';
import { ip, routed, settle } from './support/net.js';

/**
 * A LAN host `a` (198.18.1.2) behind the router `r`, which masquerades out of its WAN interface
 * (198.18.2.1) toward `b` (198.18.2.2). `b` has no route back to the LAN prefix: only NAT lets
 * replies through.
 */
async function natted() {
  const net = await routed();
  net.b.stack.routes.removeStatic(0, 0);
  const nat = net.r.stack.configureNat({
    masquerade: [net.r2.iface.index],
    portForwards: [
      { inIfIndex: net.r2.iface.index, protocol: 'udp', port: 7000, toAddress: ip('198.18.1.2'), toPort: 7001 },
    ],
  })!;
  return { ...net, nat };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('Stack: NAT between a LAN and a WAN that does not route the LAN back', () => {
  it('without NAT the WAN host cannot answer', async () => {
    const { sched, a, b } = await routed();
    b.stack.routes.removeStatic(0, 0);
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2'), timeoutMs: 500 }));
    expect(error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('masquerades UDP (port preserved) and brings the reply back', async () => {
    const { sched, a, b, nat } = await natted();
    const seenByB: Array<[number, number]> = [];
    b.stack.udp.bind(9000, (payload, info: UdpMessageInfo) => {
      seenByB.push([info.src, info.srcPort]);
      b.stack.udp.send({ srcPort: 9000, dst: info.src, dstPort: info.srcPort }, payload);
    });
    const back: string[] = [];
    const sock = a.stack.udp.bind(5000, (payload, info: UdpMessageInfo) =>
      back.push(`${info.src}:${info.srcPort}:${new TextDecoder().decode(payload)}`),
    );
    sock.send(ip('198.18.2.2'), 9000, text('hi'));
    sched.advance(50);
    expect(seenByB).toEqual([[ip('198.18.2.1'), 5000]]);
    expect(back).toEqual([`${ip('198.18.2.2')}:9000:hi`]);
    expect(nat.stats.get('translatedOut')).toBe(1);
    expect(nat.stats.get('translatedIn')).toBe(1);
  });

  it('pings through NAT (ICMP query translation)', async () => {
    const { sched, a, nat } = await natted();
    const { value, error } = await settle(sched, a.stack.ping({ dst: ip('198.18.2.2') }));
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ from: ip('198.18.2.2'), dataMatches: true });
    expect(nat.list(sched.now, String).filter((m) => m.protocol === 'icmp')).toEqual([
      expect.objectContaining({ internal: expect.stringMatching(/^198\.18\.1\.2:/), packets: [1, 1] }),
    ]);
  });

  it("delivers a WAN host's port unreachable to the inside socket (ICMP error translation)", async () => {
    const { sched, a, nat } = await natted();
    const reports: IcmpErrorReport[] = [];
    const sock = a.stack.udp.bind(
      5555,
      undefined,
      () => undefined,
      (report) => reports.push(report),
    );
    sock.send(ip('198.18.2.2'), 9, text('anyone?'));
    sched.advance(50);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ type: 3, code: 3, reporter: ip('198.18.2.2') });
    expect(nat.stats.get('icmpErrorsTranslated')).toBe(1);
  });

  it('forwards a WAN port to the LAN host and answers from the WAN address', async () => {
    const { sched, a, b } = await natted();
    a.stack.udp.bind(7001, (payload, info: UdpMessageInfo) =>
      a.stack.udp.send({ srcPort: 7001, dst: info.src, dstPort: info.srcPort }, payload),
    );
    const got: Array<[number, number, string]> = [];
    const sock = b.stack.udp.bind(4444, (payload, info: UdpMessageInfo) =>
      got.push([info.src, info.srcPort, new TextDecoder().decode(payload)]),
    );
    sock.send(ip('198.18.2.1'), 7000, text('knock'));
    sched.advance(50);
    expect(got).toEqual([[ip('198.18.2.1'), 7000, 'knock']]);
  });

  it('forgets an idle UDP mapping on the scheduler clock: a late reply is not let in', async () => {
    const { sched, a, b, nat } = await natted();
    const back: string[] = [];
    a.stack.udp
      .bind(5001, (payload) => back.push(new TextDecoder().decode(payload)))
      .send(ip('198.18.2.2'), 9001, text('x'));
    sched.advance(50);
    expect(nat.table.dynamicSize).toBe(1);
    sched.advance(nat.table.timeouts.udp + 2000);
    expect(nat.table.dynamicSize).toBe(0);
    b.stack.udp.send({ srcPort: 9001, dst: ip('198.18.2.1'), dstPort: 5001 }, text('late'));
    sched.advance(50);
    expect(back).toEqual([]);
  });
});
