/**
 * The server's workers, deadlines and connection caps on the virtual clock: the server runs on a
 * virtual-clock `@postern/irq` scheduler and in-memory sockets ({@link FakeSocket}), so every deadline is
 * checked at its exact instant and a thousand connections cost nothing.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { HttpServer, type HttpHandler, type HttpServerOptions, type HttpTransportSocket } from '../src/index.js';
import { parseResponse, type ParsedResponse } from './server-helpers.js';

/** An accepted socket in memory: the test plays the client, the server writes into `written`. */
class FakeSocket extends EventEmitter implements HttpTransportSocket {
  written = '';
  /** The server sent its FIN. */
  serverEnded = false;
  destroyed = false;
  paused = false;
  /** Calls of pause() so far. */
  pauseCalls = 0;
  constructor(readonly remoteAddress: string) {
    super();
  }
  write(chunk: Uint8Array | string): boolean {
    this.written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    return true;
  }
  end(): void {
    this.serverEnded = true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  pause(): void {
    this.paused = true;
    this.pauseCalls++;
  }
  resume(): void {
    this.paused = false;
  }
  /** The client sends `text` (latin1). */
  send(text: string): void {
    this.emit('data', Buffer.from(text, 'latin1'));
  }
  /** The client sends its FIN. */
  finish(): void {
    this.emit('end');
  }
  /** Every complete response written so far. */
  responses(): ParsedResponse[] {
    const out: ParsedResponse[] = [];
    let text = this.written;
    for (
      let r = parseResponse(text, false, this.serverEnded);
      r !== undefined;
      r = parseResponse(text, false, this.serverEnded)
    ) {
      out.push(r.res);
      text = r.rest;
      if (text === '') break;
    }
    return out;
  }
  statuses(): number[] {
    return this.responses().map((r) => r.status);
  }
}

function setup(
  handler: HttpHandler,
  options: HttpServerOptions = {},
): {
  sched: Scheduler;
  server: HttpServer;
  connect(address?: string): FakeSocket;
} {
  const sched = new Scheduler({ clock: 'virtual', seed: 5 });
  const server = new HttpServer(handler, { scheduler: sched, ...options });
  return {
    sched,
    server,
    connect: (address = '198.18.0.1') => {
      const socket = new FakeSocket(address);
      server.handleConnection(socket);
      return socket;
    },
  };
}

const GET = 'GET / HTTP/1.1\r\nHost: t\r\n\r\n';
/** Lets the pool's worker loops (promise continuations) run; the virtual clock does not move. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const hello: HttpHandler = (_req, res) => res.send('hello\n');

describe('workers take requests, not connections', () => {
  it('1,000 slow heads and 1,000 idle connections hold no worker: a fresh request on a 1-worker pool is answered at once', async () => {
    const { sched, server, connect } = setup(hello, { pool: { workers: 1, queue: 0 }, maxConnectionsPerClient: 5000 });
    const slow = Array.from({ length: 1000 }, () => connect());
    for (const s of slow) s.send('GET / HTTP/1.1\r\nHost: t\r\n');
    const idle = Array.from({ length: 1000 }, () => connect());
    sched.advance(1000);
    for (const s of slow) s.send('X-Drip: 1\r\n');
    const fresh = connect();
    fresh.send(GET);
    await settle();
    expect(fresh.statuses()).toEqual([200]);
    expect(server.stats.pool.busy).toBe(0);
    expect(server.stats.connectionsOpen).toBe(2001);
    expect(slow.some((s) => s.written !== '') || idle.some((s) => s.written !== '')).toBe(false);
  });

  it('a request answered at once is answered inside its data event (pipelined ones too), and never pauses the socket', () => {
    const { server, connect } = setup(hello, { pool: { workers: 2, queue: 2 } });
    const a = connect();
    a.send(GET);
    // No microtask ran: the answer was written before send() returned.
    expect(a.statuses()).toEqual([200]);
    a.send(GET + GET + GET);
    expect(a.statuses()).toEqual([200, 200, 200, 200]);
    expect([a.pauseCalls, server.stats.pool.busy, server.stats.pool.completed]).toEqual([0, 0, 4]);
  });

  it('a connection closed mid-request leaves nothing behind for the next one (its parser is reused)', () => {
    const seen: string[] = [];
    const { connect } = setup((req, res) => {
      seen.push(req.path);
      res.send('ok');
    });
    const a = connect();
    a.send(GET + 'GET /left HTTP/1.1\r\nHost: t\r\nX-Half: ');
    a.destroy();
    const b = connect();
    b.send('GET /b HTTP/1.1\r\nHost: t\r\n\r\n');
    expect([a.statuses(), b.statuses(), seen]).toEqual([[200], [200], ['/', '/b']]);
  });

  it('a worker is held from the complete head to the end of the response, then serves the next request', async () => {
    const ends: Array<() => void> = [];
    const { server, connect } = setup((_req, res) => void ends.push(() => res.send('done')), {
      pool: { workers: 1, queue: 1, retryAfterSeconds: 3 },
    });
    const a = connect();
    const b = connect();
    const c = connect();
    a.send(GET);
    b.send(GET);
    await settle();
    expect([server.stats.pool.busy, server.stats.pool.queued]).toEqual([1, 1]);
    c.send(GET);
    const refused = c.responses()[0]!;
    expect([refused.status, refused.headers['retry-after'], refused.headers['connection']]).toEqual([
      503,
      '3',
      'close',
    ]);
    expect(server.stats.requestsRejected).toBe(1);
    ends.shift()!();
    await settle();
    expect(a.statuses()).toEqual([200]);
    // a's connection stays open (keep-alive) but its worker went to b's request.
    expect([server.stats.pool.busy, server.stats.pool.queued, a.serverEnded]).toEqual([1, 0, false]);
    ends.shift()!();
    await settle();
    expect(b.statuses()).toEqual([200]);
    expect(server.stats.pool.busy).toBe(0);
  });

  it('a request whose connection closed while it waited for a worker releases the queue without running', async () => {
    let runs = 0;
    const ends: Array<() => void> = [];
    const { server, connect } = setup(
      (_req, res) => {
        runs++;
        ends.push(() => res.send('x'));
      },
      { pool: { workers: 1, queue: 4 } },
    );
    const a = connect();
    const b = connect();
    a.send(GET);
    b.send(GET);
    await settle();
    b.destroy();
    ends.shift()!();
    await settle();
    expect(runs).toBe(1);
    expect(server.stats.pool).toMatchObject({ busy: 0, queued: 0, completed: 2 });
  });
});

describe('deadlines on the virtual clock', () => {
  const timing = {
    headerTimeoutMs: 1000,
    headerMaxTimeoutMs: 3000,
    headerMinRate: 100,
    bodyTimeoutMs: 1000,
    bodyMinRate: 100,
    idleTimeoutMs: 5000,
  };

  it('the head deadline starts at headerTimeoutMs and grows one second per headerMinRate bytes', async () => {
    const { sched, server, connect } = setup(hello, timing);
    const s = connect();
    const part = 'GET / HTTP/1.1\r\nX-Pad: ' + 'p'.repeat(27); // 50 bytes: +500 ms
    expect(part.length).toBe(50);
    s.send(part);
    sched.advance(1499);
    expect(s.written).toBe('');
    sched.advance(1);
    expect(s.statuses()).toEqual([408]);
    expect(s.serverEnded).toBe(true);
    expect(server.stats.headerTimeouts).toBe(1);
  });

  it('the head deadline never passes headerMaxTimeoutMs however fast the drip', async () => {
    const { sched, connect } = setup(hello, timing);
    const s = connect();
    s.send('GET / HTTP/1.1\r\n');
    for (let t = 0; t < 2900; t += 100) {
      sched.advance(100);
      s.send(`X-Drip: ${'d'.repeat(100)}\r\n`);
    }
    expect(s.written).toBe('');
    sched.advance(100);
    expect(s.statuses()).toEqual([408]);
  });

  it('the body deadline grows one second per bodyMinRate bytes once a worker took the request', async () => {
    const { sched, server, connect } = setup(async (req, res) => res.send(await req.body.text()), timing);
    const s = connect();
    s.send('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n' + 'b'.repeat(100)); // +1000 ms
    await settle();
    sched.advance(1999);
    expect(s.written).toBe('');
    sched.advance(1);
    expect(s.statuses()).toEqual([408]);
    expect(server.stats.bodyTimeouts).toBe(1);
  });

  it('time a body is held back by a handler that has not read it yet does not count', async () => {
    let read: (() => void) | undefined;
    const { sched, connect } = setup(
      (req, res) => {
        read = () => void req.body.text().then((t) => res.send(`${t.length}`));
      },
      { ...timing, bodyHighWaterBytes: 10 },
    );
    const s = connect();
    s.send('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n' + 'b'.repeat(50));
    await settle();
    expect(s.paused).toBe(true);
    sched.advance(10_000);
    expect(s.written).toBe('');
    read!();
    await settle();
    expect(s.paused).toBe(false);
    s.send('b'.repeat(50));
    await settle();
    expect(s.responses().map((r) => [r.status, r.body])).toEqual([[200, '100']]);
  });

  it('idle: a fresh connection with nothing sent, and a kept-alive one, close after idleTimeoutMs', async () => {
    const { sched, server, connect } = setup(hello, timing);
    const fresh = connect();
    const used = connect();
    sched.advance(1000);
    used.send(GET);
    await settle();
    sched.advance(3999);
    expect([fresh.serverEnded, used.serverEnded]).toEqual([false, false]);
    sched.advance(1);
    expect([fresh.serverEnded, used.serverEnded]).toEqual([true, false]);
    sched.advance(1000);
    expect(used.serverEnded).toBe(true);
    expect(server.stats.idleTimeouts).toBe(2);
  });
});

describe('deadlines at fractional instants', () => {
  it('times kept in whole milliseconds move a deadline later by less than one, never earlier', () => {
    // The head's bytes add next to nothing to its deadline (16 bytes at a million a second).
    const { sched, server, connect } = setup(hello, {
      idleTimeoutMs: 1000,
      headerTimeoutMs: 1000,
      headerMinRate: 1_000_000,
    });
    sched.advance(0.4);
    const used = connect();
    sched.advance(0.2); // t=0.6: answered, idle from here
    used.send(GET);
    expect(used.statuses()).toEqual([200]);
    sched.advance(0.3); // t=0.9: a head starts
    const slow = connect();
    slow.send('GET / HTTP/1.1\r\n');
    sched.advance(999.6); // t=1000.5: just before the idle instant (1000.6) and the head's (1000.9)
    expect([used.serverEnded, slow.written]).toEqual([false, '']);
    sched.advance(1.1); // t=1001.6: both acted on within a millisecond after their instants
    expect([used.serverEnded, slow.statuses()]).toEqual([true, [408]]);
    expect([server.stats.idleTimeouts, server.stats.headerTimeouts]).toEqual([1, 1]);
  });
});

describe('one deadline queue for every connection', () => {
  it('head, idle and linger deadlines of interleaved connections each reach their own connection at their own instant', async () => {
    const { sched, server, connect } = setup(hello, {
      headerTimeoutMs: 1000,
      headerMaxTimeoutMs: 1000,
      idleTimeoutMs: 3000,
      lingerMs: 500,
    });
    const slowHead = connect(); // t=0: head started at 100 (below), 408 at 1100
    const idle = connect(); // t=0: idle deadline 3000
    const gone = connect(); // closes at 200: its deadline must reach nobody
    const closing = connect(); // HTTP/1.0 at 300: answered, FIN, destroyed at 300 + 500
    sched.advance(100);
    slowHead.send('GET / HTTP/1.1\r\n');
    sched.advance(100);
    gone.destroy();
    sched.advance(100);
    closing.send('GET / HTTP/1.0\r\n\r\n');
    await settle();
    expect(closing.statuses()).toEqual([200]);
    expect(closing.serverEnded).toBe(true);
    sched.advance(499); // t=799
    expect(closing.destroyed).toBe(false);
    sched.advance(1); // t=800: the linger deadline
    expect(closing.destroyed).toBe(true);
    expect([slowHead.written, idle.serverEnded]).toEqual(['', false]);
    sched.advance(299); // t=1099
    expect(slowHead.written).toBe('');
    sched.advance(1); // t=1100: the head deadline
    expect(slowHead.statuses()).toEqual([408]);
    expect(idle.serverEnded).toBe(false);
    sched.advance(1899); // t=2999
    expect(idle.serverEnded).toBe(false);
    sched.advance(1); // t=3000: the idle deadline
    expect(idle.serverEnded).toBe(true);
    expect(server.stats).toMatchObject({ headerTimeouts: 1, idleTimeouts: 1 });
    const closed = server.close();
    for (const s of [slowHead, idle]) s.destroy();
    await closed;
    expect(sched.nextDeadline()).toBeUndefined();
  });
});

describe('connection caps', () => {
  it('per client: the least recently active idle connection of that address is closed to make room', async () => {
    const { sched, server, connect } = setup(hello, { maxConnectionsPerClient: 3 });
    const a1 = connect('198.18.0.1');
    sched.advance(10);
    const a2 = connect('198.18.0.1');
    sched.advance(10);
    const a3 = connect('198.18.0.1');
    const other = connect('198.18.0.9');
    a1.send('GET / HTTP/1.1\r\n'); // a1 is reading a head: the most recently active now
    sched.advance(10);
    const a4 = connect('198.18.0.1');
    expect([a1.serverEnded, a2.serverEnded, a3.serverEnded, other.serverEnded]).toEqual([false, true, false, false]);
    a4.send(GET);
    await settle();
    expect(a4.statuses()).toEqual([200]);
    expect(server.stats).toMatchObject({ connectionsEvicted: 1, connectionsOpen: 4 });
  });

  it('per client: a closed connection that was evicted before frees no second place', async () => {
    const { sched, server, connect } = setup(hello, { maxConnectionsPerClient: 2 });
    const a1 = connect();
    sched.advance(10);
    const a2 = connect();
    sched.advance(10);
    const a3 = connect(); // evicts a1 (oldest idle)
    expect([a1.serverEnded, a2.serverEnded]).toEqual([true, false]);
    a1.destroy(); // the evicted one finally closes: it was no longer counted
    sched.advance(10);
    const a4 = connect(); // still at the cap (a2, a3): a2 must make room
    expect([a2.serverEnded, a3.serverEnded, a4.serverEnded]).toEqual([true, false, false]);
    expect(server.stats).toMatchObject({ connectionsEvicted: 2, connectionsOpen: 2 });
  });

  it('in total: with every connection busy the newcomer gets 503 and nothing in progress is closed', async () => {
    const { server, connect } = setup((_req, _res) => {}, { maxConnections: 2 });
    const a = connect('198.18.0.1');
    const b = connect('198.18.0.2');
    a.send(GET);
    b.send(GET);
    await settle();
    const c = connect('198.18.0.3');
    expect(c.statuses()).toEqual([503]);
    expect(c.serverEnded).toBe(true);
    expect([a.serverEnded, b.serverEnded]).toEqual([false, false]);
    expect(server.stats).toMatchObject({ connectionsRejected: 1, connectionsEvicted: 0, connectionsOpen: 2 });
  });
});

describe('half-close', () => {
  it('answers a request whose client sent FIN right after it, then closes', async () => {
    let finish!: () => void;
    const { connect } = setup((_req, res) => void (finish = () => res.send('late\n')));
    const s = connect();
    s.send(GET);
    s.finish();
    await settle();
    expect(s.serverEnded).toBe(false);
    finish();
    const r = s.responses();
    expect(r.map((x) => [x.status, x.body, x.headers['connection']])).toEqual([[200, 'late\n', 'close']]);
    expect(s.serverEnded).toBe(true);
  });
});
