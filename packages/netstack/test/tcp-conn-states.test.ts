import { describe, expect, it } from 'vitest';
import { TcpFlag, emitTcp, parseIpv4, type TcpOption } from '@postern/wire';
import type { TcpConnection, TcpError } from '../src/index.js';
import { A_ADDR, B_ADDR, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** A raw segment from `src` to `dst` for `Tcp.input`. */
function rawSegment(
  src: number,
  dst: number,
  f: {
    srcPort: number;
    dstPort: number;
    seq: number;
    ack?: number;
    flags: number;
    window?: number;
    options?: TcpOption[];
    payload?: Uint8Array;
  },
): Uint8Array {
  const repr = {
    srcPort: f.srcPort,
    dstPort: f.dstPort,
    seq: f.seq >>> 0,
    ack: (f.ack ?? 0) >>> 0,
    flags: f.flags,
    window: f.window ?? 65535,
    urgentPointer: 0,
    options: f.options ?? [],
  };
  const payload = f.payload ?? new Uint8Array(0);
  const optLen =
    (repr.options.reduce(
      (n, o) => n + (o.kind === 'mss' ? 4 : o.kind === 'nop' ? 1 : o.kind === 'timestamps' ? 10 : 0),
      0,
    ) +
      3) &
    ~3;
  const out = new Uint8Array(20 + optLen + payload.byteLength);
  emitTcp(repr, out, src, dst, payload);
  return out;
}

async function established(opts: Parameters<typeof tcpPair>[0] = {}) {
  const pair = await tcpPair({ latencyMs: 1, ...opts });
  const listener = pair.tcpB.listen({ port: 80 });
  const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  pair.sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 5000);
  const server = listener.accept()!;
  return { ...pair, listener, client, server };
}

