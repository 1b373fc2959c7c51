/**
 * The DNS forwarder over TCP (RFC 7766) on the virtual clock (seeded): A (a LAN host) asks R (the
 * gateway: forwarder with TCP on its A-side interface) over TCP port 53; R asks B (an upstream server
 * written here) over UDP, and over TCP when B's UDP answer is truncated. The framing reader on its
 * own (split prefixes, several messages in one read, a bad length); pipelining and answers matched by
 * id; the bounds on connections and on queries per connection; the idle timeout; malformed input
 * resets the connection, counted, never thrown.
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
  TcpFlag,
  type DnsMessage,
} from '@postern/wire';
import { describe, expect, it } from 'vitest';
import {
  DnsForwarder,
  DnsStreamReader,
  attachTcp,
  frameDnsMessage,
  type DnsForwarderOptions,
  type Tcp,
  type TcpCloseReason,
  type TcpListener,
  type UdpMessageInfo,
} from '../src/index.js';
import { ip, routed } from './support/net.js';

const UPSTREAM = ip('198.18.2.2');
const GATEWAY = ip('198.18.1.1');
const GATEWAY_B_SIDE = ip('198.18.2.1');

/** An answer to `query` with `records` A records (198.18.2.80 on), or only header and question with TC when `truncate`. */
function answer(query: Uint8Array, records: number, truncate = false): Uint8Array {
  const q = parseDns(query).questions[0]!;
  const questionLength = encodeDnsName(q.name).byteLength + 4;
  const count = truncate ? 0 : records;
  const out = new Uint8Array(12 + questionLength + count * 16);
  out.set(query.subarray(0, 12 + questionLength));
  const flags = DNS_FLAG.QR | DNS_FLAG.RD | DNS_FLAG.RA | (truncate ? DNS_FLAG.TC : 0);
  out[2] = flags >>> 8;
  out[3] = flags & 0xff;
  out[6] = count >>> 8;
  out[7] = count & 0xff;
  out.fill(0, 8, 12);
  for (let i = 0; i < count; i++) {
    const at = 12 + questionLength + 16 * i;
    out.set([0xc0, 12, 0, DNS_TYPE.A, 0, 1, 0, 0, 0, 30, 0, 4, 198, 18, 2 + (i >> 8), 80 + (i & 0x7f)], at);
  }
  return out;
}

interface Options {
  /** A records per answer (default 1). */
  records?: number;
  /** B's UDP answers carry TC and no records (the whole answer only over TCP). */
  truncate?: boolean;
  /** B's UDP server says nothing. */
  mute?: boolean;
  /** B's UDP server answers names starting with `slow` this late, ms. */
  slowMs?: number;
  forwarder?: Partial<DnsForwarderOptions>;
}

async function topology(seed: number, o: Options = {}) {
  const net = await routed({ seed });
  const { sched } = net;
  const upstreamUdp: number[] = [];
  const upstreamTcp: number[] = [];
  const records = o.records ?? 1;
  net.b.stack.udp.bind(DNS_PORT, undefined, (payload: Uint8Array, info: UdpMessageInfo) => {
    upstreamUdp.push((payload[0]! << 8) | payload[1]!);
    if (o.mute) return;
    const reply = answer(payload, records, o.truncate ?? false);
    const to = { srcPort: DNS_PORT, dst: info.src, dstPort: info.srcPort };
    const send = (): void => net.b.stack.udp.send(to, reply);
    if (o.slowMs !== undefined && parseDns(payload).questions[0]!.name.startsWith('slow')) {
      sched.timerAfter(o.slowMs, send);
    } else send();
  });
  const tcpB = attachTcp(net.b.stack);
  tcpB.listen({ port: DNS_PORT }).onConnection = (conn) => {
    const reader = new DnsStreamReader();
    conn.onReadable = () => {
      for (let v = conn.readView(); v !== undefined; v = conn.readView()) {
        reader.feed(v, (q) => {
          upstreamTcp.push((q[0]! << 8) | q[1]!);
          conn.write(frameDnsMessage(answer(q, records)));
        });
        conn.consume(v.byteLength);
      }
    };
  };
  const tcpR = attachTcp(net.r.stack);
  const forwarder = new DnsForwarder(net.r.stack, {
    listen: [net.r.iface],
    upstream: () => [UPSTREAM],
    tcp: tcpR,
    ...o.forwarder,
  });
  const tcpA = attachTcp(net.a.stack);
  const udpAnswers: Uint8Array[] = [];
  const udpClient = net.a.stack.udp.bind(5353, undefined, (p) => udpAnswers.push(p.slice()));
  return { ...net, sched, forwarder, tcpA, tcpB, tcpR, upstreamUdp, upstreamTcp, udpAnswers, udpClient };
}

