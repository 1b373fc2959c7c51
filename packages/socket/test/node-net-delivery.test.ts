/**
 * How received bytes reach a `net` Socket's consumer: a flowing socket hands each chunk to its
 * `'data'` listeners at once (without the Readable's `push()`), and everything Node's `push()` path
 * does for the other cases still holds: a listener that pauses holds the next chunks in the buffer
 * until it resumes, in order; `setEncoding` gives strings; a listener that destroys the socket gets
 * nothing more.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../src/index.js';
import { patternBytes, sha256Hex, waitFor } from '@postern/netlab';
import { connectedNetSockets } from './support/net-face.js';
import { nextEvent } from './support/wait.js';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

/** A connected pair of `net` sockets on a real clock (torn down after each test). */
async function connected(port: number) {
  const { client, peer } = await connectedNetSockets(port, stops);
  return { client, peer };
}

/** Counts the chunks that go through the socket's `push()` (the Readable's buffer path). */
function countPushes(socket: Socket): { count: number } {
  const counter = { count: 0 };
  const push = socket.push.bind(socket);
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null) counter.count++;
    return push(chunk, encoding);
  };
  return counter;
}

/** Sends `pieces` one at a time, each once the receiver took the previous one from TCP (one read per piece). */
async function sendOneByOne(from: Socket, to: Socket, pieces: readonly Buffer[]): Promise<void> {
  let sent = 0;
  for (const piece of pieces) {
    from.write(piece);
    sent += piece.byteLength;
    const expected = sent;
    await waitFor(`the receiver's read of byte ${expected}`, () => to.bytesRead >= expected, 5000, 1);
  }
}

describe('the net face: delivery of received bytes', () => {
  it('a flowing socket gets chunks without push(); a listener that pauses holds the next ones in the buffer, in order', async () => {
    const { client, peer } = await connected(4100);
    const data = patternBytes(40 * 700, 5);
    const pieces = Array.from({ length: 40 }, (_, i) => Buffer.from(data.subarray(i * 700, (i + 1) * 700)));
    const pushes = countPushes(client);
    const chunks: Buffer[] = [];
    let dataWhilePaused = 0;
    let pausesHeld = 0;
    client.on('data', (c: Buffer) => {
      if (client.isPaused()) dataWhilePaused++;
      chunks.push(c);
      if (chunks.length % 8 !== 0) return;
      // Pause until the next piece waits in the socket's own buffer, then resume.
      client.pause();
      void waitFor('a chunk buffered while paused', () => client.readableLength > 0, 5000, 1).then(() => {
        pausesHeld++;
        client.resume();
      });
    });
    await sendOneByOne(peer, client, pieces);
    peer.end();
    await nextEvent(client, 'end');
    expect(sha256Hex(Buffer.concat(chunks))).toBe(sha256Hex(data));
    expect(dataWhilePaused).toBe(0);
    expect(pausesHeld).toBe(4);
    expect(client.readableDidRead).toBe(true);
    // The first chunk and those that arrived while paused went through push(); the others went straight.
    expect(pushes.count).toBeGreaterThanOrEqual(1 + pausesHeld);
    expect(pushes.count).toBeLessThan(chunks.length / 2);
  });

  it('setEncoding: a flowing socket delivers decoded strings, a character split across reads included', async () => {
    const { client, peer } = await connected(4101);
    const text = 'grüße, ελληνικά, 日本語 — '.repeat(20);
    const bytes = Buffer.from(text, 'utf8');
    // Cut inside multi-byte characters, so the decoder must carry bytes from one read to the next.
    const cuts = [0, 7, 40, 41, 99, 150, 151, 300, bytes.byteLength];
    const pieces = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end));
    client.setEncoding('utf8');
    const parts: unknown[] = [];
    client.on('data', (c: unknown) => parts.push(c));
    await sendOneByOne(peer, client, pieces);
    peer.end();
    await nextEvent(client, 'end');
    expect(parts.every((p) => typeof p === 'string')).toBe(true);
    expect(parts.join('')).toBe(text);
  });

  it('a data listener that destroys the socket gets nothing more, and close follows', async () => {
    const { client, peer } = await connected(4102);
    let events = 0;
    let afterDestroy = 0;
    client.on('data', () => {
      events++;
      if (client.destroyed) afterDestroy++;
      client.destroy();
    });
    peer.on('error', () => {});
    // 200 kB: more than one read (a read takes at most 64 KiB) is waiting when the first is delivered.
    peer.write(patternBytes(200_000, 2));
    await nextEvent(client, 'close');
    expect(events).toBe(1);
    expect(afterDestroy).toBe(0);
  });

  it('a piped socket delivers through the stream (pipe waits for the destination to drain)', async () => {
    const { client, peer } = await connected(4103);
    const data = patternBytes(300_000, 8);
    const pushes = countPushes(client);
    const got: Buffer[] = [];
    const { PassThrough } = await import('node:stream');
    const sink = new PassThrough({ highWaterMark: 1024 });
    client.pipe(sink);
    // A slow reader: the pipe pauses the socket whenever the sink is full.
    const reading = (async () => {
      for await (const c of sink) {
        got.push(c as Buffer);
        await new Promise((r) => setImmediate(r));
      }
    })();
    peer.end(data);
    await reading;
    expect(sha256Hex(Buffer.concat(got))).toBe(sha256Hex(data));
    expect(pushes.count).toBeGreaterThan(0);
  });
});
