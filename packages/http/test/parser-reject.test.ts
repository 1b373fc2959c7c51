import { describe, expect, it } from 'vitest';
import { HttpParseError, PARSE_ERROR_STATUS, RequestParser } from '../src/index.js';
import { bytes, parseText } from './parser-helpers.js';

const H = 'Host: h\r\n';

/** [name, raw request, expected code, expected status, limits?] */
const CASES: Array<[string, string, string, number, Record<string, number>?]> = [
  [
    'request line too long',
    `GET /${'a'.repeat(100)} HTTP/1.1\r\n${H}\r\n`,
    'REQUEST_LINE_TOO_LONG',
    414,
    { maxRequestLineBytes: 64 },
  ],
  [
    'request line too long before its CRLF arrives',
    `GET /${'a'.repeat(100)}`,
    'REQUEST_LINE_TOO_LONG',
    414,
    { maxRequestLineBytes: 64 },
  ],
  [
    'header section too large',
    `GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(200)}\r\n\r\n`,
    'HEADERS_TOO_LARGE',
    431,
    { maxHeaderBytes: 128 },
  ],
  [
    'too many headers',
    `GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\nC: 3\r\n\r\n`,
    'TOO_MANY_HEADERS',
    431,
    { maxHeaders: 3 },
  ],
  [
    'body larger than the limit (Content-Length)',
    `POST / HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\n`,
    'BODY_TOO_LARGE',
    413,
    { maxBodyBytes: 10 },
  ],
  [
    'body larger than the limit (chunked)',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n`,
    'BODY_TOO_LARGE',
    413,
    { maxBodyBytes: 10 },
  ],
  [
    'trailers too large',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nT: ${'x'.repeat(100)}\r\n\r\n`,
    'TRAILERS_TOO_LARGE',
    431,
    { maxTrailerBytes: 64 },
  ],
  [
    'too many trailers',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n`,
    'TOO_MANY_HEADERS',
    431,
    { maxHeaders: 1 },
  ],
  [
    'Content-Length with Transfer-Encoding',
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'CONTENT_LENGTH_WITH_TRANSFER_ENCODING',
    400,
  ],
  [
    'differing Content-Length',
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\n`,
    'CONFLICTING_CONTENT_LENGTH',
    400,
  ],
  ['Content-Length with a letter', `POST / HTTP/1.1\r\n${H}Content-Length: 1a\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
  ['Content-Length with a sign', `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
  ['negative Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
  [
    'Content-Length with inner whitespace',
    `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n`,
    'INVALID_CONTENT_LENGTH',
    400,
  ],
  ['Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
  ['empty Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 'INVALID_CONTENT_LENGTH', 400],
  [
    'Content-Length overflow',
    `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`,
    'INVALID_CONTENT_LENGTH',
    400,
  ],
  [
    'Transfer-Encoding gzip alone',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
    400,
  ],
  [
    'Transfer-Encoding chunked then identity',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
    400,
  ],
  [
    'Transfer-Encoding chunked twice',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
    400,
  ],
  [
    'Transfer-Encoding with parameters',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n`,
    'INVALID_TRANSFER_ENCODING',
    400,
  ],
  ['Transfer-Encoding empty', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, 'INVALID_TRANSFER_ENCODING', 400],
  [
    'unknown coding before chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    'UNSUPPORTED_TRANSFER_CODING',
    501,
  ],
  [
    'Transfer-Encoding in HTTP/1.0',
    `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'TRANSFER_ENCODING_IN_HTTP10',
    400,
  ],
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 'OBS_FOLD', 400],
  ['whitespace before the first header', `GET / HTTP/1.1\r\n ${H}\r\n`, 'OBS_FOLD', 400],
  ['bare CR in a header value', `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 'BARE_CR', 400],
  ['bare LF ending a header line', `GET / HTTP/1.1\r\n${H}X: a\n\r\n`, 'BARE_LF', 400],
  ['bare LF ending the request line', `GET / HTTP/1.1\n${H}\r\n`, 'BARE_LF', 400],
  ['LF-only request', `GET / HTTP/1.1\nHost: h\n\n`, 'BARE_LF', 400],
  [
    'bare LF in a chunk-size line',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n`,
    'BARE_LF',
    400,
  ],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
  ['vertical tab in a header value', `GET / HTTP/1.1\r\n${H}X: a\x0bb\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
  ['DEL in a header value', `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, 'INVALID_HEADER_VALUE', 400],
  ['invalid method byte', `G(T / HTTP/1.1\r\n${H}\r\n`, 'INVALID_METHOD', 400],
  ['invalid header name byte', `GET / HTTP/1.1\r\n${H}X(Y: 1\r\n\r\n`, 'INVALID_HEADER_NAME', 400],
  ['empty header name', `GET / HTTP/1.1\r\n${H}: 1\r\n\r\n`, 'INVALID_HEADER_NAME', 400],
  ['whitespace before the colon', `GET / HTTP/1.1\r\n${H}X : 1\r\n\r\n`, 'WHITESPACE_BEFORE_COLON', 400],
  ['header line without colon', `GET / HTTP/1.1\r\n${H}Xyz\r\n\r\n`, 'MISSING_COLON', 400],
  ['space in the target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 'INVALID_VERSION', 400],
  ['invalid target byte', `GET /a<b> HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['fragment in the target', `GET /a#b HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['bad pct-encoding in the target', `GET /a%zz HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['high byte in the target', `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['asterisk with GET', `GET * HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['relative target', `GET a/b HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['CONNECT without port', `CONNECT example.com HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['CONNECT with a path', `CONNECT /x HTTP/1.1\r\n${H}\r\n`, 'INVALID_TARGET', 400],
  ['two spaces in the request line', `GET  / HTTP/1.1\r\n${H}\r\n`, 'INVALID_REQUEST_LINE', 400],
  ['missing version', `GET /\r\n${H}\r\n`, 'INVALID_REQUEST_LINE', 400],
  ['lower-case protocol', `GET / http/1.1\r\n${H}\r\n`, 'INVALID_VERSION', 400],
  ['two-digit minor', `GET / HTTP/1.10\r\n${H}\r\n`, 'INVALID_VERSION', 400],
  ['missing Host in 1.1', `GET / HTTP/1.1\r\nX: 1\r\n\r\n`, 'MISSING_HOST', 400],
  ['multiple Host', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 'MULTIPLE_HOST', 400],
  ['multiple Host in 1.0', `GET / HTTP/1.0\r\n${H}Host: i\r\n\r\n`, 'MULTIPLE_HOST', 400],
  ['invalid Host', `GET / HTTP/1.1\r\nHost: a/b\r\n\r\n`, 'INVALID_HOST', 400],
  ['HTTP/2.0 over HTTP/1', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, 'UNSUPPORTED_VERSION', 505],
  ['HTTP/3.0', `GET / HTTP/3.0\r\n${H}\r\n`, 'UNSUPPORTED_VERSION', 505],
  ['HTTP/0.9 style version', `GET / HTTP/0.9\r\n${H}\r\n`, 'UNSUPPORTED_VERSION', 505],
  ['non-hex chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nxyz\r\n`, 'INVALID_CHUNK_SIZE', 400],
  ['empty chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n\r\n`, 'INVALID_CHUNK_SIZE', 400],
  ['negative chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-1\r\n`, 'INVALID_CHUNK_SIZE', 400],
  [
    '0x prefix in chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\n`,
    'INVALID_CHUNK_EXTENSION',
    400,
  ],
  [
    'chunk size overflow',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${'f'.repeat(17)}\r\n`,
    'CHUNK_SIZE_OVERFLOW',
    400,
  ],
  [
    'chunk size above 2^53',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${'f'.repeat(15)}\r\n`,
    'CHUNK_SIZE_OVERFLOW',
    400,
  ],
  [
    'trailing space after chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n`,
    'INVALID_CHUNK_EXTENSION',
    400,
  ],
  [
    'chunk extension without a name',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;\r\nx\r\n0\r\n\r\n`,
    'INVALID_CHUNK_EXTENSION',
    400,
  ],
  [
    'unterminated quoted chunk extension',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a="x\r\nx\r\n0\r\n\r\n`,
    'INVALID_CHUNK_EXTENSION',
    400,
  ],
  [
    'control byte in chunk extension',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a=\x01\r\nx\r\n0\r\n\r\n`,
    'INVALID_CHUNK_EXTENSION',
    400,
  ],
  [
    'chunk extension too long',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a=${'b'.repeat(100)}\r\nx\r\n0\r\n\r\n`,
    'CHUNK_EXTENSION_TOO_LARGE',
    400,
    { maxChunkExtensionBytes: 32 },
  ],
  [
    'chunk data not followed by CRLF',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n`,
    'MISSING_CHUNK_CRLF',
    400,
  ],
  [
    'chunk data followed by CR only',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nx\rX0\r\n\r\n`,
    'MISSING_CHUNK_CRLF',
    400,
  ],
  [
    'obs-fold in trailers',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n b\r\n\r\n`,
    'OBS_FOLD',
    400,
  ],
  [
    'too many leading empty lines',
    `${'\r\n'.repeat(40)}GET / HTTP/1.1\r\n${H}\r\n`,
    'REQUEST_LINE_TOO_LONG',
    414,
    { maxRequestLineBytes: 32 },
  ],
];

describe('RequestParser: strict rejections', () => {
  it.each(CASES)('%s', (_name, raw, code, status, limits) => {
    const out = parseText(raw, limits ?? {});
    expect(out.error).toBeInstanceOf(HttpParseError);
    expect(out.error!.code).toBe(code);
    expect(out.error!.status).toBe(status);
    expect(out.messages).toHaveLength(0);
  });

  it('every code has a status', () => {
    for (const [code, status] of Object.entries(PARSE_ERROR_STATUS)) {
      expect([400, 413, 414, 431, 501, 503, 505], code).toContain(status);
    }
  });

  it('the limits are exact: one byte under passes', () => {
    // request line "GET /aaaa HTTP/1.1" is 18 bytes
    expect(parseText(`GET /aaaa HTTP/1.1\r\n${H}\r\n`, { maxRequestLineBytes: 18 }).error).toBeNull();
    expect(parseText(`GET /aaaa HTTP/1.1\r\n${H}\r\n`, { maxRequestLineBytes: 17 }).error?.code).toBe(
      'REQUEST_LINE_TOO_LONG',
    );
    // header section "Host: h\r\n\r\n" is 11 bytes
    expect(parseText(`GET / HTTP/1.1\r\n${H}\r\n`, { maxHeaderBytes: 11 }).error).toBeNull();
    expect(parseText(`GET / HTTP/1.1\r\n${H}\r\n`, { maxHeaderBytes: 10 }).error?.code).toBe('HEADERS_TOO_LARGE');
    expect(
      parseText(`POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n0123456789`, { maxBodyBytes: 10 }).error,
    ).toBeNull();
    expect(parseText(`GET / HTTP/1.1\r\n${H}A: 1\r\n\r\n`, { maxHeaders: 2 }).error).toBeNull();
  });

  it('refuses a bad request line before the rest of the head arrives', () => {
    const p = new RequestParser({}, { onHead() {}, onBody() {}, onMessageComplete() {} });
    expect(() => p.execute(bytes('GET / HTTP/2.0\r\n'))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_VERSION', status: 505 }),
    );
  });

  it('refuses all further input after an error, with the same error', () => {
    const p = new RequestParser({}, { onHead() {}, onBody() {}, onMessageComplete() {} });
    let first: unknown;
    try {
      p.execute(bytes('GET / HTTP/1.1\r\nX : 1\r\n\r\n'));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(HttpParseError);
    expect(() => p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'))).toThrow(first as Error);
    expect(() => p.resume()).toThrow(first as Error);
    expect(() => p.finish()).toThrow(first as Error);
  });

  it('bounds input queued while paused (BUFFER_OVERFLOW, 503)', () => {
    const p = new RequestParser({ maxBufferedBytes: 64 }, { onHead() {}, onBody() {}, onMessageComplete() {} });
    p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    expect(p.paused).toBe(true);
    p.execute(bytes('x'.repeat(64)));
    expect(() => p.execute(bytes('y'))).toThrow(expect.objectContaining({ code: 'BUFFER_OVERFLOW', status: 503 }));
  });

  it('execute after finish is INPUT_AFTER_END', () => {
    const p = new RequestParser({}, { onHead() {}, onBody() {}, onMessageComplete() {} });
    p.finish();
    expect(() => p.execute(bytes('GET'))).toThrow(expect.objectContaining({ code: 'INPUT_AFTER_END' }));
  });
});
