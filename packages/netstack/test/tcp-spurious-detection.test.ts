/**
 * Telling spurious loss responses from real ones, on the virtual clock with chosen faults: F-RTO
 * (RFC 5682 §3) after a timeout whose flight was only delayed, beside Eifel (RFC 3522) when
 * timestamps are on; TLP loss detection (RFC 8985 §7.4: a probe that repaired a loss costs one
 * window reduction, an unneeded one none); D-SACK undo that a network duplicate cannot trigger
 * (RFC 3708); and the receiver's D-SACK for a duplicate of data held out of order (RFC 2883 §4.1.2).
 * Each scenario is a frame filter on host A's link: frames held back (re-sent later), dropped or
 * duplicated by their TCP sequence numbers.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag, TcpOptionSummary, TcpPacket } from '@postern/wire';
import type { TcpConnection } from '../src/index.js';
import { RETRANSMIT_LEDGER_SLOTS, RetransmitLedger } from '../src/tcp/retransmit-ledger.js';
import { B_ADDR, filteredTcpPair, tcpFrameInfo, type TcpFrameInfo } from './support/frame-filter.js';
import { Sink, patternBytes, pump, sha256 } from './support/tcp-net.js';

const MSS = 1448;

/** What a frame filter may do with a frame: pass it, drop it, hold it `ms` and then send it, or send it twice. */
type Fate = 'pass' | 'drop' | { holdMs: number } | 'duplicate';

interface Scenario {
  /** Fate of a data frame A sends (`index`: how many data frames A sent before it). */
  dataFate?: (t: TcpFrameInfo, client: TcpConnection, index: number) => Fate;
  /** Fate of a frame A receives from B. */
  ackFate?: (t: TcpFrameInfo, frame: Uint8Array, client: TcpConnection) => Fate;
  /** Timestamps on both ends (default true); off: the connection runs without them, as with a peer that lacks them. */
  timestamps?: boolean;
}

/** Host A sends to host B through a filter on A's link; returns the pair, both ends and the sink. */
async function filteredTransfer(scenario: Scenario) {
  const ref: { client?: TcpConnection } = {};
  let dataIndex = 0;
  const fateOf = (fate: Fate, frame: Uint8Array, toB: boolean): boolean => {
    if (fate === 'pass') return true;
    if (fate === 'drop') return false;
    const copy = frame.slice();
    if (fate === 'duplicate') {
      pair.sched.timerAfter(0, () => inject(copy, toB));
      return true;
    }
    pair.sched.timerAfter(fate.holdMs, () => inject(copy, toB));
    return false;
  };
  const pair = await filteredTcpPair({
    filterA: {
      tx: (frame) => {
        const t = tcpFrameInfo(frame);
        const client = ref.client;
        if (t === undefined || client === undefined || t.dst !== B_ADDR || t.payloadLength === 0) return true;
        if (scenario.dataFate === undefined) return true;
        return fateOf(scenario.dataFate(t, client, dataIndex++), frame, true);
      },
      rx: (frame) => {
        const t = tcpFrameInfo(frame);
        const client = ref.client;
        if (t === undefined || client === undefined || t.src !== B_ADDR || scenario.ackFate === undefined) return true;
        return fateOf(scenario.ackFate(t, frame, client), frame, false);
      },
    },
    tcpA: { rto: { minRtoMs: 200 } },
    tcpB: { rto: { minRtoMs: 200 } },
  });
  const filter = pair.filter;
  // A held or duplicated frame goes on past the filter: out on the link, or up to A's stack.
  const inject = (frame: Uint8Array, toB: boolean): void => {
    if (toB) filter.inner.transmit(frame);
    else (filter as unknown as { deliver(f: Uint8Array): void }).deliver(frame);
  };
  const listener = pair.tcpB.listen({ port: 80 });
  const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  pair.sched.runUntil(() => client.state === 'ESTABLISHED' && listener.acceptQueue.length > 0, 2000);
  const server = listener.accept()!;
  if (scenario.timestamps === false) {
    client.tcb.tsEnabled = false;
    server.tcb.tsEnabled = false;
  }
  ref.client = client;
  return { ...pair, client, server, sink: new Sink(server) };
}

/** Runs until B has read everything and A's FIN is acknowledged (the last ACKs reached A). */
function finish(r: {
  sched: { runUntil(p: () => boolean, ms: number): boolean };
  sink: Sink;
  client: TcpConnection;
}): void {
  r.sched.runUntil(() => r.sink.ended && r.client.state !== 'FIN-WAIT-1' && r.client.state !== 'ESTABLISHED', 20_000);
}

