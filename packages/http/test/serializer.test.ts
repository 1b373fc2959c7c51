import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HttpDateCache,
  HttpSerializeError,
  encodeChunk,
  encodeLastChunk,
  formatHttpDate,
  mayHaveContentLength,
  reasonPhrase,
  responseHasNoBody,
  serializeResponseHead,
} from '../src/index.js';
import { parseChunks } from './parser-helpers.js';

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

describe('serializeResponseHead', () => {
  it('writes the status line, fields in order and the empty line', () => {
    const head = serializeResponseHead({
      status: 200,
      headers: [
        ['Content-Type', 'text/plain'],
        ['Content-Length', 5],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
    });
    expect(text(head)).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    );
  });

  it('has a reason phrase for every status the server uses', () => {
    const used = [
      100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 410, 411,
      412, 413, 414, 415, 416, 417, 426, 429, 431, 500, 501, 502, 503, 504, 505,
    ];
    for (const s of used) expect(reasonPhrase(s), String(s)).not.toBe('');
    expect(reasonPhrase(413)).toBe('Content Too Large');
    expect(reasonPhrase(431)).toBe('Request Header Fields Too Large');
    expect(text(serializeResponseHead({ status: 599 }))).toBe('HTTP/1.1 599 \r\n\r\n');
    expect(text(serializeResponseHead({ status: 404, reason: 'Gone Fishing' }))).toBe(
      'HTTP/1.1 404 Gone Fishing\r\n\r\n',
    );
  });

  it.each([
    ['CR LF in a value', { status: 200, headers: [['X', 'a\r\nSet-Cookie: evil=1']] }, 'INVALID_HEADER_VALUE'],
    ['bare LF in a value', { status: 200, headers: [['X', 'a\nb']] }, 'INVALID_HEADER_VALUE'],
    ['bare CR in a value', { status: 200, headers: [['X', 'a\rb']] }, 'INVALID_HEADER_VALUE'],
    ['NUL in a value', { status: 200, headers: [['X', 'a\0b']] }, 'INVALID_HEADER_VALUE'],
    ['non-latin1 in a value', { status: 200, headers: [['X', 'caf\u20ac']] }, 'INVALID_HEADER_VALUE'],
    ['leading space in a value', { status: 200, headers: [['X', ' a']] }, 'INVALID_HEADER_VALUE'],
    ['CR LF in a name', { status: 200, headers: [['X\r\nY', 'a']] }, 'INVALID_HEADER_NAME'],
    ['colon in a name', { status: 200, headers: [['X:', 'a']] }, 'INVALID_HEADER_NAME'],
    ['space in a name', { status: 200, headers: [['X Y', 'a']] }, 'INVALID_HEADER_NAME'],
    ['empty name', { status: 200, headers: [['', 'a']] }, 'INVALID_HEADER_NAME'],
    ['CR LF in the reason', { status: 200, reason: 'OK\r\nX: y' }, 'INVALID_REASON'],
    ['status 99', { status: 99 }, 'INVALID_STATUS'],
    ['status 1000', { status: 1000 }, 'INVALID_STATUS'],
    ['status 200.5', { status: 200.5 }, 'INVALID_STATUS'],
  ] as const)('refuses %s with a typed error', (_name, head, code) => {
    expect(() => serializeResponseHead(head as never)).toThrow(HttpSerializeError);
    expect(() => serializeResponseHead(head as never)).toThrow(expect.objectContaining({ code }));
  });

  it('no generated value can inject a field line: either refused or one field back', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 30 }), (name, value) => {
        let head: Uint8Array;
        try {
          head = serializeResponseHead({ status: 200, headers: [[name, value]] });
        } catch (e) {
          expect(e).toBeInstanceOf(HttpSerializeError);
          return;
        }
        const s = text(head);
        expect(s.split('\r\n')).toHaveLength(4); // status, the one field, '', ''
        expect(s.indexOf('\n')).toBe(s.indexOf('\r\n') + 1);
        expect(s).toBe(`HTTP/1.1 200 OK\r\n${name}: ${value}\r\n\r\n`);
      }),
      { numRuns: 1000, seed: 5 },
    );
  });
});

