/**
 * End to end with the real curl: the gateway on the simulated USB Ethernet device (`--nic sim`,
 * in-process), `--www` a directory holding a 64 MiB file of seeded pseudo-random bytes, and curl on
 * this machine's loopback reaching the gateway through the simulator's host forward:
 * curl -> kernel -> host forward -> simulated host -> device -> serial codec -> driver -> IRQ -> IP
 * -> TCP -> socket -> HTTP, and back. The admin page and the 64 MiB file must arrive byte-exact.
 *
 * Bounded: curl gets `--max-time` (the whole transfer has measured 1.2-2.3 s here, 64 MiB at
 * 30-57 MB/s), and the test its own timeout. Skips, with the reason, when curl is missing
 * (tools/scripts/install-peers.sh installs it; CI counts a skip as a failure).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { UI_DIRECTORY } from '../src/web.js';
import { sha256Hex, sha256OfFile } from '@postern/netlab';

const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
const BIG_FILE_BYTES = 64 * 1024 * 1024;
/** Upper bound for one curl run, seconds (a stall fails the test instead of hanging it). */
const CURL_MAX_SECONDS = 150;

/** `length` bytes from a xorshift32 generator seeded with `seed` (deterministic, no Math.random). */
function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  const words = new Uint32Array(out.buffer, out.byteOffset, length >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = i & 0xff;
  return out;
}

interface CurlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs curl without blocking the event loop (the gateway runs in this process). */
function curl(args: readonly string[]): Promise<CurlResult> {
  const child = spawn('curl', ['-s', '-S', '--max-time', String(CURL_MAX_SECONDS), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe.skipIf(!hasCurl)('gateway on the simulator, fetched with curl through the host forward', () => {
  let gw: Gateway;
  let base: string;
  let dir: string;
  let bigSha256: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-e2e-curl-'));
    const big = seededBytes(BIG_FILE_BYTES, 0x5eed_2026);
    bigSha256 = sha256Hex(big);
    writeFileSync(join(dir, 'big.bin'), big);
    gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }],
        http: { www: dir },
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
      }),
    );
    expect(gw.urls).toHaveLength(1);
    base = gw.urls[0]!;
  });

  afterAll(async () => {
    await gw?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('curl gets the admin UI page at /admin/, byte-exact', async () => {
    const out = join(dir, 'admin.html');
    const r = await curl(['-o', out, '-w', '%{http_code} %{content_type}', `${base}admin/`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^200 text\/html/);
    const page = readFileSync(out);
    expect(page.equals(readFileSync(join(UI_DIRECTORY, 'index.html')))).toBe(true);
    expect(page.toString()).toContain('<title>Postern gateway</title>');
    expect(page.toString()).toContain('<script src="/admin/app.js">');
  });

  it(
    'curl gets the 64 MiB static file byte-exact (SHA-256) through the whole simulated path',
    async () => {
      const out = join(dir, 'big.download');
      const r = await curl(['-o', out, '-w', '%{http_code} %{size_download}', `${base}big.bin`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`200 ${BIG_FILE_BYTES}`);
      expect(statSync(out).size).toBe(BIG_FILE_BYTES);
      expect(await sha256OfFile(out)).toBe(bigSha256);
      // The bytes really crossed the simulated serial link: the gateway sent at least one frame per 1460-byte segment.
      const iface = gw.interfaces[0]!.device.stats.driver;
      expect(iface.txBytes).toBeGreaterThan(BIG_FILE_BYTES);
      expect(iface.txFrames).toBeGreaterThan(BIG_FILE_BYTES / 1460);
    },
    (CURL_MAX_SECONDS + 30) * 1000,
  );
});

if (!hasCurl) {
  describe('gateway through curl', () => {
    it.skip('skipped: curl is not installed (run tools/scripts/install-peers.sh)', () => {});
  });
}
