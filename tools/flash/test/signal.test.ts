// The real process: `postern-flash` (src/main.ts, as the launcher runs it) gets a real SIGINT in the
// middle of a transfer, says at which chunk it stopped and exits 130; the same command run again
// resumes from there, completes, and the board boots the image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedBootloader, buildImage } from '@postern/firmware';
import { keys, stallingProxy } from './support.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const BOARD = 'postern-devboard-1';

let dir: string;
let bootloader: SimulatedBootloader;
let server: Server;
let boardPort: number;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-flash-signal-'));
  bootloader = SimulatedBootloader.open({
    flashFile: join(dir, 'flash'),
    boardId: BOARD,
    trustedKey: keys.publicKeyPem,
    slotSize: 512 * 1024,
  });
  server = createServer((s) => {
    s.on('error', () => {});
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    bootloader.attach(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  boardPort = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  bootloader.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `postern-flash ARGS`; `exit` resolves with its status (or signal) and stderr. */
function postern(args: string[]): {
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>;
  kill: (s: NodeJS.Signals) => void;
} {
  const child = spawn(process.execPath, ['--conditions=@postern/source', '--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, POSTERN_FLASH_COMMAND: '' },
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, err })),
  );
  return { pid: child.pid!, exit, kill: (s) => void child.kill(s) };
}

describe('postern-flash under a real SIGINT', () => {
  it('says where it stopped, exits 130, and the same command resumes, completes and the image boots', async () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 13 + (i >> 9)) & 0xff);
    const img = buildImage(
      [
        { path: 'app/main.mjs', data: new TextEncoder().encode('1') },
        { path: 'blob', data },
      ],
      { name: 'sig', version: '1.0.0', target: BOARD, entry: 'app/main.mjs', runtime: '>=20', defaultConfig: {} },
      keys.privateKeyPem,
    );
    const fw = join(dir, 'sig.fw');
    writeFileSync(fw, img);
    const total = Math.ceil(img.length / 1024);
    const proxy = await stallingProxy(boardPort, 80_000);
    try {
      const args = ['--port', proxy.url, '--timeout', '60000', fw];
      const first = postern(args);
      await proxy.stalled;
      first.kill('SIGINT');
      const r1 = await first.exit;
      expect(r1.code, r1.err).toBe(130);
      const lines = r1.err.trim().split('\n');
      const m = /^postern-flash: interrupted at chunk (\d+)\/(\d+); run the same command again to resume$/.exec(
        lines.at(-1)!,
      );
      expect(m, r1.err).not.toBeNull();
      expect(Number(m![2])).toBe(total);
      const done = Number(m![1]);
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(total);
      const r2 = await postern(args).exit;
      expect(r2.code, r2.err).toBe(0);
    } finally {
      await proxy.close();
    }
    const t = bootloader.boot()!;
    expect(t).toMatchObject({ slot: 0, trial: true });
    expect(Buffer.from(t.image).equals(Buffer.from(img))).toBe(true);
  }, 60_000);
});
