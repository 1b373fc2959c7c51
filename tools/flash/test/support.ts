/** Helpers shared by the flash tests. */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { generateSigningKeyPair } from '@postern/firmware';
import type { SigningKeyPair } from '@postern/firmware';

export const keys: SigningKeyPair = generateSigningKeyPair();
export const otherKeys: SigningKeyPair = generateSigningKeyPair();

/** A free loopback TCP port (listen on 0, close). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GETs `url`, retrying connection failures until `timeoutMs`; resolves with status and body. */
export async function fetchText(url: string, timeoutMs = 20_000): Promise<{ status: number; body: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * A TCP proxy to `target` that cuts both directions once `cutAfter` bytes went from the client to
 * the board (a yanked cable in the middle of a transfer). `cutAfter` Infinity: never.
 */
export async function cuttingProxy(
  targetPort: number,
  cutAfter: number,
): Promise<{ url: string; server: Server; cut: () => boolean }> {
  let didCut = false;
  const server = createServer((client: Socket) => {
    const board = connect(targetPort, '127.0.0.1');
    let sent = 0;
    client.on('error', () => {});
    board.on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      if (didCut) return;
      if (sent + chunk.length > cutAfter) {
        board.write(chunk.subarray(0, Math.max(0, cutAfter - sent)));
        didCut = true;
        client.destroy();
        board.destroy();
        return;
      }
      sent += chunk.length;
      board.write(chunk);
    });
    board.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => board.destroy());
    board.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `socket://127.0.0.1:${(server.address() as { port: number }).port}`, server, cut: () => didCut };
}

/**
 * A TCP proxy to `target` whose FIRST connection stops passing the client's bytes on after
 * `stallAfter` bytes (the board never sees the rest, so it never answers: a hung transfer), without
 * closing anything; later connections pass everything. `stalled` resolves when the stall begins.
 */
export async function stallingProxy(
  targetPort: number,
  stallAfter: number,
): Promise<{ url: string; server: Server; stalled: Promise<void>; close: () => Promise<void> }> {
  let connections = 0;
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((r) => (onStall = r));
  const sockets = new Set<Socket>();
  const server = createServer((client: Socket) => {
    const stalls = connections++ === 0;
    const board = connect(targetPort, '127.0.0.1');
    for (const s of [client, board]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      if (!stalls) {
        board.write(chunk);
        return;
      }
      if (sent >= stallAfter) return;
      const pass = chunk.subarray(0, Math.max(0, stallAfter - sent));
      sent += pass.length;
      board.write(pass);
      if (sent >= stallAfter) onStall();
    });
    board.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => board.destroy());
    board.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { url: `socket://127.0.0.1:${(server.address() as { port: number }).port}`, server, stalled, close };
}

/** A small deterministic generator (xorshift32) so every run replays. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}
