import { describe, expect, it } from 'vitest';
import { IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, TcpFlag, parseIpv4 } from '@postern/wire';
import {
  Conntrack,
  FilterError,
  PacketFilter,
  createPacketMeta,
  type PacketMeta,
  type RuleSpec,
} from '../src/index.js';

const ip = parseIpv4;
const LAN = 1;
const WAN = 2;
const client = ip('192.168.1.10');
const server = ip('203.0.113.5');
const router = ip('198.51.100.1');

function tcp(
  src: number,
  dst: number,
  sp: number,
  dp: number,
  flags: number,
  extra: Partial<PacketMeta> = {},
): PacketMeta {
  return createPacketMeta({
    src,
    dst,
    protocol: IP_PROTO_TCP,
    srcPort: sp,
    dstPort: dp,
    tcpFlags: flags,
    length: 60,
    ...extra,
  });
}
function udp(src: number, dst: number, sp: number, dp: number, extra: Partial<PacketMeta> = {}): PacketMeta {
  return createPacketMeta({ src, dst, protocol: IP_PROTO_UDP, srcPort: sp, dstPort: dp, length: 100, ...extra });
}
function icmp(src: number, dst: number, type: number, code: number, extra: Partial<PacketMeta> = {}): PacketMeta {
  return createPacketMeta({ src, dst, protocol: IP_PROTO_ICMP, icmpType: type, icmpCode: code, length: 84, ...extra });
}

/** A stateful gateway: LAN may open anything, WAN gets only replies. */
function gateway(options: ConstructorParameters<typeof PacketFilter>[0] = {}): PacketFilter {
  const f = new PacketFilter({ policies: { forward: 'drop' }, ...options });
  f.appendRule('forward', { states: ['established', 'related'], action: 'accept' });
  f.appendRule('forward', { ifIn: LAN, states: ['new'], action: 'accept' });
  return f;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof FilterError) return e.code;
    throw e;
  }
}

