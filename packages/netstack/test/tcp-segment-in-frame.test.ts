/**
 * TCP segments written in place in the outgoing frame (`SegmentBuilder.writeSegmentAt`, sent by the
 * stack's port through `Stack.sendIpv4InFrame`) against the same segments written into a view of
 * their own (`writeSegment` through `Stack.sendIpv4`): the same seeded runs on the virtual clock
 * (handshake options, keep-alive exchanges, bulk with loss and reordering so SACK blocks and
 * retransmissions go, the FINs) send the same frames byte for byte, in the same order, and deliver
 * the same bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FaultInjectionOptions } from '@postern/nic';
import type { TcpConnection } from '../src/index.js';
import { SegmentBuilder } from '../src/tcp/output.js';
import { recordTransmit } from './support/frame-record.js';
import { B_ADDR, Sink, patternBytes, pump, tcpPair } from './support/tcp-net.js';

const proto = SegmentBuilder.prototype as { writeSegmentAt?: SegmentBuilder['writeSegmentAt'] };
const inPlace = proto.writeSegmentAt!;
let inPlaceCalls = 0;

afterEach(() => {
  proto.writeSegmentAt = inPlace;
});

/** One seeded run with the in-place writer offered to the port, or hidden from it. */
async function run(offerInPlace: boolean, bulk: number, exchanges: number, faults?: FaultInjectionOptions) {
  proto.writeSegmentAt = offerInPlace
    ? function (this: SegmentBuilder, ...args: Parameters<SegmentBuilder['writeSegmentAt']>) {
        inPlaceCalls++;
        inPlace.apply(this, args);
      }
    : undefined;
  inPlaceCalls = 0;
  const pair = await tcpPair({ seed: 4242, latencyMs: 1, faults, tcpA: { congestion: 'cubic' } });
  const { sched, tcpA, tcpB, link } = pair;
  const frames = [recordTransmit(pair.faultA ?? link.a), recordTransmit(pair.faultB ?? link.b)];
  const listener = tcpB.listen({ port: 8080 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 8080 });
  const clientSink = new Sink(client);
  let serverSink: Sink | undefined;
  let answered = 0;
  let server: TcpConnection | undefined;
  const request = patternBytes(90, 3);
  listener.onConnection = (conn) => {
    server = conn;
    serverSink = new Sink(conn);
    conn.onReadable = () => {
      serverSink!.drain();
      while (serverSink!.received >= (answered + 1) * request.length && answered < exchanges) {
        answered++;
        pump(conn, patternBytes(answered === exchanges ? bulk : 300, answered), answered === exchanges);
      }
    };
  };
  let asked = 0;
  const ask = (): void => {
    asked++;
    pump(client, request, asked === exchanges);
  };
  client.onConnect = ask;
  clientSink.conn.onReadable = () => {
    clientSink.drain();
    if (asked < exchanges && clientSink.received === asked * 300) ask();
  };
  const finished = sched.runUntil(() => clientSink.ended && serverSink !== undefined && serverSink.ended, 600_000);
  return {
    calls: inPlaceCalls,
    result: {
      finished,
      frames: frames.map((f) => [f.count(), f.digest()]),
      received: [clientSink.received, clientSink.digest(), serverSink?.received, serverSink?.digest()],
      stats: [{ ...client.stats }, { ...server?.stats }],
    },
  };
}

describe('TCP segments written in the frame', () => {
  const cases: Array<[string, number, number, FaultInjectionOptions | undefined]> = [
    ['keep-alive exchanges, then 256 KiB', 256 * 1024, 40, undefined],
    [
      'with 2% loss, reordering and duplication',
      512 * 1024,
      20,
      { lossRate: 0.02, reorderRate: 0.05, duplicateRate: 0.01 },
    ],
  ];
  for (const [name, bulk, exchanges, faults] of cases) {
    it(`send the frames a segment view sends: ${name}`, async () => {
      const viaFrame = await run(true, bulk, exchanges, faults);
      const viaView = await run(false, bulk, exchanges, faults);
      expect(viaFrame.result.finished).toBe(true);
      expect(viaFrame.result.received[0]).toBe(300 * (exchanges - 1) + bulk);
      // Every segment went through the in-place writer in the first run, none in the second.
      expect(viaFrame.calls).toBeGreaterThan(exchanges * 2);
      expect(viaView.calls).toBe(0);
      expect(viaFrame.result).toEqual(viaView.result);
    }, 120_000);
  }
});
