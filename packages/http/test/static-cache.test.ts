/**
 * The static file cache: `serveStatic` with a {@link FileCache} on a clock the test moves, behind
 * `HttpServer` on Node's `net` (127.0.0.1). What a cached answer proves: the file changed on disk
 * and the old bytes still came back, so no file-system call was made for it.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCache, HttpServer, serveStatic } from '../src/index.js';

let now = 0;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(root: string, cache: FileCache): Promise<string> {
  const server: Server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const http = new HttpServer(serveStatic(root, { cache }), { wallTime: () => Date.now() }).attach(server);
  cleanups.push(async () => {
    await http.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'postern-cache-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

describe('serveStatic with a FileCache', () => {
  it('answers a cached file from memory until the entry is due, then sees the change (new bytes, new ETag)', async () => {
    now = 0;
    const root = tempRoot();
    const file = join(root, 'small.txt');
    writeFileSync(file, 'version one');
    utimesSync(file, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    const cache = new FileCache({ now: () => now, validMs: 1000 });
    const url = await serve(root, cache);

    const first = await fetch(`${url}/small.txt`);
    expect(await first.text()).toBe('version one');
    const etag1 = first.headers.get('etag');
    expect(cache.stats.loads).toBe(1);

    writeFileSync(file, 'version TWO');
    utimesSync(file, new Date('2024-06-01T00:00:00Z'), new Date('2024-06-01T00:00:00Z'));
    now = 999;
    const cached = await fetch(`${url}/small.txt`);
    expect(await cached.text()).toBe('version one');
    expect(cached.headers.get('etag')).toBe(etag1);
    expect(cache.stats.hits).toBe(1);

    now = 1000;
    const changed = await fetch(`${url}/small.txt`);
    expect(await changed.text()).toBe('version TWO');
    expect(changed.headers.get('etag')).not.toBe(etag1);
    expect(changed.headers.get('last-modified')).toBe('Sat, 01 Jun 2024 00:00:00 GMT');
    expect(cache.stats.loads).toBe(2);
  });

  it('revalidates an unchanged file with one stat and keeps serving it; a deleted file becomes 404 once due', async () => {
    now = 0;
    const root = tempRoot();
    writeFileSync(join(root, 'a.txt'), 'abc');
    const cache = new FileCache({ now: () => now, validMs: 500 });
    const url = await serve(root, cache);
    expect(await (await fetch(`${url}/a.txt`)).text()).toBe('abc');
    now = 600;
    expect(await (await fetch(`${url}/a.txt`)).text()).toBe('abc');
    expect(cache.stats).toMatchObject({ loads: 1, revalidated: 1 });
    unlinkSync(join(root, 'a.txt'));
    now = 700;
    expect((await fetch(`${url}/a.txt`)).status).toBe(200); // still trusted
    now = 1200;
    expect((await fetch(`${url}/a.txt`)).status).toBe(404);
    expect(cache.size).toBe(0);
  });

  it('serves ranges, HEAD and 304 from a cached body; streams a file over maxFileBytes intact', async () => {
    now = 0;
    const root = tempRoot();
    writeFileSync(join(root, 'digits.txt'), '0123456789');
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    writeFileSync(join(root, 'big.bin'), big);
    const cache = new FileCache({ now: () => now, maxFileBytes: 1000 });
    const url = await serve(root, cache);
    await fetch(`${url}/digits.txt`).then((r) => r.text());
    const range = await fetch(`${url}/digits.txt`, { headers: { range: 'bytes=2-4' } });
    expect([range.status, await range.text()]).toEqual([206, '234']);
    const head = await fetch(`${url}/digits.txt`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '10']);
    const etag = head.headers.get('etag')!;
    expect((await fetch(`${url}/digits.txt`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${url}/big.bin`);
      expect(Buffer.from(await r.arrayBuffer()).equals(big)).toBe(true);
    }
    expect(cache.contentBytes).toBe(10); // the big file's metadata is cached, never its bytes
    expect(cache.size).toBe(2);
  });

  it("serves a directory's index from the cache and still redirects the directory without its slash", async () => {
    now = 0;
    const root = tempRoot();
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'index.html'), '<p>docs</p>');
    const cache = new FileCache({ now: () => now });
    const url = await serve(root, cache);
    expect(await (await fetch(`${url}/docs/`)).text()).toBe('<p>docs</p>');
    expect(await (await fetch(`${url}/docs/`)).text()).toBe('<p>docs</p>');
    expect(cache.stats.hits).toBe(1);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${url}/docs`, { redirect: 'manual' });
      expect([r.status, r.headers.get('location')]).toEqual([301, '/docs/']);
    }
  });
});

describe('the prepared answer of a cached file', () => {
  /** Sends `requests` on one connection and resolves with everything received once `count` answers are complete. */
  async function exchange(port: number, requests: string, count: number): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    socket.write(requests);
    let text = '';
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      text += chunk.toString('latin1');
      if (text.split('\r\n\r\n').length > count) break;
    }
    socket.destroy();
    return text;
  }

  async function serveAt(root: string, cache: FileCache, wall: () => number): Promise<number> {
    const server: Server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = new HttpServer(serveStatic(root, { cache }), { wallTime: wall }).attach(server);
    cleanups.push(async () => {
      await http.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return (server.address() as AddressInfo).port;
  }

  it('has the head the general path gives (HEAD answers it), a Date that advances, and follows a changed file', async () => {
    now = 0;
    let wall = Date.parse('2026-12-05T04:00:00Z');
    const root = tempRoot();
    const file = join(root, 'f.txt');
    writeFileSync(file, 'first');
    utimesSync(file, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    const cache = new FileCache({ now: () => now, validMs: 1000 });
    const port = await serveAt(root, cache, () => wall);
    const get = 'GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n';
    await exchange(port, get, 1); // loads the entry; what follows is served from it

    const [fromPrepared, fromGeneral] = (
      await exchange(port, get + 'HEAD /f.txt HTTP/1.1\r\nHost: x\r\n\r\n', 2)
    ).split('\r\n\r\n');
    expect(fromPrepared).toBe(fromGeneral!.replace(/^first/, ''));
    expect(fromPrepared).toBe(
      `HTTP/1.1 200 OK\r\nETag: "5-${Date.parse('2024-01-01T00:00:00Z').toString(16)}"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n` +
        'Accept-Ranges: bytes\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n' +
        'Date: Sat, 05 Dec 2026 04:00:00 GMT',
    );

    wall += 1500;
    expect(await exchange(port, get, 1)).toContain('\r\nDate: Sat, 05 Dec 2026 04:00:01 GMT\r\n\r\nfirst');

    writeFileSync(file, 'second!');
    utimesSync(file, new Date('2024-06-01T00:00:00Z'), new Date('2024-06-01T00:00:00Z'));
    now = 1000;
    const changed = await exchange(port, get, 1);
    expect(changed).toContain('\r\nLast-Modified: Sat, 01 Jun 2024 00:00:00 GMT\r\n');
    expect(changed).toContain('\r\nContent-Length: 7\r\nDate: Sat, 05 Dec 2026 04:00:01 GMT\r\n\r\nsecond!');
    expect(cache.stats.loads).toBe(2);
  });

  it('checks an entry that is due once for all the requests that arrive while its stat is out', async () => {
    now = 0;
    const root = tempRoot();
    writeFileSync(join(root, 'p.txt'), 'pipelined');
    const cache = new FileCache({ now: () => now, validMs: 1000 });
    const port = await serveAt(root, cache, () => Date.parse('2026-12-05T04:00:00Z'));
    const get = 'GET /p.txt HTTP/1.1\r\nHost: x\r\n\r\n';
    await exchange(port, get, 1);
    now = 5000;
    // Five pipelined requests reach the handler in one turn, before any file-system answer.
    const answers = (await exchange(port, get.repeat(5), 5)).split('pipelined');
    expect(answers.filter((a) => a.startsWith('HTTP/1.1 200 OK\r\n'))).toHaveLength(5);
    expect(cache.stats).toMatchObject({ loads: 1, revalidated: 1 });
  });

  it('is not used where the answer differs: a validator, a range, HTTP/1.0, Connection: close', async () => {
    now = 0;
    const root = tempRoot();
    writeFileSync(join(root, 'd.txt'), '0123456789');
    const cache = new FileCache({ now: () => now });
    const port = await serveAt(root, cache, () => Date.parse('2026-12-05T04:00:00Z'));
    const etag = /ETag: (\S+)/.exec(await exchange(port, 'GET /d.txt HTTP/1.1\r\nHost: x\r\n\r\n', 1))![1]!;
    const notModified = await exchange(port, `GET /d.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`, 1);
    expect(notModified).toMatch(/^HTTP\/1\.1 304 /);
    const since = await exchange(
      port,
      'GET /d.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n',
      1,
    );
    expect(since).toMatch(/^HTTP\/1\.1 304 /);
    const range = await exchange(port, 'GET /d.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-3\r\n\r\n', 1);
    expect(range).toMatch(/^HTTP\/1\.1 206 [^]*\r\n\r\n23$/);
    const http10 = await exchange(port, 'GET /d.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 1);
    expect(http10).toContain('\r\nConnection: keep-alive\r\n\r\n0123456789');
    const close = await exchange(port, 'GET /d.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 1);
    expect(close).toContain('\r\nConnection: close\r\n\r\n0123456789');
  });
});

describe('FileCache bounds', () => {
  const entry = (name: string, bytes: number) => ({
    file: name,
    size: bytes,
    mtimeMs: 1,
    ino: 1,
    etag: '"x"',
    lastModified: 'x',
    contentType: 'text/plain',
    body: new Uint8Array(bytes),
  });

  it('keeps at most maxEntries entries and maxBytes of contents, dropping the least recently checked first', () => {
    let t = 0;
    const cache = new FileCache({ now: () => t, maxEntries: 2, maxBytes: 100 });
    cache.store('a', entry('a', 10));
    cache.store('b', entry('b', 10));
    cache.revalidated('a'); // a is now younger than b
    cache.store('c', entry('c', 10));
    expect(cache.stale('b')).toBeUndefined();
    expect(cache.stale('a')).toBeDefined();
    expect(cache.stale('c')).toBeDefined();
    cache.store('d', entry('d', 95));
    expect(cache.size).toBe(1);
    expect(cache.contentBytes).toBe(95);
    expect(cache.stats.evicted).toBe(3);
    t = 5;
    expect(cache.fresh('d')).toBeDefined();
  });

  it('rejects a negative bound', () => {
    expect(() => new FileCache({ now: () => 0, validMs: -1 })).toThrow(TypeError);
  });
});
