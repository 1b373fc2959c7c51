/**
 * Large static files streamed to a peer that stops reading: the server hands the socket at most one
 * read past the point where the socket said "wait", and finishes the body intact once it drains.
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
