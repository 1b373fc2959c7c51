/**
 * Real clients against the server on Postern over TAP: the HTTP server runs on a Postern stack
 * (198.18.0.2) whose interface is a TAP device; the device's kernel side (198.18.0.1) lives in a
 * namespace this file makes, and curl and Node's fetch run inside it (`ip netns exec`). Covers
 * keep-alive, a chunked upload, Range, a conditional GET and a 16 MiB download checked by SHA-256.
 * Needs root; without it every test skips with the reason in its title (CI, which runs as root,
 * counts a skip as a failure).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { Stack, attachTcp } from '@postern/netstack';
import { NetDevice, TapNicDriver } from '@postern/nic';
import { Sockets, createNet, type Server as PosternServer } from '@postern/socket';
import { HttpServer, Router, serveStatic } from '../src/index.js';
import { KernelLab, netlabSkipReason, patternBytes, sha256Hex, sha256OfChunks } from '@postern/netlab';
import { parseIpv4, parseMac } from '@postern/wire';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'curl', 'node'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const KERNEL_IP = '198.18.0.1';
const STACK_IP = '198.18.0.2';
const PORT = 8080;
const BASE = `http://${STACK_IP}:${PORT}`;
/** Every curl gives up after this (its own bound), and the process is killed a little later. */
const CURL_MAX_S = 20;

const dir = mkdtempSync(join(tmpdir(), 'postern-tap-'));
const text = 'abcdefghij'.repeat(100);
writeFileSync(join(dir, 'data.txt'), text);
const big = patternBytes(16 * 1024 * 1024, 0x5eed);
writeFileSync(join(dir, 'big.bin'), big);
const upload = patternBytes(300_000, 0xc0de);
const uploadPath = join(dir, 'upload.bin');
writeFileSync(uploadPath, upload);

describe('real clients against the server on Postern over TAP', () => {
  const lab = new KernelLab({ TapNicDriver, NetDevice, parseMac, parseIpv4 });
  let sched: Scheduler | undefined;
  let listener: PosternServer | undefined;
  let server: HttpServer | undefined;
  /** Connections the Postern listener accepted so far. */
  let accepted = 0;

  beforeAll(async () => {
    if (skip !== undefined) return;
    sched = new Scheduler({ clock: 'real', seed: 11 });
    sched.start();
    const stack = new Stack(sched);
    await lab.attachTap(stack, {
      kernelIp: KERNEL_IP,
      stackIp: STACK_IP,
      prefixLength: 24,
      mac: '02:50:53:4e:00:82',
      deviceOptions: { rxRingCapacity: 1024 },
    });
    const net = createNet(new Sockets(stack, attachTcp(stack)));
    listener = net.createServer({ allowHalfOpen: true });
    listener.on('connection', () => accepted++);
    await new Promise<void>((resolve, reject) => {
      listener!.once('error', reject);
      listener!.listen(PORT, STACK_IP, () => resolve());
    });
    const router = new Router()
      .get('/hello/:name', (req, res) => res.send(`hi ${req.params['name']}\n`))
      .post('/upload', async (req, res) => {
        const { bytes, sha256 } = await sha256OfChunks(req.body);
        res.json({ bytes, sha256, chunked: req.head.framing.kind === 'chunked' });
      })
      .get('/files/*', serveStatic(dir));
    server = new HttpServer(router.handler, { wallTime: () => Date.now(), limits: { maxBodyBytes: 1 << 20 } }).attach(
      listener,
    );
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    if (listener?.listening === true) await new Promise<void>((resolve) => listener!.close(() => resolve()));
    sched?.stop();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** curl inside the namespace; rejects unless it exits with 0. */
  const curl = (args: readonly string[]) =>
    lab.run('curl', ['--max-time', String(CURL_MAX_S), ...args], (CURL_MAX_S + 5) * 1000);

  rootIt(title('curl: two URLs on one keep-alive connection'), async () => {
    const before = accepted;
    const { stdout, stderr } = await curl(['-sv', `${BASE}/hello/a`, `${BASE}/hello/b`]);
    expect(stdout).toBe('hi a\nhi b\n');
    expect(stderr).toMatch(/Re-using existing connection/);
    expect(accepted - before).toBe(1);
  });

  rootIt(title('curl: a chunked upload arrives whole (the server echoes its SHA-256)'), async () => {
    const { stdout } = await curl([
      '-s',
      '-H',
      'Transfer-Encoding: chunked',
      '--data-binary',
      `@${uploadPath}`,
      `${BASE}/upload`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ bytes: upload.length, sha256: sha256Hex(upload), chunked: true });
  });

  rootIt(title('curl: Range -r 0-99 gives 206 with the right bytes'), async () => {
    const out = join(dir, 'range.out');
    const { stdout: status } = await curl([
      '-s',
      '-r',
      '0-99',
      '-o',
      out,
      '-w',
      '%{http_code} %{header_json}',
      `${BASE}/files/big.bin`,
    ]);
    const [code, ...rest] = status.split(' ');
    expect(code).toBe('206');
    expect((JSON.parse(rest.join(' ')) as Record<string, string[]>)['content-range']).toEqual([
      `bytes 0-99/${big.length}`,
    ]);
    expect(readFileSync(out).equals(big.subarray(0, 100))).toBe(true);
  });

  rootIt(title('curl: a conditional GET with the ETag gives 304, a stale one 200'), async () => {
    const { stdout: head } = await curl(['-sI', `${BASE}/files/data.txt`]);
    const etag = /^ETag: (.*)\r$/im.exec(head)?.[1];
    expect(etag).toMatch(/^(W\/)?".+"$/);
    const ask = async (tag: string) =>
      (
        await curl([
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-H',
          `If-None-Match: ${tag}`,
          `${BASE}/files/data.txt`,
        ])
      ).stdout;
    expect(await ask(etag!)).toBe('304');
    expect(await ask('"stale"')).toBe('200');
  });

  rootIt(
    title('curl: a 16 MiB download arrives intact (SHA-256)'),
    async () => {
      const out = join(dir, 'big.out');
      const { stdout } = await curl(['-s', '-o', out, '-w', '%{http_code} %{size_download}', `${BASE}/files/big.bin`]);
      expect(stdout).toBe(`200 ${big.length}`);
      expect(sha256Hex(readFileSync(out))).toBe(sha256Hex(big));
    },
    30_000,
  );

  rootIt(title('Node fetch (undici) inside the namespace: GET and POST'), async () => {
    const script = [
      `const g = await fetch('${BASE}/hello/node');`,
      `const p = await fetch('${BASE}/upload', { method: 'POST', body: 'x'.repeat(1000) });`,
      `console.log(JSON.stringify({ get: [g.status, await g.text()], post: [p.status, await p.json()] }));`,
    ].join('\n');
    const { stdout } = await lab.run('node', ['--input-type=module', '-e', script], 20_000);
    expect(JSON.parse(stdout)).toEqual({
      get: [200, 'hi node\n'],
      post: [200, { bytes: 1000, sha256: sha256Hex(Buffer.from('x'.repeat(1000))), chunked: false }],
    });
  });
});
