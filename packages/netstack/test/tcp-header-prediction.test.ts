/**
 * Header prediction (src/tcp/header-prediction.ts). The decisive test: the same seeded runs on the
 * virtual clock (keep-alive exchanges, bulk both ways, loss, reordering and duplication through the
 * fault-injecting drivers; CUBIC and BBR) with the predicted path on and off send the same frames
 * byte for byte, in the same order, and end with the same module counters, connection statistics and
 * received bytes; with it on, both predicted kinds were taken. Then each exit of `predict`: a
 * segment of each kind is predicted on an established connection, and changing any one condition
 * sends it to the full path.
 */
import { describe, expect, it, vi } from 'vitest';
import type { FaultInjectionOptions } from '@postern/nic';
import { TcpFlag, emitTcp, type TcpOption } from '@postern/wire';
import type { TcpCongestionName, TcpConnection } from '../src/index.js';
import { Prediction, predict } from '../src/tcp/header-prediction.js';
import { Segment } from '../src/tcp/segment.js';
import type { Tcb } from '../src/tcp/tcb.js';
import { recordTransmit } from './support/frame-record.js';
import { A_ADDR, B_ADDR, Sink, patternBytes, pump, tcpPair } from './support/tcp-net.js';

/** Segments the predicted path took, by kind (counted around the real function). */
const taken = vi.hoisted(() => ({ ack: 0, data: 0 }));

vi.mock('../src/tcp/header-prediction.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/tcp/header-prediction.js')>();
  return {
    ...real,
    predictedArrives: (...args: Parameters<typeof real.predictedArrives>): boolean => {
      const kind = real.predict(args[1], args[2]);
      const done = real.predictedArrives(...args);
      if (done && kind === real.Prediction.ACK) taken.ack++;
      if (done && kind === real.Prediction.DATA) taken.data++;
      return done;
    },
  };
});

interface Scenario {
  readonly name: string;
  readonly faults?: FaultInjectionOptions;
  /** Request/response exchanges on one connection (keep-alive), each way `request`/`response` bytes. */
  readonly exchanges?: number;
  /** Bytes each way written at once (bulk), when no exchanges. */
  readonly bulk?: number;
  /** Receive buffer of every connection, bytes (default the module's). */
  readonly receiveBufferSize?: number;
  /**
   * TCP keep-alive (SO_KEEPALIVE) on both ends with this idle time, probes every `intervalMs`; the
   * client waits `pauseMs` before every `pauseEvery`-th request, so probes go and are answered.
   */
  readonly keepAlive?: { idleMs: number; intervalMs: number; pauseEvery: number; pauseMs: number };
}

const REQUEST = 120;
const RESPONSE = 420;

