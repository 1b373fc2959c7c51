/**
 * The parts of a TCB made on first use, or kept in the TCB's own fields instead of tables: the
 * statistics object (the counters every connection moves live in the TCB and are copied in when
 * the statistics are read), the undo ledger of a loss episode, the listener a passive TCB came from
 * and its application handle. Whatever moment the statistics are first read, they report the same
 * figures; a listener's queues and its close see the passive TCBs exactly as before.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../src/index.js';
import { B_ADDR, Sink, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
const RESPONSE = new TextEncoder().encode('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');

/** The counters a test compares (copied: the statistics object is live). */
function figures(conn: TcpConnection) {
  const s = conn.stats;
  return {
    segmentsOut: s.segmentsOut,
    segmentsIn: s.segmentsIn,
    bytesOut: s.bytesOut,
    bytesIn: s.bytesIn,
    retransmits: s.retransmits,
    pathMtu: s.pathMtu,
    cwnd: s.cwnd,
    rtoMs: s.rtoMs,
  };
}

/**
 * One short connection: handshake, `idleMs` of silence, then (unless `noData`) a request and its
 * answer, and both sides close. `peek` reads both ends' statistics after every step (the eager
 * reader); otherwise they are read once, at the end.
 */
async function shortConnection(options: { idleMs: number; noData: boolean; peek: boolean }) {
  const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 0.2 });
  const listener = tcpB.listen({ port: 80 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  const peeks: unknown[] = [];
  const peek = (...conns: TcpConnection[]) => {
    if (options.peek) for (const c of conns) peeks.push(figures(c));
  };
  peek(client);
  sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!;
  peek(client, server);
  sched.advance(options.idleMs);
  peek(client, server);
  const atServer = new Sink(server);
  const atClient = new Sink(client);
  if (!options.noData) {
    client.write(REQUEST);
    sched.runUntil(() => atServer.received === REQUEST.byteLength, 1000);
    peek(client, server);
    server.write(RESPONSE);
  }
  server.close();
  sched.runUntil(() => atClient.ended, 1000);
  peek(client, server);
  client.close();
  sched.runUntil(() => server.state === 'CLOSED' || server.state === 'TIME-WAIT', 1000);
  sched.advance(100);
  return { client: figures(client), server: figures(server), peeks, received: atClient.received };
}

describe('TCB statistics made on first read', () => {
  it('count a connection closed before any data the same whether read at every step or only at the end', async () => {
    const lazy = await shortConnection({ idleMs: 0, noData: true, peek: false });
    const eager = await shortConnection({ idleMs: 0, noData: true, peek: true });
    expect(lazy.server).toEqual(eager.server);
    expect(lazy.client).toEqual(eager.client);
    expect(lazy.server.bytesIn + lazy.server.bytesOut + lazy.client.bytesIn + lazy.client.bytesOut).toBe(0);
    // SYN-ACK and FIN at least; every segment one end sent, the other received (no loss on the
    // link), except the client's SYN: the listener takes it, before the server's TCB exists.
    expect(lazy.server.segmentsOut).toBeGreaterThanOrEqual(2);
    expect(lazy.server.segmentsIn).toBe(lazy.client.segmentsOut - 1);
    expect(lazy.client.segmentsIn).toBe(lazy.server.segmentsOut);
    expect(lazy.server.pathMtu).toBe(1500);
    expect(lazy.server.retransmits).toBe(0);
  });

  it('count the first data after an idle handshake the same whether read at every step or only at the end', async () => {
    const lazy = await shortConnection({ idleMs: 30_000, noData: false, peek: false });
    const eager = await shortConnection({ idleMs: 30_000, noData: false, peek: true });
    expect(lazy.server).toEqual(eager.server);
    expect(lazy.client).toEqual(eager.client);
    expect(lazy.received).toBe(RESPONSE.byteLength);
    expect(lazy.server.bytesIn).toBe(REQUEST.byteLength);
    expect(lazy.server.bytesOut).toBe(RESPONSE.byteLength);
    expect(lazy.client.bytesOut).toBe(REQUEST.byteLength);
    expect(lazy.client.bytesIn).toBe(RESPONSE.byteLength);
    expect(lazy.server.segmentsIn).toBe(lazy.client.segmentsOut - 1); // the SYN went to the listener
    expect(lazy.client.segmentsIn).toBe(lazy.server.segmentsOut);
    // The eager reader saw the counters move between its reads (the copy-in is current at every read).
    expect(eager.peeks.length).toBeGreaterThan(4);
    expect(eager.peeks).not.toContainEqual(eager.server);
  });

  it('stay the same object across reads, current at each one', async () => {
    const { sched, tcpA, tcpB } = await tcpPair();
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
    const first = client.stats;
    const before = first.bytesOut;
    client.write(REQUEST);
    sched.advance(10);
    expect(client.stats).toBe(first);
    expect(first.bytesOut - before).toBe(REQUEST.byteLength);
  });
});

describe('a passive TCB remembers its listener in a field', () => {
  it('a queued connection the peer resets leaves the accept queue', async () => {
    const { sched, tcpA, tcpB } = await tcpPair();
    const listener = tcpB.listen({ port: 80 });
    const kept = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    const reset = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length === 2, 1000);
    reset.abort();
    sched.advance(10);
    expect(listener.acceptQueue.length).toBe(1);
    const accepted = listener.accept()!;
    expect(accepted.remotePort).toBe(kept.localPort);
    expect(accepted.state).toBe('ESTABLISHED');
  });

  it('closing the listener resets its handshakes in progress, not the connections it handed out', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 5 });
    const listener = tcpB.listen({ port: 80 });
    const first = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length === 1, 1000);
    const accepted = listener.accept()!;
    const late = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.pendingHandshakes === 1, 1000);
    listener.close();
    expect(listener.pendingHandshakes).toBe(0);
    sched.advance(100);
    expect(late.state).toBe('CLOSED');
    expect(accepted.state).toBe('ESTABLISHED');
    expect(first.state).toBe('ESTABLISHED');
  });
});

