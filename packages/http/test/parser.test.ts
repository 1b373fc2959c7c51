import { describe, expect, it } from 'vitest';
import { HttpParseError, RequestParser } from '../src/index.js';
import type { RequestHead } from '../src/index.js';
import { resolveParserLimits } from '../src/parser/request-parser.js';
import { bytes, parseChunks, parseText } from './parser-helpers.js';

function one(text: string) {
  const out = parseText(text);
  expect(out.error).toBeNull();
  expect(out.messages).toHaveLength(1);
  return out.messages[0]!;
}

describe('RequestParser: valid requests', () => {
  it('parses a GET head with ordered raw headers and case-insensitive lookup', () => {
    const m = one('GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a:  2 \r\nAccept: */*\r\n\r\n');
    expect(m.head.method).toBe('GET');
    expect(m.head.target).toBe('/index.html?q=1');
    expect(m.head.targetForm).toBe('origin');
    expect(m.head.versionMajor).toBe(1);
    expect(m.head.versionMinor).toBe(1);
    expect(m.head.headers.entries()).toEqual([
      ['Host', 'example.com'],
      ['X-A', '1'],
      ['x-a', '2'],
      ['Accept', '*/*'],
    ]);
    expect(m.head.headers.get('X-a')).toBe('1, 2');
    expect(m.head.headers.getAll('x-A')).toEqual(['1', '2']);
    expect(m.head.headers.get('missing')).toBeUndefined();
    expect(m.head.host).toBe('example.com');
    expect(m.head.keepAlive).toBe(true);
    expect(m.head.framing).toEqual({ kind: 'none' });
    expect(m.head.expect100).toBe(false);
    expect(m.head.upgrade).toBeNull();
    expect(m.body).toBe('');
    expect(m.trailers).toBeNull();
  });

  it('decodes obs-text in values as latin1, one code unit per byte', () => {
    const m = one('GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xe9\xff\r\n\r\n');
    expect(m.head.headers.get('x-name')).toBe('caf\u00e9\u00ff');
  });

  it('delivers a Content-Length body as views of the input (zero-copy)', () => {
    const out = parseText('POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world');
    expect(out.error).toBeNull();
    const m = out.messages[0]!;
    expect(m.head.framing).toEqual({ kind: 'length', length: 11 });
    expect(m.body).toBe('hello world');
    expect(out.copiedBodyViews).toBe(0);
  });

  it('body views share the memory of the chunk they came from', () => {
    const input = bytes('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc');
    const views: Uint8Array[] = [];
    const p = new RequestParser({}, { onHead() {}, onBody: (d) => views.push(d), onMessageComplete() {} });
    p.execute(input);
    expect(views).toHaveLength(1);
    expect(views[0]!.buffer).toBe(input.buffer);
    expect(views[0]!.byteOffset).toBe(input.byteOffset + input.length - 3);
  });

  it('accepts Content-Length: 0 and identical repeated Content-Length fields', () => {
    expect(one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n').head.framing).toEqual({
      kind: 'length',
      length: 0,
    });
    const m = one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc');
    expect(m.body).toBe('abc');
  });

  it('decodes chunked bodies with extensions and trailers', () => {
    const m = one(
      'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;name=value;flag\r\nhello\r\n' +
        '1 ; q="a \\"quoted\\" \\\\ value" ;x=y\r\n \r\n' +
        'A\r\n0123456789\r\n' +
        '0;last\r\nChecksum: abc\r\nX-Trailer:  t \r\n\r\n',
    );
    expect(m.head.framing).toEqual({ kind: 'chunked' });
    expect(m.body).toBe('hello 0123456789');
    expect(m.trailers).toEqual([
      ['Checksum', 'abc'],
      ['X-Trailer', 't'],
    ]);
    expect(m.head.headers.has('checksum')).toBe(false);
  });

  it('gives chunked messages without trailers an empty trailer list', () => {
    const m = one('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(m.body).toBe('abc');
    expect(m.trailers).toEqual([]);
  });

  it('accepts Transfer-Encoding split over fields when chunked is last and only coding', () => {
    const m = one('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\t\r\n\r\n0\r\n\r\n');
    expect(m.head.framing).toEqual({ kind: 'chunked' });
  });

  it('parses pipelined requests in one chunk, pausing after each', () => {
    const text =
      'GET /a HTTP/1.1\r\nHost: h\r\n\r\n' +
      'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi' +
      'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n' +
      'GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
    const heads: string[] = [];
    let completes = 0;
    const p = new RequestParser(
      {},
      {
        onHead: (h) => heads.push(h.target),
        onBody() {},
        onMessageComplete: () => completes++,
      },
    );
    p.execute(bytes(text));
    expect(heads).toEqual(['/a']);
    expect(p.paused).toBe(true);
    expect(p.bufferedBytes).toBe(text.length - 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n'.length);
    p.resume();
    expect(heads).toEqual(['/a', '/b']);
    p.resume();
    p.resume();
    expect(heads).toEqual(['/a', '/b', '/c', '/d']);
    expect(completes).toBe(4);
    expect(p.bufferedBytes).toBe(0);
    expect(p.messages).toBe(4);
    const out = parseText(text);
    expect(out.messages.map((m) => [m.head.target, m.body, m.head.keepAlive])).toEqual([
      ['/a', '', true],
      ['/b', 'hi', true],
      ['/c', 'x', true],
      ['/d', '', false],
    ]);
  });

  it('resume() from inside onMessageComplete continues the same run without recursion', () => {
    const seen: string[] = [];
    const p: RequestParser = new RequestParser(
      {},
      {
        onHead: (h) => seen.push(h.target),
        onBody() {},
        onMessageComplete: () => p.resume(),
      },
    );
    p.execute(bytes('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n'));
    expect(seen).toEqual(['/1', '/2']);
    expect(p.paused).toBe(false);
  });

  it('pause() in onHead holds the body back until resume()', () => {
    const events: string[] = [];
    const p: RequestParser = new RequestParser(
      {},
      {
        onHead: () => {
          events.push('head');
          p.pause();
        },
        onBody: (d) => events.push(`body:${Buffer.from(d).toString()}`),
        onMessageComplete: () => events.push('done'),
      },
    );
    p.execute(bytes('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata'));
    expect(events).toEqual(['head']);
    expect(p.bufferedBytes).toBe(4);
    p.resume();
    expect(events).toEqual(['head', 'body:data', 'done']);
  });

  it('keep-alive rules: 1.0 default close, 1.0 keep-alive, 1.1 close, token lists', () => {
    expect(one('GET / HTTP/1.0\r\n\r\n').head.keepAlive).toBe(false);
    const ka = one('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').head;
    expect(ka.keepAlive).toBe(true);
    expect(ka.host).toBeNull();
    expect(ka.versionMinor).toBe(0);
    expect(one('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n').head.keepAlive).toBe(false);
    expect(one('GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n').head.keepAlive).toBe(false);
    expect(one('GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n').head.keepAlive).toBe(true);
  });

  it('parses 1.0 keep-alive requests pipelined', () => {
    const out = parseText('GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /y HTTP/1.0\r\n\r\n');
    expect(out.messages.map((m) => [m.head.target, m.head.keepAlive])).toEqual([
      ['/x', true],
      ['/y', false],
    ]);
  });

  it('parses HEAD, OPTIONS *, absolute-form and CONNECT authority-form', () => {
    expect(one('HEAD /r HTTP/1.1\r\nHost: h\r\n\r\n').head.method).toBe('HEAD');
    const opt = one('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n').head;
    expect([opt.target, opt.targetForm]).toEqual(['*', 'asterisk']);
    const abs = one('GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n').head;
    expect([abs.target, abs.targetForm]).toEqual(['http://example.com:8080/p?q', 'absolute']);
    const con = one('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n').head;
    expect([con.target, con.targetForm, con.framing.kind]).toEqual(['example.com:443', 'authority', 'none']);
  });

  it('reports Expect: 100-continue (1.1 only) and other expectations raw', () => {
    expect(one('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n').head.expect100).toBe(
      true,
    );
    expect(one('PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n').head.expect100).toBe(false);
    const other = one('PUT / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n').head;
    expect([other.expect100, other.expectOther]).toEqual([false, 'teapot']);
  });

  it('reports an upgrade only with Connection: upgrade on 1.1, and detach() hands back the rest', () => {
    const text = 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00rest';
    let head: RequestHead | null = null;
    const p = new RequestParser({}, { onHead: (h) => (head = h), onBody() {}, onMessageComplete() {} });
    p.execute(bytes(text));
    expect(head!.upgrade).toBe('websocket');
    const rest = p.detach();
    expect(Buffer.concat(rest).toString('latin1')).toBe('\x81\x00rest');
    expect(() => p.execute(bytes('x'))).toThrow(HttpParseError);
    expect(one('GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n').head.upgrade).toBeNull();
  });

  it('ignores empty lines before a request line', () => {
    const out = parseText('\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(out.error).toBeNull();
    expect(out.messages.map((m) => m.head.target)).toEqual(['/', '/2']);
  });

  it('accepts an empty Host for HTTP/1.1 and HTTP/1.2 with 1.1 semantics', () => {
    expect(one('GET / HTTP/1.1\r\nHost:\r\n\r\n').head.host).toBe('');
    const h12 = one('GET / HTTP/1.2\r\nHost: h\r\n\r\n').head;
    expect([h12.versionMinor, h12.keepAlive]).toEqual([2, true]);
  });

  it('gathers a head split across many chunks and decodes it once', () => {
    const text = 'GET /split HTTP/1.1\r\nHost: h\r\nX-Long: ' + 'v'.repeat(3000) + '\r\n\r\n';
    const data = bytes(text);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += 7) chunks.push(data.subarray(i, i + 7));
    const out = parseChunks(chunks);
    expect(out.error).toBeNull();
    expect(out.messages[0]!.head.headers.get('x-long')).toBe('v'.repeat(3000));
  });

  it('finish() is clean between messages and INCOMPLETE_MESSAGE inside one', () => {
    expect(parseChunks([bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n')]).error).toBeNull();
    expect(parseChunks([]).error).toBeNull();
    expect(parseChunks([bytes('\r\n')]).error).toBeNull();
    expect(parseChunks([bytes('GET / HTTP/1.1\r\nHost: h\r\n')]).error?.code).toBe('INCOMPLETE_MESSAGE');
    expect(parseChunks([bytes('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab')]).error?.code).toBe(
      'INCOMPLETE_MESSAGE',
    );
    expect(
      parseChunks([bytes('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n')]).error?.code,
    ).toBe('INCOMPLETE_MESSAGE');
  });

  it('messageInProgress tells an idle connection from a started request', () => {
    const p = new RequestParser({}, { onHead() {}, onBody() {}, onMessageComplete() {} });
    expect(p.messageInProgress).toBe(false);
    p.execute(bytes('GE'));
    expect(p.messageInProgress).toBe(true);
    p.execute(bytes('T / HTTP/1.1\r\nHost: h\r\n\r\n'));
    expect(p.messageInProgress).toBe(false);
  });

  it('reset() makes a failed parser usable again', () => {
    let heads = 0;
    const p = new RequestParser({}, { onHead: () => heads++, onBody() {}, onMessageComplete() {} });
    expect(() => p.execute(bytes('BAD\r\n'))).toThrow(HttpParseError);
    expect(() => p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'))).toThrow(HttpParseError);
    expect(p.error).toBeInstanceOf(HttpParseError);
    p.reset();
    p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    expect(heads).toBe(1);
  });

  it('reuse() hands a parser left mid-message to another handler, clean, and reports busy inside a callback', () => {
    const first: string[] = [];
    const second: string[] = [];
    let busyInside = false;
    const p = new RequestParser(
      {},
      {
        onHead: (h) => {
          first.push(h.target);
          busyInside = p.busy;
        },
        onBody() {},
        onMessageComplete() {},
      },
    );
    p.execute(bytes('GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo'));
    expect([busyInside, p.busy, p.paused, p.bufferedBytes > 0]).toEqual([true, false, true, true]);
    p.reuse({ onHead: (h) => second.push(h.target), onBody() {}, onMessageComplete() {} });
    expect([p.paused, p.bufferedBytes, p.messageInProgress, p.messages]).toEqual([false, 0, false, 0]);
    p.execute(bytes('POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi'));
    expect(first).toEqual(['/a']);
    expect(second).toEqual(['/c']);
  });

  it('refuses bad limits', () => {
    const handler = { onHead() {}, onBody() {}, onMessageComplete() {} };
    expect(() => new RequestParser({ maxHeaders: 0 }, handler)).toThrow(RangeError);
    expect(() => new RequestParser({ maxBodyBytes: 1.5 }, handler)).toThrow(RangeError);
  });

  it('a handler exception fails the parser and propagates unchanged', () => {
    const boom = new Error('boom');
    const p = new RequestParser(
      {},
      {
        onHead() {
          throw boom;
        },
        onBody() {},
        onMessageComplete() {},
      },
    );
    expect(() => p.execute(bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n'))).toThrow(boom);
    expect(() => p.execute(bytes('x'))).toThrow(boom);
  });
});

describe('RequestParser: field names and line runs', () => {
  it('keeps each name as sent, whether or not it is one of the common ones, and lowers it for lookup', () => {
    const m = one(
      'GET / HTTP/1.1\r\nhost: a\r\nUSER-AGENT: b\r\nAccept: c\r\nAccep: d\r\nAccepts: e\r\nX-Custom: f\r\nuser-agent: g\r\n\r\n',
    );
    expect(m.head.headers.raw).toEqual([
      'host',
      'a',
      'USER-AGENT',
      'b',
      'Accept',
      'c',
      'Accep',
      'd',
      'Accepts',
      'e',
      'X-Custom',
      'f',
      'user-agent',
      'g',
    ]);
    expect(m.head.headers.lowerNames).toEqual([
      'host',
      'user-agent',
      'accept',
      'accep',
      'accepts',
      'x-custom',
      'user-agent',
    ]);
    expect(m.head.headers.get('User-Agent')).toBe('b, g');
  });

  it('counts the limits exactly wherever a chunk boundary falls inside a line', () => {
    const text = 'GET /aaaa HTTP/1.1\r\nHost: h\r\n\r\n'; // request line 18 bytes, header section 11
    for (let cut = 1; cut < text.length; cut++) {
      const chunks = [bytes(text.slice(0, cut)), bytes(text.slice(cut))];
      expect(parseChunks(chunks, { maxRequestLineBytes: 18, maxHeaderBytes: 11 }).error, `cut ${cut}`).toBeNull();
      expect(parseChunks(chunks, { maxRequestLineBytes: 17 }).error?.code, `cut ${cut}`).toBe('REQUEST_LINE_TOO_LONG');
      expect(parseChunks(chunks, { maxHeaderBytes: 10 }).error?.code, `cut ${cut}`).toBe('HEADERS_TOO_LARGE');
    }
  });
});

describe('RequestParser: a repeated head', () => {
  /** Feeds `chunks` to one parser (resuming after each message) and returns the heads and bodies it delivered. */
  function deliver(chunks: string[]): Array<{ head: RequestHead; body: string }> {
    const out: Array<{ head: RequestHead; body: string }> = [];
    const parser = new RequestParser(
      {},
      {
        onHead: (head) => out.push({ head, body: '' }),
        onBody: (data) => (out[out.length - 1]!.body += Buffer.from(data).toString('latin1')),
        onMessageComplete: () => {},
      },
    );
    for (const chunk of chunks) {
      parser.execute(bytes(chunk));
      while (parser.paused && parser.bufferedBytes > 0) parser.resume();
      if (parser.paused) parser.resume();
    }
    return out;
  }

  /**
   * A head as its reader sees it, for comparison: its fields as `[name, value]` pairs (a head decoded
   * in one pass holds positions in its chunk until read, a remembered one holds strings).
   */
  function plain(head: RequestHead): Omit<RequestHead, 'headers'> & { headers: Array<[string, string]> } {
    return { ...head, headers: head.headers.entries() };
  }

  /** The head a fresh parser makes of `text`, for comparison (as {@link plain} shows it). */
  function fresh(text: string): ReturnType<typeof plain> {
    return plain(one(text).head);
  }

  const GET = 'GET /small HTTP/1.1\r\nHost: 198.18.44.2\r\n\r\n';
  const POST = 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n';

  it('is delivered as the same head object, equal to a fresh parse, in later chunks and pipelined in one', () => {
    const heads = deliver([GET, GET, GET + GET]).map((m) => m.head);
    expect(heads).toHaveLength(4);
    for (const head of heads) expect(head).toBe(heads[0]);
    expect(plain(heads[0]!)).toEqual(fresh(GET));
  });

  it('carries its body each time (the body is not part of the head)', () => {
    const out = deliver([POST + 'abc', POST + 'def' + POST, 'ghi']);
    expect(out.map((m) => m.body)).toEqual(['abc', 'def', 'ghi']);
    expect(out[1]!.head).toBe(out[0]!.head);
    expect(out[2]!.head).toBe(out[0]!.head);
    expect(out[0]!.head.framing).toEqual({ kind: 'length', length: 3 });
  });

  it('is parsed afresh when one byte differs, when a field follows where the old head ended, or when it is split', () => {
    const other = 'GET /smalL HTTP/1.1\r\nHost: 198.18.44.2\r\n\r\n';
    const longer = 'GET /small HTTP/1.1\r\nHost: 198.18.44.2\r\nRange: bytes=0-1\r\n\r\n';
    const out = deliver([GET, other, GET, longer, GET.slice(0, 10), GET.slice(10), '\r\n' + GET]);
    expect(out.map((m) => m.head.target)).toEqual(['/small', '/smalL', '/small', '/small', '/small', '/small']);
    expect(plain(out[1]!.head)).toEqual(fresh(other));
    expect(out[3]!.head).not.toBe(out[2]!.head);
    expect(plain(out[3]!.head)).toEqual(fresh(longer));
    expect(out[3]!.head.headers.get('range')).toBe('bytes=0-1');
    for (const m of out)
      expect(plain(m.head)).toEqual(
        fresh(m.head.target === '/smalL' ? other : m.head.headers.has('range') ? longer : GET),
      );
  });

  it('after heads that keep differing it stops remembering them, and picks repeats up again at a probe', () => {
    const varying = Array.from({ length: 40 }, (_, i) => `GET /small?v=${i} HTTP/1.1\r\nHost: h\r\n\r\n`);
    // 40 different heads, then the same head 20 times: each parsed right; the repeats become one object
    // once a probe (every 16th decoded head after two misses) remembered one of them.
    const chunks = [...varying, ...Array.from({ length: 20 }, () => GET)];
    const out = deliver(chunks);
    expect(out).toHaveLength(60);
    out.forEach((m, i) => expect(plain(m.head)).toEqual(fresh(chunks[i]!)));
    const repeats = out.slice(40).map((m) => m.head);
    const distinct = new Set(repeats);
    expect(distinct.size).toBeGreaterThan(1); // not remembered at first: parsed afresh
    expect(distinct.size).toBeLessThanOrEqual(16); // a probe remembered it within 16 heads
    expect(repeats[19]).toBe(repeats[18]); // and from then on it is the same object
  });

  it('is one object for every parser sharing a limits object (a server), not across different limits', () => {
    const heads: RequestHead[] = [];
    const handler = { onHead: (h: RequestHead) => heads.push(h), onBody: () => {}, onMessageComplete: () => {} };
    const shared = resolveParserLimits({});
    const strict = resolveParserLimits({ maxHeaders: 1 });
    for (const limits of [shared, shared, strict, strict]) new RequestParser(limits, handler).execute(bytes(GET));
    expect(heads).toHaveLength(4);
    expect(heads[1]).toBe(heads[0]);
    expect(heads[3]).toBe(heads[2]);
    expect(heads[2]).not.toBe(heads[0]);
    for (const head of heads) expect(plain(head)).toEqual(fresh(GET));
    // The limits still apply to a head another parser with other limits took: one field too many is refused.
    const twoFields = 'GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n';
    new RequestParser(shared, handler).execute(bytes(twoFields));
    expect(() => new RequestParser(strict, handler).execute(bytes(twoFields))).toThrow(HttpParseError);
  });

  it('a new parser starts out with the newest shared head, and still parses or refuses anything else as it should', () => {
    const heads: RequestHead[] = [];
    const handler = { onHead: (h: RequestHead) => heads.push(h), onBody: () => {}, onMessageComplete: () => {} };
    const limits = resolveParserLimits({ maxHeaders: 7 });
    const other = 'GET /other HTTP/1.0\r\nHost: 198.18.44.2\r\n\r\n';
    const longer = 'GET /small HTTP/1.1\r\nHost: 198.18.44.2\r\nRange: bytes=0-1\r\n\r\n';
    new RequestParser(limits, handler).execute(bytes(GET));
    // Short connections one after another: each new parser's first head is the one seen last.
    for (let i = 0; i < 3; i++) new RequestParser(limits, handler).execute(bytes(GET));
    expect(heads).toHaveLength(4);
    for (const head of heads) expect(head).toBe(heads[0]);
    // A first head that differs, extends the newest one, is split or starts with an empty line: parsed afresh.
    new RequestParser(limits, handler).execute(bytes(other));
    new RequestParser(limits, handler).execute(bytes(longer));
    const split = new RequestParser(limits, handler);
    split.execute(bytes(GET.slice(0, 7)));
    split.execute(bytes(GET.slice(7)));
    new RequestParser(limits, handler).execute(bytes('\r\n' + other));
    expect(heads.slice(4).map((h) => plain(h))).toEqual([fresh(other), fresh(longer), fresh(GET), fresh(other)]);
    // The newest is now `other` (found again by the last parser): a new parser gets that object.
    new RequestParser(limits, handler).execute(bytes(other));
    expect(heads[8]).toBe(heads[7]);
    // A bad head that shares the newest one's start is refused by a new parser, and after reset().
    const bad = 'GET /other HTTP/1.0\r\nHost: 198.18.44.2\r\nBad Name: 1\r\n\r\n';
    expect(() => new RequestParser(limits, handler).execute(bytes(bad))).toThrow(HttpParseError);
    const reused = new RequestParser(limits, handler);
    reused.execute(bytes(GET));
    reused.reset();
    reused.execute(bytes(other));
    expect(heads[heads.length - 1]).toBe(heads[7]);
    reused.reset();
    expect(() => reused.execute(bytes(bad))).toThrow(HttpParseError);
  });

  it('still refuses a bad head that shares the start of the remembered one', () => {
    const parser = new RequestParser({}, { onHead: () => {}, onBody: () => {}, onMessageComplete: () => {} });
    parser.execute(bytes(GET));
    parser.resume();
    expect(() => parser.execute(bytes('GET /small HTTP/1.1\r\nHost: 198.18.44.2\r\nBad Name: 1\r\n\r\n'))).toThrow(
      HttpParseError,
    );
  });
});