/** One seeded run; everything that must not depend on the predicted path, as plain data. */
async function run(scenario: Scenario, congestion: TcpCongestionName, headerPrediction: boolean) {
  const seed = 1717;
  const tcpOptions = {
    congestion,
    headerPrediction,
    rto: { minRtoMs: 200 },
    ...(scenario.receiveBufferSize === undefined ? {} : { receiveBufferSize: scenario.receiveBufferSize }),
    ...(scenario.keepAlive === undefined ? {} : { keepAliveIntervalMs: scenario.keepAlive.intervalMs }),
  };
  const pair = await tcpPair({ seed, latencyMs: 1, faults: scenario.faults, tcpA: tcpOptions, tcpB: tcpOptions });
  const { sched, tcpA, tcpB, link } = pair;
  const frames = [recordTransmit(pair.faultA ?? link.a), recordTransmit(pair.faultB ?? link.b)];
  const listener = tcpB.listen({ port: 8080 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 8080 });
  let server: TcpConnection | undefined;
  let serverSink: Sink | undefined;
  const clientSink = new Sink(client);
  let done: () => boolean;
  const keepAlive = scenario.keepAlive;
  if (keepAlive !== undefined) client.setKeepAlive(true, keepAlive.idleMs);
  if (scenario.exchanges !== undefined) {
    const exchanges = scenario.exchanges;
    let answered = 0;
    let requested = 0;
    const request = patternBytes(REQUEST, 11);
    const response = patternBytes(RESPONSE, 12);
    const ask = (): void => {
      requested++;
      pump(client, request, requested === exchanges);
    };
    client.onConnect = ask;
    listener.onConnection = (conn) => {
      server = conn;
      if (keepAlive !== undefined) conn.setKeepAlive(true, keepAlive.idleMs);
      serverSink = new Sink(conn);
      conn.onReadable = () => {
        serverSink!.drain();
        while (serverSink!.received >= (answered + 1) * REQUEST) {
          answered++;
          pump(conn, response, answered === exchanges);
        }
      };
    };
    clientSink.conn.onReadable = () => {
      clientSink.drain();
      if (clientSink.received !== requested * RESPONSE || requested >= exchanges) return;
      if (keepAlive !== undefined && (requested + 1) % keepAlive.pauseEvery === 0)
        sched.timerAfter(keepAlive.pauseMs, ask);
      else ask();
    };
    done = () => clientSink.ended && serverSink !== undefined && serverSink.ended;
  } else {
    const up = patternBytes(scenario.bulk!, 21);
    const down = patternBytes(scenario.bulk!, 22);
    listener.onConnection = (conn) => {
      server = conn;
      serverSink = new Sink(conn);
      pump(conn, down);
    };
    pump(client, up);
    done = () => clientSink.ended && serverSink !== undefined && serverSink.ended;
  }
  const finished = sched.runUntil(done, 600_000);
  return {
    keepAliveProbes: frames.map((f) => f.probes()),
    finished,
    virtualMs: sched.now,
    frames: frames.map((f) => [f.count(), f.digest()]),
    countersA: tcpA.counters.snapshot(),
    countersB: tcpB.counters.snapshot(),
    clientStats: { ...client.stats },
    serverStats: { ...server?.stats },
    received: [clientSink.received, clientSink.digest(), serverSink?.received, serverSink?.digest()],
  };
}

describe('header prediction: the same frames and counters as the full path', () => {
  const scenarios: Scenario[] = [
    { name: 'keep-alive, 300 exchanges', exchanges: 300 },
    { name: 'bulk, 2 MiB each way', bulk: 2 * 1024 * 1024 },
    // A window this small moves with almost every segment.
    { name: 'bulk, 8 KiB receive buffers', bulk: 512 * 1024, receiveBufferSize: 8192 },
    { name: 'bulk, 2% loss', bulk: 1024 * 1024, faults: { lossRate: 0.02 } },
    { name: 'keep-alive, 3% loss', exchanges: 200, faults: { lossRate: 0.03 } },
    // SO_KEEPALIVE on both ends: every tenth request comes after an idle period that probes fill.
    {
      name: 'keep-alive with SO_KEEPALIVE probes in idle periods',
      exchanges: 100,
      keepAlive: { idleMs: 1000, intervalMs: 400, pauseEvery: 10, pauseMs: 2500 },
    },
    {
      name: 'keep-alive with SO_KEEPALIVE probes in idle periods, 3% loss',
      exchanges: 100,
      faults: { lossRate: 0.03 },
      keepAlive: { idleMs: 1000, intervalMs: 400, pauseEvery: 10, pauseMs: 2500 },
    },
    {
      name: 'bulk, reordering and duplication',
      bulk: 1024 * 1024,
      faults: { reorderRate: 0.05, duplicateRate: 0.01, lossRate: 0.005 },
    },
  ];
  for (const scenario of scenarios) {
    for (const congestion of ['cubic', 'bbr'] as const) {
      it(`${scenario.name}, ${congestion}`, async () => {
        taken.ack = 0;
        taken.data = 0;
        const predicted = await run(scenario, congestion, true);
        const predictedTaken = { ...taken };
        taken.ack = 0;
        taken.data = 0;
        const full = await run(scenario, congestion, false);
        expect(predicted.finished).toBe(true);
        expect(taken).toEqual({ ack: 0, data: 0 });
        // Keep-alive: every request and response carries the ACK of the other (no pure ACK to predict).
        if (scenario.bulk !== undefined) expect(predictedTaken.ack).toBeGreaterThan(0);
        const steady = scenario.faults === undefined && scenario.exchanges !== undefined;
        // Without faults nearly every request and response is predicted.
        expect(predictedTaken.data).toBeGreaterThan(steady ? 2 * scenario.exchanges! - 10 : 0);
        // SO_KEEPALIVE: both ends probed in the idle periods (none without it).
        for (const n of predicted.keepAliveProbes) {
          if (scenario.keepAlive === undefined) expect(n).toBe(0);
          else expect(n).toBeGreaterThanOrEqual(scenario.exchanges! / scenario.keepAlive.pauseEvery - 1);
        }
        expect(predicted).toEqual(full);
      }, 120_000);
    }
  }
});