/** The flags byte of every TCP segment `driver` is asked to transmit from now on, in order. */
function tcpFlagsSent(driver: { transmit(frame: Uint8Array): boolean }): number[] {
  const flags: number[] = [];
  const inner = driver.transmit.bind(driver);
  driver.transmit = (frame: Uint8Array): boolean => {
    if (frame[12] === 0x08 && frame[13] === 0x00 && frame[14 + 9] === 6) {
      flags.push(frame[14 + (frame[14]! & 0x0f) * 4 + 13]!);
    }
    return inner(frame);
  };
  return flags;
}

/** A DNS-over-TCP client on `tcp`: its answers as they arrive, how it closed. */
function dnsClient(tcp: Tcp, server = GATEWAY) {
  const conn = tcp.connect({ remoteAddress: server, remotePort: DNS_PORT });
  conn.setNoDelay(true);
  const answers: DnsMessage[] = [];
  const reader = new DnsStreamReader();
  const state: { closed?: TcpCloseReason; error?: string; ended: boolean } = { ended: false };
  conn.onReadable = () => {
    for (let v = conn.readView(); v !== undefined; v = conn.readView()) {
      reader.feed(v, (m) => answers.push(parseDns(m)));
      conn.consume(v.byteLength);
    }
    if (conn.readableEnded) state.ended = true;
  };
  conn.onError = (e) => (state.error = e.code);
  conn.onClose = (reason) => (state.closed = reason);
  return { conn, answers, state, send: (bytes: Uint8Array) => conn.write(bytes) };
}

const query = (id: number, name: string): Uint8Array => emitDnsQuery({ id, name, type: DNS_TYPE.A });

describe('DnsStreamReader (DNS over TCP framing)', () => {
  it('cuts messages whatever the read boundaries: a prefix split byte by byte, several messages in one read', () => {
    const a = frameDnsMessage(query(1, 'a.test'));
    const b = frameDnsMessage(query(2, 'bb.test'));
    const c = frameDnsMessage(query(3, 'ccc.test'));
    const stream = new Uint8Array(a.byteLength + b.byteLength + c.byteLength);
    stream.set(a);
    stream.set(b, a.byteLength);
    stream.set(c, a.byteLength + b.byteLength);
    const ids = (cuts: number[]): number[] => {
      const reader = new DnsStreamReader();
      const out: number[] = [];
      let at = 0;
      for (const cut of [...cuts, stream.byteLength]) {
        expect(reader.feed(stream.subarray(at, cut), (m) => out.push(parseDns(m).header.id))).toBe(true);
        at = cut;
      }
      expect(reader.partial).toBe(false);
      return out;
    };
    expect(ids([])).toEqual([1, 2, 3]); // all three in one read
    expect(ids(Array.from({ length: stream.byteLength - 1 }, (_, i) => i + 1))).toEqual([1, 2, 3]); // byte by byte
    expect(ids([1, a.byteLength + 1, a.byteLength + b.byteLength + 1])).toEqual([1, 2, 3]); // every prefix split
    const reader = new DnsStreamReader();
    reader.feed(stream.subarray(0, 5), () => undefined);
    expect(reader.partial).toBe(true);
  });

  it('is malformed at a length below a DNS header and takes nothing after it', () => {
    const reader = new DnsStreamReader();
    const got: Uint8Array[] = [];
    const good = frameDnsMessage(query(7, 'a.test'));
    const bytes = Uint8Array.from([...good, 0, 11, ...good]);
    expect(reader.feed(bytes, (m) => got.push(m))).toBe(false);
    expect(got).toHaveLength(1);
    expect(reader.malformed).toBe(true);
    expect(reader.feed(good, (m) => got.push(m))).toBe(false);
    expect(got).toHaveLength(1);
    expect(() => frameDnsMessage(new Uint8Array(0x10000))).toThrow(RangeError);
  });
});

