/**
 * The one-pass path for a head that arrives whole in one chunk (parser/whole-head.ts) against the
 * incremental scanner: a head fed byte by byte never takes the one-pass path, so the two must agree on
 * every input, valid or not (same head, same refusal code), including at every limit's edge. And the
 * head's fields, decoded on demand from the chunk, read the same as decoded strings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestParser, type ParserLimits, type RequestHead } from '../src/index.js';
import { bytes, parseChunks, splitAt, summary } from './parser-helpers.js';

/** The outcome of `text` in one chunk (one-pass path) and byte by byte (scanner only). */
function bothWays(
  text: string | Uint8Array,
  limits: Partial<ParserLimits> = {},
): { whole: unknown; bytewise: unknown } {
  const data = typeof text === 'string' ? bytes(text) : text;
  const whole = parseChunks([data], limits);
  const bytewise = parseChunks(splitAt(data, [...Array(data.length).keys()]), limits);
  const withExpect = (o: typeof whole): unknown => ({
    ...(summary(o) as object),
    expectOther: o.messages.map((m) => m.head.expectOther),
  });
  return { whole: withExpect(whole), bytewise: withExpect(bytewise) };
}

function agree(text: string | Uint8Array, limits: Partial<ParserLimits> = {}): unknown {
  const { whole, bytewise } = bothWays(text, limits);
  expect(whole).toEqual(bytewise);
  return whole;
}

function errorOf(outcome: unknown): string | null {
  return (outcome as { error: string | null }).error;
}

const HEAD = 'GET /small?v=1 HTTP/1.1\r\nHost: 198.18.0.2\r\nX-Request-Id: 7\r\nAccept: */*\r\n\r\n';