describe('Tcp state machine', () => {
  it('simultaneous open: both SYN-SENT, both end ESTABLISHED', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const a = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 5000, localPort: 6000 });
    const b = tcpB.connect({ remoteAddress: A_ADDR, remotePort: 6000, localPort: 5000 });
    let connects = 0;
    a.onConnect = () => connects++;
    b.onConnect = () => connects++;
    sched.advance(50);
    expect(a.state).toBe('ESTABLISHED');
    expect(b.state).toBe('ESTABLISHED');
    expect(connects).toBe(2);
    a.write(enc('hello'));
    const sink = new Sink(b, true);
    sched.advance(50);
    expect(sink.text()).toBe('hello');
  });

  it('simultaneous close: both pass CLOSING into TIME-WAIT', async () => {
    const { sched, client, server } = await established();
    client.close();
    server.close();
    expect(client.state).toBe('FIN-WAIT-1');
    expect(server.state).toBe('FIN-WAIT-1');
    sched.advance(20);
    expect(client.state).toBe('TIME-WAIT');
    expect(server.state).toBe('TIME-WAIT');
  });

  it('server closes first (HTTP/1.0): the server holds TIME-WAIT, the client goes through LAST-ACK', async () => {
    const { sched, client, server, tcpA, tcpB } = await established();
    const clientSink = new Sink(client, true);
    server.write(enc('HTTP/1.0 200 OK\r\n\r\nbody'));
    server.close();
    sched.advance(20);
    expect(clientSink.text()).toBe('HTTP/1.0 200 OK\r\n\r\nbody');
    expect(client.readableEnded).toBe(true);
    expect(client.state).toBe('CLOSE-WAIT');
    expect(server.state).toBe('FIN-WAIT-2');
    client.close();
    sched.advance(20);
    expect(client.state).toBe('CLOSED');
    expect(server.state).toBe('TIME-WAIT');
    expect(tcpA.connectionCount).toBe(0);
    sched.advance(60_001);
    expect(server.state).toBe('CLOSED');
    expect(tcpB.connectionCount).toBe(0);
  });

  it('half-close: the client shuts down writing and still receives the whole response', async () => {
    const { sched, client, server } = await established();
    const request = patternBytes(50_000, 9);
    const response = patternBytes(80_000, 10);
    const serverSink = new Sink(server);
    const clientSink = new Sink(client);
    pump(client, request);
    sched.runUntil(() => serverSink.ended, 5000);
    sched.advance(5);
    expect(client.state).toBe('FIN-WAIT-2');
    expect(server.state).toBe('CLOSE-WAIT');
    expect(serverSink.digest()).toBe(sha256(request));
    pump(server, response);
    sched.runUntil(() => clientSink.ended, 5000);
    expect(clientSink.digest()).toBe(sha256(response));
    expect(client.state).toBe('TIME-WAIT');
  });

  it('abort sends RST: the peer gets ECONNRESET and onClose("reset")', async () => {
    const { sched, client, server } = await established();
    const errors: string[] = [];
    const closes: string[] = [];
    client.onError = (e: TcpError) => errors.push(e.code);
    client.onClose = (r) => closes.push(r);
    server.abort();
    expect(server.state).toBe('CLOSED');
    sched.advance(10);
    expect(errors).toEqual(['ECONNRESET']);
    expect(closes).toEqual(['reset']);
    expect(client.state).toBe('CLOSED');
    expect(() => client.write(enc('x'))).toThrow(expect.objectContaining({ code: 'EPIPE' }));
  });

  it('a SYN to a port without listener draws a RST: connect fails with ECONNREFUSED', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 81 });
    let error: string | undefined;
    let reason: string | undefined;
    c.onError = (e) => (error = e.code);
    c.onClose = (r) => (reason = r);
    sched.advance(10);
    expect(error).toBe('ECONNREFUSED');
    expect(reason).toBe('refused');
    expect(tcpB.counters.get('noSocket')).toBe(1);
    expect(tcpB.counters.get('resetsSent')).toBe(1);
  });

  it('RFC 5961: an in-window RST that is not exact and a SYN in ESTABLISHED draw challenge ACKs and change nothing', async () => {
    const { sched, client, tcpA } = await established();
    const t = client.tcb;
    tcpA.input(
      B_ADDR,
      A_ADDR,
      rawSegment(B_ADDR, A_ADDR, { srcPort: 80, dstPort: client.localPort, seq: t.rcvNxt + 100, flags: TcpFlag.RST }),
    );
    tcpA.input(
      B_ADDR,
      A_ADDR,
      rawSegment(B_ADDR, A_ADDR, { srcPort: 80, dstPort: client.localPort, seq: t.rcvNxt + 5, flags: TcpFlag.SYN }),
    );
    sched.advance(5);
    expect(client.state).toBe('ESTABLISHED');
    expect(client.stats.challengeAcks).toBe(2);
    // The exact RST does reset.
    tcpA.input(
      B_ADDR,
      A_ADDR,
      rawSegment(B_ADDR, A_ADDR, { srcPort: 80, dstPort: client.localPort, seq: t.rcvNxt, flags: TcpFlag.RST }),
    );
    expect(client.state).toBe('CLOSED');
    expect(client.closeReason).toBe('reset');
  });

  it('drops segments with a bad checksum and counts them', async () => {
    const { tcpA, client } = await established();
    const seg = rawSegment(B_ADDR, A_ADDR, {
      srcPort: 80,
      dstPort: client.localPort,
      seq: client.tcb.rcvNxt,
      flags: TcpFlag.RST,
    });
    seg[16] = seg[16]! ^ 0xff;
    tcpA.input(B_ADDR, A_ADDR, seg);
    tcpA.input(B_ADDR, A_ADDR, seg.subarray(0, 10));
    expect(client.state).toBe('ESTABLISHED');
    expect(tcpA.counters.get('badChecksum')).toBe(1);
    expect(tcpA.counters.get('malformed')).toBe(1);
  });

  it('RFC 6191: a new SYN with a newer timestamp takes over a TIME-WAIT 4-tuple', async () => {
    const { sched, tcpA, tcpB, listener, client, server } = await established();
    const port = client.localPort;
    server.close();
    sched.advance(10);
    client.close();
    sched.advance(10);
    expect(server.state).toBe('TIME-WAIT');
    expect(client.state).toBe('CLOSED');
    sched.advance(1000);
    const again = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80, localPort: port });
    sched.runUntil(() => again.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 5000);
    expect(again.state).toBe('ESTABLISHED');
    expect(tcpB.counters.get('timeWaitReused')).toBe(1);
    expect(listener.accept()!.remotePort).toBe(port);
  });

  it('TIME-WAIT is recycled oldest-first beyond maxTimeWait', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1, tcpA: { maxTimeWait: 2 } });
    const listener = tcpB.listen({ port: 80 });
    listener.onConnection = (c) => {
      c.onReadable = () => {
        c.read(new Uint8Array(100));
        if (c.readableEnded) c.close();
      };
    };
    for (let i = 0; i < 4; i++) {
      const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
      c.onConnect = () => c.close();
      c.onReadable = () => c.read(new Uint8Array(100));
      sched.advance(20);
      expect(c.state).toBe('TIME-WAIT');
    }
    expect(tcpA.timeWaitCount).toBe(2);
    expect(tcpA.counters.get('timeWaitRecycled')).toBe(2);
  });

  it('retransmits a lost SYN and times out with ETIMEDOUT when nobody answers', async () => {
    const { sched, tcpA, link } = await tcpPair({ latencyMs: 1, tcpA: { synRetries: 3 } });
    link.setLink('down');
    const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    let code: string | undefined;
    c.onError = (e) => (code = e.code);
    sched.advance(1000 + 2000 + 4000 + 8000 + 10);
    expect(code).toBe('ETIMEDOUT');
    expect(c.stats.retransmits).toBe(3);
    expect(tcpA.connectionCount).toBe(0);
  });

  it('data written before the peer reads is kept until accept (data before accept)', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80 });
    const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    c.onConnect = () => {
      c.write(enc('early bytes'));
      c.shutdownWrite();
    };
    sched.advance(50);
    const s = listener.accept()!;
    expect(s.readableLength).toBe(11);
    const sink = new Sink(s, true);
    sink.drain();
    expect(sink.text()).toBe('early bytes');
    expect(sink.ended).toBe(true);
  });
});

