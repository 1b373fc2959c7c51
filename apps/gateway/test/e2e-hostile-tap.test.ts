/**
 * The shipped `postern-gateway` (bin/postern-gateway.mjs) on a TAP device, the Linux kernel as every
 * client: `postern-gateway --nic tap:NAME --www DIR` runs inside a namespace this file makes, on a
 * TAP device made there (its kernel side configured and up before the gateway attaches), and the
 * clients run there too (`ip netns exec`): a Python script opening plain kernel TCP connections
 * (test/support/hostile-clients.py), `nc` and `curl`.
 *
 * - 1,000 slowloris connections (a header line every 5 s, never a complete head) stay open while at
 *   least 90% of fresh GETs are answered within 5 s;
 * - 1,000 idle connections (opened, nothing sent) while a fresh GET is answered within 2 s;
 * - a client that half-closes after its request (`nc -N`) gets the static file; `OPTIONS *` is 204
 *   with `Allow`;
 * - the admin surface: a cross-site simple POST with the right credentials changes nothing,
 *   `/admin/` cannot be framed (X-Frame-Options, CSP), `/api/%ff` is 400 without exception text,
 *   `//NAME` never redirects off-site, `GET /api/` shows no host path.
 *
 * The gateway gets longer head and idle deadlines than its defaults from its config file, so every
 * hostile connection stays open for the whole measurement (stricter than the defaults, which close
 * them sooner). Needs root; without it every test skips with the reason in its title. Bounded: at
 * most 1,000 client connections at a time, every client run and request has a time limit, and the
 * gateway process, the namespace and the TAP device are removed even when a step fails.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetLab, netlabSkipReason, uniqueName } from '@postern/netlab';
import { startGatewayBin, stopChild } from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'curl', 'nc'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const CLIENTS = fileURLToPath(new URL('./support/hostile-clients.py', import.meta.url));
const GATEWAY_IP = '198.18.0.1';
const KERNEL_IP = '198.18.0.2';
const BASE = `http://${GATEWAY_IP}`;
const PASSWORD = 'hostile-test-secret';
/** Hostile connections at a time. */
const HOSTILE = 1000;

