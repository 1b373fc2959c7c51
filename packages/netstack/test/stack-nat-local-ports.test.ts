import { describe, expect, it } from 'vitest';
import { NatEngine, attachTcp, type EchoCallback, type EchoReply, type UdpMessageInfo } from '../src/index.js';
import { ip, routed } from './support/net.js';

/**
 * The router `r` masquerades LAN host `a` (198.18.1.2) out of its WAN address 198.18.2.1 toward
 * `b` (198.18.2.2), and also uses ports of its own on that address: a mapping must never take one
 * of them, and its own ephemeral ports must never land on a mapped one.
 */
async function natted() {
  const net = await routed();
  net.b.stack.routes.removeStatic(0, 0);
  const nat = net.r.stack.configureNat({ masquerade: [net.r2.iface.index] })!;
  const tcpA = attachTcp(net.a.stack);
  const tcpR = attachTcp(net.r.stack);
  const tcpB = attachTcp(net.b.stack);
  return { ...net, nat, tcpA, tcpR, tcpB };
}

const WAN = ip('198.18.2.1');
const B = ip('198.18.2.2');
const text = (s: string) => new TextEncoder().encode(s);

describe('NAT and the gateway\u2019s own ports on the external address', () => {
  it('a LAN UDP source port the gateway is bound to gets another mapping port; the gateway still gets its datagrams', async () => {
    const { sched, a, r, b, nat } = await natted();
    const gateway: string[] = [];
    r.stack.udp.bind(5000, WAN, (payload) => gateway.push(new TextDecoder().decode(payload)));
    const seenByB: number[] = [];
    b.stack.udp.bind(9000, (payload, info: UdpMessageInfo) => {
      seenByB.push(info.srcPort);
      b.stack.udp.send({ srcPort: 9000, dst: info.src, dstPort: info.srcPort }, payload);
    });
    const back: string[] = [];
    a.stack.udp.bind(5000, (payload) => back.push(new TextDecoder().decode(payload))).send(B, 9000, text('lan'));
    sched.advance(50);
    expect(seenByB).toHaveLength(1);
    expect(seenByB[0]).not.toBe(5000);
    expect(back).toEqual(['lan']);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
    b.stack.udp.send({ srcPort: 9000, dst: WAN, dstPort: 5000 }, text('for the gateway'));
    sched.advance(50);
    expect(gateway).toEqual(['for the gateway']);
    expect(back).toEqual(['lan']);
  });

  it('a LAN TCP source port 80 does not hijack the gateway\u2019s listener on port 80', async () => {
    const { sched, tcpA, tcpR, tcpB, nat } = await natted();
    const own = tcpR.listen({ port: 80 });
    tcpB.listen({ port: 9 });
    const lan = tcpA.connect({ remoteAddress: B, remotePort: 9, localPort: 80 });
    sched.runUntil(() => lan.state === 'ESTABLISHED', 2000);
    expect(lan.state).toBe('ESTABLISHED');
    const mapping = nat.list(sched.now, String).find((m) => m.protocol === 'tcp')!;
    expect(mapping.internal).toBe('198.18.1.2:80');
    expect(mapping.externalPort).not.toBe(80);
    expect(mapping.externalPort).toBeLessThan(1024); // same range as the internal port
    const fromB = tcpB.connect({ remoteAddress: WAN, remotePort: 80 });
    sched.runUntil(() => fromB.state === 'ESTABLISHED' && own.acceptQueue.length > 0, 2000);
    expect(fromB.state).toBe('ESTABLISHED');
    expect(own.acceptQueue).toHaveLength(1);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
  });

  it('a LAN TCP source port the gateway\u2019s own connection uses gets another mapping port', async () => {
    const { sched, tcpA, tcpR, tcpB, nat } = await natted();
    const server = tcpB.listen({ port: 9 });
    const own = tcpR.connect({ remoteAddress: B, remotePort: 9 });
    sched.runUntil(() => own.state === 'ESTABLISHED', 2000);
    const lan = tcpA.connect({ remoteAddress: B, remotePort: 9, localPort: own.localPort });
    sched.runUntil(() => lan.state === 'ESTABLISHED', 2000);
    expect(lan.state).toBe('ESTABLISHED');
    expect(own.state).toBe('ESTABLISHED');
    expect(server.acceptQueue).toHaveLength(2);
    const mapping = nat.list(sched.now, String).find((m) => m.protocol === 'tcp')!;
    expect(mapping.externalPort).not.toBe(own.localPort);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
  });

  it('the gateway\u2019s UDP bind(0) skips a port a live mapping owns', async () => {
    const { sched, a, r, b, nat } = await natted();
    b.stack.udp.bind(9000, () => undefined);
    const first = r.stack.udp.bind(0, () => undefined);
    const next = first.port + 1;
    first.close();
    a.stack.udp.bind(next, () => undefined).send(B, 9000, text('x'));
    sched.advance(50);
    expect(nat.list(sched.now, String).map((m) => m.externalPort)).toEqual([next]);
    const own = r.stack.udp.bind(0, () => undefined);
    expect(own.port).not.toBe(next);
    expect(nat.stats.get('mappedPortAvoided')).toBe(1);
  });

  it('the gateway\u2019s TCP connect skips an ephemeral port a live mapping owns', async () => {
    const { sched, tcpA, tcpR, tcpB, nat } = await natted();
    tcpB.listen({ port: 9 });
    const first = tcpR.connect({ remoteAddress: B, remotePort: 9 });
    const next = first.localPort + 1;
    const lan = tcpA.connect({ remoteAddress: B, remotePort: 9, localPort: next });
    sched.runUntil(() => lan.state === 'ESTABLISHED', 2000);
    expect(nat.list(sched.now, String).map((m) => m.externalPort)).toEqual([next]);
    const own = tcpR.connect({ remoteAddress: B, remotePort: 9 });
    expect(own.localPort).not.toBe(next);
    sched.runUntil(() => own.state === 'ESTABLISHED', 2000);
    expect(own.state).toBe('ESTABLISHED');
    expect(lan.state).toBe('ESTABLISHED');
    expect(nat.stats.get('mappedPortAvoided')).toBe(1);
  });
});