describe('Tcp flow control, Nagle and delayed ACK', () => {
  it('zero window: the sender probes, and the transfer completes byte-exact once the reader drains', async () => {
    const { sched, client, server } = await established({ tcpB: { receiveBufferSize: 16_384 } });
    const data = patternBytes(100_000, 3);
    pump(client, data);
    sched.advance(3000);
    // Sender SWS avoidance may leave less than one MSS of the window unused.
    expect(server.readableLength).toBeGreaterThan(16_384 - 1460);
    expect(server.readableLength).toBeLessThanOrEqual(16_384);
    expect(client.tcb.sndWnd).toBe(0);
    expect(client.stats.windowProbes).toBeGreaterThan(0);
    // Every byte sits in the send buffer and the FIN is queued behind them: nothing times out.
    expect(client.state).toBe('FIN-WAIT-1');
    expect(client.stats.timeouts).toBe(0);
    const sink = new Sink(server);
    sink.drain();
    sched.runUntil(() => sink.ended, 60_000);
    expect(sink.digest()).toBe(sha256(data));
  });

  it('request/response with Nagle on: no delayed-ACK stall (each exchange takes about one RTT)', async () => {
    const { sched, client, server } = await established();
    const buf = new Uint8Array(4096);
    server.onReadable = () => {
      const n = server.read(buf);
      if (n > 0) server.write(new Uint8Array(200));
    };
    let responses = 0;
    client.onReadable = () => {
      if (client.read(buf) > 0) responses++;
    };
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = sched.now;
      const before = responses;
      client.write(new Uint8Array(100));
      sched.runUntil(() => responses > before, 1000);
      times.push(sched.now - start);
    }
    expect(Math.max(...times)).toBeLessThan(10);
  });

  it('write-write-read (request in two small writes) does not wait for the delayed-ACK timer', async () => {
    const { sched, client, server } = await established();
    const buf = new Uint8Array(4096);
    let got = 0;
    server.onReadable = () => {
      got += server.read(buf);
      if (got >= 300) {
        got -= 300;
        server.write(new Uint8Array(50));
      }
    };
    let responses = 0;
    client.onReadable = () => {
      if (client.read(buf) > 0) responses++;
    };
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = sched.now;
      const before = responses;
      client.write(new Uint8Array(100));
      client.write(new Uint8Array(200));
      sched.runUntil(() => responses > before, 1000);
      times.push(sched.now - start);
    }
    expect(Math.max(...times)).toBeLessThan(10);
  });

  it('bulk data is acknowledged about every second full segment (delayed ACK), not every segment', async () => {
    const { sched, client, server } = await established();
    const sink = new Sink(server);
    const data = patternBytes(1_000_000, 4);
    pump(client, data, false);
    const acksBefore = server.stats.segmentsOut;
    sched.runUntil(() => sink.received === data.byteLength, 10_000);
    sched.advance(100);
    const dataSegments = Math.ceil(data.byteLength / client.tcb.sendMss);
    const acks = server.stats.segmentsOut - acksBefore;
    expect(sink.digest()).toBe(sha256(data));
    expect(acks).toBeLessThan(dataSegments * 0.7);
    expect(acks).toBeGreaterThan(dataSegments * 0.3);
  });

  it('keep-alive: probes an idle peer and gives up with ETIMEDOUT when it is gone', async () => {
    const { sched, client, link } = await established({
      tcpA: { keepAliveIdleMs: 10_000, keepAliveIntervalMs: 1000, keepAliveProbes: 3 },
    });
    client.setKeepAlive(true);
    sched.advance(30_000);
    expect(client.state).toBe('ESTABLISHED'); // the peer answers the probes
    link.setLink('down');
    let code: string | undefined;
    client.onError = (e) => (code = e.code);
    sched.advance(20_000);
    expect(code).toBe('ETIMEDOUT');
    expect(client.state).toBe('CLOSED');
  });

  it('close() with unread data resets the connection (RFC 2525)', async () => {
    const { sched, client, server } = await established();
    client.write(enc('unread'));
    sched.advance(10);
    expect(server.readableLength).toBe(6);
    let reason: string | undefined;
    client.onClose = (r) => (reason = r);
    server.close();
    sched.advance(10);
    expect(server.state).toBe('CLOSED');
    expect(reason).toBe('reset');
  });
});