describe('postern-gateway on TAP against hostile and idle kernel clients', () => {
  const lab = new NetLab({ disableIpv6: true });
  const log: string[] = [];
  let gateway: ChildProcess | undefined;
  let dir = '';
  let www = '';
  let ns = '';

  beforeAll(async () => {
    if (skip !== undefined) return;
    dir = await mkdtemp(join(tmpdir(), 'postern-hostile-'));
    www = join(dir, 'www');
    await mkdir(join(www, 'evil.example'), { recursive: true });
    await writeFile(join(www, 'small.txt'), 'small file\n');
    await writeFile(join(www, 'evil.example', 'index.html'), 'a folder named like a host\n');
    const config = join(dir, 'gateway.json');
    await writeFile(
      config,
      JSON.stringify({
        http: { headerTimeoutMs: 120_000, headerMaxTimeoutMs: 120_000, idleTimeoutMs: 120_000 },
      }),
    );
    ns = await lab.namespace();
    const tap = uniqueName('t');
    await lab.exec(ns, 'ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    lab.adopt(tap, ns);
    await lab.setAddress(tap, `${KERNEL_IP}/24`, ns);
    await lab.linkUp(tap, ns);
    const started = startGatewayBin(
      ['--config', config, '--nic', `tap:${tap}`, '--ip', `${GATEWAY_IP}/24`, '--www', www, '--http-port', '80'],
      log,
      { ns, env: { POSTERN_ADMIN_PASSWORD: PASSWORD } },
    );
    gateway = started.child;
    await started.ready;
    await lab.exec(ns, 'ping', ['-c', '1', '-W', '5', GATEWAY_IP], { timeoutMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await stopChild(gateway);
    await lab.cleanup();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 30_000);

  const clients = async (args: string[], limitS: number): Promise<Record<string, number | null>> => {
    const r = await lab.exec(ns, 'python3', [CLIENTS, ...args, '--limit-s', String(limitS)], {
      timeoutMs: (limitS + 15) * 1000,
    });
    const measured = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | null>;
    process.stdout.write(`hostile-clients ${args[0]}: ${JSON.stringify(measured)}\n`);
    return measured;
  };
  const curl = (args: string[]) => lab.tryExec(ns, 'curl', ['--max-time', '10', ...args], { timeoutMs: 15_000 });

  rootIt(
    title(`${HOSTILE} slowloris connections open: at least 90% of fresh GETs answered within 5 s`),
    async () => {
      const r = await clients(
        [
          'slowloris',
          GATEWAY_IP,
          '80',
          '--count',
          String(HOSTILE),
          '--drip-s',
          '5',
          '--gets',
          '20',
          '--get-every-s',
          '0.5',
          '--get-timeout-s',
          '5',
        ],
        90,
      );
      expect(r['opened']).toBe(HOSTILE);
      expect(r['minOpenAtGet']).toBe(HOSTILE);
      expect(r['gets']).toBe(20);
      expect(r['answered']!).toBeGreaterThanOrEqual(18);
    },
    120_000,
  );

  rootIt(
    title(`${HOSTILE} idle connections open: a fresh GET is answered within 2 s`),
    async () => {
      const r = await clients(['idle', GATEWAY_IP, '80', '--count', String(HOSTILE), '--get-timeout-s', '2'], 60);
      expect(r['opened']).toBe(HOSTILE);
      expect(r['openAfterGet']).toBe(HOSTILE);
      expect(r['getSeconds']).not.toBeNull();
      expect(r['getSeconds']!).toBeLessThan(2);
    },
    90_000,
  );

  rootIt(
    title('a client that half-closes after its request (nc -N) gets the static file; OPTIONS * is 204 with Allow'),
    async () => {
      const nc = (request: string) =>
        lab.tryExec(ns, 'sh', ['-c', `printf '${request}' | timeout 10 nc -N ${GATEWAY_IP} 80`], { timeoutMs: 15_000 });
      const http10 = await nc('GET /small.txt HTTP/1.0\\r\\n\\r\\n');
      expect(http10.stdout).toMatch(/^HTTP\/1\.1 200 /);
      expect(http10.stdout.endsWith('\r\n\r\nsmall file\n')).toBe(true);
      const http11 = await nc('GET /small.txt HTTP/1.1\\r\\nHost: gw\\r\\n\\r\\n');
      expect(http11.stdout).toMatch(/^HTTP\/1\.1 200 /);
      expect(http11.stdout.endsWith('\r\n\r\nsmall file\n')).toBe(true);
      // The server closes after the answer (nc exits on its own, well before the 10 s timeout).
      expect([http10.code, http11.code]).toEqual([0, 0]);
      const options = await nc('OPTIONS * HTTP/1.1\\r\\nHost: gw\\r\\n\\r\\n');
      expect(options.stdout).toMatch(/^HTTP\/1\.1 204 /);
      expect(options.stdout).toMatch(/\r\nAllow: [A-Z, ]*GET[A-Z, ]*\r\n/);
    },
    60_000,
  );

  rootIt(
    title('admin surface: cross-site POST refused, no framing, %ff is 400, //NAME stays on site, no host paths'),
    async () => {
      const routesBefore = (await curl(['-s', `${BASE}/api/routes`])).stdout;
      const csrf = await curl([
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-u',
        `admin:${PASSWORD}`,
        '-H',
        'Content-Type: text/plain',
        '-H',
        'Origin: http://evil.example',
        '--data',
        '{"to":"10.66.0.0/16","via":"198.18.0.2"}',
        `${BASE}/api/routes`,
      ]);
      expect(csrf.stdout).toBe('403');
      expect((await curl(['-s', `${BASE}/api/routes`])).stdout).toBe(routesBefore);
      const sameOrigin = await curl([
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-u',
        `admin:${PASSWORD}`,
        '-H',
        'Content-Type: application/json',
        '-H',
        `Origin: ${BASE}`,
        '--data',
        '{"to":"10.66.0.0/16","via":"198.18.0.2"}',
        `${BASE}/api/routes`,
      ]);
      expect(sameOrigin.stdout).toBe('201');

      const admin = (await curl(['-sI', `${BASE}/admin/`])).stdout;
      expect(admin).toMatch(/\r\nX-Frame-Options: DENY\r\n/i);
      expect(admin).toMatch(/\r\nContent-Security-Policy: [^\r]*frame-ancestors 'none'/i);

      const bad = await curl(['-s', '-w', '\n%{http_code}', `${BASE}/api/%ff`]);
      expect(bad.stdout.split('\n').pop()).toBe('400');
      expect(bad.stdout).not.toMatch(/URI|malformed URI|Error:/);

      const hop = (await curl(['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `${BASE}//evil.example`]))
        .stdout;
      const [code, location] = hop.split(' ');
      expect(code).toBe('301');
      expect(new URL(location!).host).toBe(GATEWAY_IP);
      const followed = await curl(['-sL', '--max-redirs', '3', '-w', '\n%{url_effective}', `${BASE}//evil.example`]);
      expect(new URL(followed.stdout.split('\n').pop()!).host).toBe(GATEWAY_IP);

      const status = (await curl(['-s', `${BASE}/api/`])).stdout;
      expect(status.length).toBeGreaterThan(100);
      expect(status).not.toContain(dir);
    },
    60_000,
  );
});
