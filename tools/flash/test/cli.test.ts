// postern-flash's command line: keygen, build, flash (plain progress lines off a TTY), info, and one
// clear line with a non-zero status for each failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedBootloader, parseImage, verifyImage } from '@postern/firmware';
import { runFlashCli } from '../src/cli.js';

let dir: string;
let bootloader: SimulatedBootloader;
let server: Server;
let port: string;
const sockets = new Set<Socket>();

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFlashCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), tty: false });
  return { code, out, err };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-flash-cli-'));
  expect((await run('keygen', '--out', join(dir, 'dev'))).code).toBe(0);
  bootloader = SimulatedBootloader.open({ flashFile: join(dir, 'flash'), boardId: 'postern-devboard-1', trustedKey: readFileSync(join(dir, 'dev.pub'), 'utf8') });
  server = createServer((s) => {
    s.on('error', () => {});
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    bootloader.attach(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = `socket://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  bootloader.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('postern-flash', () => {
  it('builds a signed gateway image and flashes it, printing plain progress lines', async () => {
    const fw = join(dir, 'out', 'gateway.fw');
    const b = await run('build', '--key', join(dir, 'dev.key'), '--out', fw);
    expect(b.code, b.err).toBe(0);
    const image = new Uint8Array(readFileSync(fw));
    const { manifest } = verifyImage(image, readFileSync(join(dir, 'dev.pub'), 'utf8'), 'postern-devboard-1');
    expect(manifest.name).toBe('@postern/gateway');
    expect(manifest.files.map((f) => f.path)).toEqual(expect.arrayContaining(['app/image-entry.mjs', 'ui/index.html']));
    const f = await run('--port', port, fw);
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/^flashed @postern\/gateway .* into slot A of postern-devboard-1/);
    expect(f.err).toMatch(/write \d+\/\d+ chunks \(100%\)/);
    expect(f.err).not.toContain('\r');
    expect(bootloader.boot()).toMatchObject({ slot: 0, trial: true, manifest: { sha256: parseImage(image).manifest.sha256 } });
    const i = await run('info', '--port', port);
    expect(i.out).toContain('running A (trial)');
  });

  it('fails with one line and status 1 for a bad image, a missing device, a wrong key', async () => {
    writeFileSync(join(dir, 'junk.fw'), 'not an image');
    const junk = await run('--port', port, join(dir, 'junk.fw'));
    expect(junk.code).toBe(1);
    expect(junk.err.trim().split('\n').at(-1)).toMatch(/^postern-flash: not a valid image/);
    const missing = await run('--port', 'socket://127.0.0.1:1', join(dir, 'junk.fw'));
    expect(missing.code).toBe(1);
    expect((await run('--port', port, join(dir, 'nope.fw'))).err).toMatch(/cannot read .*nope\.fw: ENOENT/);
    await run('keygen', '--out', join(dir, 'other'));
    const fw = join(dir, 'other.fw');
    expect((await run('build', '--key', join(dir, 'other.key'), '--out', fw)).code).toBe(0);
    const wrong = await run('--port', port, fw);
    expect(wrong.code).toBe(1);
    expect(wrong.err.trim().split('\n').at(-1)).toMatch(/^postern-flash: bad signature/);
  });

  it('exits 2 for a bad command line', async () => {
    expect((await run('--port', port)).code).toBe(2);
    expect((await run('--nope')).code).toBe(2);
    expect((await run('a.fw')).err).toMatch(/--port is required/);
  });
});