/** First data byte's sequence number plus `k` segments. */
function segSeq(client: TcpConnection, k: number): number {
  return (client.tcb.iss + 1 + k * MSS) >>> 0;
}

const options = new TcpOptionSummary();
/** The SACK blocks of a frame B sent (IPv4 header without options), as [left, right] pairs. */
function sackBlocks(frame: Uint8Array): Array<[number, number]> {
  TcpPacket.checked(frame.subarray(14 + 20)).scanOptions(options);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < options.sackBlockCount; i++) out.push([options.sackEdges[2 * i]!, options.sackEdges[2 * i + 1]!]);
  return out;
}

describe('F-RTO beside Eifel: a timeout whose flight was only delayed is undone', () => {
  /**
   * 60 segments; from the 20th on, every data frame A sends in the next 300 ms is held until then
   * (a path that stalls and then delivers, like a bridge that stops reading): the probe timeout
   * and the retransmission timeout both fire inside the stall, and then the originals arrive first.
   */
  async function delayedFlight(timestamps: boolean) {
    let stallEnd = -1;
    const pairRef: { now: () => number } = { now: () => 0 };
    const r = await filteredTransfer({
      timestamps,
      dataFate: (t, client) => {
        const now = pairRef.now();
        if (stallEnd < 0 && t.seq === segSeq(client, 20)) stallEnd = now + 300;
        return stallEnd > 0 && now < stallEnd ? { holdMs: stallEnd - now } : 'pass';
      },
    });
    pairRef.now = () => r.sched.now;
    const data = patternBytes(60 * MSS, 3);
    pump(r.client, data);
    finish(r);
    return { ...r, data };
  }

  it('without timestamps F-RTO finds the timeout spurious (data sent before it and never resent is acknowledged) and undoes it', async () => {
    const r = await delayedFlight(false);
    const s = r.client.stats;
    const info = JSON.stringify(s);
    expect(r.sink.ended, info).toBe(true);
    expect(r.sink.digest(), info).toBe(sha256(r.data));
    expect(s.timeouts, info).toBe(1);
    expect(s.frtoSpuriousRtos, info).toBe(1);
    expect(s.spuriousUndos, info).toBe(1);
    // The undo is in the stack-wide counters /api/tcp lists.
    expect(r.tcpA.counters.snapshot()['frtoSpuriousRtos'], info).toBe(1);
    // Undone: the flight was not resent (go-back-N stopped after the first segment and the probe).
    expect(s.retransmits, info).toBeLessThanOrEqual(3);
  });

  it('with timestamps Eifel sees it first (the ACK echoes a timestamp older than the retransmission); F-RTO is not needed', async () => {
    const r = await delayedFlight(true);
    const s = r.client.stats;
    const info = JSON.stringify(s);
    expect(r.sink.digest(), info).toBe(sha256(r.data));
    expect(s.timeouts, info).toBe(1);
    expect(s.spuriousUndos, info).toBe(1);
    expect(s.frtoSpuriousRtos, info).toBe(0);
  });

  it('a real loss: F-RTO sends two new segments after the first ACK, then resumes the recovery; nothing is undone', async () => {
    let dropUntil = -1;
    let afterRto: number[] | undefined;
    let recoveryPoint = 0;
    const clock = { now: () => 0 };
    const r = await filteredTransfer({
      timestamps: false,
      dataFate: (t, client) => {
        const now = clock.now();
        if (client.stats.timeouts === 1 && afterRto === undefined) {
          afterRto = [];
          recoveryPoint = client.tcb.recover;
        }
        afterRto?.push(t.seq);
        if (dropUntil < 0 && t.seq === segSeq(client, 20)) dropUntil = now + 150;
        return dropUntil > 0 && now < dropUntil ? 'drop' : 'pass';
      },
    });
    clock.now = () => r.sched.now;
    const data = patternBytes(60 * MSS, 4);
    pump(r.client, data);
    finish(r);
    const s = r.client.stats;
    const info = `${JSON.stringify(s)} after the RTO: ${JSON.stringify(afterRto)}, recovery point ${recoveryPoint}`;
    expect(r.sink.ended, info).toBe(true);
    expect(r.sink.digest(), info).toBe(sha256(data));
    expect(s.timeouts, info).toBe(1);
    expect(s.frtoSpuriousRtos, info).toBe(0);
    expect(s.spuriousUndos, info).toBe(0);
    // The timeout's retransmission, then two segments of new data (at or above the recovery point),
    // then the retransmissions of the rest.
    const seqs = afterRto!;
    const above = (q: number) => ((q - recoveryPoint) | 0) >= 0;
    expect(above(seqs[0]!), info).toBe(false);
    expect(above(seqs[1]!) && above(seqs[2]!), info).toBe(true);
    expect(above(seqs[3]!), info).toBe(false);
  });
});