describe('Tcp listeners: backlog, accept queue, SYN cookies, many SYNs', () => {
  it('accepts 200 parallel connections', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, backlog: 256, synBacklog: 256 });
    const conns: TcpConnection[] = [];
    for (let i = 0; i < 200; i++) conns.push(tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
    sched.advance(100);
    expect(conns.every((c) => c.state === 'ESTABLISHED')).toBe(true);
    expect(listener.acceptQueue.length).toBe(200);
    expect(new Set(conns.map((c) => c.localPort)).size).toBe(200);
  });

  it('SYN flood: the backlog fills, cookies answer, and a legitimate client still connects and talks', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, synBacklog: 8 });
    for (let i = 0; i < 100; i++) {
      const src = parseIpv4('198.18.0.100') + (i % 50);
      tcpB.input(
        src,
        B_ADDR,
        rawSegment(src, B_ADDR, {
          srcPort: 1000 + i,
          dstPort: 80,
          seq: i * 7919,
          flags: TcpFlag.SYN,
          options: [{ kind: 'mss', value: 1460 }],
        }),
      );
    }
    expect(listener.pendingHandshakes).toBe(8);
    expect(listener.stats.cookiesSent).toBe(92);
    const c = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(50);
    expect(c.state).toBe('ESTABLISHED');
    expect(listener.stats.cookiesAccepted).toBe(1);
    const s = listener.accept()!;
    const data = patternBytes(200_000, 5);
    const sink = new Sink(s);
    pump(c, data);
    sched.runUntil(() => sink.ended, 10_000);
    expect(sink.digest()).toBe(sha256(data));
  });

  it('a forged ACK to a listener is answered with RST and creates nothing', async () => {
    const { tcpB, listener } = await established();
    tcpB.input(
      A_ADDR,
      B_ADDR,
      rawSegment(A_ADDR, B_ADDR, { srcPort: 3333, dstPort: 80, seq: 1, ack: 12345, flags: TcpFlag.ACK }),
    );
    expect(listener.stats.cookiesRejected).toBe(1);
    expect(tcpB.counters.get('resetsSent')).toBe(1);
    expect(tcpB.connectionCount).toBe(1);
  });

  it('SYN backlog without cookies: excess SYNs are dropped and counted', async () => {
    const { tcpB } = await tcpPair({ latencyMs: 1, tcpB: { synCookies: false } });
    const listener = tcpB.listen({ port: 80, synBacklog: 4 });
    for (let i = 0; i < 10; i++) {
      const src = parseIpv4('198.18.0.100');
      tcpB.input(src, B_ADDR, rawSegment(src, B_ADDR, { srcPort: 2000 + i, dstPort: 80, seq: i, flags: TcpFlag.SYN }));
    }
    expect(listener.pendingHandshakes).toBe(4);
    expect(listener.stats.synBacklogDrops).toBe(6);
  });

  it('accept queue bound: handshakes beyond it wait, and complete once the application accepts', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 1 });
    const listener = tcpB.listen({ port: 80, backlog: 2 });
    const conns = [0, 1, 2, 3].map(() => tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
    sched.advance(100);
    expect(listener.acceptQueue.length).toBe(2);
    expect(listener.stats.acceptQueueDrops).toBeGreaterThan(0);
    listener.accept();
    listener.accept();
    sched.runUntil(() => listener.acceptQueue.length === 2, 30_000);
    expect(listener.acceptQueue.length).toBe(2);
    expect(conns.every((c) => c.state === 'ESTABLISHED')).toBe(true);
  });

  it('connection limit: SYNs beyond maxConnections are dropped and counted; connect reports EMFILE', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({
      latencyMs: 1,
      tcpB: { maxConnections: 3 },
      tcpA: { maxConnections: 5 },
    });
    tcpB.listen({ port: 80 });
    for (let i = 0; i < 5; i++) tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(100);
    expect(tcpB.connectionCount).toBe(3);
    expect(tcpB.counters.get('connectionLimit')).toBeGreaterThan(0);
    expect(() => tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 })).toThrow(
      expect.objectContaining({ code: 'EMFILE' }),
    );
  });

  it('send buffer bound: write accepts at most the free space, then onWritable fires', async () => {
    const { sched, client, server } = await established({ tcpA: { sendBufferSize: 10_000 } });
    const first = client.write(new Uint8Array(25_000));
    expect(first).toBe(10_000);
    expect(client.write(new Uint8Array(1))).toBe(0);
    let writable = 0;
    client.onWritable = () => writable++;
    const sink = new Sink(server);
    sched.advance(50);
    expect(writable).toBe(1);
    expect(sink.received).toBe(10_000);
  });

  it('listen rejects a port already listening and bad ports', async () => {
    const { tcpB } = await tcpPair();
    tcpB.listen({ port: 80 });
    expect(() => tcpB.listen({ port: 80 })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    expect(() => tcpB.listen({ port: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
