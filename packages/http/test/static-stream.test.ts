/**
 * Large static files streamed to a peer that stops reading: the server hands the socket at most one
 * read past the point where the socket said "wait", and finishes the body intact once it drains.
 * Through a socket that copies what it takes, the read buffers are refilled (two per response), and
 * never while a chunk may still be held (queued behind a pipelined response, or in a socket that keeps
 * chunks).
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, serveStatic } from '../src/index.js';
import type { HttpTransportSocket } from '../src/server/transport.js';

/** A transport socket whose peer reads nothing until told: every write says "wait for drain". */
class StalledSocket extends EventEmitter implements HttpTransportSocket {
  readonly remoteAddress = '198.18.49.9';
  destroyed = false;
  readonly written: Uint8Array[] = [];
  writtenBytes = 0;

  write(chunk: Uint8Array | string): boolean {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    this.written.push(bytes);
    this.writtenBytes += bytes.byteLength;
    return false;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  pause(): void {}
  resume(): void {}
}

/**
 * Waits until `socket` holds more than `before` bytes (at most 10 s: a loaded machine may take long
 * for a file read), then until it got no write for a few event-loop turns.
 */
async function settled(socket: StalledSocket, before: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (socket.writtenBytes === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  let last = -1;
  while (last !== socket.writtenBytes) {
    last = socket.writtenBytes;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A socket that copies every chunk at `write` (as the netstack's does), saying "wait" every
 * `waitEvery`-th write and draining on the next turn. Records which buffers the chunks were views of.
 */
class CopyingSocket extends StalledSocket {
  readonly copiesWrites = true;
  readonly copies: Buffer[] = [];
  readonly buffers = new Set<ArrayBufferLike>();
  private writes = 0;

  constructor(private readonly waitEvery: number) {
    super();
  }

  override write(chunk: Uint8Array | string): boolean {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    this.copies.push(Buffer.from(bytes));
    this.buffers.add(bytes.buffer);
    if (++this.writes % this.waitEvery !== 0) return true;
    setImmediate(() => this.emit('drain'));
    return false;
  }
}

/** Waits until `socket` got `count` whole responses (at most 4 s), then returns their bodies. */
async function received(socket: CopyingSocket, count: number): Promise<Buffer[]> {
  const deadline = Date.now() + 4_000;
  let got = bodies(Buffer.concat(socket.copies));
  while (got.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    got = bodies(Buffer.concat(socket.copies));
  }
  return got;
}

/** The whole bodies of the responses in `out`, each split off by its `Content-Length`. */
function bodies(out: Buffer): Buffer[] {
  const result: Buffer[] = [];
  let at = 0;
  for (;;) {
    const split = out.indexOf('\r\n\r\n', at);
    if (split < 0) return result;
    const length = Number(/Content-Length: (\d+)/.exec(out.subarray(at, split).toString('latin1'))![1]);
    if (split + 4 + length > out.length) return result;
    result.push(out.subarray(split + 4, split + 4 + length));
    at = split + 4 + length;
  }
}

function patterned(bytes: number, seed: number): Buffer {
  const file = Buffer.alloc(bytes);
  for (let i = 0; i < file.length; i++) file[i] = (i * seed + (i >>> 11)) & 0xff;
  return file;
}

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('serveStatic streaming to a stalled peer', () => {
  it('writes at most one read past the socket saying wait, then the whole file once it drains', async () => {
    const root = mkdtempSync(join(tmpdir(), 'postern-static-stream-'));
    roots.push(root);
    const chunkBytes = 64 * 1024;
    const file = Buffer.alloc(1024 * 1024 + 5);
    for (let i = 0; i < file.length; i++) file[i] = (i * 7 + (i >>> 12)) & 0xff;
    writeFileSync(join(root, 'big.bin'), file);
    const server = new HttpServer(serveStatic(root, { chunkBytes }));
    const socket = new StalledSocket();
    server.handleConnection(socket);
    socket.emit('data', Buffer.from('GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'));

    await settled(socket, 0);
    // The head, then one chunk: the socket said wait, and nothing more is handed to it.
    expect(socket.writtenBytes).toBeGreaterThan(0);
    expect(socket.writtenBytes).toBeLessThanOrEqual(chunkBytes + 1024);

    // Each drain lets exactly one more chunk through; the body ends intact.
    const total = socket.written[0]!.byteLength + file.length; // the head went out alone
    let drains = 0;
    while (socket.writtenBytes < total && drains < 1000) {
      const before = socket.writtenBytes;
      socket.emit('drain');
      drains++;
      await settled(socket, before);
      expect(socket.writtenBytes - before).toBeLessThanOrEqual(chunkBytes);
    }
    const out = Buffer.concat(socket.written);
    const split = out.indexOf('\r\n\r\n');
    expect(out.subarray(0, split).toString('latin1')).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 1048581(\r\n|$)/,
    );
    expect(socket.writtenBytes).toBe(total);
    expect(out.subarray(split + 4).equals(file)).toBe(true);
    socket.destroy();
  });
});

describe('serveStatic streaming through a socket that copies', () => {
  const chunkBytes = 16 * 1024;

  /** Serves `files` from a new root; the result opens a connection through a {@link CopyingSocket}. */
  function serve(files: Record<string, Buffer>): (waitEvery: number) => CopyingSocket {
    const root = mkdtempSync(join(tmpdir(), 'postern-static-copy-'));
    roots.push(root);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
    const server = new HttpServer(serveStatic(root, { chunkBytes }));
    return (waitEvery) => {
      const socket = new CopyingSocket(waitEvery);
      server.handleConnection(socket);
      return socket;
    };
  }

  it('sends the file intact from two read buffers, whether the socket waits or not', async () => {
    const file = patterned(20 * chunkBytes + 77, 13);
    const open = serve({ 'big.bin': file });
    for (const waitEvery of [1_000_000, 3, 1]) {
      const socket = open(waitEvery);
      socket.emit('data', Buffer.from('GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'));
      const [body] = await received(socket, 1);
      expect(body?.equals(file)).toBe(true);
      // The head's buffer, and the two the body was read into (one per chunk before this change).
      expect(socket.buffers.size).toBeLessThanOrEqual(3);
      socket.destroy();
    }
  });

  it('sends a range intact', async () => {
    const file = patterned(9 * chunkBytes, 29);
    const socket = serve({ 'big.bin': file })(2);
    const start = chunkBytes - 5;
    const end = 7 * chunkBytes + 3;
    socket.emit(
      'data',
      Buffer.from(`GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=${start}-${end}\r\n\r\n`, 'latin1'),
    );
    const [body] = await received(socket, 1);
    expect(Buffer.concat(socket.copies).toString('latin1')).toMatch(/^HTTP\/1\.1 206 /);
    expect(body?.equals(file.subarray(start, end + 1))).toBe(true);
    socket.destroy();
  });

  it('never refills a chunk queued behind an earlier pipelined response', async () => {
    // The second response streams while the first is still being written: its chunks wait in the
    // response (below its queue limit, so its writes say "go on"); refilling them would corrupt it.
    const first = patterned(12 * chunkBytes + 1, 7);
    const second = patterned(12 * chunkBytes + 3, 11);
    const socket = serve({ 'a.bin': first, 'b.bin': second })(2);
    socket.emit(
      'data',
      Buffer.from('GET /a.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /b.bin HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'),
    );
    const [a, b] = await received(socket, 2);
    expect(a?.equals(first)).toBe(true);
    expect(b?.equals(second)).toBe(true);
    socket.destroy();
  });
});
