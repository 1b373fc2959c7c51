/**
 * The DNS forwarder, its cache and the stub resolver on the virtual clock (seeded): A (a LAN host)
 * asks R (the gateway: forwarder on its A-side interface, resolver) which asks B (an upstream
 * server written here). TTLs age in the cache and expire; upstream ids and ports are fresh; a
 * spoofed answer is ignored; truncation falls back to TCP; crafted bad queries are refused with
 * the right rcode (or dropped), counted, never thrown.
 */
import {
  DNS_FLAG,
  DNS_PORT,
  DNS_RCODE,
  DNS_TYPE,
  dnsARecords,
  dnsRcode,
  emitDnsQuery,
  encodeDnsName,
  parseDns,
  parseDnsHeader,
} from '@postern/wire';
import { describe, expect, it } from 'vitest';
import { DnsForwarder, DnsLookupError, DnsResolver, attachTcp, type UdpMessageInfo } from '../src/index.js';
import { ip, routed, settle } from './support/net.js';

const UPSTREAM = ip('198.18.2.2');
const GATEWAY = ip('198.18.1.1');
const NAME = 'www.example.test';
const ADDRESS = ip('198.18.2.80');

/** An answer to `query` (parsed) with one A record of `ttl`, or TC set when `truncate`. */
function answer(query: Uint8Array, ttl: number, truncate = false, rcode = 0, records = 1): Uint8Array {
  const q = parseDns(query).questions[0]!;
  const name = encodeDnsName(q.name);
  const questionLength = name.byteLength + 4;
  const count = rcode === 0 && !truncate ? records : 0;
  const out = new Uint8Array(12 + questionLength + count * 16);
  out.set(query.subarray(0, 12 + questionLength));
  const flags = DNS_FLAG.QR | DNS_FLAG.RD | DNS_FLAG.RA | (truncate ? DNS_FLAG.TC : 0) | rcode;
  out[2] = flags >>> 8;
  out[3] = flags & 0xff;
  out[6] = count >>> 8;
  out[7] = count & 0xff;
  out[11] = 0;
  out[10] = 0;
  for (let i = 0; i < count; i++) {
    const at = 12 + questionLength + 16 * i;
    out.set(
      [
        0xc0,
        12,
        0,
        DNS_TYPE.A,
        0,
        1,
        ttl >>> 24,
        (ttl >>> 16) & 0xff,
        (ttl >>> 8) & 0xff,
        ttl & 0xff,
        0,
        4,
        198,
        18,
        2,
        80 + i,
      ],
      at,
    );
  }
  return out;
}

async function topology(
  seed = 13,
  options: { truncate?: boolean; tcp?: boolean; ttl?: number; records?: number } = {},
) {
  const net = await routed({ seed });
  const { sched } = net;
  const upstreamSeen: Array<{ id: number; srcPort: number }> = [];
  let upstreamMute = false;
  net.b.stack.udp.bind(DNS_PORT, undefined, (payload: Uint8Array, info: UdpMessageInfo) => {
    upstreamSeen.push({ id: parseDnsHeader(payload).id, srcPort: info.srcPort });
    if (upstreamMute) return;
    net.b.stack.udp.send(
      { srcPort: DNS_PORT, dst: info.src, dstPort: info.srcPort },
      answer(payload, options.ttl ?? 30, options.truncate ?? false, 0, options.records),
    );
  });
  if (options.tcp) {
    const tcpB = attachTcp(net.b.stack);
    const listener = tcpB.listen({ port: DNS_PORT });
    listener.onConnection = (conn) => {
      const buf = new Uint8Array(1024);
      conn.onReadable = () => {
        const n = conn.read(buf);
        if (n < 2) return;
        const query = buf.slice(2, 2 + ((buf[0]! << 8) | buf[1]!));
        const reply = answer(query, 30);
        const framed = new Uint8Array(2 + reply.byteLength);
        framed[1] = reply.byteLength;
        framed.set(reply, 2);
        conn.write(framed);
        conn.shutdownWrite();
      };
    };
  }
  const forwarder = new DnsForwarder(net.r.stack, { listen: [net.r.iface], upstream: () => [UPSTREAM] });
  const got: Uint8Array[] = [];
  const client = net.a.stack.udp.bind(5353, undefined, (p) => got.push(p.slice()));
  const ask = (bytes: Uint8Array): void => client.send(GATEWAY, DNS_PORT, bytes);
  return { ...net, sched, forwarder, got, ask, upstreamSeen, mute: (m: boolean) => (upstreamMute = m) };
}

