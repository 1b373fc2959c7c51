/**
 * TCB reuse: once a TIME-WAIT record replaced a TCB, the TCB goes on its `Tcp`'s free list and the
 * next connection starts a new life in it. A reused TCB must carry nothing of its last life (every
 * field, and every field of its buffers, congestion control and RACK state, as a new TCB has it),
 * and an application handle of the old connection must never reach it again.
 */
import { describe, expect, it } from 'vitest';
import type { Tcp, TcpConnection } from '../src/index.js';
import type { TcpContext } from '../src/tcp/context.js';
import { newTcb } from '../src/tcp/lifecycle.js';
import type { Tcb } from '../src/tcp/tcb.js';
import { recordTransmit } from './support/frame-record.js';
import { A_ADDR, B_ADDR, Sink, patternBytes, tcpPair, type TcpPairOptions } from './support/tcp-net.js';

/** The context behind a `Tcp` facade (its private field). */
function contextOf(tcp: Tcp): TcpContext {
  return (tcp as unknown as { ctx: TcpContext }).ctx;
}

/** Timers are kept across lives (stopped, off the heap): a fresh TCB has none yet. */
const TIMER_FIELDS = new Set(['rtxTimer', 'delackTimer', 'idleTimer']);

/**
 * Paths where `actual` differs from `expected`, comparing own fields recursively (typed arrays by
 * content, shared objects by identity first).
 */
