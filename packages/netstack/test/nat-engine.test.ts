import { describe, expect, it } from 'vitest';
import { NAT_DROPPED, NAT_NOT_MINE, NatEngine, NatError, type NatOptions } from '../src/index.js';
import { ip } from './support/net.js';
import { checksumsValid, echo, icmpError, tcp, u16, u32, udp } from './support/nat-packets.js';

const LAN = 0;
const WAN = 1;
const WAN_ADDR = ip('198.18.2.1');
const CLIENT = ip('198.18.1.2');
const CLIENT2 = ip('198.18.1.3');
const SERVER = ip('198.18.1.10');
const REMOTE = ip('198.18.2.2');
const REMOTE2 = ip('198.18.2.3');
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;

function engine(options: NatOptions = {}): NatEngine {
  const addresses = { addressOf: (i: number) => (i === WAN ? WAN_ADDR : i === LAN ? ip('198.18.1.1') : undefined) };
  return new NatEngine(addresses, { masquerade: [WAN], seed: 7, ...options });
}

/** Sends `p` from the LAN out of the WAN; returns it (translated in place) or undefined when dropped. */
function out(nat: NatEngine, p: Uint8Array, now = 0): Uint8Array | undefined {
  return nat.outbound(p, LAN, WAN, -1, now) ? p : undefined;
}

