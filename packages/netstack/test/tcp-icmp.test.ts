/**
 * ICMP errors for TCP (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927) and Path MTU discovery (RFC 1191),
 * over real stacks on the virtual clock: a host without TCP (protocol unreachable), a router with
 * no route (net unreachable), a router with a smaller MTU on the far link (fragmentation needed).
 */
import { describe, expect, it } from 'vitest';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
} from '@postern/wire';
import {
  TCP_MIN_PMTU,
  attachTcp,
  classifyIcmpForTcp,
  pmtuFromIcmp,
  type TcpError,
  type TcpIcmpError,
} from '../src/index.js';
import { ip, routed, twoHosts } from './support/net.js';
import { A_ADDR, B_ADDR, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';

describe('classifyIcmpForTcp and pmtuFromIcmp', () => {
  it('classifies codes as RFC 1122 and RFC 5461 say', () => {
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT)).toEqual({
      kind: 'hard',
      code: 'ECONNREFUSED',
    });
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, 2)).toEqual({ kind: 'hard', code: 'ECONNREFUSED' });
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, 13).kind).toBe('hard');
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_NET)).toEqual({ kind: 'soft', code: 'ENETUNREACH' });
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST).kind).toBe('soft');
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED).kind).toBe('pmtu');
    expect(classifyIcmpForTcp(ICMP_TIME_EXCEEDED, 0).kind).toBe('soft');
    expect(classifyIcmpForTcp(4, 0).kind).toBe('ignore'); // source quench (RFC 6633)
    expect(classifyIcmpForTcp(ICMP_DEST_UNREACHABLE, 200).kind).toBe('ignore');
  });

  it('takes the next-hop MTU, a plateau below the quoted length from an old router, and never less than the floor', () => {
    expect(pmtuFromIcmp(1280, 1500)).toBe(1280);
    expect(pmtuFromIcmp(0, 1500)).toBe(1492);
    expect(pmtuFromIcmp(0, 1492)).toBe(1006);
    expect(pmtuFromIcmp(300, 1500)).toBe(TCP_MIN_PMTU);
    expect(pmtuFromIcmp(0, 600)).toBe(TCP_MIN_PMTU);
  });
});

describe('hard and soft ICMP errors', () => {
  it('SYN-SENT + protocol unreachable (a host without TCP): ECONNREFUSED at once, not after the SYN retries', async () => {
    const { sched, a } = await twoHosts();
    const tcp = attachTcp(a.stack); // b has no TCP: it answers protocol unreachable
    const conn = tcp.connect({ remoteAddress: ip('198.18.0.2'), remotePort: 80 });
    const errors: TcpError[] = [];
    conn.onError = (e) => errors.push(e);
    let closed = '';
    conn.onClose = (r) => (closed = r);
    sched.advance(50);
    expect(errors.map((e) => e.code)).toEqual(['ECONNREFUSED']);
    expect(closed).toBe('refused');
    expect(conn.state).toBe('CLOSED');
    expect(tcp.counters.get('icmpHardAborts')).toBe(1);
    expect(tcp.connectionCount).toBe(0);
  });

  it('SYN-SENT + net unreachable (soft): keeps retrying, then reports ENETUNREACH instead of ETIMEDOUT', async () => {
    const { sched, a } = await routed();
    const tcp = attachTcp(a.stack, { synRetries: 2 });
    const conn = tcp.connect({ remoteAddress: ip('198.18.9.9'), remotePort: 80 }); // the router has no route there
    const errors: TcpError[] = [];
    conn.onError = (e) => errors.push(e);
    sched.advance(500);
    expect(conn.state).toBe('SYN-SENT');
    expect(tcp.counters.get('icmpSoftErrors')).toBeGreaterThanOrEqual(1);
    sched.advance(10_000);
    expect(conn.state).toBe('CLOSED');
    expect(errors.map((e) => e.code)).toEqual(['ENETUNREACH']);
    expect(tcp.counters.get('timeouts')).toBe(1);
  });

  it('without any ICMP, the SYN timeout is ETIMEDOUT', async () => {
    const { sched, a, r } = await routed();
    r.stack.forwarding = false; // the router drops silently: no ICMP comes back
    const tcp = attachTcp(a.stack, { synRetries: 2 });
    const conn = tcp.connect({ remoteAddress: ip('198.18.2.2'), remotePort: 80 });
    const errors: TcpError[] = [];
    conn.onError = (e) => errors.push(e);
    sched.advance(20_000);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
  });

  describe('on an established connection', () => {
    async function established(maxRetransmits = 3) {
      const pair = await tcpPair({
        latencyMs: 1,
        faults: {},
        tcpA: { maxRetransmits, rto: { minRtoMs: 200, maxRtoMs: 1000 } },
      });
      const listener = pair.tcpB.listen({ port: 80 });
      const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
      pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
      return { ...pair, client, server: listener.accept()! };
    }
    function report(
      conn: { localPort: number; remotePort: number },
      seq: number,
      type: number,
      code: number,
      nextHopMtu = 0,
    ): TcpIcmpError {
      const t = new Uint8Array(8);
      const v = new DataView(t.buffer);
      v.setUint16(0, conn.localPort);
      v.setUint16(2, conn.remotePort);
      v.setUint32(4, seq >>> 0);
      return { type, code, nextHopMtu, source: A_ADDR, destination: B_ADDR, quotedTotalLength: 1500, transport: t };
    }

    it('a port unreachable is soft: the connection lives on and delivers data', async () => {
      const { sched, tcpA, client, server } = await established();
      const sink = new Sink(server);
      client.write(patternBytes(3000, 1));
      tcpA.icmpError(report(client, client.tcb.sndUna, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT));
      expect(tcpA.counters.get('icmpSoftErrors')).toBe(1);
      sched.advance(100);
      expect(client.state).toBe('ESTABLISHED');
      expect(sink.received).toBe(3000);
    });

    it('a soft error is reported only when the connection then times out, in place of ETIMEDOUT', async () => {
      const { sched, tcpA, client, faultA } = await established();
      const errors: TcpError[] = [];
      client.onError = (e) => errors.push(e);
      faultA!.setLinkDown(true); // nothing of A's reaches B any more
      client.write(patternBytes(2000, 2));
      tcpA.icmpError(report(client, client.tcb.sndUna, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST));
      sched.advance(500);
      expect(errors).toEqual([]);
      expect(client.state).toBe('ESTABLISHED');
      sched.advance(30_000);
      expect(client.state).toBe('CLOSED');
      expect(errors.map((e) => e.code)).toEqual(['ENETUNREACH']);
    });

    it('a soft error older than the last ACK of new data is forgotten: the timeout says ETIMEDOUT', async () => {
      const { sched, tcpA, client, faultA } = await established();
      const errors: TcpError[] = [];
      client.onError = (e) => errors.push(e);
      client.write(patternBytes(2000, 3));
      tcpA.icmpError(report(client, client.tcb.sndUna, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST));
      sched.advance(100); // the data is acknowledged: the path works
      faultA!.setLinkDown(true);
      client.write(patternBytes(2000, 4));
      sched.advance(30_000);
      expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    });

    it('drops errors whose quoted sequence number is outside SND.UNA..SND.NXT (RFC 5927), and unknown connections', async () => {
      const { sched, tcpA, client } = await established();
      client.write(patternBytes(1000, 5));
      const una = client.tcb.sndUna;
      const max = client.tcb.sndMax;
      tcpA.icmpError(report(client, una - 1, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, 600));
      tcpA.icmpError(report(client, max, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, 600));
      tcpA.icmpError(report(client, una + 0x4000_0000, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST));
      tcpA.icmpError(
        report(
          { localPort: client.localPort, remotePort: client.remotePort + 1 },
          una,
          ICMP_DEST_UNREACHABLE,
          ICMP_UNREACH_HOST,
        ),
      );
      tcpA.icmpError({
        ...report(client, una, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST),
        transport: new Uint8Array(4),
      });
      expect(tcpA.counters.get('icmpOutOfWindow')).toBe(3);
      expect(tcpA.counters.get('icmpNoConnection')).toBe(1);
      expect(tcpA.counters.get('icmpMalformed')).toBe(1);
      expect(client.tcb.softError).toBeUndefined();
      expect(client.stats.pathMtu).toBe(1500);
      // In the window, the same message is taken.
      tcpA.icmpError(report(client, una, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_FRAG_NEEDED, 600));
      expect(client.stats.pathMtu).toBe(600);
      sched.advance(100);
      expect(client.bufferedAmount).toBe(0);
    });
  });
});

