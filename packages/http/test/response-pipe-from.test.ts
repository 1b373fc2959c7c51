/**
 * `HttpResponse.pipeFrom`: a source (an async iterable or a Node Readable) piped into a response over a
 * socket that pushes back (a small high-water mark, drained only when the test's peer reads). The source
 * is pulled no faster than the socket takes bytes, the body arrives complete and in order, a failing
 * source ends the response by closing the connection (counted, no crash), and a peer that goes away
 * stops the reading of the source.
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, type HttpHandler } from '../src/index.js';
import type { HttpTransportSocket } from '../src/server/transport.js';

/**
 * A transport socket with a send buffer of `highWater` bytes that only the test's peer empties
 * ({@link PushbackSocket.read}): `write` says "wait" once the buffer holds `highWater` bytes or more, and
 * `'drain'` follows the read that empties it.
 */
class PushbackSocket extends EventEmitter implements HttpTransportSocket {
  readonly remoteAddress = '198.18.50.6';
  destroyed = false;
  /** Everything the peer read, in order. */
  readonly received: Buffer[] = [];
  /** How many times `write` returned false. */
  pushedBack = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private waiting = false;

  constructor(private readonly highWater: number) {
    super();
  }

  write(chunk: Uint8Array | string): boolean {
    if (this.destroyed) return false;
    // A copy: the test checks what was on the wire, whatever the writer does with its buffer afterwards.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk);
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (this.queued < this.highWater) return true;
    this.pushedBack++;
    this.waiting = true;
    return false;
  }

  /** The peer reads everything queued; `'drain'` when the socket had said "wait". Returns the bytes read. */
  read(): number {
    const n = this.queued;
    this.received.push(...this.queue);
    this.queue = [];
    this.queued = 0;
    if (this.waiting && !this.destroyed) {
      this.waiting = false;
      this.emit('drain');
    }
    return n;
  }

  /** Bytes written and not read yet. */
  get unread(): number {
    return this.queued;
  }

  end(): void {}
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  pause(): void {}
  resume(): void {}

  /** Everything the peer read, as one buffer. */
  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

/** Lets pending promise callbacks and immediates run (a few rounds), so the pipe goes as far as it can. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** `count` chunks of `size` bytes, each filled from its index, so order and completeness are checkable. */
function chunkBytes(index: number, size: number): Buffer {
  const chunk = Buffer.alloc(size);
  for (let i = 0; i < size; i++) chunk[i] = (index * 31 + i * 7) & 0xff;
  return chunk;
}

/** What a source of `count` chunks of `size` bytes yields, concatenated. */
function expectedBody(count: number, size: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => chunkBytes(i, size)));
}

/**
 * A pull-counting async source of `count` chunks of `size` bytes. `failAt`: the pull of that chunk
 * throws instead. `finished` is true once the source's iteration ended (completed, failed or returned
 * early); `returned` once a consumer stopped it early.
 */
function countingSource(count: number, size: number, failAt = -1) {
  const state = { pulls: 0, finished: false, returned: false };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let completed = false;
    try {
      for (let i = 0; i < count; i++) {
        state.pulls++;
        await Promise.resolve();
        if (i === failAt) throw new Error('source failed');
        yield chunkBytes(i, size);
      }
      completed = true;
    } finally {
      state.finished = true;
      if (!completed) state.returned = true;
    }
  }
  return { state, source: chunks() };
}

/** Splits the head off `out`; returns the head text and the body bytes. */
function splitResponse(out: Buffer): { head: string; body: Buffer } {
  const at = out.indexOf('\r\n\r\n');
  expect(at).toBeGreaterThan(0);
  return { head: out.subarray(0, at).toString('latin1'), body: out.subarray(at + 4) };
}

/** Decodes a chunked body (throws on bad framing); `complete` says whether the last chunk arrived. */
function unchunk(body: Buffer): { data: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) return { data: Buffer.concat(parts), complete: false };
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isInteger(size)) throw new Error('bad chunk size');
    if (size === 0) return { data: Buffer.concat(parts), complete: true };
    if (body.length < lineEnd + 2 + size + 2) return { data: Buffer.concat(parts), complete: false };
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    if (body.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1') !== '\r\n')
      throw new Error('chunk not followed by CRLF');
    at = lineEnd + 4 + size;
  }
}

const servers: HttpServer[] = [];
const sockets: PushbackSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await server.close();
});

/** A server answering every request with `handler`, and a pushback socket connected to it. */
function serve(handler: HttpHandler, highWater: number, onHandlerError?: (error: unknown) => void) {
  const server = new HttpServer(handler, { onHandlerError });
  servers.push(server);
  const socket = new PushbackSocket(highWater);
  sockets.push(socket);
  server.handleConnection(socket);
  return { server, socket };
}

const GET_11 = Buffer.from('GET /piped HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1');
const GET_10 = Buffer.from('GET /piped HTTP/1.0\r\n\r\n', 'latin1');