describe('NatEngine: masquerade', () => {
  it('maps a UDP flow with port preservation and translates the reply back, checksums right', () => {
    const nat = engine();
    const p = out(nat, udp(CLIENT, 5000, REMOTE, 53))!;
    expect([u32(p, 12), u16(p, 20)]).toEqual([WAN_ADDR, 5000]);
    expect(checksumsValid(p)).toBe(true);
    const reply = udp(REMOTE, 53, WAN_ADDR, 5000);
    expect(nat.inbound(reply, 1)).toBe(WAN);
    expect([u32(reply, 16), u16(reply, 22)]).toEqual([CLIENT, 5000]);
    expect(checksumsValid(reply)).toBe(true);
    expect(nat.stats.get('translatedOut')).toBe(1);
    expect(nat.stats.get('translatedIn')).toBe(1);
  });

  it('keeps one mapping per inside endpoint whatever the remote (endpoint-independent), and filters by remote address', () => {
    const nat = engine();
    const a = out(nat, udp(CLIENT, 6000, REMOTE, 53))!;
    const b = out(nat, udp(CLIENT, 6000, REMOTE2, 53))!;
    expect(u16(a, 20)).toBe(u16(b, 20));
    expect(nat.table.dynamicSize).toBe(1);
    // A third address the inside host never sent to cannot use the mapping: delivered locally instead.
    expect(nat.inbound(udp(ip('198.18.2.99'), 53, WAN_ADDR, 6000), 1)).toBe(NAT_NOT_MINE);
    expect(nat.inbound(udp(REMOTE2, 99, WAN_ADDR, 6000), 1)).toBe(WAN);
  });

  it('gives a second inside host with the same port another port of the same range', () => {
    const nat = engine();
    const a = out(nat, udp(CLIENT, 40000, REMOTE, 53))!;
    const b = out(nat, udp(CLIENT2, 40000, REMOTE, 53))!;
    expect(u16(a, 20)).toBe(40000);
    expect(u16(b, 20)).not.toBe(40000);
    expect(u16(b, 20)).toBeGreaterThanOrEqual(1024);
    const c = out(nat, udp(CLIENT, 123, REMOTE, 123))!;
    const d = out(nat, udp(CLIENT2, 123, REMOTE, 123))!;
    expect(u16(c, 20)).toBe(123);
    expect(u16(d, 20)).toBeGreaterThanOrEqual(1);
    expect(u16(d, 20)).toBeLessThan(1024);
    expect(u16(d, 20)).not.toBe(123);
    // Replies reach the right host.
    const r = udp(REMOTE, 53, WAN_ADDR, u16(b, 20));
    expect(nat.inbound(r, 1)).toBe(WAN);
    expect([u32(r, 16), u16(r, 22)]).toEqual([CLIENT2, 40000]);
  });

  it('maps ICMP echo by identifier and translates the reply', () => {
    const nat = engine();
    const req = out(nat, echo(CLIENT, REMOTE, 8, 0x1234))!;
    expect(u32(req, 12)).toBe(WAN_ADDR);
    expect(checksumsValid(req)).toBe(true);
    const rep = echo(REMOTE, WAN_ADDR, 0, u16(req, 24));
    expect(nat.inbound(rep, 5)).toBe(WAN);
    expect([u32(rep, 16), u16(rep, 24)]).toEqual([CLIENT, 0x1234]);
    expect(checksumsValid(rep)).toBe(true);
    // An echo request to the gateway's own address is not NAT's.
    expect(nat.inbound(echo(REMOTE, WAN_ADDR, 8, 77), 6)).toBe(NAT_NOT_MINE);
  });

  it('expires idle mappings by state: UDP after 5 min, ICMP after 60 s, TCP transitory 4 min, established 2 h 4 min', () => {
    const nat = engine();
    out(nat, udp(CLIENT, 7000, REMOTE, 53), 0);
    out(nat, echo(CLIENT, REMOTE, 8, 9), 0);
    out(nat, tcp(CLIENT, 7001, REMOTE, 80, SYN), 0);
    out(nat, tcp(CLIENT, 7002, REMOTE, 80, SYN), 0);
    expect(nat.inbound(tcp(REMOTE, 80, WAN_ADDR, 7002, SYN | ACK), 10)).toBe(WAN);
    out(nat, tcp(CLIENT, 7002, REMOTE, 80, ACK), 20);
    const state = (at: number) =>
      Object.fromEntries(nat.list(at, String).map((m) => [m.internal, m.tcpState ?? m.protocol]));
    expect(nat.list(20, String).find((m) => m.internal.endsWith(':7002'))).toMatchObject({
      tcpState: 'established',
      expiresIn: 7_440_000,
    });
    expect(nat.expire(59_999)).toBe(0);
    expect(nat.expire(60_000)).toBe(1); // ICMP
    expect(nat.expire(240_000)).toBe(1); // TCP transitory (SYN unanswered)
    expect(nat.expire(300_000)).toBe(1); // UDP
    expect(nat.table.dynamicSize).toBe(1);
    expect(state(7_440_019)).toEqual({ '198.18.1.2:7002': 'established' });
    expect(state(7_440_020)).toEqual({});
    // A reply after expiry is no longer translated.
    expect(nat.inbound(udp(REMOTE, 53, WAN_ADDR, 7000), 300_001)).toBe(NAT_NOT_MINE);
  });

  it('a FIN puts an established TCP mapping back on the transitory timeout; traffic refreshes', () => {
    const nat = engine();
    out(nat, tcp(CLIENT, 7100, REMOTE, 80, SYN), 0);
    nat.inbound(tcp(REMOTE, 80, WAN_ADDR, 7100, SYN | ACK), 0);
    out(nat, tcp(CLIENT, 7100, REMOTE, 80, ACK), 0);
    out(nat, tcp(CLIENT, 7100, REMOTE, 80, ACK), 7_000_000);
    expect(nat.expire(7_440_000)).toBe(0);
    out(nat, tcp(CLIENT, 7100, REMOTE, 80, FIN | ACK), 7_100_000);
    expect(nat.list(7_100_000, String)[0]).toMatchObject({ tcpState: 'transitory', expiresIn: 240_000 });
    expect(nat.expire(7_340_000)).toBe(1);
  });

  it('does not make a TCP mapping from a segment without SYN (counted drop)', () => {
    const nat = engine();
    expect(out(nat, tcp(CLIENT, 7200, REMOTE, 80, ACK))).toBeUndefined();
    expect(nat.stats.get('noMapping')).toBe(1);
    expect(nat.table.dynamicSize).toBe(0);
  });

  it('refuses a new mapping when the table is full (counted), keeps the existing ones, and takes one again after expiry', () => {
    const nat = engine({ maxMappings: 2 });
    expect(out(nat, udp(CLIENT, 1, REMOTE, 53), 0)).toBeDefined();
    expect(out(nat, udp(CLIENT, 2, REMOTE, 53), 0)).toBeDefined();
    expect(out(nat, udp(CLIENT, 3, REMOTE, 53), 0)).toBeUndefined();
    expect(nat.stats.get('tableFull')).toBe(1);
    expect(out(nat, udp(CLIENT, 1, REMOTE, 53), 1)).toBeDefined();
    expect(out(nat, udp(CLIENT, 3, REMOTE, 53), 300_000)).toBeDefined();
  });

  it('translates an ICMP error about a mapped UDP flow into the inside, quoted datagram included', () => {
    const nat = engine();
    const sent = out(nat, udp(CLIENT, 5353, REMOTE, 9999, new Uint8Array([5, 6, 7, 8, 9])))!;
    const err = icmpError(REMOTE, WAN_ADDR, 3, 3, sent.slice());
    expect(nat.inbound(err, 1)).toBe(WAN);
    expect(u32(err, 16)).toBe(CLIENT);
    expect(u32(err, 28 + 12)).toBe(CLIENT); // quoted source
    expect(u16(err, 28 + 20)).toBe(5353); // quoted source port
    expect(checksumsValid(err)).toBe(true);
    expect(nat.stats.get('icmpErrorsTranslated')).toBe(1);
  });

  it('translates an ICMP error about a TCP flow quoting only 8 bytes, and one about an echo', () => {
    const nat = engine();
    const syn = out(nat, tcp(CLIENT, 7300, REMOTE, 80, SYN))!;
    const err = icmpError(ip('198.18.2.254'), WAN_ADDR, 11, 0, syn.slice(0, 28));
    expect(nat.inbound(err, 1)).toBe(WAN);
    expect([u32(err, 16), u32(err, 40), u16(err, 48)]).toEqual([CLIENT, CLIENT, 7300]);
    expect(checksumsValid(err)).toBe(true);
    const ping = out(nat, echo(CLIENT, REMOTE, 8, 4242))!;
    const err2 = icmpError(ip('198.18.2.254'), WAN_ADDR, 11, 0, ping.slice());
    expect(nat.inbound(err2, 1)).toBe(WAN);
    expect([u32(err2, 16), u32(err2, 40), u16(err2, 48 + 4)]).toEqual([CLIENT, CLIENT, 4242]);
    expect(checksumsValid(err2)).toBe(true);
  });

  it("translates an inside host's ICMP error about a forwarded flow on its way out", () => {
    const nat = engine({
      portForwards: [{ inIfIndex: WAN, protocol: 'udp', port: 7000, toAddress: SERVER, toPort: 7001 }],
    });
    const inb = udp(REMOTE, 4444, WAN_ADDR, 7000);
    expect(nat.inbound(inb, 0)).toBe(WAN);
    const err = icmpError(SERVER, REMOTE, 3, 3, inb.slice());
    expect(nat.outbound(err, LAN, WAN, -1, 1)).toBe(true);
    expect([u32(err, 12), u32(err, 28 + 16), u16(err, 28 + 22)]).toEqual([WAN_ADDR, WAN_ADDR, 7000]);
    expect(checksumsValid(err)).toBe(true);
  });
});

