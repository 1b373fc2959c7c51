/**
 * TIME-WAIT records: a connection whose application closed it is kept in TIME-WAIT as a small record
 * (one timer for all of them) instead of its whole TCB, and must answer exactly as the TCB does.
 * Each scenario runs twice on the virtual clock with the same seed: once with the server closing
 * (`close()`: the application lets go, a record holds TIME-WAIT) and once half-closing
 * (`shutdownWrite()`: the application still holds the connection, the whole TCB stays). The
 * frames the server sends in TIME-WAIT must be byte-identical, and the record must show in the
 * counters and the connection list as the TCB does. The client is played by hand (raw segments),
 * and the server's `Tcp` sends through a port that records every segment.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { TcpFlag, TcpPacket, emitTcp, parseIpv4, parseTcp, type TcpOption } from '@postern/wire';
import { Tcp, type TcpConnection, type TcpIpPort, type TcpOptions } from '../src/index.js';

const SERVER = parseIpv4('198.18.0.2');
const CLIENT = parseIpv4('198.18.0.1');
const CLIENT_ISN = 1000;
const TIME_WAIT_MS = 60_000;

/** How the server's application ends its side. */
type Ending = 'close' | 'shutdownWrite';

interface Sent {
  at: number;
  bytes: Uint8Array;
}

/** One server `Tcp` on a recording port, a listener on 80, and a hand-played client. */
function harness(ending: Ending, options: TcpOptions = {}) {
  const sched = new Scheduler({ seed: 7 });
  const sent: Sent[] = [];
  const port: TcpIpPort = {
    scheduler: sched,
    route: () => ({ source: SERVER, mtu: 1500 }),
    isLocalAddress: (a) => a === SERVER,
    send(source, destination, length, writer) {
      const bytes = new Uint8Array(length);
      writer.writeSegment(bytes, source, destination);
      sent.push({ at: sched.now, bytes });
      return true;
    },
  };
  const tcp = new Tcp(port, { timeWaitMs: TIME_WAIT_MS, ...options });
  const listener = tcp.listen({ port: 80 });
  const accepted: TcpConnection[] = [];
  listener.onConnection = (c) => accepted.push(c);
  let clientTs = 5_000;

  /** Sends a client segment (timestamps unless `ts` is false) and runs what it queued. */
  function input(
    f: { srcPort: number; seq: number; ack?: number; flags: number; payload?: number; window?: number },
    ts: number | false = (clientTs += 10),
    extra: TcpOption[] = [],
  ): void {
    const options: TcpOption[] = [...extra];
    if (ts !== false) options.unshift({ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: ts, tsEcr: 0 });
    const payload = new Uint8Array(f.payload ?? 0).fill(0x61);
    const repr = {
      srcPort: f.srcPort,
      dstPort: 80,
      seq: f.seq >>> 0,
      ack: (f.ack ?? 0) >>> 0,
      flags: f.flags,
      window: f.window ?? 65_535,
      urgentPointer: 0,
      options,
    };
    const optLen = options.reduce((n, o) => n + optionLength(o), 0);
    const out = new Uint8Array(20 + ((optLen + 3) & ~3) + payload.byteLength);
    emitTcp(repr, out, CLIENT, SERVER, payload);
    tcp.input(CLIENT, SERVER, out);
    sched.runPending();
  }

  /**
   * Opens a connection from `srcPort` and ends it server first (`stepMs` between the steps); returns
   * the server's ISS + 1 (its SND.UNA at start).
   */
  function connectAndEnd(srcPort: number, stepMs = 1): { conn: TcpConnection; iss1: number } {
    const before = sent.length;
    input({ srcPort, seq: CLIENT_ISN, flags: TcpFlag.SYN }, (clientTs += 10), [
      { kind: 'mss', value: 1460 },
      { kind: 'sackPermitted' },
      { kind: 'windowScale', shift: 7 },
    ]);
    const synAck = parseTcp(TcpPacket.checked(sent[before]!.bytes));
    const iss1 = (synAck.seq + 1) >>> 0;
    input({ srcPort, seq: CLIENT_ISN + 1, ack: iss1, flags: TcpFlag.ACK });
    const conn = accepted.at(-1)!;
    sched.advance(stepMs);
    if (ending === 'close') conn.close();
    else conn.shutdownWrite();
    sched.runPending();
    // The client acknowledges our FIN, then sends its own: TIME-WAIT.
    sched.advance(stepMs);
    input({ srcPort, seq: CLIENT_ISN + 1, ack: iss1 + 1, flags: TcpFlag.ACK });
    sched.advance(stepMs);
    input({ srcPort, seq: CLIENT_ISN + 1, ack: iss1 + 1, flags: TcpFlag.ACK | TcpFlag.FIN });
    return { conn, iss1 };
  }

  return { sched, tcp, sent, input, connectAndEnd, accepted, clientTs: () => clientTs };
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'nop':
    case 'eol':
      return 1;
    case 'mss':
    case 'windowScale':
      return o.kind === 'mss' ? 4 : 3;
    case 'sackPermitted':
      return 2;
    case 'timestamps':
      return 10;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    default:
      return 0;
  }
}

