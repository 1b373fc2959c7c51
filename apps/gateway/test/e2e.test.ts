/**
 * End to end in one process: the gateway on the simulated USB Ethernet device, reached from this
 * machine's kernel through the simulator's host forward (127.0.0.1, an OS-chosen port) with Node's
 * fetch: browser -> kernel -> host forward -> simulated host -> device -> serial -> driver -> IP ->
 * TCP -> socket -> HTTP, and back.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PcapReader } from '@postern/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';

/** Sends `request` as is over one TCP connection to 127.0.0.1:`port` and resolves with everything read until the server closes. */
function rawExchange(port: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(request));
    let text = '';
    socket
      .setEncoding('latin1')
      .on('data', (chunk: string) => (text += chunk))
      .on('end', () => resolve(text))
      .on('error', reject);
  });
}

const auth = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('gateway on the simulator, through the host forward', () => {
  let gw: Gateway;
  let base: string;

  beforeAll(async () => {
    gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }],
        admin: { password: 'open sesame' },
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
      }),
    );
    expect(gw.urls).toHaveLength(1);
    base = gw.urls[0]!.replace(/\/$/, '');
  });

  afterAll(async () => {
    await gw?.close();
  });

  it('serves the admin UI at / and /admin/, with its script and style', async () => {
    for (const path of ['/', '/admin/']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('<script src="/admin/app.js">');
    }
    const js = await fetch(`${base}/admin/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toContain("fetch('/api/'");
    expect((await fetch(`${base}/admin/style.css`)).status).toBe(200);
    expect((await fetch(`${base}/admin/nothing.js`)).status).toBe(404);
    const redirect = await fetch(`${base}/admin`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/admin/');
  });

  it('GET /api/ reports the live gateway, including the request that asked', async () => {
    const res = await fetch(`${base}/api/`);
    expect(res.status).toBe(200);
    const s = (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(s.interfaces[0]).toMatchObject({
      name: 'eth0',
      link: 'up',
      addresses: ['198.18.0.1/24'],
      mac: '02:50:53:00:00:01',
    });
    expect(s.interfaces[0].driver.rxFrames).toBeGreaterThan(0);
    expect(s.arp).toContainEqual(
      expect.objectContaining({ ip: '198.18.0.100', mac: '02:50:53:00:00:64', state: 'reachable' }),
    );
    expect(s.tcp.connectionCount).toBeGreaterThanOrEqual(1); // this very request's connection
    expect(s.tcp.counters.passiveOpens).toBeGreaterThanOrEqual(1);
    // The connection carrying this request, seen from the gateway: 198.18.0.1:80 <- 198.18.0.100:ephemeral.
    expect(s.tcp.connections).toContainEqual(
      expect.objectContaining({
        localAddress: '198.18.0.1',
        localPort: 80,
        remoteAddress: '198.18.0.100',
        state: 'ESTABLISHED',
      }),
    );
    expect(s.scheduler.irq.map((l: { name: string }) => l.name)).toContain('nic:eth0');
    expect(s.scheduler.irq.find((l: { name: string }) => l.name === 'nic:eth0').handled).toBeGreaterThan(0);
    expect(s.http.counters.requests).toBeGreaterThanOrEqual(1);
    expect(s.info.urls).toEqual([`${base}/`]);
  });

  it("the Date header is the scheduler's wall time: the host's clock, to the second", async () => {
    const before = Date.now();
    const res = await fetch(`${base}/api/settings`);
    const after = Date.now();
    const date = Date.parse(res.headers.get('date') ?? '');
    expect(date).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(date).toBeLessThanOrEqual(after);
  });

  it('counts HTTP responses by status', async () => {
    await fetch(`${base}/admin/missing`);
    const http = (await (await fetch(`${base}/api/http`)).json()) as { byStatus: Record<string, number> };
    expect(http.byStatus['404']).toBeGreaterThanOrEqual(1);
    expect(http.byStatus['200']).toBeGreaterThanOrEqual(1);
  });

  it('routes: OPTIONS * lists the methods, //NAME stays on site, /admin redirects, the API and the UI answer their own errors', async () => {
    const ask = (head: string) => rawExchange(new URL(base).port, `${head}\r\nHost: gw\r\nConnection: close\r\n\r\n`);
    const star = await ask('OPTIONS * HTTP/1.1');
    expect(star).toMatch(/^HTTP\/1\.1 204 /);
    expect(star).toMatch(/\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n/i);
    expect(await ask('GET //evil.example/x?y=1 HTTP/1.1')).toMatch(
      /^HTTP\/1\.1 301 [^]*\r\nlocation: \/evil\.example\/x\?y=1\r\n/i,
    );
    expect(await ask('DELETE /admin HTTP/1.1')).toMatch(/^HTTP\/1\.1 301 [^]*\r\nlocation: \/admin\/\r\n/i);
    const badEscape = await ask('GET /api/%ff HTTP/1.1');
    expect(badEscape).toMatch(/^HTTP\/1\.1 400 [^]*\r\nx-frame-options: DENY\r\n/i);
    expect(badEscape).toContain('{"error":"malformed percent-escape in the path"}');
    const post = await ask('POST /admin/ HTTP/1.1\r\nContent-Length: 0');
    expect(post).toMatch(/^HTTP\/1\.1 405 [^]*\r\nallow: GET, HEAD\r\n/i);
    expect(post).toMatch(/\r\ncontent-security-policy: default-src 'self'/i);
    const unknownMethod = await ask('PATCH /api/arp HTTP/1.1\r\nContent-Length: 0');
    expect(unknownMethod).toMatch(/^HTTP\/1\.1 401 /);
    expect(await ask('GET /apix HTTP/1.1')).toMatch(/^HTTP\/1\.1 404 [^]*\r\n\r\nnot found\n$/);
  });

  it('a mutating call: 401 without credentials, 403 for another user, 201 for the admin', async () => {
    const route = JSON.stringify({ to: '10.42.0.0/16', via: '198.18.0.100' });
    const headers = { 'content-type': 'application/json' };
    const none = await fetch(`${base}/api/routes`, { method: 'POST', headers, body: route });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="postern-gateway"/);
    const wrongPassword = await fetch(`${base}/api/routes`, {
      method: 'POST',
      headers: { ...headers, ...auth('admin', 'guess') },
      body: route,
    });
    expect(wrongPassword.status).toBe(401);
    const otherUser = await fetch(`${base}/api/routes`, {
      method: 'POST',
      headers: { ...headers, ...auth('guest', 'open sesame') },
      body: route,
    });
    expect(otherUser.status).toBe(403);
    expect(gw.stack.routes.list().some((r) => r.kind === 'static')).toBe(false);
    const ok = await fetch(`${base}/api/routes`, {
      method: 'POST',
      headers: { ...headers, ...auth('admin', 'open sesame') },
      body: route,
    });
    expect(ok.status).toBe(201);
    const routes = (await (await fetch(`${base}/api/routes`)).json()) as Array<{ to: string; via: string | null }>;
    expect(routes).toContainEqual(expect.objectContaining({ to: '10.42.0.0/16', via: '198.18.0.100', kind: 'static' }));
    const del = await fetch(`${base}/api/routes/10.42.0.0/16`, {
      method: 'DELETE',
      headers: auth('admin', 'open sesame'),
    });
    expect(del.status).toBe(200);
    expect(gw.stack.routes.list().some((r) => r.kind === 'static')).toBe(false);
  });
});

describe('gateway with --www', () => {
  it('serves the directory at / and keeps the admin UI at /admin/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-www-'));
    writeFileSync(join(dir, 'index.html'), '<h1>hello from www</h1>');
    const gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }],
        http: { www: dir, port: 8000 },
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:8000'] },
      }),
    );
    try {
      const base = gw.urls[0]!;
      expect(await (await fetch(base)).text()).toBe('<h1>hello from www</h1>');
      expect((await fetch(`${base}admin/`)).status).toBe(200);
      expect((await fetch(`${base}missing.txt`)).status).toBe(404);
    } finally {
      await gw.close();
    }
  });

  it('refuses a missing www directory with one error', async () => {
    await expect(
      startGateway(
        validateConfig({
          interfaces: [{ nic: 'sim' }],
          http: { www: '/nonexistent/www' },
          sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
        }),
      ),
    ).rejects.toMatchObject({ code: 'FILE', message: '--www /nonexistent/www: no such directory' });
  });
});

describe('gateway with --pcap', () => {
  it('captures the frames of the request into a pcap file, stamped with the wall time from the scheduler', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'postern-pcap-')), 'gw.pcap');
    const startedAt = Date.now();
    const gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }],
        pcap: file,
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
      }),
    );
    try {
      expect((await fetch(`${gw.urls[0]!}api/settings`)).status).toBe(200);
    } finally {
      await gw.close();
    }
    const stoppedAt = Date.now();
    const records = [...new PcapReader(new Uint8Array(readFileSync(file)))];
    // At least: ARP both ways, the handshake, the request, the response, the ACKs.
    expect(records.length).toBeGreaterThanOrEqual(6);
    // The scheduler's wall time: the host's clock read once at start, moved on by the monotonic one.
    for (const r of records) {
      const ms = r.timestampNanosNumber() / 1e6;
      expect(ms).toBeGreaterThanOrEqual(startedAt - 1);
      expect(ms).toBeLessThanOrEqual(stoppedAt + 1);
    }
    const tcpToPort80 = records.filter((r) => {
      const f = r.data;
      return f[12] === 0x08 && f[13] === 0x00 && f[23] === 6 && ((f[36]! << 8) | f[37]!) === 80;
    });
    expect(tcpToPort80.length).toBeGreaterThanOrEqual(3);
  });
});