describe('NatEngine: port forwards and hairpin', () => {
  const forwards: NatOptions = {
    portForwards: [{ inIfIndex: WAN, protocol: 'tcp', port: 8080, toAddress: SERVER, toPort: 80 }],
  };

  it('sends a forwarded port to the inside target from any remote and translates the replies back', () => {
    const nat = engine(forwards);
    const syn = tcp(REMOTE2, 5555, WAN_ADDR, 8080, SYN);
    expect(nat.inbound(syn, 0)).toBe(WAN);
    expect([u32(syn, 16), u16(syn, 22)]).toEqual([SERVER, 80]);
    expect(checksumsValid(syn)).toBe(true);
    const synAck = tcp(SERVER, 80, REMOTE2, 5555, SYN | ACK);
    expect(nat.outbound(synAck, LAN, WAN, -1, 0)).toBe(true);
    expect([u32(synAck, 12), u16(synAck, 20)]).toEqual([WAN_ADDR, 8080]);
    expect(checksumsValid(synAck)).toBe(true);
    // Other ports and the other protocol stay local.
    expect(nat.inbound(tcp(REMOTE2, 5555, WAN_ADDR, 8081, SYN), 0)).toBe(NAT_NOT_MINE);
    expect(nat.inbound(udp(REMOTE2, 5555, WAN_ADDR, 8080), 0)).toBe(NAT_NOT_MINE);
    expect(nat.list(0, String)).toEqual([
      expect.objectContaining({ kind: 'static', externalPort: 8080, internal: '198.18.1.10:80', expiresIn: null }),
    ]);
  });

  it('hairpins an inside client using the external address: both directions through the gateway', () => {
    const nat = engine(forwards);
    const syn = tcp(CLIENT, 4000, WAN_ADDR, 8080, SYN);
    const x = nat.inbound(syn, 0);
    expect(x).toBe(WAN);
    expect(nat.outbound(syn, LAN, LAN, x, 0)).toBe(true);
    expect([u32(syn, 12), u16(syn, 20), u32(syn, 16), u16(syn, 22)]).toEqual([WAN_ADDR, 4000, SERVER, 80]);
    expect(checksumsValid(syn)).toBe(true);
    const synAck = tcp(SERVER, 80, WAN_ADDR, 4000, SYN | ACK);
    const y = nat.inbound(synAck, 0);
    expect(y).toBe(WAN);
    expect(nat.outbound(synAck, LAN, LAN, y, 0)).toBe(true);
    expect([u32(synAck, 12), u16(synAck, 20), u32(synAck, 16), u16(synAck, 22)]).toEqual([
      WAN_ADDR,
      8080,
      CLIENT,
      4000,
    ]);
    expect(checksumsValid(synAck)).toBe(true);
    expect(nat.stats.get('hairpin')).toBe(2);
  });

  it('refuses conflicting port forwards with a typed error', () => {
    expect(() =>
      engine({
        portForwards: [
          forwards.portForwards![0]!,
          { inIfIndex: WAN, protocol: 'tcp', port: 8080, toAddress: CLIENT, toPort: 1 },
        ],
      }),
    ).toThrow(NatError);
  });
});