/** The segments as hex with their send time, for byte-exact comparison. */
function hexOf(sent: Sent[], from = 0): string[] {
  return sent.slice(from).map((s) => `${s.at} ${Buffer.from(s.bytes).toString('hex')}`);
}

function parsed(s: Sent) {
  return parseTcp(TcpPacket.checked(s.bytes));
}

/** Runs `scenario` with both endings and returns what each sent after entering TIME-WAIT. */
function bothWays(scenario: (h: ReturnType<typeof harness>, conn: TcpConnection, iss1: number) => void) {
  const out = {} as Record<Ending, { frames: string[]; timers: number; h: ReturnType<typeof harness> }>;
  for (const ending of ['close', 'shutdownWrite'] as const) {
    const h = harness(ending);
    const { conn, iss1 } = h.connectAndEnd(40_000);
    expect(conn.state).toBe('TIME-WAIT');
    const from = h.sent.length - 1; // the ACK of the client's FIN
    const timersBefore = h.sched.stats.timersFired;
    scenario(h, conn, iss1);
    out[ending] = { frames: hexOf(h.sent, from), timers: h.sched.stats.timersFired - timersBefore, h };
  }
  return out;
}

describe('TIME-WAIT records', () => {
  it('answer every kind of segment with the frames the whole TCB sends, and restart 2*MSL on a repeated FIN', () => {
    const runs = bothWays((h, conn, iss1) => {
      const rcvNxt = CLIENT_ISN + 2;
      const at = (ms: number) => h.sched.advance(ms);
      at(1_000);
      // A retransmitted FIN: ACKed again, and the wait starts over.
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 1, ack: iss1 + 1, flags: TcpFlag.ACK | TcpFlag.FIN });
      at(TIME_WAIT_MS - 500); // past the first 2*MSL, inside the restarted one
      expect(conn.state).toBe('TIME-WAIT');
      // Old bytes again (below RCV.NXT): an ACK with a D-SACK block.
      h.input({ srcPort: 40_000, seq: CLIENT_ISN - 19, ack: iss1 + 1, flags: TcpFlag.ACK, payload: 20 });
      // PAWS: an old timestamp.
      h.input({ srcPort: 40_000, seq: rcvNxt, ack: iss1 + 1, flags: TcpFlag.ACK }, 1);
      // An ACK of data never sent.
      h.input({ srcPort: 40_000, seq: rcvNxt, ack: iss1 + 50, flags: TcpFlag.ACK });
      // A RST inside the window but not at RCV.NXT: a challenge ACK, the wait goes on.
      h.input({ srcPort: 40_000, seq: rcvNxt + 10, flags: TcpFlag.RST }, false);
      // A SYN that is not newer (same timestamp as TS.Recent): a challenge ACK.
      h.input({ srcPort: 40_000, seq: rcvNxt + 5, flags: TcpFlag.SYN }, h.clientTs());
      // A plain ACK in the window: no answer, but its timestamp becomes TS.Recent (echoed next).
      h.input({ srcPort: 40_000, seq: rcvNxt, ack: iss1 + 1, flags: TcpFlag.ACK });
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 1, ack: iss1 + 1, flags: TcpFlag.ACK | TcpFlag.FIN });
      // Data in the window (a TIME-WAIT connection takes none): no answer.
      h.input({ srcPort: 40_000, seq: rcvNxt, ack: iss1 + 1, flags: TcpFlag.ACK | TcpFlag.PSH, payload: 5 });
      expect(h.tcp.timeWaitCount).toBe(1);
      expect(h.tcp.connectionCount).toBe(1);
      expect(h.tcp.connections().map((e) => [e.state, e.remotePort, e.passive])).toEqual([['TIME-WAIT', 40_000, true]]);
      at(TIME_WAIT_MS - 1);
      expect(conn.state).toBe('TIME-WAIT');
      at(2);
      expect(conn.state).toBe('CLOSED');
      expect(h.tcp.timeWaitCount).toBe(0);
      expect(h.tcp.connectionCount).toBe(0);
      expect(h.tcp.connections()).toEqual([]);
      // The 4-tuple is free: an ACK for it now meets the listener, which resets it.
      h.input({ srcPort: 40_000, seq: rcvNxt, ack: iss1 + 1, flags: TcpFlag.ACK });
    });
    expect(runs.close.frames).toEqual(runs.shutdownWrite.frames);
    // The ACK of the FIN, the re-ACK of the repeated FIN, the D-SACK, PAWS, the ACK of unsent data,
    // the RST's and the SYN's challenge ACKs, the second repeated FIN, then the listener's RST.
    const frames = runs.close.h.sent.slice(-9).map(parsed);
    expect(runs.close.frames).toHaveLength(9);
    expect(frames.map((f) => f.flags)).toEqual([...Array<number>(8).fill(TcpFlag.ACK), TcpFlag.RST]);
    expect(frames.slice(0, 8).every((f) => f.ack === CLIENT_ISN + 2)).toBe(true);
    expect(frames[2]!.options).toContainEqual({
      kind: 'sack',
      blocks: [{ left: CLIENT_ISN - 19, right: CLIENT_ISN + 1 }],
    });
  });

  it('a RST exactly at RCV.NXT ends the record at once, silently', () => {
    const runs = bothWays((h, conn) => {
      h.sched.advance(10);
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 2, flags: TcpFlag.RST }, false);
      expect(conn.state).toBe('CLOSED');
      expect(h.tcp.timeWaitCount).toBe(0);
      expect(h.tcp.connectionCount).toBe(0);
      // No timer runs: the stopped entries a reused TCB keeps on the heap fire once, doing nothing, and none re-arms.
      h.sched.advance(2 * TIME_WAIT_MS);
      expect(h.sched.nextDeadline()).toBeUndefined();
    });
    expect(runs.close.frames).toEqual(runs.shutdownWrite.frames);
    expect(runs.close.frames).toHaveLength(1);
  });

  it('RFC 6191: a SYN with a newer timestamp takes the 4-tuple over (a SYN-ACK), an older one draws an ACK', () => {
    const runs = bothWays((h, conn, iss1) => {
      h.sched.advance(100);
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 7, flags: TcpFlag.SYN }, 10);
      expect(conn.state).toBe('TIME-WAIT');
      h.input({ srcPort: 40_000, seq: iss1 - 5, flags: TcpFlag.SYN }, h.clientTs() + 1000, [
        { kind: 'mss', value: 1460 },
      ]);
      expect(conn.state).toBe('CLOSED');
      expect(h.tcp.counters.get('timeWaitReused')).toBe(1);
      expect(h.tcp.connections().map((e) => e.state)).toEqual(['SYN-RECEIVED']);
    });
    expect(runs.close.frames).toEqual(runs.shutdownWrite.frames);
    const last = parsed(runs.close.h.sent.at(-1)!);
    expect(last.flags).toBe(TcpFlag.SYN | TcpFlag.ACK);
  });

  it('without timestamps, a SYN above RCV.NXT takes the 4-tuple over and one at or below it does not', () => {
    const runs = bothWays((h, conn) => {
      h.sched.advance(100);
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 2, flags: TcpFlag.SYN }, false);
      expect(conn.state).toBe('TIME-WAIT');
      h.input({ srcPort: 40_000, seq: CLIENT_ISN + 100_000, flags: TcpFlag.SYN }, false);
      expect(conn.state).toBe('CLOSED');
    });
    expect(runs.close.frames).toEqual(runs.shutdownWrite.frames);
    expect(runs.close.frames.length).toBe(3);
  });

  it('many connections the application let go of share one timer; recycling and the counters see them', () => {
    const count = 40;
    const timers: Record<Ending, number> = { close: 0, shutdownWrite: 0 };
    for (const ending of ['close', 'shutdownWrite'] as const) {
      const h = harness(ending, { maxTimeWait: 30 });
      // All in the same millisecond: their waits end together.
      for (let i = 0; i < count; i++) h.connectAndEnd(41_000 + i, 0);
      expect(h.tcp.timeWaitCount).toBe(30);
      expect(h.tcp.connectionCount).toBe(30);
      expect(h.tcp.counters.get('timeWaitRecycled')).toBe(10);
      // Oldest first: the first ten ports went.
      const ports = h.tcp
        .connections()
        .map((e) => e.remotePort)
        .sort((a, b) => a - b);
      expect(ports[0]).toBe(41_010);
      expect(h.accepted.slice(0, 10).every((c) => c.state === 'CLOSED')).toBe(true);
      expect(h.accepted.slice(10).every((c) => c.state === 'TIME-WAIT')).toBe(true);
      const before = h.sched.stats.timersFired;
      h.sched.advance(TIME_WAIT_MS + 100);
      timers[ending] = h.sched.stats.timersFired - before;
      expect(h.tcp.timeWaitCount).toBe(0);
      expect(h.tcp.connectionCount).toBe(0);
      expect(h.accepted.every((c) => c.state === 'CLOSED')).toBe(true);
      expect(h.sched.nextDeadline()).toBeUndefined();
    }
    // Each whole TCB has its own timer; the records share one. With records, the connections were made
    // one after another in the same reused TCB, whose stopped retransmission and FIN-WAIT-2 entries
    // (lazy timers, kept for its next connection) fire once each for nothing: 3 at most.
    expect(timers.shutdownWrite).toBeGreaterThanOrEqual(30);
    expect(timers.close).toBeLessThanOrEqual(3);
  });

  it('an application that closes only after TIME-WAIT began lets go then, and the record ends on time', () => {
    const h = harness('shutdownWrite');
    const { conn } = h.connectAndEnd(40_000);
    const firedBefore = h.sched.stats.timersFired;
    h.sched.advance(5_000);
    conn.close(); // the record takes over here
    expect(conn.state).toBe('TIME-WAIT');
    expect(h.tcp.timeWaitCount).toBe(1);
    h.sched.advance(TIME_WAIT_MS - 5_000 - 10);
    expect(conn.state).toBe('TIME-WAIT');
    h.sched.advance(20);
    expect(conn.state).toBe('CLOSED');
    expect(h.tcp.connectionCount).toBe(0);
    // The TCB's own timers were stopped: only the queue's timer fired for the wait (the FIN-WAIT-2 timer never
    // ran), beside the TCB's stopped retransmission and idle entries (kept for its reuse), once each for nothing.
    expect(h.sched.stats.timersFired - firedBefore).toBeLessThanOrEqual(4);
    expect(h.sched.nextDeadline()).toBeUndefined();
  });

  it('shutdown ends the records, counted as aborts like TIME-WAIT TCBs', () => {
    const counts: number[] = [];
    for (const ending of ['close', 'shutdownWrite'] as const) {
      const h = harness(ending);
      h.connectAndEnd(40_000);
      h.connectAndEnd(40_001);
      h.tcp.shutdown();
      expect(h.tcp.connectionCount).toBe(0);
      expect(h.tcp.timeWaitCount).toBe(0);
      expect(h.accepted.every((c) => c.state === 'CLOSED')).toBe(true);
      counts.push(h.tcp.counters.get('aborts'));
    }
    expect(counts[0]).toBe(counts[1]);
  });

  it('short connections made one after another in a reused TCB change the timer heap about once per RTO, not per connection', () => {
    const h = harness('close');
    let port = 42_000;
    for (let i = 0; i < 20; i++) h.connectAndEnd(port++); // the TCB on the free list, its timers made
    const count = 300;
    const updates = h.sched.stats.timerHeapUpdates;
    const start = h.sched.now;
    for (let i = 0; i < count; i++) h.connectAndEnd(port++);
    const perConnection = (h.sched.stats.timerHeapUpdates - updates) / count;
    const ms = h.sched.now - start;
    expect(h.tcp.timeWaitCount).toBe(320);
    // Each connection arms the retransmission timer (SYN-ACK, FIN) and the FIN-WAIT-2 timeout, and stops
    // both when it becomes a record: cancelled and re-armed entries would cost 4 or more changes each. The
    // reused TCB's lazy entries stay, so the heap moves when one fires early (about every RTO) and when
    // the records' queue timer is armed.
    expect(ms).toBeGreaterThan(count);
    expect(perConnection).toBeLessThan(0.1);
  });

  it('at the TIME-WAIT limit a new record reuses the one it replaces; a handle of the old connection still reads its own', () => {
    const h = harness('close', { maxTimeWait: 4 });
    const ctx = (h.tcp as unknown as { ctx: { timeWaitRecords: { all(): object[] } } }).ctx;
    const seen = new Set<object>();
    let port = 43_000;
    for (let i = 0; i < 40; i++) {
      h.connectAndEnd(port++);
      for (const r of ctx.timeWaitRecords.all()) seen.add(r);
    }
    expect(h.tcp.timeWaitCount).toBe(4);
    expect(h.tcp.counters.get('timeWaitRecycled')).toBe(36);
    // Five record objects at most served 40 connections (new ones: 40).
    expect(seen.size).toBeLessThanOrEqual(5);
    // Every handle reads its own connection: the first 36 ended (their records live on for others), the last 4 wait.
    expect(h.accepted).toHaveLength(40);
    h.accepted.forEach((c, i) => {
      expect(c.state).toBe(i < 36 ? 'CLOSED' : 'TIME-WAIT');
      expect([c.localAddress, c.localPort, c.remoteAddress, c.remotePort]).toEqual([SERVER, 80, CLIENT, 43_000 + i]);
    });
    // The live records answer for their own 4-tuples (a repeated FIN is ACKed with the right numbers).
    const last = h.connectAndEnd(port++);
    const ack = parsed(h.sent.at(-1)!);
    expect([ack.dstPort, ack.seq, ack.ack, ack.flags]).toEqual([port - 1, last.iss1 + 1, CLIENT_ISN + 2, TcpFlag.ACK]);
    h.sched.advance(TIME_WAIT_MS + 100);
    expect(h.accepted.every((c) => c.state === 'CLOSED')).toBe(true);
  });
});