// ------------------------------------------------------------ each exit of predict

const PAYLOAD = patternBytes(200, 5);

/** A connection pair after a few exchanges, with 300 bytes of the client's in flight (unacknowledged). */
async function established(receiveBufferSize?: number) {
  const { sched, tcpA, tcpB } = await tcpPair({ seed: 3 });
  const listener = tcpB.listen({ port: 7 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 7, receiveBufferSize });
  let server: TcpConnection | undefined;
  listener.onConnection = (conn) => {
    server = conn;
    new Sink(conn);
  };
  new Sink(client);
  sched.runUntil(() => server !== undefined && client.state === 'ESTABLISHED', 10_000);
  for (let i = 0; i < 3; i++) {
    client.write(PAYLOAD);
    server!.write(PAYLOAD);
    sched.runUntilIdle(500);
  }
  client.write(patternBytes(300, 6));
  return client.tcb;
}

interface SegmentFields {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: TcpOption[];
  payload: Uint8Array;
}

/** What the peer would send next: a pure ACK of 100 new bytes, or in-order data acknowledging nothing new. */
function nextFromPeer(tcb: Tcb, kind: 'ack' | 'data'): SegmentFields {
  return {
    seq: tcb.rcvNxt,
    ack: kind === 'ack' ? (tcb.sndUna + 100) >>> 0 : tcb.sndUna,
    flags: TcpFlag.ACK | (kind === 'data' ? TcpFlag.PSH : 0),
    window: tcb.sndWnd >>> tcb.sndWndShift,
    options: tcb.tsEnabled
      ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: tcb.tsRecent + 1, tsEcr: 1 }]
      : [],
    payload: kind === 'data' ? PAYLOAD : new Uint8Array(0),
  };
}

function segmentOf(f: SegmentFields): Segment {
  const buffer = new Uint8Array(60 + f.payload.byteLength);
  const length = emitTcp(
    {
      srcPort: 7,
      dstPort: 40_000,
      seq: f.seq,
      ack: f.ack,
      flags: f.flags,
      window: f.window,
      urgentPointer: 0,
      options: f.options,
    },
    buffer,
    B_ADDR,
    A_ADDR,
    f.payload,
  );
  const seg = new Segment();
  expect(seg.fillCommon(buffer.subarray(0, length), B_ADDR, A_ADDR)).toBe(true);
  return seg;
}