describe('NatEngine: bad packets are counted drops, never a crash', () => {
  it('drops truncated transport headers both ways', () => {
    const nat = engine();
    const short = udp(CLIENT, 5000, REMOTE, 53).slice(0, 24);
    short[3] = 24; // total length says 24: 4 bytes of UDP header
    expect(nat.outbound(short, LAN, WAN, -1, 0)).toBe(false);
    const shortIn = tcp(REMOTE, 80, WAN_ADDR, 5000, ACK).slice(0, 30);
    shortIn[3] = 30;
    expect(nat.inbound(shortIn, 0)).toBe(NAT_DROPPED);
    const shortIcmp = echo(REMOTE, WAN_ADDR, 0, 1).slice(0, 24);
    shortIcmp[3] = 24;
    expect(nat.inbound(shortIcmp, 0)).toBe(NAT_DROPPED);
    expect(nat.stats.get('truncated')).toBe(3);
  });

  it('drops ICMP errors quoting too little (header cut, or under 8 bytes of transport)', () => {
    const nat = engine();
    const sent = out(nat, udp(CLIENT, 5000, REMOTE, 53))!;
    for (const n of [0, 10, 20, 24, 27]) {
      expect(nat.inbound(icmpError(REMOTE, WAN_ADDR, 3, 3, sent.slice(0, n)), 1)).toBe(NAT_DROPPED);
    }
    const bogus = sent.slice(0, 28);
    bogus[0] = 0x4f; // says a 60-byte quoted header
    expect(nat.inbound(icmpError(REMOTE, WAN_ADDR, 3, 3, bogus), 1)).toBe(NAT_DROPPED);
    expect(nat.stats.get('icmpQuoteShort')).toBe(6);
    expect(nat.outbound(icmpError(CLIENT, REMOTE, 3, 3, sent.slice(0, 12)), LAN, WAN, -1, 2)).toBe(false);
    expect(nat.stats.get('icmpQuoteShort')).toBe(7);
  });

  it('never leaks an inside address: other protocols and fragments out of a masquerade interface are dropped', () => {
    const nat = engine();
    const gre = udp(CLIENT, 1, REMOTE, 2);
    gre[9] = 47;
    expect(nat.outbound(gre, LAN, WAN, -1, 0)).toBe(false);
    const frag = udp(CLIENT, 1, REMOTE, 2);
    frag[6] = 0x20; // more fragments
    expect(nat.outbound(frag, LAN, WAN, -1, 0)).toBe(false);
    expect(nat.stats.get('unsupportedProtocol')).toBe(1);
    expect(nat.stats.get('fragment')).toBe(1);
  });

  it('survives random bytes in every field', () => {
    const nat = engine(forwards());
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 400; i++) {
      const base = [
        udp(CLIENT, 5000, REMOTE, 53),
        tcp(REMOTE, 1, WAN_ADDR, 8080, SYN),
        echo(REMOTE, WAN_ADDR, 0, 1),
        icmpError(REMOTE, WAN_ADDR, 3, 3, udp(WAN_ADDR, 5000, REMOTE, 53)),
      ][i % 4]!;
      for (let k = 0; k < 4; k++) base[20 + (rnd() % (base.length - 20))] = rnd();
      expect(() => nat.outbound(base, LAN, WAN, -1, i)).not.toThrow();
      expect(() => nat.inbound(base, i)).not.toThrow();
    }
  });
});