/** Collects an echo's outcome: replies in `replies`, error codes in `errors`. */
function echoes() {
  const replies: EchoReply[] = [];
  const errors: string[] = [];
  const callback: EchoCallback = (error, reply) =>
    error !== undefined ? errors.push(error.code) : replies.push(reply!);
  return { replies, errors, callback };
}

describe('NAT and the gateway\u2019s own ICMP echo identifiers', () => {
  it('a LAN ping with the gateway\u2019s own identifier gets another; the gateway\u2019s pings still come back to it', async () => {
    const { sched, a, r, nat } = await natted();
    const own = echoes();
    r.stack.icmp.echo({ dst: B }, own.callback);
    sched.advance(50);
    expect(own.replies).toHaveLength(1);
    const id = own.replies[0]!.identifier;
    const lan = echoes();
    a.stack.icmp.echo({ dst: B, identifier: id, sequence: 1 }, lan.callback);
    sched.advance(50);
    expect(lan.replies.map((e) => e.identifier)).toEqual([id]);
    const mapping = nat.list(sched.now, String).find((m) => m.protocol === 'icmp')!;
    expect(mapping.internal).toBe(`198.18.1.2:${id}`);
    expect(mapping.externalPort).not.toBe(id);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
    // B, a remote the LAN host pinged, answers the gateway's next ping: the reply is the gateway's.
    r.stack.icmp.echo({ dst: B }, own.callback);
    sched.advance(2000);
    expect(own.errors).toEqual([]);
    expect(own.replies.map((e) => e.identifier)).toEqual([id, id]);
    expect(lan.replies).toHaveLength(1);
    expect(a.stack.icmpCounters.get('echoReplyUnmatched')).toBe(0);
  });

  it('an identifier the gateway\u2019s outstanding echo request carries is in use until it ends', async () => {
    const { sched, r } = await natted();
    const own = echoes();
    // 198.18.2.9 is on B's link but nobody: the request waits for its timeout.
    r.stack.icmp.echo({ dst: ip('198.18.2.9'), identifier: 777, timeoutMs: 1000 }, own.callback);
    expect(r.stack.localPortInUse(1, WAN, 777)).toBe(true);
    expect(r.stack.localPortInUse(1, WAN, 778)).toBe(false);
    sched.advance(1500);
    expect(own.errors).toEqual(['TIMEOUT']);
    expect(r.stack.localPortInUse(1, WAN, 777)).toBe(false);
  });

  it('the gateway\u2019s own echo takes another identifier while a mapping owns its own', async () => {
    const { sched, a, r, r2 } = await natted();
    const probe = echoes();
    r.stack.icmp.echo({ dst: B }, probe.callback);
    sched.advance(50);
    const id = probe.replies[0]!.identifier;
    // An engine told nothing of the gateway's identifiers (set directly): the LAN ping keeps `id`.
    const nat = new NatEngine(
      { addressOf: (ifIndex) => r.stack.interfaceAt(ifIndex)?.addresses[0]?.address },
      { masquerade: [r2.iface.index], seed: 3 },
    );
    r.stack.nat = nat;
    const lan = echoes();
    a.stack.icmp.echo({ dst: B, identifier: id, sequence: 1 }, lan.callback);
    sched.advance(50);
    expect(nat.list(sched.now, String).map((m) => m.externalPort)).toEqual([id]);
    const own = echoes();
    r.stack.icmp.echo({ dst: B }, own.callback);
    sched.advance(2000);
    expect(own.errors).toEqual([]);
    expect(own.replies.map((e) => e.identifier)).toEqual([(id + 1) & 0xffff]);
    expect(nat.stats.get('mappedPortAvoided')).toBe(1);
    expect(lan.replies).toHaveLength(1);
    expect(a.stack.icmpCounters.get('echoReplyUnmatched')).toBe(0);
  });
});

