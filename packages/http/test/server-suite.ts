/**
 * The server contract suite: every status, pipelining order, both close orders, chunked both ways,
 * 100-continue, timeouts, pool 503, rate limit 429 and traversal attempts, through real sockets of
 * whatever transport `makeTransport` gives (Node's `net` in server-net.test.ts, Postern sockets in
 * server-postern.test.ts).
 */
import { mkdtempSync, writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, Router, basicAuth, serveStatic, type HttpHandler, type HttpServerOptions } from '../src/index.js';
import { RawClient, get, type ListeningTransport, type MakeTransport } from './server-helpers.js';

/** Registers the suite under `name`, each test on a fresh transport and server. */
export function runServerSuite(name: string, makeTransport: MakeTransport): void {
  describe(`HTTP server over ${name}`, () => {
    let transport: ListeningTransport | undefined;
    let server: HttpServer | undefined;
    const clients: RawClient[] = [];

    afterEach(async () => {
      for (const c of clients.splice(0)) c.socket.destroy();
      await server?.close();
      await transport?.close();
      server = undefined;
      transport = undefined;
    });

    async function start(handler: HttpHandler, options: HttpServerOptions = {}): Promise<HttpServer> {
      transport = await makeTransport();
      server = new HttpServer(handler, { wallTime: () => Date.now(), ...options }).attach(transport.server);
      return server;
    }
    async function client(): Promise<RawClient> {
      const c = new RawClient(await transport!.connect());
      clients.push(c);
      return c;
    }

    const hello: HttpHandler = (req, res) => res.send(`hello ${req.path}\n`);

    it('answers 200 on a persistent HTTP/1.1 connection and keeps it open', async () => {
      const s = await start(hello);
      const c = await client();
      c.send(get('/a'));
      const a = await c.response();
      c.send(get('/b'));
      const b = await c.response();
      expect([a.status, a.body, b.status, b.body]).toEqual([200, 'hello /a\n', 200, 'hello /b\n']);
      expect(a.headers['content-length']).toBe('9');
      expect(a.headers['date']).toMatch(/GMT$/);
      expect(a.headers['connection']).toBeUndefined();
      await sleep(30);
      expect(c.ended).toBe(false);
      expect(s.stats.responses[200]).toBe(2);
    });

    it('answers pipelined requests in order even when handlers finish out of order', async () => {
      await start(async (req, res) => {
        if (req.path === '/slow') await sleep(60);
        res.send(req.path);
      });
      const c = await client();
      c.send(get('/slow') + get('/fast') + get('/slow') + get('/fast'));
      const bodies = [];
      for (let i = 0; i < 4; i++) bodies.push((await c.response()).body);
      expect(bodies).toEqual(['/slow', '/fast', '/slow', '/fast']);
    });

    it('HTTP/1.0 without keep-alive: the server closes first', async () => {
      await start(hello);
      const c = await client();
      c.send('GET /x HTTP/1.0\r\n\r\n');
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.headers['connection']).toBe('close');
      await c.until(() => c.ended, 2000, 'server FIN');
    });

    it('HTTP/1.0 with keep-alive stays open and says so', async () => {
      await start(hello);
      const c = await client();
      c.send('GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const r = await c.response();
      expect(r.headers['connection']).toBe('keep-alive');
      c.send('GET /y HTTP/1.0\r\n\r\n');
      expect((await c.response()).body).toBe('hello /y\n');
      await c.until(() => c.ended, 2000, 'server FIN');
    });

    it('HTTP/1.1: the server waits for the client to close, then closes', async () => {
      await start(hello);
      const c = await client();
      c.send(get('/x'));
      await c.response();
      await sleep(50);
      expect(c.ended).toBe(false);
      c.end();
      await c.until(() => c.closed, 2000, 'close after client FIN');
    });

    it('HTTP/1.1 with Connection: close: the server closes after the answer', async () => {
      await start(hello);
      const c = await client();
      c.send(get('/x', 'Connection: close\r\n'));
      const r = await c.response();
      expect(r.headers['connection']).toBe('close');
      await c.until(() => c.ended, 2000, 'server FIN');
    });

    it('still answers pipelined requests sent before the client FIN', async () => {
      await start(async (req, res) => {
        await sleep(20);
        res.send(req.path);
      });
      const c = await client();
      c.send(get('/1') + get('/2'));
      c.end();
      expect((await c.response()).body).toBe('/1');
      expect((await c.response()).body).toBe('/2');
      await c.until(() => c.closed, 2000, 'close');
    });

    it('reads a chunked upload and streams a chunked download', async () => {
      await start(async (req, res) => {
        const text = await req.body.text();
        res.write(`len=${text.length};`);
        await sleep(5);
        res.write('tail=');
        res.end(text.slice(-3));
      });
      const c = await client();
      c.send('POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n');
      const r = await c.response();
      expect(r.headers['transfer-encoding']).toBe('chunked');
      expect(r.body).toBe('len=8;tail=abc');
    });

    it('streams to an HTTP/1.0 client without chunking and closes to end the body', async () => {
      await start((_req, res) => {
        res.write('part1 ');
        res.end('part2');
      });
      const c = await client();
      c.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      await c.until(() => c.ended, 2000, 'close-delimited end');
      const r = await c.response();
      expect(r.headers['transfer-encoding']).toBeUndefined();
      expect(r.headers['connection']).toBe('close');
      expect(r.body).toBe('part1 part2');
    });

    it('sends 100 Continue when the handler reads the body, and 417 for other expectations', async () => {
      await start(async (req, res) => res.send(`got ${await req.body.text()}`));
      const c = await client();
      c.send('POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.response();
      expect(interim.status).toBe(100);
      c.send('data');
      expect((await c.response()).body).toBe('got data');
      const d = await client();
      d.send('POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: teapot\r\n\r\n');
      const r = await d.response();
      expect(r.status).toBe(417);
      expect(r.headers['connection']).toBe('close');
    });

    it('answers HEAD with the GET head and no body', async () => {
      const router = new Router().get('/doc', (_req, res) => res.send('0123456789'));
      await start(router.handler);
      const c = await client();
      c.send(get('/doc', '', 'HEAD'));
      const h = await c.response(true);
      c.send(get('/doc'));
      const g = await c.response();
      expect(h.status).toBe(200);
      expect(h.headers['content-length']).toBe('10');
      expect(h.body).toBe('');
      expect(g.body).toBe('0123456789');
      expect(c.data).toBe('');
    });

    it('routes: 200 with params, 201, 204, 301/302, 404, 405 and OPTIONS with Allow', async () => {
      const router = new Router()
        .get('/api/routes/:id', (req, res) => res.json({ id: req.params['id'] }))
        .post('/api/routes', (_req, res) => res.status(201).json({ created: true }))
        .delete('/api/routes/:id', (_req, res) => res.status(204).end())
        .get('/old', (_req, res) => res.redirect('/new', 301))
        .get('/tmp', (_req, res) => res.redirect('/elsewhere'));
      await start(router.handler);
      const c = await client();
      const ask = async (req: string) => {
        c.send(req);
        return c.response();
      };
      const ok = await ask(get('/api/routes/a%20b'));
      expect([ok.status, ok.body, ok.headers['content-type']]).toEqual([
        200,
        '{"id":"a b"}',
        'application/json; charset=utf-8',
      ]);
      expect((await ask('POST /api/routes HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n')).status).toBe(201);
      const del = await ask(get('/api/routes/7', '', 'DELETE'));
      expect([del.status, del.headers['content-length']]).toEqual([204, undefined]);
      const moved = await ask(get('/old'));
      expect([moved.status, moved.headers['location']]).toEqual([301, '/new']);
      const found = await ask(get('/tmp'));
      expect([found.status, found.headers['location']]).toEqual([302, '/elsewhere']);
      expect((await ask(get('/nope'))).status).toBe(404);
      const wrong = await ask(get('/api/routes/1', '', 'PUT'));
      expect([wrong.status, wrong.headers['allow']]).toEqual([405, 'DELETE, GET, HEAD, OPTIONS']);
      const opts = await ask(get('/api/routes/1', '', 'OPTIONS'));
      expect([opts.status, opts.headers['allow']]).toEqual([204, 'DELETE, GET, HEAD, OPTIONS']);
      const star = await ask('OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n');
      expect(star.headers['allow']).toBe('DELETE, GET, HEAD, OPTIONS, POST');
    });

    it('routes: all() takes every method; a broken escape is 400 unless a wildcard route takes it raw', async () => {
      const router = new Router()
        .all('/any', (req, res) => res.send(req.method))
        .get('/raw/*', (req, res) => res.send(req.params['*']!));
      await start(router.handler);
      const c = await client();
      const ask = async (req: string) => {
        c.send(req);
        return c.response();
      };
      expect((await ask(get('/any', '', 'DELETE'))).body).toBe('DELETE');
      expect((await ask(get('/any', '', 'OPTIONS'))).body).toBe('OPTIONS');
      expect((await ask(get('/raw/%ff/x'))).body).toBe('%ff/x');
      expect((await ask(get('/other/%ff'))).status).toBe(400);
      expect((await ask(get('/raw'))).status).toBe(404);
    });

    it('401 with WWW-Authenticate for missing or wrong Basic credentials', async () => {
      await start(
        basicAuth({ realm: 'admin', verify: ({ user, password }) => user === 'root' && password === 'pw' }, hello),
      );
      const c = await client();
      c.send(get('/x'));
      const no = await c.response();
      expect([no.status, no.headers['www-authenticate']]).toEqual([401, 'Basic realm="admin", charset="UTF-8"']);
      c.send(get('/x', `Authorization: Basic ${Buffer.from('root:bad').toString('base64')}\r\n`));
      expect((await c.response()).status).toBe(401);
      c.send(get('/x', `Authorization: Basic ${Buffer.from('root:pw').toString('base64')}\r\n`));
      expect((await c.response()).status).toBe(200);
    });

    it('answers parse errors with their status and Connection: close, then closes', async () => {
      const s = await start(hello, { limits: { maxRequestLineBytes: 200, maxHeaderBytes: 300, maxBodyBytes: 10 } });
      const cases: Array<[string, number]> = [
        ['GARBAGE\r\n\r\n', 400],
        [get('/' + 'a'.repeat(300)), 414],
        [get('/', `X-Big: ${'b'.repeat(400)}\r\n`), 431],
        ['POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n', 413],
        ['GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
      ];
      for (const [request, status] of cases) {
        const c = await client();
        c.send(request);
        const r = await c.response();
        expect([r.status, r.headers['connection']]).toEqual([status, 'close']);
        await c.until(() => c.ended, 2000, 'server FIN');
      }
      expect(s.stats.parseErrors).toBe(cases.length);
    });

    it('501 for an unknown method, and the connection goes on', async () => {
      await start(hello);
      const c = await client();
      c.send(get('/x', '', 'BREW'));
      expect((await c.response()).status).toBe(501);
      c.send(get('/x'));
      expect((await c.response()).status).toBe(200);
    });

    it('500 when a handler throws or rejects, and the server keeps serving', async () => {
      const s = await start(async (req, res) => {
        if (req.path === '/throw') throw new Error('boom');
        if (req.path === '/reject') return Promise.reject(new Error('late boom'));
        if (req.path === '/midway') {
          res.write('partial');
          await sleep(5);
          throw new Error('after head');
        }
        res.send('fine');
      });
      const c = await client();
      c.send(get('/throw'));
      expect((await c.response()).status).toBe(500);
      c.send(get('/reject'));
      expect((await c.response()).status).toBe(500);
      c.send(get('/ok'));
      expect((await c.response()).body).toBe('fine');
      const d = await client();
      d.send(get('/midway'));
      await d.until(() => d.ended, 2000, 'destroyed connection');
      expect(d.data).not.toContain('0\r\n\r\n');
      const e = await client();
      e.send(get('/ok'));
      expect((await e.response()).status).toBe(200);
      expect(s.stats.handlerErrors).toBe(3);
    });

    it('408 when the head is too slow (slowloris) and when the body stalls; idle connections close', async () => {
      const s = await start(async (req, res) => res.send(await req.body.text()), {
        headerTimeoutMs: 80,
        bodyTimeoutMs: 80,
        idleTimeoutMs: 120,
      });
      const slow = await client();
      slow.send('GET / HTTP/1.1\r\nHost: t\r\n');
      for (let i = 0; i < 4; i++) {
        await sleep(30);
        slow.send('X-Drip: 1\r\n');
      }
      const r1 = await slow.response();
      expect([r1.status, r1.headers['connection']]).toEqual([408, 'close']);
      const stall = await client();
      stall.send('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc');
      expect((await stall.response()).status).toBe(408);
      const idle = await client();
      idle.send(get('/'));
      await idle.response();
      await idle.until(() => idle.ended, 2000, 'idle close');
      expect([s.stats.headerTimeouts, s.stats.bodyTimeouts, s.stats.idleTimeouts]).toEqual([1, 1, 1]);
    });

    it('503 with Retry-After for a request when every worker is busy and the queue is full', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const s = await start(
        async (_req, res) => {
          await gate;
          res.send('done');
        },
        { pool: { workers: 1, queue: 1, retryAfterSeconds: 7 } },
      );
      const busy = await client();
      busy.send(get('/'));
      await sleep(30);
      const waiting = await client();
      waiting.send(get('/'));
      await sleep(30);
      const refused = await client();
      refused.send(get('/'));
      const r = await refused.response();
      expect([r.status, r.headers['retry-after'], r.headers['connection']]).toEqual([503, '7', 'close']);
      expect(s.stats.pool.queued).toBe(1);
      release();
      expect((await busy.response()).body).toBe('done');
      expect((await waiting.response()).body).toBe('done');
      // The worker went back to the pool with the response: the same connection is served again.
      busy.send(get('/'));
      expect((await busy.response()).body).toBe('done');
      expect([s.stats.requestsRejected, s.stats.connectionsRejected]).toEqual([1, 0]);
    });

    it('429 with Retry-After past the per-client rate', async () => {
      const s = await start(hello, { rateLimit: { burst: 2, perSecond: 0.5 } });
      const c = await client();
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        c.send(get('/'));
        const r = await c.response();
        statuses.push(r.status);
        if (r.status === 429) expect(r.headers['retry-after']).toBe('2');
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(s.stats.rateLimited).toBe(1);
    });

    describe('static files', () => {
      const root = mkdtempSync(join(tmpdir(), 'postern-static-'));
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
      for (let i = 0; i < big.length; i += 4096) big[i] = 65 + ((i / 4096) % 26);
      writeFileSync(join(root, 'big.bin'), big);
      writeFileSync(join(root, 'a.txt'), '0123456789'.repeat(20));
      utimesSync(join(root, 'a.txt'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
      const serve = (): Promise<HttpServer> => start(new Router().get('/static/*', serveStatic(root)).handler);

      it('serves a file with type, length, ETag and Last-Modified; conditional GET gives 304', async () => {
        await serve();
        const c = await client();
        c.send(get('/static/a.txt'));
        const r = await c.response();
        expect([r.status, r.headers['content-type'], r.headers['content-length']]).toEqual([
          200,
          'text/plain; charset=utf-8',
          '200',
        ]);
        expect(r.headers['last-modified']).toBe('Tue, 02 Jan 2024 03:04:05 GMT');
        const etag = r.headers['etag']!;
        c.send(get('/static/a.txt', `If-None-Match: ${etag}\r\n`));
        const nm = await c.response();
        expect([nm.status, nm.headers['etag']]).toEqual([304, etag]);
        c.send(get('/static/a.txt', 'If-Modified-Since: Tue, 02 Jan 2024 03:04:05 GMT\r\n'));
        expect((await c.response()).status).toBe(304);
        // If-None-Match wins over If-Modified-Since.
        c.send(get('/static/a.txt', 'If-None-Match: "other"\r\nIf-Modified-Since: Tue, 02 Jan 2024 03:04:05 GMT\r\n'));
        expect((await c.response()).status).toBe(200);
        c.send(get('/static/docs/'));
        expect((await c.response()).body).toBe('<h1>docs</h1>');
        c.send(get('/static/docs'));
        const redirect = await c.response();
        expect([redirect.status, redirect.headers['location']]).toEqual([301, '/static/docs/']);
      });

      it('206 for one byte range, 416 when unsatisfiable, 200 for several ranges', async () => {
        await serve();
        const c = await client();
        c.send(get('/static/a.txt', 'Range: bytes=5-14\r\n'));
        const r = await c.response();
        expect([r.status, r.headers['content-range'], r.body]).toEqual([206, 'bytes 5-14/200', '5678901234']);
        c.send(get('/static/a.txt', 'Range: bytes=-3\r\n'));
        expect((await c.response()).body).toBe('789');
        c.send(get('/static/a.txt', 'Range: bytes=500-\r\n'));
        const bad = await c.response();
        expect([bad.status, bad.headers['content-range']]).toEqual([416, 'bytes */200']);
        c.send(get('/static/a.txt', 'Range: bytes=0-1,5-6\r\n'));
        expect((await c.response()).status).toBe(200);
      });

      it('streams a large file whole and intact', async () => {
        await serve();
        const c = await client();
        c.send(get('/static/big.bin'));
        const r = await c.response(false, 10_000);
        expect(r.body.length).toBe(big.length);
        expect(Buffer.from(r.body, 'latin1').equals(big)).toBe(true);
      });

      it('refuses traversal: 403 for dot segments, 400 for encoded separators, backslashes, NUL, double encoding', async () => {
        await serve();
        const cases: Array<[string, number]> = [
          ['/static/../etc/passwd', 403],
          ['/static/%2e%2e/%2e%2e/etc/passwd', 403],
          ['/static/.%2E/a.txt', 403],
          ['/static/docs/%2e%2e%2fa.txt', 400],
          ['/static/..%5ca.txt', 400],
          ['/static/a.txt%00.html', 400],
          ['/static/%252e%252e/a.txt', 400],
          ['/static/%zz', 400],
          ['/static/missing.txt', 404],
        ];
        for (const [path, status] of cases) {
          const c = await client();
          c.send(get(path));
          const r = await c.response();
          expect([path, r.status]).toEqual([path, status]);
        }
      });
    });
  });
}