function forwards(): NatOptions {
  return { portForwards: [{ inIfIndex: WAN, protocol: 'tcp', port: 8080, toAddress: SERVER, toPort: 80 }] };
}

describe('NatEngine: undoing a destination translation (for the errors a refused packet gets)', () => {
  it('restores the external address and port of a reply and of a port-forwarded datagram, checksums right', () => {
    const nat = engine(forwards());
    out(nat, udp(CLIENT, 5000, REMOTE, 53));
    const reply = udp(REMOTE, 53, WAN_ADDR, 5000);
    const sent = reply.slice();
    expect(nat.inbound(reply, 1)).toBe(WAN);
    expect(u32(reply, 16)).toBe(CLIENT);
    expect(nat.revertInbound(reply, WAN, 2)).toBe(true);
    expect(reply).toEqual(sent);
    const forwarded = tcp(REMOTE, 4000, WAN_ADDR, 8080, SYN);
    const original = forwarded.slice();
    expect(nat.inbound(forwarded, 1)).toBe(WAN);
    expect(u32(forwarded, 16)).not.toBe(WAN_ADDR);
    expect(nat.revertInbound(forwarded, WAN, 2)).toBe(true);
    expect(forwarded).toEqual(original);
    expect(checksumsValid(forwarded)).toBe(true);
  });

  it('restores an echo reply, and leaves alone what it has no mapping for, ICMP errors and fragments', () => {
    const nat = engine();
    out(nat, echo(CLIENT, REMOTE, 8, 77));
    const reply = echo(REMOTE, WAN_ADDR, 0, 77);
    const sent = reply.slice();
    expect(nat.inbound(reply, 1)).toBe(WAN);
    expect(nat.revertInbound(reply, WAN, 2)).toBe(true);
    expect(reply).toEqual(sent);
    const stranger = udp(REMOTE, 53, CLIENT2, 9999);
    const strangerCopy = stranger.slice();
    expect(nat.revertInbound(stranger, WAN, 2)).toBe(false);
    expect(stranger).toEqual(strangerCopy);
    const error = icmpError(REMOTE, CLIENT, 3, 3, udp(CLIENT, 5000, REMOTE, 53).slice(0, 28));
    expect(nat.revertInbound(error, WAN, 2)).toBe(false);
    const frag = udp(REMOTE, 53, CLIENT, 5000);
    frag[6] = 0x20;
    expect(nat.revertInbound(frag, WAN, 2)).toBe(false);
    expect(nat.revertInbound(udp(REMOTE, 53, CLIENT, 5000), 5, 2)).toBe(false); // no such interface
  });

  it('names the interfaces whose outgoing fragments need reassembling: masquerade and port-forward ones', () => {
    const nat = engine({
      masquerade: [WAN],
      portForwards: [{ inIfIndex: 2, protocol: 'udp', port: 7000, toAddress: SERVER, toPort: 7000 }],
    });
    expect([nat.translates(WAN), nat.translates(2), nat.translates(LAN)]).toEqual([true, true, false]);
  });
});