describe('Date formatting', () => {
  it('formats IMF-fixdate from a time passed in', () => {
    expect(formatHttpDate(784111777000)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(formatHttpDate(0)).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect(formatHttpDate(951782400999)).toBe('Tue, 29 Feb 2000 00:00:00 GMT');
    expect(() => formatHttpDate(Number.NaN)).toThrow(expect.objectContaining({ code: 'INVALID_TIME' }));
    expect(() => formatHttpDate(1e20)).toThrow(HttpSerializeError);
  });

  it('agrees with Date.prototype.toUTCString for any time in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799000 }), (ms) => {
        expect(formatHttpDate(ms)).toBe(new Date(ms).toUTCString());
      }),
      { numRuns: 500, seed: 6 },
    );
  });

  it('the cache re-formats only when the second changes', () => {
    const cache = new HttpDateCache();
    const a = cache.get(784111777000);
    expect(cache.get(784111777999)).toBe(a);
    expect(cache.get(784111778000)).toBe('Sun, 06 Nov 1994 08:49:38 GMT');
  });
});

describe('chunked encoder', () => {
  it('frames data without copying it', () => {
    const data = new Uint8Array(300).fill(0x61);
    const parts = encodeChunk(data);
    expect(parts).toHaveLength(3);
    expect(text(parts[0]!)).toBe('12c\r\n');
    expect(parts[1]).toBe(data);
    expect(text(parts[2]!)).toBe('\r\n');
    expect(encodeChunk(new Uint8Array(0))).toEqual([]);
  });

  it('ends the body with or without trailers, refusing framing trailers', () => {
    expect(text(encodeLastChunk())).toBe('0\r\n\r\n');
    expect(
      text(
        encodeLastChunk([
          ['Checksum', 'abc'],
          ['N', 3],
        ]),
      ),
    ).toBe('0\r\nChecksum: abc\r\nN: 3\r\n\r\n');
    expect(() => encodeLastChunk([['Content-Length', '3']])).toThrow(
      expect.objectContaining({ code: 'INVALID_CHUNK' }),
    );
    expect(() => encodeLastChunk([['X', 'a\r\nb']])).toThrow(expect.objectContaining({ code: 'INVALID_HEADER_VALUE' }));
  });

  it('round-trips through our own request parser', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (pieces) => {
        const framed = pieces.flatMap((p) => encodeChunk(p));
        const head = Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');
        const out = parseChunks([head, ...framed, encodeLastChunk([['T', 'v']])]);
        expect(out.error).toBeNull();
        expect(out.messages[0]!.body).toBe(Buffer.concat(pieces).toString('latin1'));
        expect(out.messages[0]!.trailers).toEqual([['T', 'v']]);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('no-body rules', () => {
  it('1xx, 204, 304, HEAD and 2xx to CONNECT have no body', () => {
    for (const s of [100, 101, 103, 204, 304]) expect(responseHasNoBody(s, 'GET'), String(s)).toBe(true);
    for (const s of [200, 201, 206, 301, 400, 404, 500]) expect(responseHasNoBody(s, 'GET'), String(s)).toBe(false);
    expect(responseHasNoBody(200, 'HEAD')).toBe(true);
    expect(responseHasNoBody(404, 'HEAD')).toBe(true);
    expect(responseHasNoBody(200, 'CONNECT')).toBe(true);
    expect(responseHasNoBody(407, 'CONNECT')).toBe(false);
    expect(responseHasNoBody(400)).toBe(false);
  });

  it('Content-Length is forbidden on 1xx, 204 and 2xx to CONNECT', () => {
    expect(mayHaveContentLength(101)).toBe(false);
    expect(mayHaveContentLength(204)).toBe(false);
    expect(mayHaveContentLength(200, 'CONNECT')).toBe(false);
    expect(mayHaveContentLength(304)).toBe(true);
    expect(mayHaveContentLength(200, 'HEAD')).toBe(true);
  });
});