describe('RequestParser: a head whole in one chunk (one pass) reads as the scanner reads it', () => {
  it('a plain head: fields decoded on demand equal the strings, names any case', () => {
    const out = agree(HEAD) as { messages: Array<{ headers: Array<[string, string]> }> };
    expect(out.messages[0]!.headers).toEqual([
      ['Host', '198.18.0.2'],
      ['X-Request-Id', '7'],
      ['Accept', '*/*'],
    ]);
    const head = parseChunks([bytes(HEAD)]).messages[0]!.head;
    expect(head.headers.get('x-request-id')).toBe('7');
    expect(head.headers.get('X-REQUEST-ID')).toBe('7');
    expect(head.headers.indexOf('accept')).toBe(2);
    expect(head.headers.has('x-request')).toBe(false);
    expect(head.headers.nameAt(1)).toBe('X-Request-Id');
    expect(head.headers.valueAt(5)).toBe('');
    expect(head.headers.lowerNames).toEqual(['host', 'x-request-id', 'accept']);
    expect(head.headers.raw).toEqual(['Host', '198.18.0.2', 'X-Request-Id', '7', 'Accept', '*/*']);
  });

  it('framing fields in any spelling are seen without their names being decoded', () => {
    for (const text of [
      'GET / HTTP/1.1\r\nHOST: a\r\n\r\n',
      'GET / HTTP/1.1\r\nhost: a\r\nhOsT: b\r\n\r\n', // MULTIPLE_HOST
      'GET / HTTP/1.1\r\nX: 1\r\n\r\n', // MISSING_HOST
      'POST / HTTP/1.1\r\nHost: a\r\nCONTENT-LENGTH: 3\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\nContent-length: 4\r\n\r\nabcd', // CONFLICTING
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: gzip, chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n',
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nCONNECTION: close\r\n\r\n',
      'GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nEXPECT: 100-continue\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nexpect: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUPGRADE: websocket\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', // INVALID_HOST
      'GET / HTTP/1.1\r\nHostx: a\r\nHos: b\r\n\r\n', // near misses: MISSING_HOST
    ])
      agree(text);
  });

  it('malformed and adversarial heads get the scanner refusal, code for code', () => {
    const cases: Array<[string, string | null]> = [
      ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 'OBS_FOLD'],
      ['GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n', 'OBS_FOLD'],
      ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 'WHITESPACE_BEFORE_COLON'],
      ['GET / HTTP/1.1\r\nHost a\r\n\r\n', null],
      ['GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 'MISSING_COLON'],
      ['GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n', 'INVALID_HEADER_NAME'],
      ['GET / HTTP/1.1\r\nHost: a\r\nBad(Name): 1\r\n\r\n', 'INVALID_HEADER_NAME'],
      ['GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 'INVALID_HEADER_VALUE'],
      ['GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 'INVALID_HEADER_VALUE'],
      ['GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n', 'BARE_LF'],
      ['GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 'BARE_CR'],
      ['GET / HTTP/1.1\r\nHost: a\n\r\n', 'BARE_LF'],
      ['GET / HTTP/1.1\nHost: a\r\n\r\n', 'BARE_LF'],
      ['GET / HTTP/1.1\r\nHost: a\r\n\n', 'BARE_LF'],
      ['GET / HTTP/1.1\r\nHost: a\r\n\r\r\n', 'BARE_CR'],
      ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', null],
      ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 'UNSUPPORTED_VERSION'],
      ['GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n', 'INVALID_TARGET'],
      ['G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n', 'INVALID_METHOD'],
      // a bad request line is refused before a bad field after it
      ['GET / HTTP/9.9\r\nHost : a\r\n\r\n', 'UNSUPPORTED_VERSION'],
      // a bare LF later in the head wins over a bad name earlier (the scanner finds line breaks first)
      ['GET / HTTP/1.1\r\nBad Name: 1\r\nX: 1\nY\r\n\r\n', 'BARE_LF'],
      ['\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', null],
      ['GET / HTTP/1.1\r\nHost: a\r\nX:\r\nY: \t \r\n\r\n', null],
      ['GET / HTTP/1.1\r\nHost: a\r\nX: \xff\xe9 v \t\r\n\r\n', null],
    ];
    for (const [text, code] of cases) {
      const out = agree(text);
      if (code !== null) expect(errorOf(out)).toBe(code);
    }
    expect(errorOf(agree('GET  / HTTP/1.1\r\nHost: a\r\n\r\n'))).not.toBeNull();
  });

  it('at the edge of every limit, one byte or field under and over, the same outcome', () => {
    const line = (n: number): string => `GET /${'a'.repeat(n - 14)} HTTP/1.1`; // n bytes
    for (const n of [31, 32, 33]) agree(`${line(n)}\r\nHost: a\r\n\r\n`, { maxRequestLineBytes: 32 });
    expect(errorOf(agree(`${line(33)}\r\nHost: a\r\n\r\n`, { maxRequestLineBytes: 32 }))).toBe('REQUEST_LINE_TOO_LONG');
    expect(errorOf(agree(`${line(32)}\r\nHost: a\r\n\r\n`, { maxRequestLineBytes: 32 }))).toBeNull();
    // section: "Host: a\r\n" (9) + "X: <v>\r\n" + "\r\n"
    for (const v of [0, 1, 2, 3])
      agree(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(v)}\r\n\r\n`, { maxHeaderBytes: 17 });
    expect(errorOf(agree('GET / HTTP/1.1\r\nHost: a\r\nX: v\r\n\r\n', { maxHeaderBytes: 17 }))).toBeNull();
    expect(errorOf(agree('GET / HTTP/1.1\r\nHost: a\r\nX: vv\r\n\r\n', { maxHeaderBytes: 17 }))).toBe(
      'HEADERS_TOO_LARGE',
    );
    for (const k of [1, 2, 3]) {
      const fields = Array.from({ length: k }, (_, j) => `F${j}: ${j}\r\n`).join('');
      agree(`GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`, { maxHeaders: 3 });
    }
    expect(errorOf(agree('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n', { maxHeaders: 3 }))).toBeNull();
    expect(errorOf(agree('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', { maxHeaders: 3 }))).toBe(
      'TOO_MANY_HEADERS',
    );
  });

  it('a head cut anywhere (the rest in a later chunk) is the same head', () => {
    const data = bytes(HEAD + HEAD.replace('v=1', 'v=2'));
    const whole = summary(parseChunks([data]));
    for (let cut = 1; cut < data.length; cut++) expect(summary(parseChunks(splitAt(data, [cut])))).toEqual(whole);
  });

  it('random heads with bytes overwritten or inserted: one chunk and byte by byte agree', () => {
    const name = fc.constantFrom(
      'Host',
      'HOST',
      'X-Id',
      'Content-Length',
      'transfer-encoding',
      'Connection',
      'A b',
      '',
    );
    const value = fc.constantFrom('a', '1', 'close', 'chunked', ' x ', '\t', '', 'a\x01', '\xff');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x41, 0x7f), fc.boolean()), {
          maxLength: 3,
        }),
        fc.constantFrom(8, 16, 64, 1024),
        fc.constantFrom(1, 2, 4, 100),
        (fields, edits, maxHeaderBytes, maxHeaders) => {
          const text = `GET /p?q=1 HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
          const arr = Array.from(bytes(text));
          for (const [pos, b, insert] of edits) {
            const at = pos % (arr.length + 1);
            if (insert) arr.splice(at, 0, b);
            else arr[Math.min(at, arr.length - 1)] = b;
          }
          agree(new Uint8Array(arr), { maxHeaderBytes, maxHeaders, maxRequestLineBytes: 24 });
        },
      ),
      { numRuns: 2000, seed: 73 },
    );
  });

  it('a remembered head holds strings, not the chunk: the transport may reuse that memory', () => {
    const heads: RequestHead[] = [];
    const parser = new RequestParser(
      {},
      { onHead: (h) => heads.push(h), onBody: () => {}, onMessageComplete: () => {} },
    );
    const chunk = bytes(HEAD);
    parser.execute(chunk);
    chunk.fill(0x41);
    expect(heads[0]!.headers.get('x-request-id')).toBe('7');
    expect(heads[0]!.headers.entries()).toEqual([
      ['Host', '198.18.0.2'],
      ['X-Request-Id', '7'],
      ['Accept', '*/*'],
    ]);
  });
});
