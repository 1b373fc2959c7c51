/** Real clients against the server on Node's net: curl (keep-alive, chunked upload, Range, conditional GET) and fetch. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer, Router, serveStatic } from '../src/index.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'postern-clients-'));
const file = join(dir, 'data.txt');
writeFileSync(file, 'abcdefghij'.repeat(100));
const upload = join(dir, 'upload.bin');
writeFileSync(upload, Buffer.alloc(200_000, 7));

describe('real clients', () => {
  let server: HttpServer;
  let base: string;
  beforeAll(async () => {
    const router = new Router()
      .get('/hello/:name', (req, res) => res.send(`hi ${req.params['name']}\n`))
      .post('/upload', async (req, res) => {
        let n = 0;
        for await (const chunk of req.body) n += chunk.byteLength;
        res.json({ bytes: n, chunked: req.head.framing.kind === 'chunked' });
      })
      .get('/files/*', serveStatic(dir));
    server = new HttpServer(router.handler, { wallTime: () => Date.now(), limits: { maxBodyBytes: 1 << 20 } });
    const { port } = await server.listen(0);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => server.close());

  it('curl: two URLs on one keep-alive connection', async () => {
    const { stdout, stderr } = await run('curl', ['-sv', `${base}/hello/a`, `${base}/hello/b`]);
    expect(stdout).toBe('hi a\nhi b\n');
    expect(stderr).toMatch(/Re-using existing connection/);
  });

  it('curl: chunked upload', async () => {
    const { stdout } = await run('curl', [
      '-s',
      '-H',
      'Transfer-Encoding: chunked',
      '--data-binary',
      `@${upload}`,
      `${base}/upload`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ bytes: 200_000, chunked: true });
  });

  it('curl: Range -r 0-99 and a conditional GET', async () => {
    const { stdout: part } = await run('curl', ['-s', '-r', '0-99', `${base}/files/data.txt`]);
    expect(part).toBe('abcdefghij'.repeat(10));
    const { stdout: head } = await run('curl', ['-sI', `${base}/files/data.txt`]);
    const etag = /ETag: (.*)\r/i.exec(head)![1]!;
    const { stdout: status } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `If-None-Match: ${etag}`,
      `${base}/files/data.txt`,
    ]);
    expect(status).toBe('304');
  });

  it('fetch: GET, POST and a 404', async () => {
    const r = await fetch(`${base}/hello/node`);
    expect([r.status, await r.text()]).toEqual([200, 'hi node\n']);
    const p = await fetch(`${base}/upload`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(await p.json()).toEqual({ bytes: 1000, chunked: false });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });
});