describe('predict: each exit to the full path', () => {
  it('an established connection predicts both kinds (timestamps and SACK in use)', async () => {
    const tcb = await established();
    expect(tcb.tsEnabled && tcb.sackEnabled).toBe(true);
    expect(predict(tcb, segmentOf(nextFromPeer(tcb, 'ack')))).toBe(Prediction.ACK);
    expect(predict(tcb, segmentOf(nextFromPeer(tcb, 'data')))).toBe(Prediction.DATA);
    // A request that acknowledges the previous response: text with an ACK of new data.
    const request = nextFromPeer(tcb, 'data');
    request.ack = tcb.sndMax;
    expect(predict(tcb, segmentOf(request))).toBe(Prediction.DATA);
    // A window that moved (a Linux client's does on many requests) does not matter.
    request.window -= 3;
    expect(predict(tcb, segmentOf(request))).toBe(Prediction.DATA);
  });

  const segmentExits: Array<[string, 'ack' | 'data', (f: SegmentFields, tcb: Tcb) => void]> = [
    ['FIN', 'data', (f) => (f.flags |= TcpFlag.FIN)],
    ['SYN', 'ack', (f) => (f.flags |= TcpFlag.SYN)],
    ['RST', 'ack', (f) => (f.flags |= TcpFlag.RST)],
    ['URG', 'data', (f) => (f.flags |= TcpFlag.URG)],
    ['ECE', 'ack', (f) => (f.flags |= TcpFlag.ECE)],
    ['no ACK bit', 'data', (f) => (f.flags &= ~TcpFlag.ACK)],
    ['SEQ above RCV.NXT (out of order)', 'data', (f) => (f.seq = (f.seq + 1) >>> 0)],
    ['SEQ below RCV.NXT (a retransmission)', 'data', (f) => (f.seq = (f.seq - 1) >>> 0)],
    ['SEQ off on a pure ACK', 'ack', (f) => (f.seq = (f.seq + 1) >>> 0)],
    ['no timestamps on a timestamp connection', 'ack', (f) => (f.options = [])],
    [
      'a TSval older than TS.Recent (PAWS)',
      'data',
      (f, tcb) =>
        (f.options = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: tcb.tsRecent - 1, tsEcr: 1 }]),
    ],
    ['a duplicate ACK (SEG.ACK = SND.UNA, no text)', 'ack', (f, tcb) => (f.ack = tcb.sndUna)],
    ['an ACK of data never sent', 'ack', (f, tcb) => (f.ack = (tcb.sndMax + 1) >>> 0)],
    ['an old ACK', 'ack', (f, tcb) => (f.ack = (tcb.sndUna - 1) >>> 0)],
    ['text with an old ACK', 'data', (f, tcb) => (f.ack = (tcb.sndUna - 1) >>> 0)],
    ['text with an ACK of data never sent', 'data', (f, tcb) => (f.ack = (tcb.sndMax + 1) >>> 0)],
  ];
  for (const [name, kind, change] of segmentExits) {
    it(`segment: ${name}`, async () => {
      const tcb = await established();
      const fields = nextFromPeer(tcb, kind);
      change(fields, tcb);
      expect(predict(tcb, segmentOf(fields))).toBe(Prediction.NONE);
    });
  }

  it('segment: a SACK block', async () => {
    const tcb = await established();
    const seg = segmentOf(nextFromPeer(tcb, 'ack'));
    seg.options.sackBlockCount = 1;
    expect(predict(tcb, seg)).toBe(Prediction.NONE);
  });

  const connectionExits: Array<[string, 'ack' | 'data', (tcb: Tcb) => void]> = [
    ['not ESTABLISHED (CLOSE-WAIT)', 'ack', (tcb) => (tcb.state = 'CLOSE-WAIT')],
    ['in recovery', 'ack', (tcb) => (tcb.inRecovery = true)],
    ['an undo armed', 'data', (tcb) => (tcb.undoArmed = true)],
    ['F-RTO at work', 'ack', (tcb) => (tcb.frtoStep = 2)],
    ['a tail loss probe awaiting its verdict', 'ack', (tcb) => (tcb.tlpRetransPending = true)],
    ['our FIN sent', 'ack', (tcb) => (tcb.finSent = true)],
    ['a FIN of the peer waiting for bytes before it', 'data', (tcb) => (tcb.pendingPeerFin = (tcb.rcvNxt + 500) >>> 0)],
    ['the application closed (text would draw a RST)', 'data', (tcb) => (tcb.appClosed = true)],
    ['no receive window left', 'data', (tcb) => (tcb.rcvAdvRight = tcb.rcvNxt)],
    ['bytes held out of order', 'data', (tcb) => tcb.recvBuffer.insert(1000, PAYLOAD)],
  ];
  for (const [name, kind, change] of connectionExits) {
    it(`connection: ${name}`, async () => {
      const tcb = await established();
      const seg = segmentOf(nextFromPeer(tcb, kind));
      expect(predict(tcb, seg)).not.toBe(Prediction.NONE);
      change(tcb);
      expect(predict(tcb, seg)).toBe(Prediction.NONE);
    });
  }

  it('connection: text larger than the receive buffer has room for', async () => {
    const tcb = await established(4096);
    const fields = nextFromPeer(tcb, 'data');
    fields.payload = patternBytes(tcb.recvBuffer.window + 1, 9);
    expect(predict(tcb, segmentOf(fields))).toBe(Prediction.NONE);
    fields.payload = patternBytes(tcb.recvBuffer.window, 9);
    expect(predict(tcb, segmentOf(fields))).toBe(Prediction.DATA);
  });
});