describe('PacketFilter rules', () => {
  it('the first matching rule decides, in order', () => {
    const f = new PacketFilter();
    const drop22 = f.appendRule('input', { protocol: IP_PROTO_TCP, dstPorts: { from: 22, to: 22 }, action: 'drop' });
    const acceptTcp = f.appendRule('input', { protocol: IP_PROTO_TCP, action: 'accept' });
    expect(f.evaluate('input', tcp(client, router, 4000, 22, TcpFlag.SYN), 0)).toMatchObject({
      action: 'drop',
      ruleId: drop22,
      reason: 'rule',
    });
    expect(f.evaluate('input', tcp(client, router, 4000, 80, TcpFlag.SYN), 0)).toMatchObject({
      action: 'accept',
      ruleId: acceptTcp,
    });
    // Insert an accept for 22 ahead of the drop: order changes the outcome.
    const accept22 = f.insertRule(
      'input',
      { protocol: IP_PROTO_TCP, dstPorts: { from: 22, to: 22 }, action: 'accept' },
      0,
    );
    expect(f.evaluate('input', tcp(client, router, 4001, 22, TcpFlag.SYN), 0).ruleId).toBe(accept22);
    expect(f.listRules('input').map((r) => r.id)).toEqual([accept22, drop22, acceptTcp]);
    f.deleteRule(accept22);
    expect(f.evaluate('input', tcp(client, router, 4002, 22, TcpFlag.SYN), 0).ruleId).toBe(drop22);
  });

  it('falls back to the chain policy and counts it', () => {
    const f = new PacketFilter({ policies: { input: 'drop' } });
    f.appendRule('input', { protocol: IP_PROTO_UDP, dstPorts: { from: 53, to: 53 }, action: 'accept' });
    const v = f.evaluate('input', tcp(client, router, 1, 2, TcpFlag.SYN), 0);
    expect(v).toMatchObject({ action: 'drop', reason: 'policy', ruleId: undefined });
    expect(f.policy('input')).toEqual({ policy: 'drop', packets: 1, bytes: 60 });
    expect(f.evaluate('output', tcp(router, client, 1, 2, TcpFlag.SYN), 0).action).toBe('accept');
    f.setPolicy('output', 'drop');
    expect(f.evaluate('output', tcp(router, client, 1, 3, TcpFlag.SYN), 0).action).toBe('drop');
    expect(f.stats.get('dropped')).toBe(2);
    expect(f.stats.get('accepted')).toBe(1);
  });

  it('matches every field', () => {
    const f = new PacketFilter({ policies: { forward: 'drop' } });
    const base: RuleSpec = {
      ifIn: LAN,
      ifOut: WAN,
      src: { prefix: ip('192.168.1.0'), length: 24 },
      dst: { prefix: ip('203.0.113.0'), length: 24 },
      protocol: IP_PROTO_TCP,
      srcPorts: { from: 1024, to: 65535 },
      dstPorts: { from: 80, to: 443 },
      tcpFlags: { mask: TcpFlag.SYN | TcpFlag.ACK, value: TcpFlag.SYN },
      states: ['new'],
      action: 'accept',
    };
    f.appendRule('forward', base);
    const good = () => tcp(client, server, 5000, 443, TcpFlag.SYN, { ifIn: LAN, ifOut: WAN });
    expect(f.evaluate('forward', good(), 0).reason).toBe('rule');
    const variants: Partial<PacketMeta>[] = [
      { ifIn: WAN },
      { ifOut: LAN },
      { src: ip('192.168.2.10') },
      { dst: ip('203.0.114.5') },
      { protocol: IP_PROTO_UDP },
      { srcPort: 1000 },
      { dstPort: 444 },
      { dstPort: 79 },
      { tcpFlags: TcpFlag.SYN | TcpFlag.ACK },
    ];
    for (const v of variants) {
      const m = Object.assign(good(), v);
      expect(f.evaluate('forward', m, 0).reason, JSON.stringify(v)).toBe('policy');
    }
    const g = new PacketFilter({ policies: { input: 'drop' } });
    g.appendRule('input', { protocol: IP_PROTO_ICMP, icmpType: 8, icmpCode: 0, action: 'accept' });
    expect(g.evaluate('input', icmp(client, router, 8, 0, { srcPort: 1 }), 0).action).toBe('accept');
    expect(g.evaluate('input', icmp(client, router, 13, 0), 0).action).toBe('drop');
    expect(g.evaluate('input', icmp(client, router, 8, 1, { srcPort: 2 }), 0).action).toBe('drop');
  });

  it('returns the reject kind for the caller to send', () => {
    const f = new PacketFilter();
    f.appendRule('input', {
      protocol: IP_PROTO_TCP,
      dstPorts: { from: 23, to: 23 },
      action: 'reject',
      rejectWith: { kind: 'tcp-reset' },
    });
    f.appendRule('input', { protocol: IP_PROTO_UDP, action: 'reject' });
    f.appendRule('input', {
      src: { prefix: ip('10.0.0.0'), length: 8 },
      action: 'reject',
      rejectWith: { kind: 'icmp-unreachable', code: 13 },
    });
    expect(f.evaluate('input', tcp(client, router, 1, 23, TcpFlag.SYN), 0).rejectWith).toEqual({ kind: 'tcp-reset' });
    expect(f.evaluate('input', udp(client, router, 1, 9), 0).rejectWith).toEqual({ kind: 'icmp-unreachable', code: 3 });
    expect(f.evaluate('input', tcp(ip('10.1.1.1'), router, 1, 80, TcpFlag.SYN), 0).rejectWith).toEqual({
      kind: 'icmp-unreachable',
      code: 13,
    });
    expect(f.stats.get('rejected')).toBe(3);
    expect(f.conntrack.size).toBe(0); // rejected packets take no table space
  });

  it('counts packets and bytes per rule', () => {
    const f = new PacketFilter();
    const id = f.appendRule('output', { protocol: IP_PROTO_UDP, action: 'accept' });
    f.evaluate('output', udp(router, client, 1, 2, { length: 100 }), 0);
    f.evaluate('output', udp(router, client, 1, 2, { length: 50 }), 1);
    f.evaluate('output', tcp(router, client, 1, 2, TcpFlag.SYN), 2);
    expect(f.listRules('output')).toEqual([
      expect.objectContaining({ id, packets: 2, bytes: 150, position: 0, chain: 'output' }),
    ]);
    expect(f.policy('output').packets).toBe(1);
  });

  it('refuses bad rules with typed errors', () => {
    const f = new PacketFilter({ maxRulesPerChain: 2 });
    expect(codeOf(() => f.appendRule('input', { dstPorts: { from: 1, to: 2 }, action: 'accept' }))).toBe(
      'INVALID_RULE',
    );
    expect(
      codeOf(() => f.appendRule('input', { protocol: IP_PROTO_TCP, dstPorts: { from: 9, to: 2 }, action: 'accept' })),
    ).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('input', { src: { prefix: ip('10.0.0.1'), length: 8 }, action: 'accept' }))).toBe(
      'INVALID_RULE',
    );
    expect(codeOf(() => f.appendRule('input', { src: { prefix: 0, length: 33 }, action: 'accept' }))).toBe(
      'INVALID_RULE',
    );
    expect(codeOf(() => f.appendRule('input', { ifOut: 1, action: 'accept' }))).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('output', { ifIn: 1, action: 'accept' }))).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('input', { icmpType: 8, action: 'accept' }))).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('input', { tcpFlags: { mask: 2, value: 2 }, action: 'accept' }))).toBe(
      'INVALID_RULE',
    );
    expect(
      codeOf(() =>
        f.appendRule('input', { protocol: IP_PROTO_TCP, tcpFlags: { mask: 2, value: 4 }, action: 'accept' }),
      ),
    ).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('input', { action: 'reject', rejectWith: { kind: 'tcp-reset' } }))).toBe(
      'INVALID_RULE',
    );
    expect(
      codeOf(() => f.appendRule('input', { action: 'drop', rejectWith: { kind: 'icmp-unreachable', code: 1 } })),
    ).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('input', { states: ['bogus' as 'new'], action: 'accept' }))).toBe('INVALID_RULE');
    expect(codeOf(() => f.appendRule('nat' as 'input', { action: 'accept' }))).toBe('INVALID_CHAIN');
    expect(codeOf(() => f.insertRule('input', { action: 'accept' }, 5))).toBe('INVALID_RULE');
    expect(codeOf(() => f.deleteRule(999))).toBe('NO_SUCH_RULE');
    expect(codeOf(() => f.setPolicy('input', 'reject' as 'drop'))).toBe('INVALID_POLICY');
    f.appendRule('input', { action: 'accept' });
    f.appendRule('input', { action: 'accept' });
    expect(codeOf(() => f.appendRule('input', { action: 'accept' }))).toBe('CHAIN_FULL');
    expect(f.stats.get('chainFull')).toBe(1);
    expect(f.listRules().length).toBe(2);
  });

  it('accepts everything untracked when disabled', () => {
    const f = new PacketFilter({ policies: { forward: 'drop' } });
    f.enabled = false;
    expect(f.evaluate('forward', tcp(server, client, 80, 5000, TcpFlag.ACK), 0)).toMatchObject({
      action: 'accept',
      reason: 'disabled',
    });
    expect(f.conntrack.size).toBe(0);
  });
});