describe('a TCB keeps its booleans as bits of one integer', () => {
  const NAMES = [
    'tsEnabled',
    'sackEnabled',
    'wsEnabled',
    'finQueued',
    'finSent',
    'peerFinReceived',
    'appClosed',
    'inRecovery',
    'probeOutstanding',
    'undoArmed',
    'undoAfterRto',
    'undoLate',
    'tlpRetransPending',
    'dsackPending',
    'synRetransmitted',
    'dontFragment',
    'nagleHolding',
    'forceSend',
    'noDelay',
    'keepAlive',
    'released',
    'flushQueued',
  ] as const;

  it('each one is set and cleared without touching the others', async () => {
    const { sched, tcpA, tcpB } = await tcpPair();
    tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.advance(10);
    const tcb = client.tcb;
    const saved = NAMES.map((n) => tcb[n]);
    expect(tcb.dontFragment).toBe(true); // the one that starts set
    expect(tcb.released).toBe(false);
    for (const name of NAMES) {
      const before = NAMES.map((n) => tcb[n]);
      tcb[name] = !before[NAMES.indexOf(name)]!;
      expect(NAMES.map((n) => tcb[n])).toEqual(before.map((v, i) => (NAMES[i] === name ? !v : v)));
      tcb[name] = before[NAMES.indexOf(name)]!;
      expect(NAMES.map((n) => tcb[n])).toEqual(before);
    }
    for (const name of NAMES) tcb[name] = true;
    expect(NAMES.every((n) => tcb[n])).toBe(true);
    NAMES.forEach((n, i) => (tcb[n] = saved[i]!));
    expect(NAMES.map((n) => tcb[n])).toEqual(saved);
  });
});