describe('DNS forwarder over TCP (virtual clock, seeded)', () => {
  it('answers pipelined queries (two in one segment, one with its length prefix split across segments) on one connection, by id, the repeat from the cache', async () => {
    const t = await topology(31);
    const c = dnsClient(t.tcpA);
    t.sched.advance(10);
    const two = Uint8Array.from([
      ...frameDnsMessage(query(0x101, 'one.test')),
      ...frameDnsMessage(query(0x102, 'two.test')),
    ]);
    c.send(two);
    t.sched.advance(1);
    const split = frameDnsMessage(query(0x103, 'one.test'));
    c.send(split.subarray(0, 1));
    t.sched.advance(5);
    c.send(split.subarray(1));
    t.sched.advance(50);
    const byId = new Map(c.answers.map((m) => [m.header.id, m]));
    expect([...byId.keys()].sort()).toEqual([0x101, 0x102, 0x103]);
    for (const m of byId.values()) expect(dnsARecords(m.answers)).toEqual([ip('198.18.2.80')]);
    expect(byId.get(0x102)!.questions[0]!.name).toBe('two.test');
    expect(t.upstreamUdp).toHaveLength(2); // the third from the cache
    expect(t.forwarder.counters.snapshot()).toMatchObject({
      tcpConnections: 1,
      tcpMessages: 3,
      queries: 3,
      cacheAnswers: 1,
      upstreamAnswers: 2,
      tcpMalformed: 0,
    });
    expect(c.state.closed).toBeUndefined();
    expect(t.forwarder.tcpConnections).toBe(1);
  });

  it('answers pipelined queries in the order their answers come, not the order asked (the client matches ids)', async () => {
    const t = await topology(33, { slowMs: 200 });
    const c = dnsClient(t.tcpA);
    t.sched.advance(10);
    c.send(
      Uint8Array.from([...frameDnsMessage(query(0x201, 'slow.test')), ...frameDnsMessage(query(0x202, 'fast.test'))]),
    );
    t.sched.advance(100);
    expect(c.answers.map((m) => m.header.id)).toEqual([0x202]);
    t.sched.advance(200);
    expect(c.answers.map((m) => [m.header.id, m.questions[0]!.name])).toEqual([
      [0x202, 'fast.test'],
      [0x201, 'slow.test'],
    ]);
  });

  it('asks upstream over TCP when its UDP answer is truncated; a UDP client gets TC, asks again over TCP and gets the whole answer from the cache', async () => {
    const t = await topology(37, { records: 40, truncate: true }); // 40 A records: 674 bytes, over 512
    t.udpClient.send(GATEWAY, DNS_PORT, query(0x51, 'big.test'));
    t.sched.advance(100);
    expect(t.upstreamUdp).toHaveLength(1);
    expect(t.upstreamTcp).toEqual([t.upstreamUdp[0]]); // the same query, same upstream id, over TCP
    const udp = parseDns(t.udpAnswers[0]!);
    expect(udp.header.id).toBe(0x51);
    expect(udp.header.flags & DNS_FLAG.TC).toBe(DNS_FLAG.TC);
    expect(udp.answers).toHaveLength(0);
    const c = dnsClient(t.tcpA);
    t.sched.advance(10);
    c.send(frameDnsMessage(query(0x52, 'big.test')));
    t.sched.advance(50);
    expect(c.answers).toHaveLength(1);
    expect(c.answers[0]!.header.id).toBe(0x52);
    expect(c.answers[0]!.header.flags & DNS_FLAG.TC).toBe(0);
    expect(c.answers[0]!.answers).toHaveLength(40);
    expect(t.upstreamUdp).toHaveLength(1);
    expect(t.forwarder.counters.snapshot()).toMatchObject({
      tcpUpstream: 1,
      tcpUpstreamFailed: 0,
      truncated: 1,
      cacheAnswers: 1,
    });
    expect(t.tcpB.connectionCount + t.forwarder.inFlight).toBeLessThanOrEqual(1); // the upstream connection closes
  });

  it('moves on to the next try when the upstream TCP query fails, and answers SERVFAIL after the last', async () => {
    const t = await topology(41, { truncate: true, forwarder: { tries: 2, timeoutMs: 1000 } });
    // The upstream refuses TCP: its listener is gone.
    t.tcpB.shutdown();
    const c = dnsClient(t.tcpA);
    t.sched.advance(10);
    c.send(frameDnsMessage(query(0x61, 'x.test')));
    t.sched.advance(5000);
    expect(c.answers).toHaveLength(1);
    expect(dnsRcode(c.answers[0]!.header.flags)).toBe(DNS_RCODE.SERVFAIL);
    expect(t.upstreamUdp).toHaveLength(2);
    expect(t.forwarder.counters.snapshot()).toMatchObject({ tcpUpstream: 2, tcpUpstreamFailed: 2, servfail: 1 });
    expect(t.forwarder.inFlight).toBe(0);
  });

  it('bounds connections (one beyond is reset) and queries per connection (one beyond is dropped, counted)', async () => {
    const t = await topology(43, { mute: true, forwarder: { maxTcpConnections: 2, maxTcpPendingPerConnection: 2 } });
    const c1 = dnsClient(t.tcpA);
    const c2 = dnsClient(t.tcpA);
    t.sched.advance(10);
    const c3 = dnsClient(t.tcpA);
    t.sched.advance(10);
    expect(c3.state.closed).toBe('reset');
    expect(c1.state.closed).toBeUndefined();
    expect(t.forwarder.counters.get('tcpRefused')).toBe(1);
    expect(t.forwarder.tcpConnections).toBe(2);
    c1.send(
      Uint8Array.from([
        ...frameDnsMessage(query(1, 'a.test')),
        ...frameDnsMessage(query(2, 'b.test')),
        ...frameDnsMessage(query(3, 'c.test')),
      ]),
    );
    t.sched.advance(10);
    expect(t.forwarder.inFlight).toBe(2);
    expect(t.forwarder.counters.snapshot()).toMatchObject({ tcpMessages: 3, tcpDropped: 1 });
    // Closing the connection forgets its queries waiting upstream.
    c1.conn.abort();
    t.sched.advance(10);
    expect(t.forwarder.inFlight).toBe(0);
    expect(t.forwarder.tcpConnections).toBe(1);
    expect(c2.state.closed).toBeUndefined();
  });

  it('closes a connection idle for tcpIdleMs, but not while a query waits upstream', async () => {
    const t = await topology(47, { mute: true, forwarder: { tcpIdleMs: 3000, timeoutMs: 2000, tries: 3 } });
    const idle = dnsClient(t.tcpA);
    const busy = dnsClient(t.tcpA);
    t.sched.advance(10);
    busy.send(frameDnsMessage(query(9, 'slow.test')));
    t.sched.advance(2900);
    expect(idle.state.ended).toBe(false);
    t.sched.advance(200);
    expect(idle.state.ended).toBe(true); // the server's FIN
    expect(busy.state.ended).toBe(false);
    expect(busy.answers).toHaveLength(0);
    t.sched.advance(3000); // three tries of 2 s: SERVFAIL at 6 s
    expect(busy.answers).toHaveLength(1);
    expect(dnsRcode(busy.answers[0]!.header.flags)).toBe(DNS_RCODE.SERVFAIL);
    expect(busy.state.ended).toBe(false);
    t.sched.advance(3100);
    expect(busy.state.ended).toBe(true);
    expect(t.forwarder.counters.get('tcpIdleClosed')).toBe(2);
    expect(t.forwarder.tcpConnections).toBe(0);
  });

  it('resets the connection on malformed input (a length below a header, a response), counted; a bad query gets FORMERR and the connection stays', async () => {
    const t = await topology(53);
    const formerr = dnsClient(t.tcpA);
    const short = dnsClient(t.tcpA);
    const response = dnsClient(t.tcpA);
    t.sched.advance(10);
    const twoQuestions = query(0x77, 'a.test');
    twoQuestions[5] = 2;
    formerr.send(frameDnsMessage(twoQuestions));
    short.send(Uint8Array.of(0, 3, 1, 2, 3));
    const resp = query(0x78, 'a.test');
    resp[2]! |= 0x80;
    response.send(frameDnsMessage(resp));
    t.sched.advance(50);
    expect(formerr.answers.map((m) => [m.header.id, dnsRcode(m.header.flags)])).toEqual([[0x77, DNS_RCODE.FORMERR]]);
    expect(formerr.state.closed).toBeUndefined();
    expect(short.state.closed).toBe('reset');
    expect(response.state.closed).toBe('reset');
    expect(t.forwarder.counters.snapshot()).toMatchObject({ tcpMalformed: 2, formerr: 1, tcpConnections: 3 });
    expect(t.forwarder.tcpConnections).toBe(1);
  });

  it('resets a connection from a peer behind an interface it does not listen on that reached a listened address', async () => {
    const t = await topology(59);
    const c = dnsClient(t.tcpB, GATEWAY); // B's SYN comes in by R's B side, to the A-side address
    t.sched.advance(20);
    expect(c.state.closed).toBe('reset');
    expect(t.forwarder.counters.snapshot()).toMatchObject({ tcpNotListening: 1, tcpConnections: 0 });
  });

  it('listens on the addresses of its interfaces only: a SYN to another address (the B side) gets the stack RST, no SYN-ACK', async () => {
    const t = await topology(60);
    expect(t.forwarder.tcpAddresses).toEqual([GATEWAY]);
    const sent = tcpFlagsSent(t.links[1].a); // what R sends toward B
    const c = dnsClient(t.tcpB, GATEWAY_B_SIDE);
    t.sched.advance(20);
    expect(c.state.closed).toBe('refused');
    expect(sent).toEqual([TcpFlag.RST | TcpFlag.ACK]);
    expect(t.tcpR.counters.snapshot()).toMatchObject({ noSocket: 1, resetsSent: 1, passiveOpens: 0 });
    expect(t.forwarder.counters.snapshot()).toMatchObject({ tcpNotListening: 0, tcpConnections: 0, tcpRefused: 0 });
  });

  it("follows the addresses of its interfaces: one added is listened on, one removed is not (its listener closed); another interface's are never", async () => {
    const t = await topology(62);
    const extra = ip('198.18.3.1');
    t.r.iface.addAddress(extra, 24);
    t.r2.iface.addAddress(ip('198.18.4.1'), 24);
    expect(t.forwarder.tcpAddresses).toEqual([GATEWAY, extra]);
    const before = dnsClient(t.tcpA, extra); // A reaches it through its default route, by R's A side
    t.sched.advance(10);
    before.send(frameDnsMessage(query(0x301, 'one.test')));
    t.sched.advance(50);
    expect(before.answers.map((m) => m.header.id)).toEqual([0x301]);
    const otherSide = dnsClient(t.tcpB, ip('198.18.4.1'));
    t.sched.advance(20);
    expect(otherSide.state.closed).toBe('refused');
    t.r.iface.removeAddress(extra);
    expect(t.forwarder.tcpAddresses).toEqual([GATEWAY]);
    t.r.iface.addAddress(ip('198.18.5.1'), 24);
    expect(t.forwarder.tcpAddresses).toEqual([GATEWAY, ip('198.18.5.1')]);
    // The removed address moved to the B side: a SYN to it from B finds no listener (a stale one would
    // accept, then reset it as tcpNotListening).
    t.r2.iface.addAddress(extra, 24);
    expect(t.forwarder.tcpAddresses).toEqual([GATEWAY, ip('198.18.5.1')]);
    const resets = t.tcpR.counters.snapshot().resetsSent;
    const after = dnsClient(t.tcpB, extra);
    t.sched.advance(20);
    expect(after.state.closed).toBe('refused');
    expect(t.tcpR.counters.snapshot().resetsSent).toBe(resets + 1);
    const added = dnsClient(t.tcpA, ip('198.18.5.1'));
    t.sched.advance(10);
    added.send(frameDnsMessage(query(0x302, 'two.test')));
    t.sched.advance(50);
    expect(added.answers.map((m) => m.header.id)).toEqual([0x302]);
    expect(t.forwarder.counters.snapshot()).toMatchObject({
      tcpConnections: 2,
      tcpNotListening: 0,
      tcpListenFailed: 0,
    });
    t.forwarder.close();
    t.r.iface.addAddress(ip('198.18.6.1'), 24);
    expect(t.forwarder.tcpAddresses).toEqual([]);
  });

  it('counts an address whose port 53 another listener took first and listens there at the next change; a taken address at the start throws', async () => {
    const net = await routed({ seed: 63 });
    const tcpR = attachTcp(net.r.stack);
    const taken = ip('198.18.3.1');
    const squatters: TcpListener[] = [];
    // Registered before the forwarder, this watcher runs first and takes port 53 of the new address.
    net.r.stack.watchAddresses((_iface, address, added) => {
      if (added && address === taken) squatters.push(tcpR.listen({ address, port: DNS_PORT }));
    });
    const options = { listen: [net.r.iface], upstream: () => [UPSTREAM], tcp: tcpR };
    const forwarder = new DnsForwarder(net.r.stack, options);
    net.r.iface.addAddress(taken, 24);
    expect(squatters).toHaveLength(1);
    expect(forwarder.tcpAddresses).toEqual([GATEWAY]);
    expect(forwarder.counters.snapshot()).toMatchObject({ tcpListenFailed: 1 });
    squatters[0]!.close();
    net.r.iface.addAddress(ip('198.18.5.1'), 24);
    expect(forwarder.tcpAddresses).toEqual([GATEWAY, taken, ip('198.18.5.1')]);
    forwarder.close();
    const squatter = tcpR.listen({ address: taken, port: DNS_PORT });
    expect(() => new DnsForwarder(net.r.stack, options)).toThrow(/already listening/);
    expect(tcpR.listen({ address: GATEWAY, port: DNS_PORT })).toBeDefined(); // the failed start kept no listener
    squatter.close();
  });

  it('close() resets the client connections and stops listening', async () => {
    const t = await topology(61);
    const c = dnsClient(t.tcpA);
    t.sched.advance(10);
    t.forwarder.close();
    t.sched.advance(10);
    expect(c.state.closed).toBe('reset');
    const again = dnsClient(t.tcpA);
    t.sched.advance(10);
    expect(again.state.closed).toBe('refused');
  });
});