describe('PacketFilter with connection tracking', () => {
  it('lets TCP replies in only for connections opened from the LAN', () => {
    const f = gateway();
    const out = { ifIn: LAN, ifOut: WAN };
    const back = { ifIn: WAN, ifOut: LAN };
    expect(f.evaluate('forward', tcp(server, client, 80, 5000, TcpFlag.SYN | TcpFlag.ACK, back), 0).action).toBe(
      'drop',
    );
    expect(f.lastState).toBe('invalid');
    expect(f.evaluate('forward', tcp(client, server, 5000, 80, TcpFlag.SYN, out), 0).action).toBe('accept');
    expect(f.lastState).toBe('new');
    expect(f.evaluate('forward', tcp(server, client, 80, 5000, TcpFlag.SYN | TcpFlag.ACK, back), 1).action).toBe(
      'accept',
    );
    expect(f.lastState).toBe('established');
    expect(f.evaluate('forward', tcp(client, server, 5000, 80, TcpFlag.ACK, out), 2).action).toBe('accept');
    expect(f.conntrack.list(2)[0]).toMatchObject({ tcpState: 'established', replied: true, packets: [2, 1] });
    // A new connection from the WAN side is dropped by policy even with a SYN.
    expect(f.evaluate('forward', tcp(server, client, 81, 22, TcpFlag.SYN, back), 3).action).toBe('drop');
    expect(f.lastState).toBe('new');
    // A reply for a different port pair is not related to anything.
    expect(f.evaluate('forward', tcp(server, client, 80, 5001, TcpFlag.ACK, back), 3).action).toBe('drop');
  });

  it('follows the TCP close and reopens a closed connection with a fresh SYN', () => {
    const f = gateway();
    const t = [
      tcp(client, server, 5000, 80, TcpFlag.SYN, { ifIn: LAN }),
      tcp(server, client, 80, 5000, TcpFlag.SYN | TcpFlag.ACK, { ifIn: WAN }),
      tcp(client, server, 5000, 80, TcpFlag.ACK, { ifIn: LAN }),
      tcp(client, server, 5000, 80, TcpFlag.FIN | TcpFlag.ACK, { ifIn: LAN }),
    ];
    const states = t.map((m, i) => (f.evaluate('forward', m, i), f.conntrack.list(i)[0]!.tcpState));
    expect(states).toEqual(['syn-sent', 'syn-recv', 'established', 'fin-wait']);
    f.evaluate('forward', tcp(server, client, 80, 5000, TcpFlag.FIN | TcpFlag.ACK, { ifIn: WAN }), 5);
    expect(f.conntrack.list(5)[0]!.tcpState).toBe('time-wait');
    expect(f.conntrack.list(5)[0]!.expiresIn).toBe(f.conntrack.timeouts.tcpTimeWait);
    f.evaluate('forward', tcp(client, server, 5000, 80, TcpFlag.SYN, { ifIn: LAN }), 6);
    expect(f.lastState).toBe('new');
    expect(f.conntrack.list(6)[0]).toMatchObject({ tcpState: 'syn-sent', replied: false });
    expect(f.conntrack.stats.get('reopened')).toBe(1);
    f.evaluate('forward', tcp(server, client, 80, 5000, TcpFlag.RST, { ifIn: WAN }), 7);
    expect(f.conntrack.list(7)[0]).toMatchObject({ tcpState: 'closed', expiresIn: f.conntrack.timeouts.tcpClosed });
  });

  it('tracks UDP with its unreplied and replied timeouts', () => {
    const f = gateway();
    f.evaluate('forward', udp(client, server, 3000, 53, { ifIn: LAN }), 0);
    expect(f.conntrack.list(0)[0]!.expiresIn).toBe(30_000);
    expect(f.evaluate('forward', udp(server, client, 53, 3000, { ifIn: WAN }), 29_999).action).toBe('accept');
    expect(f.conntrack.list(29_999)[0]!.expiresIn).toBe(120_000);
    // Idle past the replied timeout: the reply path closes again.
    expect(f.evaluate('forward', udp(server, client, 53, 3000, { ifIn: WAN }), 29_999 + 120_000).action).toBe('drop');
    expect(f.conntrack.stats.get('expired')).toBe(1);
  });

  it('an unreplied UDP flow expires at its timeout', () => {
    const f = gateway();
    f.evaluate('forward', udp(client, server, 3000, 53, { ifIn: LAN }), 0);
    expect(f.evaluate('forward', udp(server, client, 53, 3000, { ifIn: WAN }), 30_000).action).toBe('drop');
  });

  it('tracks ICMP echo by identifier and refuses unsolicited replies', () => {
    const f = gateway();
    expect(f.evaluate('forward', icmp(server, client, 0, 0, { srcPort: 77, ifIn: WAN }), 0).action).toBe('drop');
    expect(f.lastState).toBe('invalid');
    f.evaluate('forward', icmp(client, server, 8, 0, { srcPort: 77, ifIn: LAN }), 1);
    expect(f.evaluate('forward', icmp(server, client, 0, 0, { srcPort: 78, ifIn: WAN }), 2).action).toBe('drop');
    expect(f.evaluate('forward', icmp(server, client, 0, 0, { srcPort: 77, ifIn: WAN }), 2).action).toBe('accept');
    expect(f.lastState).toBe('established');
    // An echo request from the far side with the same identifier is not a reply.
    expect(f.evaluate('forward', icmp(server, client, 8, 0, { srcPort: 77, ifIn: WAN }), 3).action).toBe('drop');
  });

  it('accepts ICMP errors quoting a tracked connection as related, and nothing else', () => {
    const f = gateway();
    f.evaluate('forward', udp(client, server, 3000, 33434, { ifIn: LAN }), 0);
    const quoting = (sp: number) =>
      icmp(router, client, 11, 0, {
        ifIn: WAN,
        innerSrc: client,
        innerDst: server,
        innerProtocol: IP_PROTO_UDP,
        innerSrcPort: sp,
        innerDstPort: 33434,
      });
    expect(f.evaluate('forward', quoting(3000), 1).action).toBe('accept');
    expect(f.lastState).toBe('related');
    expect(f.evaluate('forward', quoting(3001), 1).action).toBe('drop');
    expect(f.lastState).toBe('invalid');
    expect(f.evaluate('forward', icmp(router, client, 3, 1, { ifIn: WAN }), 1).action).toBe('drop'); // nothing quoted
    // A related packet does not create or refresh anything.
    expect(f.conntrack.size).toBe(1);
    expect(f.conntrack.stats.get('related')).toBe(1);
    // An error quoting a ping we sent is related too.
    f.evaluate('forward', icmp(client, server, 8, 0, { srcPort: 9, ifIn: LAN }), 2);
    const aboutPing = icmp(router, client, 3, 1, {
      ifIn: WAN,
      innerSrc: client,
      innerDst: server,
      innerProtocol: IP_PROTO_ICMP,
      innerSrcPort: 9,
      innerDstPort: 0,
    });
    expect(f.evaluate('forward', aboutPing, 3).action).toBe('accept');
  });

  it('drops packets the tracker cannot take and evicts unreplied connections first', () => {
    const f = gateway({ conntrack: { maxConnections: 3, evictionScan: 8 } });
    const open = (port: number, now: number) =>
      f.evaluate('forward', udp(client, server, port, 53, { ifIn: LAN }), now);
    const reply = (port: number, now: number) =>
      f.evaluate('forward', udp(server, client, 53, port, { ifIn: WAN }), now);
    open(1, 0);
    open(2, 1);
    reply(1, 2);
    reply(2, 2);
    open(3, 3);
    // Full: the new flow 4 evicts 3, the only one never replied.
    expect(open(4, 4).action).toBe('accept');
    expect(f.conntrack.stats.get('evicted')).toBe(1);
    expect(reply(3, 5).action).toBe('drop');
    reply(4, 5);
    // Every connection replied: a new one is refused, established ones stay.
    expect(open(5, 6)).toMatchObject({ action: 'drop', reason: 'conntrack-full' });
    expect(f.conntrack.stats.get('tableFull')).toBe(1);
    expect(f.stats.get('conntrackFull')).toBe(1);
    for (const p of [1, 2, 4]) expect(reply(p, 7).action).toBe('accept');
    // Once entries expire a new one fits again.
    expect(open(6, 7 + 120_000).action).toBe('accept');
  });

  it('expire() reclaims idle connections', () => {
    const ct = new Conntrack();
    const f = new PacketFilter({ conntrack: ct });
    for (let p = 1; p <= 10; p++) f.evaluate('output', udp(router, server, p, 53), p);
    expect(ct.size).toBe(10);
    expect(ct.expire(30_005)).toBe(5);
    expect(ct.size).toBe(5);
    expect(ct.list(30_005).map((c) => c.srcPort)).toEqual([6, 7, 8, 9, 10]);
    expect(Conntrack.describe(ct.list(30_005)[0]!)).toContain('198.51.100.1:6 -> 203.0.113.5:53');
  });

  it('keeps connections apart under hash collisions (many flows, one seed)', () => {
    const ct = new Conntrack({ hashSeed: 12345, maxConnections: 5000 });
    const f = new PacketFilter({ conntrack: ct, policies: { input: 'drop' } });
    f.appendRule('input', { states: ['established'], action: 'accept' });
    for (let p = 0; p < 2000; p++) f.evaluate('output', udp(router, server, 10_000 + p, 53), 0);
    let ok = 0;
    for (let p = 0; p < 2000; p++)
      if (f.evaluate('input', udp(server, router, 53, 10_000 + p), 1).action === 'accept') ok++;
    expect(ok).toBe(2000);
    expect(f.evaluate('input', udp(server, router, 53, 9_999), 1).action).toBe('drop');
    expect(f.evaluate('input', udp(server, router, 54, 10_000), 1).action).toBe('drop');
  });
});
