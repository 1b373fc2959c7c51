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
export async function cuttingProxy(targetPort: number, cutAfter: number): Promise<{ url: string; server: Server; cut: () => boolean }> {
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