describe('DNS forwarder and cache (virtual clock, seeded)', () => {
  it("forwards with a fresh id and source port, answers with the asker's id, then from the cache with aged TTLs until they expire", async () => {
    const t = await topology();
    t.ask(emitDnsQuery({ id: 0x4242, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(50);
    expect(t.got).toHaveLength(1);
    const first = parseDns(t.got[0]!);
    expect(first.header.id).toBe(0x4242);
    expect(dnsARecords(first.answers)).toEqual([ADDRESS]);
    expect(first.answers[0]!.ttl).toBe(30);
    expect(t.upstreamSeen).toHaveLength(1);
    expect(t.upstreamSeen[0]!.id).not.toBe(0x4242);
    expect(t.upstreamSeen[0]!.srcPort).toBeGreaterThanOrEqual(1024);

    t.sched.advance(10_000);
    t.ask(emitDnsQuery({ id: 7, name: 'WWW.Example.TEST', type: DNS_TYPE.A }));
    t.sched.advance(50);
    const cached = parseDns(t.got[1]!);
    expect(cached.header.id).toBe(7);
    expect(cached.answers[0]!.ttl).toBe(20); // 30 s less the whole seconds it spent in the cache
    expect(t.upstreamSeen).toHaveLength(1);
    expect(t.forwarder.cache.list(t.sched.now)).toEqual([
      { name: NAME, type: DNS_TYPE.A, rcode: 0, answers: 1, ttl: 20 },
    ]);

    t.sched.advance(20_000);
    t.ask(emitDnsQuery({ id: 8, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(50);
    expect(t.upstreamSeen).toHaveLength(2);
    expect(t.upstreamSeen[1]!.id).not.toBe(t.upstreamSeen[0]!.id);
    expect(t.upstreamSeen[1]!.srcPort).not.toBe(t.upstreamSeen[0]!.srcPort);
    expect(parseDns(t.got[2]!).answers[0]!.ttl).toBe(30);
    expect(t.forwarder.counters.snapshot()).toMatchObject({
      queries: 3,
      forwarded: 2,
      cacheAnswers: 1,
      upstreamAnswers: 2,
    });
  });

  it('does not cache a TTL of 0, retries on silence and answers SERVFAIL after the last try', async () => {
    const t = await topology(17, { ttl: 0 });
    t.ask(emitDnsQuery({ id: 1, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(50);
    t.ask(emitDnsQuery({ id: 2, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(50);
    expect(t.upstreamSeen).toHaveLength(2);
    t.mute(true);
    t.ask(emitDnsQuery({ id: 3, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(7000);
    expect(t.upstreamSeen).toHaveLength(5);
    const last = parseDns(t.got.at(-1)!);
    expect(last.header.id).toBe(3);
    expect(dnsRcode(last.header.flags)).toBe(DNS_RCODE.SERVFAIL);
    expect(t.forwarder.inFlight).toBe(0);
  });

  it('sends an answer too large for the client as header and question with TC; whole to an EDNS client that takes it', async () => {
    const t = await topology(23, { records: 40 }); // 40 A records: 12 + 22 + 640 bytes
    t.ask(emitDnsQuery({ id: 0x51, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(50);
    const small = parseDns(t.got[0]!);
    expect(small.header.flags & DNS_FLAG.TC).toBe(DNS_FLAG.TC);
    expect(small.header).toMatchObject({ id: 0x51, qdcount: 1, ancount: 0 });
    expect(small.questions[0]!.name).toBe(NAME);
    // The same question with an EDNS OPT record offering 4096 bytes: the whole answer, from the cache.
    const q = emitDnsQuery({ id: 0x52, name: NAME, type: DNS_TYPE.A });
    const edns = new Uint8Array(q.byteLength + 11);
    edns.set(q);
    edns[11] = 1; // arcount
    edns.set([0, 0, DNS_TYPE.OPT, 0x10, 0x00, 0, 0, 0, 0, 0, 0], q.byteLength);
    t.ask(edns);
    t.sched.advance(50);
    expect(parseDns(t.got[1]!).answers).toHaveLength(40);
    expect(t.forwarder.counters.snapshot()).toMatchObject({ truncated: 1, cacheAnswers: 1, forwarded: 1 });
  });

  it('ignores an answer from the wrong port or with the wrong id', async () => {
    const t = await topology();
    t.mute(true);
    t.ask(emitDnsQuery({ id: 1, name: NAME, type: DNS_TYPE.A }));
    t.sched.advance(10);
    const seen = t.upstreamSeen[0]!;
    const query = emitDnsQuery({ id: seen.id, name: NAME, type: DNS_TYPE.A });
    // Wrong source port, then wrong id: both ignored.
    t.b.stack.udp.send({ srcPort: 5300, dst: GATEWAY, dstPort: seen.srcPort }, answer(query, 30));
    t.b.stack.udp.send(
      { srcPort: DNS_PORT, dst: GATEWAY, dstPort: seen.srcPort },
      answer(emitDnsQuery({ id: (seen.id + 1) & 0xffff, name: NAME, type: DNS_TYPE.A }), 30),
    );
    t.sched.advance(10);
    expect(t.forwarder.counters.get('spoofed')).toBe(2);
    expect(t.got).toHaveLength(0);
    t.b.stack.udp.send({ srcPort: DNS_PORT, dst: GATEWAY, dstPort: seen.srcPort }, answer(query, 30));
    t.sched.advance(10);
    expect(t.got).toHaveLength(1);
  });

  it('refuses what is not a standard query: NOTIMP, FORMERR (compression loop, pointer past the end, label too long, two questions), REFUSED; drops runts and responses', async () => {
    const t = await topology();
    const base = emitDnsQuery({ id: 0x99, name: NAME, type: DNS_TYPE.A });
    const withFlags = (f: number): Uint8Array => {
      const q = base.slice();
      q[2] = f >>> 8;
      q[3] = f & 0xff;
      return q;
    };
    const header = (id: number, qd: number): number[] => [id >> 8, id & 0xff, 1, 0, 0, qd, 0, 0, 0, 0, 0, 0];
    const loop = Uint8Array.from([...header(0x10, 1), 0xc0, 12, 0, 1, 0, 1]); // a pointer to itself
    const pastEnd = Uint8Array.from([...header(0x11, 1), 0xc0, 0xff, 0, 1, 0, 1]);
    const longLabel = Uint8Array.from([...header(0x12, 1), 64, ...new Array<number>(64).fill(0x61), 0, 0, 1, 0, 1]);
    const twoQuestions = base.slice();
    twoQuestions[5] = 2;
    const chaos = base.slice();
    chaos[chaos.byteLength - 1] = 3; // class CH
    const cases: Array<[Uint8Array, number]> = [
      [withFlags(2 << 11), DNS_RCODE.NOTIMP],
      [loop, DNS_RCODE.FORMERR],
      [pastEnd, DNS_RCODE.FORMERR],
      [longLabel, DNS_RCODE.FORMERR],
      [twoQuestions, DNS_RCODE.FORMERR],
      [chaos, DNS_RCODE.REFUSED],
    ];
    for (const [q] of cases) {
      t.ask(q);
      t.sched.advance(5);
    }
    t.ask(Uint8Array.of(1, 2, 3, 4, 5)); // a runt
    t.ask(withFlags(DNS_FLAG.QR)); // a response
    t.sched.advance(50);
    expect(t.got.map((g) => dnsRcode(parseDns(g).header.flags))).toEqual(cases.map(([, rcode]) => rcode));
    expect(t.got.map((g) => parseDnsHeader(g).id)).toEqual(cases.map(([q]) => (q[0]! << 8) | q[1]!));
    expect(t.forwarder.counters.snapshot()).toMatchObject({
      queries: 8,
      notimp: 1,
      formerr: 4,
      refused: 1,
      dropped: 2,
      forwarded: 0,
    });
    expect(t.upstreamSeen).toHaveLength(0);
  });
});

describe('DNS stub resolver (virtual clock, seeded)', () => {
  it('resolves A records over UDP', async () => {
    const t = await topology();
    const resolver = new DnsResolver(t.r.stack, { servers: () => [UPSTREAM] });
    const r = await settle(t.sched, resolver.resolve(NAME));
    expect(r.value).toEqual([ADDRESS]);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const t = await topology(19, { truncate: true, tcp: true });
    const resolver = new DnsResolver(t.r.stack, { servers: () => [UPSTREAM], tcp: attachTcp(t.r.stack) });
    const r = await settle(t.sched, resolver.resolve(NAME));
    expect(r.error).toBeUndefined();
    expect(r.value).toEqual([ADDRESS]);
    expect(resolver.counters.snapshot()).toMatchObject({ truncated: 1, tcpQueries: 1, tcpFailed: 0 });
  });

  it('retries through silence and fails with a typed error', async () => {
    const t = await topology();
    t.mute(true);
    const resolver = new DnsResolver(t.r.stack, { servers: () => [UPSTREAM], tries: 3, timeoutMs: 1000 });
    const r = await settle(t.sched, resolver.resolve(NAME));
    expect(r.error).toBeInstanceOf(DnsLookupError);
    expect((r.error as DnsLookupError).code).toBe('FAILED');
    expect(t.upstreamSeen).toHaveLength(3);
    const bad = await settle(t.sched, resolver.resolve(`${'a'.repeat(64)}.test`));
    expect((bad.error as DnsLookupError).code).toBe('BAD_NAME');
  });
});