describe('NAT and the gateway\u2019s TIME-WAIT records', () => {
  it('a LAN TCP source port the gateway\u2019s TIME-WAIT record holds gets another mapping port', async () => {
    const { sched, tcpA, tcpR, tcpB, nat } = await natted();
    const server = tcpB.listen({ port: 9 });
    const own = tcpR.connect({ remoteAddress: B, remotePort: 9 });
    sched.runUntil(() => own.state === 'ESTABLISHED' && server.acceptQueue.length > 0, 2000);
    const port = own.localPort;
    own.close(); // the gateway closes first: it holds TIME-WAIT
    sched.advance(50);
    server.acceptQueue[0]!.close();
    sched.advance(50);
    expect(own.state).toBe('TIME-WAIT');
    expect(tcpR.timeWaitCount).toBe(1);
    expect(tcpR.portInUse(WAN, port)).toBe(true);
    const lan = tcpA.connect({ remoteAddress: B, remotePort: 9, localPort: port });
    sched.runUntil(() => lan.state === 'ESTABLISHED', 2000);
    expect(lan.state).toBe('ESTABLISHED');
    const mapping = nat.list(sched.now, String).find((m) => m.protocol === 'tcp')!;
    expect(mapping.internal).toBe(`198.18.1.2:${port}`);
    expect(mapping.externalPort).not.toBe(port);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
    expect(own.state).toBe('TIME-WAIT');
  });
});

describe('A port the gateway binds while a mapping owns it', () => {
  it('is not refused; the mapping keeps its remotes until it expires, then the port is the gateway\u2019s', async () => {
    const net = await routed();
    net.b.stack.routes.removeStatic(0, 0);
    const { sched, a, r, b, r2 } = net;
    const nat = r.stack.configureNat({ masquerade: [r2.iface.index], timeouts: { udp: 10_000 } })!;
    b.iface.addAddress(ip('198.18.2.3'), 24);
    const seenByB: number[] = [];
    b.stack.udp.bind(9000, (payload, info: UdpMessageInfo) => {
      seenByB.push(info.srcPort);
      b.stack.udp.send({ srcPort: 9000, dst: info.src, dstPort: info.srcPort }, payload);
    });
    const lan: string[] = [];
    const lanSocket = a.stack.udp.bind(5000, (payload) => lan.push(new TextDecoder().decode(payload)));
    lanSocket.send(B, 9000, text('one'));
    sched.advance(50);
    expect(seenByB).toEqual([5000]); // the port was free: kept
    const gateway: string[] = [];
    r.stack.udp.bind(5000, WAN, (payload, info: UdpMessageInfo) =>
      gateway.push(`${new TextDecoder().decode(payload)} from ${info.src === B ? 'B' : 'C'}`),
    );
    // The remote the LAN host sent to still reaches the LAN host; another remote reaches the gateway.
    b.stack.udp.send({ srcPort: 9000, dst: WAN, dstPort: 5000 }, text('to the mapping'));
    b.stack.udp.send({ src: ip('198.18.2.3'), srcPort: 9001, dst: WAN, dstPort: 5000 }, text('new remote'));
    sched.advance(50);
    expect(lan).toEqual(['one', 'to the mapping']);
    expect(gateway).toEqual(['new remote from C']);
    // Idle past its timeout, the mapping is gone: the port is the gateway's, and the LAN host's next
    // datagram gets another external port.
    sched.advance(10_000);
    b.stack.udp.send({ srcPort: 9000, dst: WAN, dstPort: 5000 }, text('after expiry'));
    sched.advance(50);
    expect(gateway).toEqual(['new remote from C', 'after expiry from B']);
    lanSocket.send(B, 9000, text('two'));
    sched.advance(50);
    expect(seenByB).toHaveLength(2);
    expect(seenByB[1]).not.toBe(5000);
    expect(lan).toEqual(['one', 'to the mapping', 'two']);
    expect(nat.stats.get('localPortAvoided')).toBe(1);
  });
});

describe('NatTable.localUse', () => {
  it('is asked only while a new mapping picks its port, never for a mapping that exists', async () => {
    const { NatTable } = await import('../src/nat/nat-table.js');
    const table = new NatTable({ seed: 7 });
    const asked: number[] = [];
    table.localUse = (_pi, _ifIndex, port) => {
      asked.push(port);
      return port === 5000;
    };
    const m = table.obtain(1, 2, ip('198.18.1.2'), 5000, 0)!;
    table.refresh(m, 0); // the engine does this for every packet it translates
    expect(m.externalPort).not.toBe(5000);
    expect(asked[0]).toBe(5000);
    const n = asked.length;
    for (let i = 0; i < 10; i++) expect(table.obtain(1, 2, ip('198.18.1.2'), 5000, i)).toBe(m);
    expect(asked).toHaveLength(n);
    expect(table.obtain(1, 2, ip('198.18.1.2'), 6000, 0)!.externalPort).toBe(6000);
    expect(asked).toHaveLength(n + 1);
  });
});
