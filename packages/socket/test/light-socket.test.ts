/**
 * The light connection face ({@link LightServer}, {@link LightSocket}) on the memory link in virtual
 * time: a LightServer on host b, a BSD-socket client on host a. Event order, half-close,
 * backpressure and `'drain'`, destroy in the middle of a write, pause/resume, resets, and bytes never
 * lost or reordered.
 */
import { describe, expect, it } from 'vitest';
import { awaitOnVirtualClock, patternBytes } from '@postern/netlab';
import {
  AF_INET,
  LightServer,
  SHUT_WR,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_LINGER,
  SO_RCVBUF,
  type LightSocket,
  type Sockets,
  type TcpEntry,
} from '../src/index.js';
import { A_ADDR, B_ADDR, socketPair } from './support/net.js';

const PORT = 8080;

type Pair = Awaited<ReturnType<typeof socketPair>>;

/** A LightServer on b, a connected client descriptor on a, and the accepted LightSocket (with its events recorded). */
async function connected(options: { allowHalfOpen?: boolean; clientRcvBuf?: number } = {}) {
  const pair = await socketPair();
  const { sched, sa, sb } = pair;
  const server = new LightServer({ sockets: sb, allowHalfOpen: options.allowHalfOpen ?? false });
  const events: string[] = [];
  const received: Buffer[] = [];
  let socket: LightSocket | undefined;
  server.on('connection', (s) => {
    socket = s;
    s.on('data', (chunk) => {
      events.push('data');
      received.push(chunk);
    });
    s.on('end', () => events.push('end'));
    s.on('drain', () => events.push('drain'));
    s.on('error', (err) => events.push(`error ${(err as Error & { code?: string }).code}`));
    s.on('close', () => events.push('close'));
  });
  server.listen(PORT);
  const cfd = sa.socket(AF_INET, SOCK_STREAM);
  if (options.clientRcvBuf !== undefined) sa.setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, options.clientRcvBuf);
  await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: PORT }));
  expect(sched.runUntil(() => socket !== undefined, 1000)).toBe(true);
  return { pair, server, cfd, events, received, socket: socket! };
}

/**
 * Logs `'turn'` into `log` at each of `socket`'s turns in the server's deferred round (its private
 * `runDeferred`, wrapped through the instance), and `'thrown MESSAGE'` when a turn throws.
 */
function logTurns(socket: LightSocket, log: string[]): void {
  const face = socket as unknown as { runDeferred(): void };
  const runDeferred = face.runDeferred.bind(socket);
  face.runDeferred = () => {
    log.push('turn');
    try {
      runDeferred();
    } catch (err) {
      log.push(`thrown ${(err as Error).message}`);
      throw err;
    }
  };
}

/** Reads from `fd` until EOF (or `limit` bytes), in virtual time. */
async function readAll(pair: Pair, sockets: Sockets, fd: number, limit = Infinity): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  const buf = new Uint8Array(65_536);
  while (total < limit) {
    const n = await awaitOnVirtualClock(pair.sched, sockets.recv(fd, buf));
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(parts);
}

