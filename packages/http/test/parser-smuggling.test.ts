/**
 * A request-smuggling corpus (CL.TE, TE.CL, TE.TE with obfuscated Transfer-Encoding, duplicated
 * Content-Length, chunk-framing tricks). A strict server must refuse every one of them: a front end
 * and this parser could otherwise disagree on where the request ends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseText } from './parser-helpers.js';

const START = 'POST /a HTTP/1.1\r\nHost: h\r\n';
const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: h\r\n\r\n';
const CHUNKED_BODY = `0\r\n\r\n${SMUGGLED}`;

const CORPUS: Array<[string, string]> = [
  ['CL.TE', `${START}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE.CL', `${START}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`],
  ['TE.TE space before colon', `${START}Transfer-Encoding : chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE.TE tab before colon', `${START}Transfer-Encoding\t: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE xchunked', `${START}Transfer-Encoding: xchunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE chunk', `${START}Transfer-Encoding: chunk\r\n\r\n${CHUNKED_BODY}`],
  ['TE quoted', `${START}Transfer-Encoding: "chunked"\r\n\r\n${CHUNKED_BODY}`],
  ['TE chunked, identity', `${START}Transfer-Encoding: chunked, identity\r\n\r\n${CHUNKED_BODY}`],
  ['TE identity', `${START}Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}`],
  ['TE identity alone', `${START}Transfer-Encoding: identity\r\n\r\n${CHUNKED_BODY}`],
  ['TE leading comma', `${START}Transfer-Encoding: ,chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE trailing comma', `${START}Transfer-Encoding: chunked,\r\n\r\n${CHUNKED_BODY}`],
  ['TE twice, second bogus', `${START}Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n${CHUNKED_BODY}`],
  [
    'TE twice, first bogus',
    `${START}Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}`,
  ],
  ['TE chunked twice', `${START}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE vertical tab', `${START}Transfer-Encoding:\x0bchunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE form feed', `${START}Transfer-Encoding:\x0cchunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE NUL', `${START}Transfer-Encoding: chunked\x00\r\n\r\n${CHUNKED_BODY}`],
  ['TE tab value with CL', `${START}Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}`],
  ['TE mixed case with CL', `${START}Transfer-encoding: cHuNkEd\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}`],
  ['TE folded onto the next line', `${START}Transfer-Encoding:\r\n chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE folded continuation', `${START}Transfer-Encoding: chunked\r\n\tidentity\r\n\r\n${CHUNKED_BODY}`],
  ['TE line starting with space', `${START} Transfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE after bare LF', `${START}X: y\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE after bare CR', `${START}X: y\rTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['TE with parameter', `${START}Transfer-Encoding: chunked;foo=bar\r\n\r\n${CHUNKED_BODY}`],
  [
    'TE in HTTP/1.0 with CL',
    `POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}`,
  ],
  ['TE in HTTP/1.0', `POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`],
  ['CL duplicated, differing', `${START}Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ['CL list, differing', `${START}Content-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ['CL list, identical', `${START}Content-Length: 5, 5\r\n\r\n${SMUGGLED}`],
  ['CL space before colon', `${START}Content-Length : ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ['CL hex', `${START}Content-Length: 0x5\r\n\r\n${SMUGGLED}`],
  ['CL decimal point', `${START}Content-Length: 5.0\r\n\r\n${SMUGGLED}`],
  ['CL plus sign', `${START}Content-Length: +5\r\n\r\n${SMUGGLED}`],
  ['CL underscore', `${START}Content-Length: 1_0\r\n\r\n${SMUGGLED}`],
  ['CL folded', `${START}Content-Length:\r\n 5\r\n\r\n${SMUGGLED}`],
  ['CL overflow to small', `${START}Content-Length: 18446744073709551621\r\n\r\n${SMUGGLED}`],
  ['chunk size 0x prefix', `${START}Transfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n${SMUGGLED}`],
  ['chunk size with LF only', `${START}Transfer-Encoding: chunked\r\n\r\n0\n\r\n${SMUGGLED}`],
  ['chunk data ended by LF only', `${START}Transfer-Encoding: chunked\r\n\r\n1\r\nx\n0\r\n\r\n${SMUGGLED}`],
  [
    'chunk size overflow wrapping to 0',
    `${START}Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\n${SMUGGLED}`,
  ],
  ['chunk size with leading space', `${START}Transfer-Encoding: chunked\r\n\r\n 0\r\n\r\n${SMUGGLED}`],
  ['chunk size with trailing space', `${START}Transfer-Encoding: chunked\r\n\r\n0 \r\n\r\n${SMUGGLED}`],
  ['chunk extension with bare LF', `${START}Transfer-Encoding: chunked\r\n\r\n0;a\n\r\n${SMUGGLED}`],
  ['chunk extension with bare CR', `${START}Transfer-Encoding: chunked\r\n\r\n0;a\rb\r\n\r\n${SMUGGLED}`],
  ['trailer with bare LF', `${START}Transfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n${SMUGGLED}`],
  ['two Host fields', `POST /a HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n`],
];

describe('request smuggling corpus: every case is refused', () => {
  it.each(CORPUS)('%s', (_name, raw) => {
    const out = parseText(raw);
    expect(out.error, 'must be refused').not.toBeNull();
    expect(out.messages.some((m) => m.head.target === '/admin')).toBe(false);
    expect(out.messages).toHaveLength(0);
  });

  it('generated TE/CL obfuscations: any request carrying both, or a non-plain TE, is refused', () => {
    const name = fc.constantFrom(
      'Transfer-Encoding',
      'transfer-encoding',
      'TRANSFER-ENCODING',
      'Transfer-Encoding ',
      'Transfer-Encoding\t',
      ' Transfer-Encoding',
    );
    const value = fc.constantFrom(
      'chunked',
      'Chunked',
      ' chunked',
      'chunked ',
      '\tchunked',
      'xchunked',
      'chunked, identity',
      'gzip',
      'identity, chunked',
      'chunked\x0b',
      ',chunked',
      'chunked;x',
      '"chunked"',
      'ch unked',
    );
    const cl = fc.option(fc.constantFrom('0', '5', '5, 5', '05', '-1', '+5', '5 '), { nil: undefined });
    fc.assert(
      fc.property(name, value, cl, fc.boolean(), (n, v, c, clFirst) => {
        const te = `${n}: ${v}\r\n`;
        const clLine = c === undefined ? '' : `Content-Length: ${c}\r\n`;
        const raw = `${START}${clFirst ? clLine + te : te + clLine}\r\n${CHUNKED_BODY}`;
        const out = parseText(raw);
        const plainTe = /^transfer-encoding$/i.test(n) && /^[\t ]*chunked[\t ]*$/i.test(v);
        const plainCl = c === undefined;
        if (plainTe && plainCl) {
          // a well-formed chunked request: exactly one POST, then the pipelined GET, nothing hidden
          expect(out.error).toBeNull();
          expect(out.messages.map((m) => m.head.target)).toEqual(['/a', '/admin']);
        } else {
          expect(out.error).not.toBeNull();
          expect(out.messages).toHaveLength(0);
        }
      }),
      { numRuns: 400, seed: 9110 },
    );
  });
});
