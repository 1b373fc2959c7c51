/**
 * Interop with Node's own HTTP implementation (llhttp) over real loopback TCP on 127.0.0.1:
 * - responses we serialize are parsed by Node's `http.request` client;
 * - requests Node's client serializes are parsed by our RequestParser.
 * Bounded: a fixed number of generated cases, one connection each.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RequestParser,
  encodeChunk,
  encodeLastChunk,
  reasonPhrase,
  responseHasNoBody,
  serializeResponseHead,
} from '../src/index.js';
import type { RequestHead } from '../src/index.js';

const tokenChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~".split(''),
);
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 10 });
const valueChar = fc.constantFrom(...'abcXYZ019 \t!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'.split(''));
const fieldValue = fc.string({ unit: valueChar, minLength: 1, maxLength: 20 }).map((v) => v.trim() || 'v');
const reserved = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'trailer',
  'keep-alive',
  'upgrade',
  'proxy-connection',
  'host',
  'expect',
  'te',
]);
const extra = fc.array(
  fc.tuple(token, fieldValue).filter(([n]) => !reserved.has(n.toLowerCase())),
  { maxLength: 5 },
);

interface Scenario {
  status: number;
  method: 'GET' | 'HEAD';
  headers: Array<[string, string]>;
  pieces: Uint8Array[];
  chunked: boolean;
  trailers: Array<[string, string]>;
}

const scenario = fc.record({
  status: fc.constantFrom(
    200,
    201,
    202,
    204,
    206,
    301,
    302,
    304,
    400,
    401,
    403,
    404,
    405,
    408,
    413,
    414,
    415,
    416,
    429,
    431,
    500,
    501,
    503,
    505,
  ),
  method: fc.constantFrom('GET' as const, 'HEAD' as const),
  headers: extra,
  pieces: fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 4 }),
  chunked: fc.boolean(),
  trailers: extra,
});

let server: net.Server;
let port = 0;
let respond: (() => Uint8Array[]) | null = null;

beforeAll(async () => {
  server = net.createServer((socket) => {
    let seen = '';
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.includes('\r\n\r\n') && respond !== null) {
        const parts = respond();
        socket.cork();
        for (const p of parts) socket.write(p);
        socket.uncork();
        socket.end();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface NodeSaw {
  status: number;
  message: string;
  rawHeaders: string[];
  body: Buffer;
  rawTrailers: string[];
}

function nodeRequest(method: string): Promise<NodeSaw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: '/x', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          message: res.statusMessage ?? '',
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          rawTrailers: res.rawTrailers,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('serializer -> Node http client (loopback)', () => {
  it('Node parses every response we serialize exactly as we meant it', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s: Scenario) => {
        const noBody = responseHasNoBody(s.status, s.method);
        const body = Buffer.concat(s.pieces);
        const headers: Array<[string, string]> = [...s.headers, ['Connection', 'close']];
        const chunked = s.chunked && !noBody;
        if (chunked) headers.push(['Transfer-Encoding', 'chunked']);
        else if (s.status !== 204 && s.status !== 304) headers.push(['Content-Length', String(body.length)]);
        respond = () => {
          const parts: Uint8Array[] = [serializeResponseHead({ status: s.status, headers })];
          if (noBody) return parts;
          if (!chunked) return [...parts, ...s.pieces];
          for (const p of s.pieces) parts.push(...encodeChunk(p));
          parts.push(encodeLastChunk(s.trailers));
          return parts;
        };
        const saw = await nodeRequest(s.method);
        expect(saw.status).toBe(s.status);
        expect(saw.message).toBe(reasonPhrase(s.status));
        expect(saw.rawHeaders).toEqual(headers.flat());
        expect(saw.body.equals(noBody ? Buffer.alloc(0) : body)).toBe(true);
        expect(saw.rawTrailers).toEqual(chunked ? s.trailers.flat() : []);
      }),
      { numRuns: 60, seed: 1112 },
    );
  });
});

describe('Node http client -> RequestParser (loopback)', () => {
  it('our parser reads what Node sends, Content-Length and chunked', async () => {
    const received: Array<{ head: RequestHead; body: Buffer; trailers: Array<[string, string]> | null }> = [];
    const parserServer = net.createServer((socket) => {
      let body: Buffer[] = [];
      let head: RequestHead | null = null;
      const parser = new RequestParser(
        {},
        {
          onHead: (h) => {
            head = h;
            body = [];
          },
          onBody: (d) => body.push(Buffer.from(d)),
          onMessageComplete: (t) => {
            received.push({ head: head!, body: Buffer.concat(body), trailers: t === null ? null : t.entries() });
            socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
          },
        },
      );
      socket.on('data', (d) => {
        try {
          parser.execute(d);
        } catch {
          socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        }
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => parserServer.listen(0, '127.0.0.1', resolve));
    const p = (parserServer.address() as AddressInfo).port;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('POST', 'PUT', 'PATCH'),
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          extra,
          async (method, pieces, chunked, hdrs) => {
            const before = received.length;
            const all = Buffer.concat(pieces);
            const headers: Record<string, string> = {};
            for (const [n, v] of hdrs)
              if (!Object.keys(headers).some((k) => k.toLowerCase() === n.toLowerCase())) headers[n] = v;
            if (!chunked) headers['Content-Length'] = String(all.length);
            const status = await new Promise<number>((resolve, reject) => {
              const req = http.request(
                { host: '127.0.0.1', port: p, method, path: '/up?x=1', agent: false, headers },
                (res) => {
                  res.resume();
                  res.on('end', () => resolve(res.statusCode ?? 0));
                },
              );
              req.on('error', reject);
              if (chunked) req.addTrailers({ 'X-Sum': String(all.length) });
              for (const piece of pieces) req.write(piece);
              req.end();
            });
            expect(status).toBe(204);
            expect(received.length).toBe(before + 1);
            const got = received[before]!;
            expect(got.head.method).toBe(method);
            expect(got.head.target).toBe('/up?x=1');
            expect(got.head.host).toBe(`127.0.0.1:${p}`);
            expect(got.head.framing.kind).toBe(chunked ? 'chunked' : 'length');
            expect(got.body.equals(all)).toBe(true);
            expect(got.trailers).toEqual(chunked ? [['X-Sum', String(all.length)]] : null);
            for (const [n, v] of Object.entries(headers)) expect(got.head.headers.get(n)).toBe(v);
          },
        ),
        { numRuns: 40, seed: 9113 },
      );
    } finally {
      await new Promise<void>((resolve) => parserServer.close(() => resolve()));
    }
  });
});