describe('Path MTU discovery through a router with a smaller far link (RFC 1191)', () => {
  /** A -- R -- B, every link and host at 1500 but the router's side toward B (and toward A, `both`) at `mtu`. */
  async function routedTcp(mtu: number, both = false) {
    const net = await routed();
    net.r2.iface.setMtu(mtu);
    if (both) net.r.iface.setMtu(mtu);
    const tcpA = attachTcp(net.a.stack, { rto: { minRtoMs: 200 } });
    const tcpB = attachTcp(net.b.stack, { rto: { minRtoMs: 200 } });
    return { ...net, tcpA, tcpB };
  }

  it('segments carry DF; the router answers fragmentation needed; the sender lowers its MSS and resends at once', async () => {
    const { sched, r, b, tcpA, tcpB } = await routedTcp(1280);
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: ip('198.18.2.2'), remotePort: 80 });
    sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
    const server = listener.accept()!;
    const sink = new Sink(server);
    const up = patternBytes(300_000, 7);
    pump(client, up);
    sched.runUntil(() => sink.ended, 20_000);
    expect(sink.ended).toBe(true);
    expect(sink.digest()).toBe(sha256(up));
    // DF was set: the router fragmented nothing and sent fragmentation needed instead.
    expect(r.stack.ipCounters.get('fragmentsCreated')).toBe(0);
    expect(r.stack.icmpCounters.get('sentUnreachable')).toBeGreaterThan(0);
    expect(b.stack.reassembler.stats.get('fragments')).toBe(0);
    expect(tcpA.counters.get('pmtuDecreases')).toBe(1);
    expect(client.stats.pathMtu).toBe(1280);
    expect(client.tcb.sendMss).toBe(1280 - 40 - 12);
    // Promptly: the flight went again on the ICMP message, no retransmission timeout was needed.
    expect(client.stats.timeouts).toBe(0);
  });

  it('also works for the reverse direction and for a much smaller link', async () => {
    const { sched, tcpA, tcpB } = await routedTcp(576, true);
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: ip('198.18.2.2'), remotePort: 80 });
    let server: ReturnType<typeof listener.accept>;
    let serverSink: Sink | undefined;
    const down = patternBytes(100_000, 8);
    const up = patternBytes(100_000, 9);
    listener.onConnection = (s) => {
      server = s;
      serverSink = new Sink(s);
      pump(s, down);
    };
    const clientSink = new Sink(client);
    pump(client, up);
    sched.runUntil(() => clientSink.ended && serverSink?.ended === true, 30_000);
    expect(server).toBeDefined();
    expect(clientSink.digest()).toBe(sha256(down));
    expect(serverSink!.digest()).toBe(sha256(up));
    expect(client.stats.pathMtu).toBe(576);
    expect(server!.stats.pathMtu).toBe(576);
    expect(client.stats.timeouts).toBe(0);
    expect(server!.stats.timeouts).toBe(0);
  });
});
