/**
 * Properties of the request parser: chunking never changes the result, arbitrary bytes only ever
 * produce HttpParseError, and generated valid requests come back exactly as generated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpParseError, RequestParser } from '../src/index.js';
import { bytes, parseChunks, splitAt, summary } from './parser-helpers.js';

const tokenChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~".split(''),
);
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const valueChar = fc.constantFrom(...'abcXYZ019 \t!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\xa0\xe9\xff'.split(''));
const fieldValue = fc.string({ unit: valueChar, maxLength: 20 }).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
const pathChar = fc.constantFrom(..."abcXYZ0189-._~!$&'()*+,;=:@/?".split(''));
const reserved = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade']);
const extraHeader = fc.tuple(token, fieldValue).filter(([n]) => !reserved.has(n.toLowerCase()));
const quotedExt = fc
  .string({ unit: fc.constantFrom('a', ' ', '\\"', '\\\\', '=', ';'), maxLength: 6 })
  .map((s) => `"${s}"`);
const chunkExt = fc
  .array(fc.tuple(token, fc.option(fc.oneof(token, quotedExt), { nil: undefined })), { maxLength: 3 })
  .map((exts) => exts.map(([n, v]) => (v === undefined ? `;${n}` : `;${n}=${v}`)).join(''));

interface Expected {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: string;
  trailers: Array<[string, string]> | null;
  keepAlive: boolean;
}

const request = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'X-CUSTOM'),
    path: fc.string({ unit: pathChar, maxLength: 30 }),
    minor: fc.constantFrom(0, 1),
    extra: fc.array(extraHeader, { maxLength: 6 }),
    framing: fc.constantFrom('none', 'length', 'chunked'),
    body: fc.string({ unit: fc.constantFrom('a', 'b', '\r', '\n', '\x00', '\xff', '0', ' '), maxLength: 60 }),
    cuts: fc.array(fc.nat({ max: 60 }), { maxLength: 4 }),
    exts: fc.array(chunkExt, { minLength: 6, maxLength: 6 }),
    trailers: fc.array(extraHeader, { maxLength: 3 }),
    close: fc.boolean(),
  })
  .map((r): { text: string; expected: Expected } => {
    const minor = r.framing === 'chunked' ? 1 : r.minor;
    const target = `/${r.path}`;
    const headers: Array<[string, string]> = [];
    if (minor === 1) headers.push(['Host', 'example.test:8080']);
    headers.push(...r.extra.map(([n, v]) => [n, v] as [string, string]));
    let body = '';
    let wire = '';
    let trailers: Array<[string, string]> | null = null;
    if (r.framing === 'length') {
      body = r.body;
      headers.push(['Content-Length', String(body.length)]);
      wire = body;
    } else if (r.framing === 'chunked') {
      body = r.body;
      headers.push(['Transfer-Encoding', 'chunked']);
      const cuts = [...new Set(r.cuts.filter((c) => c > 0 && c < body.length))].sort((a, b) => a - b);
      let prev = 0;
      let k = 0;
      for (const c of [...cuts, body.length]) {
        if (c > prev) wire += `${(c - prev).toString(16)}${r.exts[k++ % 6]!}\r\n${body.slice(prev, c)}\r\n`;
        prev = c;
      }
      trailers = r.trailers.map(([n, v]) => [n, v] as [string, string]);
      wire += `0${r.exts[5]!}\r\n${trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
    }
    const keepAlive = minor === 1 ? !r.close : false;
    if (minor === 1 && r.close) headers.push(['Connection', 'close']);
    const text = `${r.method} ${target} HTTP/1.${minor}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${wire}`;
    return { text, expected: { method: r.method, target, headers, body, trailers, keepAlive } };
  });

describe('RequestParser properties', () => {
  it('pipelined valid requests parse exactly as generated, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (reqs, rawCuts) => {
          const data = bytes(reqs.map((r) => r.text).join(''));
          const whole = parseChunks([data]);
          expect(whole.error).toBeNull();
          expect(whole.copiedBodyViews).toBe(0);
          expect(
            whole.messages.map((m) => ({
              method: m.head.method,
              target: m.head.target,
              headers: m.head.headers.entries(),
              body: m.body,
              trailers: m.trailers,
              keepAlive: m.head.keepAlive,
            })),
          ).toEqual(reqs.map((r) => r.expected));
          const cuts = rawCuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
          const split = parseChunks(splitAt(data, cuts));
          expect(summary(split)).toEqual(summary(whole));
          expect(split.copiedBodyViews).toBe(0);
          // byte by byte, the extreme split
          expect(summary(parseChunks(splitAt(data, [...Array(data.length).keys()])))).toEqual(summary(whole));
        },
      ),
      { numRuns: 300, seed: 9112 },
    );
  });

  it('arbitrary bytes, arbitrarily split, never throw anything but HttpParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 6 }), (data, rawCuts) => {
        const cuts = rawCuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
        // parseChunks rethrows anything that is not an HttpParseError
        const whole = parseChunks([data]);
        const split = parseChunks(splitAt(data, cuts));
        expect(summary(split)).toEqual(summary(whole));
      }),
      { numRuns: 1000, seed: 1 },
    );
  });

  it('a valid request with random bytes overwritten or inserted: parses or HttpParseError, split-invariant', () => {
    fc.assert(
      fc.property(
        request,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (req, edits, cut) => {
          const arr = Array.from(bytes(req.text));
          for (const [pos, b, insert] of edits) {
            const at = pos % (arr.length + 1);
            if (insert) arr.splice(at, 0, b);
            else arr[Math.min(at, arr.length - 1)] = b;
          }
          const data = new Uint8Array(arr);
          const whole = parseChunks([data]);
          if (whole.error !== null) expect(whole.error).toBeInstanceOf(HttpParseError);
          expect(summary(parseChunks(splitAt(data, [cut % (data.length + 1)])))).toEqual(summary(whole));
        },
      ),
      { numRuns: 1000, seed: 2 },
    );
  });

  it('after an HttpParseError, no later input produces a callback', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (junk) => {
        let calls = 0;
        const p = new RequestParser(
          {},
          { onHead: () => calls++, onBody: () => calls++, onMessageComplete: () => calls++ },
        );
        try {
          p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n'));
        } catch (e) {
          expect(e).toBeInstanceOf(HttpParseError);
        }
        expect(() => p.execute(junk)).toThrow(HttpParseError);
        expect(() => p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'))).toThrow(HttpParseError);
        expect(calls).toBe(0);
      }),
      { numRuns: 50, seed: 3 },
    );
  });
});