describe('HttpResponse.pipeFrom', () => {
  it('pulls an async iterable no faster than the socket takes bytes, and delivers it whole and in order', async () => {
    const chunks = 64;
    const size = 1000;
    const highWater = 4096;
    const { state, source } = countingSource(chunks, size);
    let piped: Promise<void> | undefined;
    const { server, socket } = serve((_req, res) => {
      piped = res.pipeFrom(source);
      return piped;
    }, highWater);
    socket.emit('data', GET_11);
    await settle();

    // Stalled: the socket said "wait" and nothing more was pulled than what filled its buffer.
    expect(socket.pushedBack).toBe(1);
    expect(state.pulls).toBeLessThanOrEqual(Math.ceil(highWater / size) + 1);
    const pullsWhileStalled = state.pulls;
    await settle();
    expect(state.pulls).toBe(pullsWhileStalled);

    // Each read of the peer lets the pipe fill the buffer again, and no further.
    let reads = 0;
    while (!state.finished && reads < 1000) {
      socket.read();
      reads++;
      await settle();
      expect(socket.unread).toBeLessThan(highWater + size + 64);
    }
    socket.read();
    await piped;
    expect(state.finished).toBe(true);
    expect(state.returned).toBe(false);
    expect(reads).toBeGreaterThan(chunks / Math.ceil(highWater / size) - 2);

    const { head, body } = splitResponse(socket.bytes);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nTransfer-Encoding: chunked(\r\n|$)/);
    const decoded = unchunk(body);
    expect(decoded.complete).toBe(true);
    expect(decoded.data.equals(expectedBody(chunks, size))).toBe(true);
    expect(server.stats.handlerErrors).toBe(0);
    expect(server.stats.destroyed).toBe(0);
    expect(socket.destroyed).toBe(false);
  });

  it('pipes a Node Readable with backpressure (close-delimited for HTTP/1.0), whole and in order', async () => {
    const chunks = 40;
    const size = 1500;
    const highWater = 3000;
    let produced = 0;
    const readable = new Readable({
      highWaterMark: 1, // buffers at most one chunk ahead of its consumer
      read() {
        if (produced === chunks) this.push(null);
        else this.push(chunkBytes(produced++, size));
      },
    });
    let piped: Promise<void> | undefined;
    const { server, socket } = serve((_req, res) => {
      piped = res.pipeFrom(readable);
      return piped;
    }, highWater);
    socket.emit('data', GET_10);
    await settle();
    expect(socket.pushedBack).toBe(1);
    // The Readable reads a little ahead of its consumer, but the stalled pipe keeps it from running on.
    const producedWhileStalled = produced;
    expect(producedWhileStalled).toBeLessThan(chunks / 2);
    await settle();
    expect(produced).toBe(producedWhileStalled);

    let reads = 0;
    while (piped !== undefined && !readable.readableEnded && reads < 1000) {
      socket.read();
      reads++;
      await settle();
    }
    socket.read();
    await piped;
    await settle();
    socket.read();
    expect(produced).toBe(chunks);
    const { head, body } = splitResponse(socket.bytes);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).not.toMatch(/Transfer-Encoding|Content-Length/);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/);
    expect(body.equals(expectedBody(chunks, size))).toBe(true);
    expect(server.stats.handlerErrors).toBe(0);
  });

  it('a source that fails mid-body ends the response by closing the connection, counted, the server going on', async () => {
    const size = 800;
    const { state, source } = countingSource(50, size, 5);
    const errors: unknown[] = [];
    const { server, socket } = serve(
      (_req, res) => res.pipeFrom(source),
      1 << 20,
      (error) => errors.push(error),
    );
    socket.emit('data', GET_11);
    await settle();
    socket.read();

    expect(state.finished).toBe(true);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('source failed');
    expect(server.stats.handlerErrors).toBe(1);
    // The head and five chunks had left: no 500 can replace them, so the connection is destroyed and
    // the peer sees a chunked body without its last chunk (a truncated response, not a complete one).
    expect(server.stats.destroyed).toBe(1);
    expect(socket.destroyed).toBe(true);
    const { head, body } = splitResponse(socket.bytes);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const decoded = unchunk(body);
    expect(decoded.complete).toBe(false);
    expect(decoded.data.equals(expectedBody(5, size))).toBe(true);

    // The server still serves a new connection.
    const next = new PushbackSocket(1 << 20);
    sockets.push(next);
    server.handleConnection(next);
    expect(server.stats.connectionsOpen).toBe(1);
  });

  it('a source that fails before its first chunk gets a 500 instead', async () => {
    const { state, source } = countingSource(10, 100, 0);
    const { server, socket } = serve((_req, res) => res.pipeFrom(source), 1 << 20);
    socket.emit('data', GET_11);
    await settle();
    socket.read();
    expect(state.finished).toBe(true);
    expect(server.stats.handlerErrors).toBe(1);
    expect(server.stats.destroyed).toBe(0);
    expect(socket.destroyed).toBe(false);
    expect(socket.bytes.toString('latin1')).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
  });

  it('a peer that goes away while the pipe waits for drain stops the reading of the source', async () => {
    const size = 1000;
    const { state, source } = countingSource(1000, size);
    let piped: Promise<void> | undefined;
    const { server, socket } = serve((_req, res) => {
      piped = res.pipeFrom(source);
      return piped;
    }, 4096);
    socket.emit('data', GET_11);
    await settle();
    socket.read();
    await settle();
    expect(socket.pushedBack).toBe(2);
    const pullsBeforeClose = state.pulls;

    socket.destroy(); // the peer is gone while the pipe waits for 'drain'
    await piped;
    await settle();
    expect(state.pulls).toBe(pullsBeforeClose);
    expect(state.finished).toBe(true);
    expect(state.returned).toBe(true);
    expect(server.stats.handlerErrors).toBe(0);
    expect(server.stats.connectionsOpen).toBe(0);
  });

  it('a peer that goes away destroys a piped Readable without reading it to its end', async () => {
    let produced = 0;
    const readable = new Readable({
      read() {
        this.push(chunkBytes(produced++, 1000));
      },
    });
    let piped: Promise<void> | undefined;
    const { socket } = serve((_req, res) => {
      piped = res.pipeFrom(readable);
      return piped;
    }, 4096);
    socket.emit('data', GET_11);
    await settle();
    expect(socket.pushedBack).toBe(1);
    const producedBeforeClose = produced;

    socket.destroy();
    await piped;
    await settle();
    expect(readable.destroyed).toBe(true);
    expect(produced).toBe(producedBeforeClose);
  });
});