function differences(actual: unknown, expected: unknown, path = 'tcb', out: string[] = []): string[] {
  if (Object.is(actual, expected)) return out;
  if (typeof actual !== 'object' || typeof expected !== 'object' || actual === null || expected === null) {
    out.push(`${path}: ${String(actual)} !== ${String(expected)}`);
    return out;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) {
    out.push(`${path}: different classes`);
    return out;
  }
  if (ArrayBuffer.isView(actual)) {
    const a = actual as unknown as ArrayLike<number>;
    const e = expected as unknown as ArrayLike<number>;
    if (a.length !== e.length || Array.from(a).some((v, i) => !Object.is(v, e[i])))
      out.push(`${path}: typed array differs`);
    return out;
  }
  const keysA = Object.keys(actual);
  const keysE = Object.keys(expected);
  if (keysA.join() !== keysE.join()) out.push(`${path}: fields ${keysA.join()} vs ${keysE.join()}`);
  for (const k of keysE) {
    if (path === 'tcb' && TIMER_FIELDS.has(k)) continue;
    differences((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`, out);
  }
  return out;
}

/** The TCB `newTcb` makes for this 4-tuple: from `free` (one reused TCB) or new when `free` is undefined. */
function makeTcb(ctx: TcpContext, free: Tcb | undefined, remotePort: number): Tcb {
  const saved = ctx.freeTcbs.splice(0);
  if (free !== undefined) ctx.freeTcbs.push(free);
  const tcb = newTcb(ctx, B_ADDR, 80, A_ADDR, remotePort, true, 1500, 16_384, 32_768);
  ctx.freeTcbs.splice(0, ctx.freeTcbs.length, ...saved);
  return tcb;
}

/** Every timer of a reused TCB is stopped. */
function timersStopped(tcb: Tcb): boolean {
  return tcb.rtxTimer?.active !== true && tcb.delackTimer?.active !== true && tcb.idleTimer?.active !== true;
}

/**
 * `count` short connections from a to b one after another, the server closing first after its
 * answer (so its end ends in a TIME-WAIT record): request and answer sizes vary with the index,
 * and every fifth connection reads its request late (the receive buffer fills).
 */
async function shortConnections(count: number, options: TcpPairOptions, afterEach: (tcpB: Tcp) => void) {
  const pair = await tcpPair({ latencyMs: 0.3, ...options });
  const { sched, tcpA, tcpB } = pair;
  const frames = [recordTransmit(pair.faultA ?? pair.link.a), recordTransmit(pair.faultB ?? pair.link.b)];
  const listener = tcpB.listen({ port: 80 });
  const served: TcpConnection[] = [];
  listener.onConnection = (conn) => {
    served.push(conn);
    const sink = new Sink(conn);
    const i = served.length;
    const want = 100 + ((i * 7919) % 3000);
    const answer = patternBytes(200 + ((i * 104_729) % 40_000), i);
    let offset = 0;
    const push = (): void => {
      while (offset < answer.byteLength) {
        const n = conn.write(answer.subarray(offset));
        if (n === 0) return;
        offset += n;
      }
      conn.close();
    };
    conn.onWritable = push;
    conn.onReadable = () => {
      sink.drain();
      if (sink.received >= want && offset === 0) push();
    };
  };
  let done = 0;
  for (let i = 1; i <= count; i++) {
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    const sink = new Sink(client);
    const request = patternBytes(100 + ((i * 7919) % 3000), i + 1);
    client.onConnect = () => client.write(request);
    sched.runUntil(() => sink.ended, 30_000);
    client.close();
    sched.runUntil(() => client.state === 'CLOSED' || client.state === 'TIME-WAIT', 30_000);
    if (sink.ended) done++;
    sched.advance(5);
    afterEach(tcpB);
  }
  sched.advance(10);
  return { ...pair, served, done, frames: frames.map((f) => [f.count(), f.digest()]) };
}

/** A private field of an object (for checking what a TCB's parts held). */
function field<T>(o: object, name: string): T {
  return (o as Record<string, T>)[name]!;
}

describe('TCB reuse', () => {
  for (const congestion of ['bbr', 'cubic'] as const) {
    it(`a reused TCB is a new TCB, field by field, after many varied short connections (${congestion}, 2% loss)`, async () => {
      let checked = 0;
      // What the reused TCBs' last lives left in their parts (the check must have met it).
      const left = { sackRanges: 0, rackRtt: 0, rtoSampled: 0, grownLog: 0 };
      const { served, done } = await shortConnections(
        60,
        { seed: 11, faults: { lossRate: 0.02 }, tcpA: { congestion }, tcpB: { congestion } },
        (tcpB) => {
          // The connection just served ended in a record and its TCB went back: the next connection
          // would start in it. Start a life in it here and compare; then hand it back for that connection.
          // (A TCB whose loss recovery still awaits a verdict stays whole in TIME-WAIT: nothing went back.)
          const ctx = contextOf(tcpB);
          expect(ctx.freeTcbs.length).toBeLessThanOrEqual(1);
          if (ctx.freeTcbs.length === 0) return;
          const old = ctx.freeTcbs.pop()!;
          if (field<Float64Array>(old.scoreboard, 'lefts').length > 0) left.sackRanges++;
          if (Number.isFinite(old.rack.minRtt)) left.rackRtt++;
          if (old.rto.srttMs !== undefined) left.rtoSampled++;
          if (field<number>(old.sent, 'capacity') > 0) left.grownLog++;
          const reused = makeTcb(ctx, old, 40_000);
          expect(reused).toBe(old);
          expect(timersStopped(reused)).toBe(true);
          expect(differences(reused, makeTcb(ctx, undefined, 40_000))).toEqual([]);
          ctx.freeTcbs.push(reused);
          checked++;
        },
      );
      expect(done).toBe(60);
      expect(checked).toBeGreaterThan(40);
      // Every served connection ended in a record, and the losses reached the TCBs checked.
      expect(served.every((c) => c.state === 'TIME-WAIT')).toBe(true);
      expect(served.filter((c) => c.stats.retransmits > 0).length).toBeGreaterThan(0);
      expect(left.sackRanges).toBeGreaterThan(0);
      // (Not every one: a connection whose only delivery was the ACK of its FIN keeps no RACK RTT.)
      expect(left.rackRtt).toBeGreaterThan(0);
      expect(left.rtoSampled).toBe(checked);
      expect(left.grownLog).toBeGreaterThan(0);
    });
  }

  for (const congestion of ['bbr', 'cubic'] as const) {
    it(`connections in reused TCBs send the frames new TCBs send, byte for byte (${congestion}, 2% loss)`, async () => {
      const options = { seed: 23, faults: { lossRate: 0.02 }, tcpA: { congestion }, tcpB: { congestion } };
      let reusedLives = 0;
      const reusing = await shortConnections(60, options, (tcpB) => {
        reusedLives += contextOf(tcpB).freeTcbs.length;
      });
      // The same run with every TCB new: the free list is emptied after each connection.
      const fresh = await shortConnections(60, options, (tcpB) => {
        contextOf(tcpB).freeTcbs.length = 0;
      });
      expect(reusedLives).toBeGreaterThan(40);
      expect([reusing.done, fresh.done]).toEqual([60, 60]);
      expect(reusing.frames).toEqual(fresh.frames);
      expect(reusing.tcpB.counters.snapshot()).toEqual(fresh.tcpB.counters.snapshot());
      expect(reusing.served.map((c) => ({ ...c.stats }))).toEqual(fresh.served.map((c) => ({ ...c.stats })));
    });
  }

  for (const congestion of ['bbr', 'cubic', 'newreno'] as const) {
    it(`reuse resets every field, even one no connection moved (every field of a TCB scribbled over first; ${congestion})`, async () => {
      const { tcpB } = await tcpPair({ tcpB: { congestion } });
      const ctx = contextOf(tcpB);
      const dirty = makeTcb(ctx, undefined, 1);
      // Fields set from the configuration, not from a connection's life (the RTO bounds are the module's settings).
      const config = new Set([
        'maxRanges',
        'pool',
        'name',
        'iwSegments',
        'windowRounds',
        'windowMs',
        'firstCapacity',
        'minRtoMs',
        'maxRtoMs',
        'initialRtoMs',
        'clockGranularityMs',
        'fastConvergence',
      ]);
      const scribble = (o: Record<string, unknown>, depth: number): void => {
        for (const k of Object.keys(o)) {
          if (config.has(k) || TIMER_FIELDS.has(k)) continue;
          const v = o[k];
          if (typeof v === 'number') o[k] = v + 17.5;
          else if (typeof v === 'boolean') o[k] = !v;
          else if (typeof v === 'string') o[k] = `${v}-stale`;
          else if (v === undefined) o[k] = { stale: true };
          else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && depth > 0)
            scribble(v as Record<string, unknown>, depth - 1);
        }
      };
      scribble(dirty as unknown as Record<string, unknown>, 2);
      const cc = dirty.cc;
      const reused = makeTcb(ctx, dirty, 2);
      expect(reused).toBe(dirty);
      expect(reused.cc).toBe(cc); // restarted in place, not made anew
      expect(differences(reused, makeTcb(ctx, undefined, 2))).toEqual([]);
    });
  }

  it('a handle of the old connection cannot reach its reused TCB: abort, close, writes and settings do nothing to the new connection', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 0.2 });
    const listener = tcpB.listen({ port: 80 });
    const accepted: TcpConnection[] = [];
    listener.onConnection = (c) => accepted.push(c);
    const ctx = contextOf(tcpB);

    // First connection: the server answers and closes first; its end ends in a TIME-WAIT record.
    const first = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    const firstSink = new Sink(first);
    sched.runUntil(() => accepted.length === 1 && first.state === 'ESTABLISHED', 1000);
    const old = accepted[0]!;
    const oldTcb = old.tcb;
    const oldPorts = [old.localPort, old.remotePort];
    old.write(new TextEncoder().encode('bye'));
    old.close();
    sched.runUntil(() => firstSink.ended, 1000);
    first.close();
    sched.runUntil(() => first.state === 'TIME-WAIT' || first.state === 'CLOSED', 1000);
    sched.advance(5);
    const finalStats = { ...old.stats };
    expect(old.state).toBe('TIME-WAIT');
    expect(ctx.freeTcbs).toContain(oldTcb);
    expect(old.tcb).not.toBe(oldTcb);

    // Second connection: its server end lives in the old TCB.
    const second = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    const secondSink = new Sink(second);
    sched.runUntil(() => accepted.length === 2 && second.state === 'ESTABLISHED', 1000);
    const fresh = accepted[1]!;
    expect(fresh.tcb).toBe(oldTcb);
    const resetsBefore = tcpB.counters.get('aborts');

    // Everything the stale handle can do.
    old.abort();
    old.close();
    old.shutdownWrite();
    expect(() => old.write(new Uint8Array(10))).toThrow(/EPIPE|shut down/);
    old.setNoDelay(true);
    old.setCork(true);
    old.setKeepAlive(true, 1000);
    expect(old.setSendBufferSize(1)).toBe(tcpB.effectiveBufferSize(1));
    expect(old.read(new Uint8Array(16))).toBe(0);
    expect(old.readView()).toBeUndefined();
    sched.advance(5);

    // The stale handle still describes its own connection...
    expect(old.state).toBe('TIME-WAIT');
    expect([old.localPort, old.remotePort]).toEqual(oldPorts);
    expect(old.readableEnded).toBe(true);
    expect(old.closeReason).toBe('normal');
    expect({ ...old.stats }).toEqual(finalStats);
    expect(old.sendBufferSize).toBe(tcpB.effectiveBufferSize(1));
    // ...and the new connection saw nothing of it: no reset, no cork, data flows both ways.
    expect(tcpB.counters.get('aborts')).toBe(resetsBefore);
    expect(fresh.state).toBe('ESTABLISHED');
    expect(fresh.remotePort).toBe(second.localPort);
    expect(fresh.remotePort).not.toBe(oldPorts[1]);
    const freshSink = new Sink(fresh);
    second.write(new TextEncoder().encode('ping'));
    sched.runUntil(() => freshSink.received === 4, 1000);
    fresh.write(new TextEncoder().encode('pong'));
    sched.runUntil(() => secondSink.received === 4, 1000);
    expect(secondSink.received).toBe(4);
    expect(fresh.stats.segmentsIn).toBeGreaterThan(0);
    expect(fresh.stats.bytesIn).toBe(4);
  });
});
