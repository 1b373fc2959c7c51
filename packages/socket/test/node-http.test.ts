import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { Agent, Client, fetch } from 'undici';
import { createNet } from '../src/index.js';
import { socketPair } from './support/net.js';

describe("Node's http server and undici over Postern sockets", () => {
  it('serves GET and POST requests from undici, keep-alive on one connection', async () => {
    const { sched, sa, sb } = await socketPair({ clock: 'real' });
    try {
      const netB = createNet(sb);
      const netA = createNet(sa);
      const httpServer = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          res.setHeader('content-type', 'text/plain');
          res.end(`${req.method} ${req.url} ${body.byteLength} from ${req.socket.remoteAddress}`);
        });
      });
      const server = netB.createServer((socket) => httpServer.emit('connection', socket));
      await new Promise<void>((resolve) => server.listen(80, resolve));
      let connections = 0;
      const client = new Client('http://198.18.0.2', {
        connect: (_opts, cb) => {
          connections++;
          const s = netA.connect(80, '198.18.0.2');
          s.once('connect', () => cb(null, s as never));
          s.once('error', (err) => cb(err, null));
        },
      });
      const r1 = await client.request({ path: '/hello', method: 'GET' });
      expect(r1.statusCode).toBe(200);
      expect(await r1.body.text()).toBe('GET /hello 0 from 198.18.0.1');
      const big = Buffer.alloc(300_000, 7);
      const r2 = await client.request({ path: '/upload', method: 'POST', body: big });
      expect(await r2.body.text()).toBe('POST /upload 300000 from 198.18.0.1');
      expect(connections).toBe(1);
      await client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } finally {
      sched.stop();
    }
  });

  it('undici fetch through an Agent downloads a 2 MB body byte-exact (flow control on the server side)', async () => {
    const { sched, sa, sb } = await socketPair({ clock: 'real' });
    try {
      const body = Buffer.alloc(2 * 1024 * 1024);
      for (let i = 0; i < body.byteLength; i++) body[i] = (i * 31) & 0xff;
      const httpServer = http.createServer((_req, res) => {
        res.setHeader('content-length', body.byteLength);
        res.end(body);
      });
      const server = createNet(sb).createServer((socket) => httpServer.emit('connection', socket));
      await new Promise<void>((resolve) => server.listen(8080, resolve));
      const netA = createNet(sa);
      const agent = new Agent({
        connect: (opts, cb) => {
          const s = netA.connect(Number(opts.port), opts.hostname);
          s.once('connect', () => cb(null, s as never));
          s.once('error', (err) => cb(err, null));
        },
      });
      const res = await fetch('http://198.18.0.2:8080/file', { dispatcher: agent });
      expect(res.status).toBe(200);
      const got = Buffer.from(await res.arrayBuffer());
      expect(got.byteLength).toBe(body.byteLength);
      expect(got.equals(body)).toBe(true);
      await agent.close();
      server.close();
    } finally {
      sched.stop();
    }
  });
});