describe('LightSocket', () => {
  it('delivers every byte in order, then end; ending our side after it closes the socket (event order)', async () => {
    const { pair, cfd, events, received, socket } = await connected();
    const { sched, sa } = pair;
    expect(socket.remoteAddress).toBe('198.18.0.1');
    expect(socket.remoteAddress).toBe(socket.remoteAddress); // cached: the same string
    expect(socket.remotePort).toBe(sa.getsockname(cfd).port);
    const up = patternBytes(300_000, 5);
    expect(await awaitOnVirtualClock(sched, sa.send(cfd, up))).toBe(up.byteLength);
    sa.shutdown(cfd, SHUT_WR);
    expect(sched.runUntil(() => events.includes('close'), 5000)).toBe(true);
    expect(Buffer.compare(Buffer.concat(received), up)).toBe(0);
    expect(socket.bytesRead).toBe(up.byteLength);
    // Without allowHalfOpen the peer's FIN ends this side too; both ended: destroyed, then 'close'.
    expect(events.filter((e) => e !== 'data')).toEqual(['end', 'close']);
    expect(events.lastIndexOf('data')).toBeLessThan(events.indexOf('end'));
    expect(socket.destroyed).toBe(true);
    expect(await readAll(pair, sa, cfd)).toHaveLength(0); // our FIN reached the client
  });

  it('half-close: with allowHalfOpen the socket still writes after the peer FIN; end() sends the FIN and closes', async () => {
    const { pair, cfd, events, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('question')));
    sa.shutdown(cfd, SHUT_WR);
    expect(sched.runUntil(() => events.includes('end'), 5000)).toBe(true);
    sched.runUntil(() => false, 200);
    expect(events).not.toContain('close');
    expect(socket.destroyed).toBe(false);
    expect(socket.write('answer, ')).toBe(true);
    socket.write(Buffer.from('after the FIN'));
    socket.end();
    expect(sched.runUntil(() => events.includes('close'), 5000)).toBe(true);
    expect((await readAll(pair, sa, cfd)).toString()).toBe('answer, after the FIN');
    expect(events.filter((e) => e !== 'data')).toEqual(['end', 'close']);
  });

  it('backpressure: write returns false above the send buffer, drain follows, end() sends the FIN after the queued bytes', async () => {
    const { pair, cfd, events, socket } = await connected({ allowHalfOpen: true, clientRcvBuf: 16_384 });
    const { sched, sa } = pair;
    const down = patternBytes(2_000_000, 9);
    let writes = 0;
    let off = 0;
    // Write in 100 KB chunks until one does not fit; the client reads nothing yet.
    while (off < down.byteLength) {
      const ok = socket.write(down.subarray(off, off + 100_000));
      off += 100_000;
      writes++;
      if (!ok) break;
    }
    expect(off).toBeLessThan(down.byteLength);
    expect(socket.writableLength).toBeGreaterThan(0);
    // Writes after a false return are queued behind, in order.
    expect(socket.write(down.subarray(off))).toBe(false);
    socket.end();
    sched.runUntil(() => false, 500);
    expect(events).not.toContain('drain'); // the client reads nothing: the queue cannot move
    const got = await readAll(pair, sa, cfd);
    expect(got.byteLength).toBe(down.byteLength);
    expect(Buffer.compare(got, down)).toBe(0);
    expect(events).toContain('drain');
    expect(writes).toBeGreaterThan(0);
    expect(socket.bytesWritten).toBe(down.byteLength);
  });

  it('destroy in the middle of a write drops the queue; close comes later (never inside destroy), once, without drain', async () => {
    const { pair, events, socket } = await connected({ allowHalfOpen: true, clientRcvBuf: 16_384 });
    const { sched } = pair;
    expect(socket.write(patternBytes(1_000_000, 3))).toBe(false);
    socket.destroy();
    expect(socket.destroyed).toBe(true);
    expect(events).toEqual([]); // deferred: nothing ran inside destroy()
    expect(socket.write(Buffer.from('late'))).toBe(false);
    socket.destroy();
    expect(sched.runUntil(() => events.includes('close'), 1000)).toBe(true);
    sched.runUntil(() => false, 500);
    expect(events).toEqual(['close']);
  });

  it('destroy from inside a data listener: the listener finishes before close runs, in the same deferred turn', async () => {
    const { pair, cfd, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    const order: string[] = [];
    logTurns(socket, order);
    socket.on('data', function () {
      order.push('data: destroy');
      this.destroy(new Error('enough'));
      order.push('data: after destroy');
    });
    socket.on('error', (err) => order.push(`error ${err.message}`));
    socket.on('close', () => order.push('close'));
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('x')));
    expect(sched.runUntil(() => order.includes('close'), 1000)).toBe(true);
    sched.runUntil(() => false, 100);
    // One turn: the update delivered the bytes, then reported the close (not queued again).
    expect(order).toEqual(['turn', 'data: destroy', 'data: after destroy', 'error enough', 'close']);
  });

  it("a listener's exception closes its socket in the same turn and is rethrown after 'close'", async () => {
    const { pair, cfd, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    const order: string[] = [];
    logTurns(socket, order);
    socket.on('data', () => {
      order.push('data');
      throw new Error('listener bug');
    });
    socket.on('error', (err) => order.push(`error ${err.message}`));
    socket.on('close', () => order.push('close'));
    // The scheduler (no onError given) rethrows what the server's bottom half threw from its run.
    let caught: unknown;
    try {
      await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('x')));
      sched.runUntil(() => order.includes('close'), 1000);
    } catch (err) {
      caught = err;
    }
    expect((caught as Error | undefined)?.message).toBe('listener bug');
    sched.runUntil(() => false, 100);
    expect(order).toEqual(['turn', 'data', 'error listener bug', 'close', 'thrown listener bug']);
    expect(socket.destroyed).toBe(true);
  });

  it('a destroy outside the deferred round (by the application) still reports its close in a later round', async () => {
    const { pair, socket } = await connected({ allowHalfOpen: true });
    const { sched } = pair;
    const order: string[] = [];
    socket.on('close', () => order.push('close'));
    socket.destroy();
    expect(order).toEqual([]);
    expect(sched.runUntil(() => order.includes('close'), 1000)).toBe(true);
    sched.runUntil(() => false, 100);
    expect(order).toEqual(['close']);
  });

  it('pause holds the bytes in TCP; resume delivers them later (not inside resume), in order, then end', async () => {
    const { pair, cfd, events, received, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    socket.pause();
    expect(socket.isPaused()).toBe(true);
    const up = patternBytes(50_000, 11);
    await awaitOnVirtualClock(sched, sa.send(cfd, up));
    sa.shutdown(cfd, SHUT_WR);
    sched.runUntil(() => false, 500);
    expect(events).toEqual([]); // neither data nor end while paused
    socket.resume();
    expect(events).toEqual([]); // nothing inside resume()
    expect(sched.runUntil(() => events.includes('end'), 1000)).toBe(true);
    expect(Buffer.compare(Buffer.concat(received), up)).toBe(0);
    expect(events.indexOf('end')).toBe(events.length - 1);
  });

  it('pausing inside a data listener stops delivery at once; resuming takes up where it stopped', async () => {
    const { pair, cfd, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    const chunks: Buffer[] = [];
    let pausedAt = -1;
    socket.on('data', function (chunk) {
      chunks.push(chunk);
      if (chunks.length === 1) {
        this.pause();
        pausedAt = chunks.length;
      }
    });
    const up = patternBytes(200_000, 13);
    const sending = sa.send(cfd, up);
    sched.runUntil(() => chunks.length > 0, 1000);
    sched.runUntil(() => false, 200);
    expect(chunks.length).toBe(pausedAt);
    socket.resume();
    await awaitOnVirtualClock(sched, sending);
    expect(sched.runUntil(() => Buffer.concat(chunks).byteLength === up.byteLength, 2000)).toBe(true);
    expect(Buffer.compare(Buffer.concat(chunks), up)).toBe(0);
  });

  it('a reply written inside the data listener is the only segment of the exchange: it carries the ACK and the FIN', async () => {
    const { pair, cfd, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa, sb } = pair;
    const conn = (sb.entry(socket.fd, 'recv') as TcpEntry).conn!;
    let atData = -1;
    let afterEnd = -1;
    socket.on('data', function (chunk) {
      atData = conn.stats.segmentsOut;
      this.cork();
      this.write(Buffer.concat([Buffer.from('re: '), chunk]));
      this.end();
      afterEnd = conn.stats.segmentsOut;
    });
    const before = conn.stats.segmentsOut;
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('ping')));
    expect((await readAll(pair, sa, cfd)).toString()).toBe('re: ping');
    // Nothing left before the answer: no pure ACK, no window update of the first read of its own.
    expect(atData).toBe(before);
    // Sent inside the listener, reply and FIN together (cork, then end).
    expect(afterEnd - atData).toBe(1);
    sched.runUntil(() => false, 500); // past any delayed-ACK timer: the reply carried the ACK
    expect(conn.stats.segmentsOut).toBe(afterEnd);
  });

  it('a notification with nothing for the face (its own FIN, the ACK of its reply) costs no deferred round and no pass', async () => {
    const { pair, cfd, socket } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    // Counts the socket's deferred rounds and its update passes (the private pass, through the instance).
    const face = socket as unknown as { runDeferred(): void; update(): void };
    let rounds = 0;
    let passes = 0;
    const runDeferred = face.runDeferred.bind(socket);
    const update = face.update.bind(socket);
    face.runDeferred = () => {
      rounds++;
      runDeferred();
    };
    face.update = () => {
      passes++;
      update();
    };
    socket.on('data', function (chunk) {
      this.write(Buffer.concat([Buffer.from('re: '), chunk]));
      this.end();
    });
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('ping')));
    expect((await readAll(pair, sa, cfd)).toString()).toBe('re: ping');
    sched.runUntil(() => false, 500); // the client's delayed ACK of the reply and the FIN arrives
    // One round with one pass: the request's bytes. Inside it the FIN's shutdown woke the entry, and
    // TCP sent and had acknowledged the reply: nothing of that is for the face.
    expect([rounds, passes]).toEqual([1, 1]);
    sa.shutdown(cfd, SHUT_WR);
    expect(sched.runUntil(() => socket.destroyed, 500)).toBe(true);
    sched.runUntil(() => false, 100);
    // The client's FIN: 'end', both sides ended, and the 'close' of that destroy in the same turn.
    expect([rounds, passes]).toEqual([2, 2]);
    expect(socket.bytesRead).toBe(4);
  });

  it('a reset by the peer: error ECONNRESET, then close', async () => {
    const { pair, cfd, events } = await connected({ allowHalfOpen: true });
    const { sched, sa } = pair;
    sa.setsockopt(cfd, SOL_SOCKET, SO_LINGER, { onoff: true, linger: 0 });
    sa.close(cfd);
    expect(sched.runUntil(() => events.includes('close'), 1000)).toBe(true);
    expect(events).toEqual(['error ECONNRESET', 'close']);
  });

  it('a destroyed socket never touches the connection accepted after it (same descriptor slot, new number)', async () => {
    const { pair, server, cfd, socket: old } = await connected({ allowHalfOpen: true });
    const { sched, sa, sb } = pair;
    old.destroy();
    sa.close(cfd);
    sched.runUntil(() => server.connections === 0, 1000);
    expect(server.connections).toBe(0);
    let fresh: LightSocket | undefined;
    const got: Buffer[] = [];
    server.on('connection', (s) => {
      fresh = s;
      s.on('data', (chunk) => got.push(chunk));
    });
    const cfd2 = sa.socket(AF_INET, SOCK_STREAM);
    await awaitOnVirtualClock(sched, sa.connect(cfd2, { address: B_ADDR, port: PORT }));
    expect(sched.runUntil(() => fresh !== undefined, 1000)).toBe(true);
    const now = fresh!;
    expect(now).not.toBe(old);
    expect(now.fd).not.toBe(old.fd);
    expect(sb.table.slotOf(now.fd)).toBe(sb.table.slotOf(old.fd)); // the same slot under a new number
    expect(sb.isOpen(old.fd)).toBe(false);
    // Every call on the old socket is a no-op for the new connection.
    expect(old.write(Buffer.from('stale'))).toBe(false);
    old.cork();
    old.uncork();
    old.pause();
    old.resume();
    old.setNoDelay(false);
    old.end();
    old.destroy(new Error('stale'));
    await awaitOnVirtualClock(sched, sa.send(cfd2, new TextEncoder().encode('hello')));
    expect(sched.runUntil(() => got.length > 0, 1000)).toBe(true);
    expect(Buffer.concat(got).toString()).toBe('hello');
    expect(now.destroyed).toBe(false);
    expect(now.write(Buffer.from('answer'))).toBe(true);
    now.end();
    expect((await readAll(pair, sa, cfd2)).toString()).toBe('answer');
    expect(old.bytesWritten).toBe(0);
  });

  it('the server: listen throws EADDRINUSE on a taken port; close resets connections never accepted and waits for open ones', async () => {
    const { pair, server, socket } = await connected({ allowHalfOpen: true });
    const { sched, sb } = pair;
    expect(() => new LightServer({ sockets: sb }).listen(PORT)).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE' }),
    );
    expect(server.address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port: PORT });
    expect(server.connections).toBe(1);
    let closed = false;
    server.close(() => (closed = true));
    expect(server.listening).toBe(false);
    sched.runUntil(() => false, 100);
    await Promise.resolve();
    expect(closed).toBe(false);
    socket.destroy();
    sched.runUntil(() => closed, 1000);
    expect(closed).toBe(true);
    expect(server.connections).toBe(0);
    expect(A_ADDR).not.toBe(B_ADDR);
  });
});