describe('TLP loss detection (RFC 8985 §7.4)', () => {
  /** 20 segments, then (once the first batch is delivered) 20 more and the FIN. */
  async function twoBatches(scenario: Scenario) {
    const r = await filteredTransfer(scenario);
    const first = patternBytes(20 * MSS, 5);
    const second = patternBytes(20 * MSS, 6);
    pump(r.client, first, false);
    r.sched.runUntil(() => r.sink.received >= first.byteLength, 20_000);
    const settleUntil = r.sched.now + 50;
    r.sched.runUntil(() => r.sched.now >= settleUntil, 100);
    const ssthreshBetween = r.client.tcb.cc.ssthresh;
    pump(r.client, second);
    finish(r);
    const all = new Uint8Array(first.byteLength + second.byteLength);
    all.set(first);
    all.set(second, first.byteLength);
    return { ...r, all, ssthreshBetween };
  }

  /** Each case: the faults, then what the probe's outcome must be. */
  const cases: Array<{ name: string; scenario: () => Scenario; repaired: boolean }> = [
    {
      name: 'the probe repaired the lost last segment: one congestion response, once new data is acknowledged past the probe',
      scenario: () => {
        let dropped = 0;
        return { dataFate: (t, client) => (t.seq === segSeq(client, 19) && dropped++ === 0 ? 'drop' : 'pass') };
      },
      repaired: true,
    },
    {
      name: 'the probe was not needed (the last ACK was lost, the D-SACK shows both copies arrived): no reduction',
      scenario: () => {
        let dropped = 0;
        return {
          ackFate: (t, _frame, client) =>
            (t.flags & TcpFlag.ACK) !== 0 && t.ack === segSeq(client, 20) && dropped++ === 0 ? 'drop' : 'pass',
        };
      },
      repaired: false,
    },
  ];

  it.each(cases)('$name', async ({ scenario, repaired }) => {
    const r = await twoBatches(scenario());
    const s = r.client.stats;
    const info = JSON.stringify(s);
    expect(r.sink.digest(), info).toBe(sha256(r.all));
    expect(s.timeouts, info).toBe(0);
    expect(s.tailLossProbes, info).toBeGreaterThanOrEqual(1);
    expect(s.tlpLossRecoveries, info).toBe(repaired ? 1 : 0);
    expect(s.tlpUnneeded, info).toBe(repaired ? 0 : 1);
    expect(r.tcpA.counters.snapshot()['tlpLossRecoveries'], info).toBe(repaired ? 1 : 0);
    // An unneeded probe is told by the D-SACK of its copy.
    if (!repaired) expect(s.dsacksReceived, info).toBeGreaterThanOrEqual(1);
    // Slow start until then; only a repaired loss's response sets a finite ssthresh.
    expect(r.ssthreshBetween, info).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isFinite(s.ssthresh), info).toBe(repaired);
  });
});

