/**
 * The delivery bookkeeping short connections skip (src/tcp/recovery.ts `deliveryDone` with
 * `rackOnFinalAck`, and `openAckRecordsNothing`): the ACK that acknowledges our FIN, and every
 * segment after it, empties the transmit log without RACK's and the delivery rate's records or a
 * rate sample; a predicted request with nothing in flight and nothing acknowledged makes no RACK
 * call at all. The decisive test: the same seeded runs of many short connections on the virtual
 * clock (the server answering and closing first, as HTTP/1.0 does, or the client half-closing with
 * its request; without faults, with loss, with reordering and duplication; CUBIC and BBR) with the
 * shortcuts taken and with them refused send the same frames byte for byte, in the same order, and
 * end with the same module counters, received bytes and connection statistics, but for the window
 * BBR's final statistics report (its model does not take the last sample).
 */
import { describe, expect, it, vi } from 'vitest';
import type { FaultInjectionOptions } from '@postern/nic';
import type { TcpCongestionName, TcpConnection, TcpConnectionStats } from '../src/index.js';
import { recordTransmit } from './support/frame-record.js';
import { B_ADDR, Sink, patternBytes, tcpPair } from './support/tcp-net.js';

/** Whether the shortcuts may be taken, and how often they were. */
const shortcut = vi.hoisted(() => ({ on: true, finalAcks: 0, emptyOpenAcks: 0 }));

vi.mock('../src/tcp/recovery.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/tcp/recovery.js')>();
  return {
    ...real,
    deliveryDone: (...args: Parameters<typeof real.deliveryDone>): boolean => {
      const done = shortcut.on && real.deliveryDone(...args);
      if (done) shortcut.finalAcks++;
      return done;
    },
    openAckRecordsNothing: (...args: Parameters<typeof real.openAckRecordsNothing>): boolean => {
      const nothing = shortcut.on && real.openAckRecordsNothing(...args);
      if (nothing) shortcut.emptyOpenAcks++;
      return nothing;
    },
  };
});

interface Scenario {
  readonly name: string;
  readonly faults?: FaultInjectionOptions;
  /** The client sends its FIN with the request (the server then closes in LAST-ACK). */
  readonly clientHalfCloses?: boolean;
}

const CONNECTIONS = 60;
const REQUEST = 90;
const RESPONSE = 2600;

/** The statistics that must not depend on the shortcuts: all but BBR's final window. */
function comparable(stats: TcpConnectionStats, congestion: TcpCongestionName): Record<string, unknown> {
  const { cwnd, ssthresh, ...rest } = stats;
  return congestion === 'bbr' ? rest : { ...rest, cwnd, ssthresh };
}

/** `CONNECTIONS` short connections one after another; everything that must not depend on the shortcuts. */
async function run(scenario: Scenario, congestion: TcpCongestionName) {
  const tcpOptions = { congestion, rto: { minRtoMs: 200 } };
  const pair = await tcpPair({ seed: 4242, latencyMs: 1, faults: scenario.faults, tcpA: tcpOptions, tcpB: tcpOptions });
  const { sched, tcpA, tcpB, link } = pair;
  const frames = [recordTransmit(pair.faultA ?? link.a), recordTransmit(pair.faultB ?? link.b)];
  const listener = tcpB.listen({ port: 80 });
  const request = patternBytes(REQUEST, 31);
  const response = patternBytes(RESPONSE, 32);
  const received: unknown[] = [];
  const stats: Record<string, unknown>[] = [];
  let closed = 0;
  let started = 0;
  // The server closes with the application's close(), which ends its callbacks: read at the end.
  const servers: [TcpConnection, Sink][] = [];
  listener.onConnection = (conn: TcpConnection) => {
    const sink = new Sink(conn);
    let answered = false;
    conn.onReadable = () => {
      sink.drain();
      if (sink.received < REQUEST || answered) return;
      answered = true;
      // The whole response fits the send buffer: written at once, then the FIN (HTTP/1.0's close).
      expect(conn.write(response)).toBe(RESPONSE);
      conn.close();
    };
    servers.push([conn, sink]);
  };
  const next = (): void => {
    started++;
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    const sink = new Sink(client);
    client.onConnect = () => {
      expect(client.write(request)).toBe(REQUEST);
      if (scenario.clientHalfCloses === true) client.shutdownWrite();
    };
    let closing = false;
    client.onReadable = () => {
      sink.drain();
      if (!sink.ended || closing) return;
      closing = true;
      client.close();
    };
    client.onClose = () => {
      received.push(['client', sink.received, sink.digest()]);
      stats.push(comparable(client.stats, congestion));
      closed++;
      if (started < CONNECTIONS) sched.timerAfter(3, next);
    };
  };
  next();
  const finished = sched.runUntil(() => closed === CONNECTIONS, 3_600_000);
  // Let every TIME-WAIT end, so its ACKs and timers are part of the run.
  sched.advance(120_000);
  for (const [conn, sink] of servers) {
    received.push(['server', conn.state, sink.received, sink.digest()]);
    stats.push(comparable(conn.stats, congestion));
  }
  return {
    finished,
    virtualMs: sched.now,
    frames: frames.map((f) => [f.count(), f.digest()]),
    countersA: tcpA.counters.snapshot(),
    countersB: tcpB.counters.snapshot(),
    received,
    stats,
  };
}

describe('short connections: the skipped delivery bookkeeping changes no frame', () => {
  const scenarios: Scenario[] = [
    { name: 'the server closes first' },
    { name: 'the client half-closes with its request', clientHalfCloses: true },
    { name: 'the server closes first, 4% loss', faults: { lossRate: 0.04 } },
    { name: 'the client half-closes, 4% loss', faults: { lossRate: 0.04 }, clientHalfCloses: true },
    {
      name: 'the server closes first, reordering and duplication',
      faults: { reorderRate: 0.08, duplicateRate: 0.03, lossRate: 0.01 },
    },
  ];
  for (const scenario of scenarios) {
    for (const congestion of ['cubic', 'bbr'] as const) {
      it(`${scenario.name}, ${congestion}`, async () => {
        shortcut.on = true;
        shortcut.finalAcks = 0;
        shortcut.emptyOpenAcks = 0;
        const taken = await run(scenario, congestion);
        const counts = { finalAcks: shortcut.finalAcks, emptyOpenAcks: shortcut.emptyOpenAcks };
        shortcut.on = false;
        const refused = await run(scenario, congestion);
        shortcut.on = true;
        expect(taken.finished).toBe(true);
        expect(taken.received).toHaveLength(2 * CONNECTIONS);
        // Both ends end nearly every connection with such an ACK; the server takes nearly every
        // request with nothing in flight on the predicted path (a request carrying a FIN is not predicted).
        expect(counts.finalAcks).toBeGreaterThan(CONNECTIONS);
        if (scenario.clientHalfCloses !== true) expect(counts.emptyOpenAcks).toBeGreaterThan(CONNECTIONS / 2);
        expect(taken).toEqual(refused);
      }, 120_000);
    }
  }
});