describe('D-SACK accounting (RFC 2883 receiver, RFC 3708 sender)', () => {
  it('a duplicate of data held out of order is reported as a D-SACK block, then the block that holds it', async () => {
    let dropped = 0;
    let copied = 0;
    const seen: Array<Array<[number, number]>> = [];
    const r = await filteredTransfer({
      dataFate: (t, client) => {
        if (t.seq === segSeq(client, 10) && dropped++ === 0) return 'drop';
        if (t.seq === segSeq(client, 12) && copied++ === 0) return 'duplicate';
        return 'pass';
      },
      ackFate: (_t, frame) => {
        const blocks = sackBlocks(frame);
        if (blocks.length > 0) seen.push(blocks);
        return 'pass';
      },
    });
    const data = patternBytes(30 * MSS, 7);
    pump(r.client, data);
    finish(r);
    const info = `${JSON.stringify(r.server.stats)} blocks ${JSON.stringify(seen)}`;
    expect(r.sink.digest(), info).toBe(sha256(data));
    const c = r.client;
    const dup: [number, number] = [segSeq(c, 12), segSeq(c, 13)];
    const withDsack = seen.find((b) => b[0]![0] === dup[0] && b[0]![1] === dup[1]);
    expect(withDsack, info).toBeDefined();
    // The second block is the held range containing the duplicate (RFC 2883 §4.1.2).
    const held = withDsack![1]!;
    expect(((held[0] - dup[0]) | 0) <= 0 && ((held[1] - dup[1]) | 0) >= 0, info).toBe(true);
    expect(r.server.stats.dsacksSent, info).toBeGreaterThanOrEqual(1);
  });

  it('a network duplicate of data never retransmitted does not undo a real loss response', async () => {
    let dropped = 0;
    let copied = 0;
    const r = await filteredTransfer({
      dataFate: (t, client) => {
        if (t.seq === segSeq(client, 10) && dropped++ === 0) return 'drop';
        // Duplicated by the network once the loss response is under way (held a little, then twice).
        if (t.seq === segSeq(client, 25) && copied++ === 0) return 'duplicate';
        return 'pass';
      },
    });
    const data = patternBytes(40 * MSS, 8);
    pump(r.client, data);
    finish(r);
    const s = r.client.stats;
    const info = JSON.stringify(s);
    expect(r.sink.digest(), info).toBe(sha256(data));
    expect(s.fastRetransmits, info).toBe(1);
    expect(s.dsacksReceived, info).toBeGreaterThanOrEqual(1);
    expect(s.spuriousUndos, info).toBe(0);
    expect(s.dsackUndos, info).toBe(0);
  });

  it('every retransmission reported twice undoes the response (a segment held back, retransmitted, then arriving)', async () => {
    let held = 0;
    const r = await filteredTransfer({
      timestamps: false,
      dataFate: (t, client) => (t.seq === segSeq(client, 10) && held++ === 0 ? { holdMs: 8 } : 'pass'),
    });
    const data = patternBytes(40 * MSS, 9);
    pump(r.client, data);
    finish(r);
    const s = r.client.stats;
    const info = `${JSON.stringify(s)} receiver ${JSON.stringify(r.server.stats)}`;
    expect(r.sink.digest(), info).toBe(sha256(data));
    expect(s.fastRetransmits, info).toBe(1);
    expect(s.dsackUndos, info).toBe(1);
    expect(s.spuriousUndos, info).toBe(1);
  });
});

describe('the FIN rides on the last data segment', () => {
  it('closing with data still queued (beyond the window) sends no FIN alone: the last data segment carries it', async () => {
    const fins: Array<{ length: number; end: number }> = [];
    const r = await filteredTransfer({
      dataFate: () => 'pass',
    });
    // Watch every segment A sends (the data filter above only sees data frames).
    const inner = r.filter.inner;
    const transmit = inner.transmit.bind(inner);
    inner.transmit = (frame: Uint8Array): boolean => {
      const t = tcpFrameInfo(frame);
      if (t !== undefined && t.dst === B_ADDR && (t.flags & TcpFlag.FIN) !== 0)
        fins.push({ length: t.payloadLength, end: (t.seq + t.payloadLength) >>> 0 });
      return transmit(frame);
    };
    const data = patternBytes(100 * MSS + 123, 10);
    // One write and the close in the same turn: most of the data waits for the window.
    expect(r.client.write(data)).toBe(data.byteLength);
    r.client.shutdownWrite();
    finish(r);
    const info = JSON.stringify(fins);
    expect(r.sink.digest(), info).toBe(sha256(data));
    expect(fins.length, info).toBe(1);
    expect(fins[0]!.length, info).toBe(123);
    expect(fins[0]!.end, info).toBe(segSeq(r.client, 100) + 123);
  });
});

describe('RetransmitLedger', () => {
  it('counts a D-SACK only against recorded retransmissions, each once, and stops recording when full', () => {
    const ledger = new RetransmitLedger();
    ledger.note(1000, 2000);
    ledger.note(5000, 6000);
    expect(ledger.claim(3000, 4000)).toBe(0); // a duplicate of data never retransmitted
    expect(ledger.claim(1000, 2000)).toBe(1);
    expect(ledger.claim(1000, 2000)).toBe(0); // the same retransmission reported again
    expect(ledger.claim(0xffff_ff00, 5500)).toBe(1); // a block across the wrap that reaches the second one
    expect(ledger.count).toBe(0);
    for (let i = 0; i < RETRANSMIT_LEDGER_SLOTS + 4; i++) ledger.note(i * 10, i * 10 + 10);
    expect(ledger.count).toBe(RETRANSMIT_LEDGER_SLOTS);
    ledger.clear();
    expect(ledger.count).toBe(0);
  });
});
