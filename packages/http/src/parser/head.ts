/**
 * Turns the bytes of a complete request head into a validated {@link RequestHead}: request line,
 * field lines, then the message-framing rules of RFC 9112 §6 applied strictly (the anti-smuggling
 * part). Internal to the package.
 *
 * Precondition (guaranteed by the parser's section scanner): `bytes` is the request line, the field
 * lines and the closing empty line, every line ended by CRLF, no bare CR or LF, within the limits.
 */
import {
  CR as CR_,
  HEX_VALUE as HEX_VALUE_,
  HOST as HOST_,
  PERCENT as PERCENT_,
  SP as SP_,
  TARGET as TARGET_,
  TOKEN as TOKEN_,
  isWhitespace as isWhitespace_,
} from './chars.js';
import { HttpParseError } from './errors.js';
import { parseFieldLines } from './fields.js';
import { latin1Text, latin1View } from './latin1.js';
import type { HeaderList } from './headers.js';
import type { BodyFraming, ParserLimits, RequestHead, TargetForm } from './types.js';

// Module-local copies: hot loops read them without going through an import binding.
const CR = CR_;
const HEX_VALUE = HEX_VALUE_;
const HOST = HOST_;
const PERCENT = PERCENT_;
const SP = SP_;
const TARGET = TARGET_;
const TOKEN = TOKEN_;
const isWhitespace = isWhitespace_;

const FRAMING_NONE: BodyFraming = Object.freeze({ kind: 'none' });
const FRAMING_CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });

/** A validated request line (what {@link parseRequestLine} returns). */
export interface RequestLine {
  /** The method token. */
  readonly method: string;
  /** The request-target as sent. */
  readonly target: string;
  /** Its form. */
  readonly targetForm: TargetForm;
  /** The minor version digit (the major is always 1). */
  readonly versionMinor: number;
}

/**
 * Parses and validates a request line, `bytes[start, end)` being exactly the line and its CRLF. Called
 * by the parser as soon as the line is complete, so a bad line is refused before the rest of the head.
 *
 * @throws HttpParseError `INVALID_REQUEST_LINE`, `INVALID_METHOD`, `INVALID_TARGET`,
 *   `INVALID_VERSION`, `UNSUPPORTED_VERSION`
 */
export function parseRequestLine(bytes: Uint8Array, start: number, end: number): RequestLine {
  const buf = latin1View(bytes);
  // method SP request-target SP HTTP-version CRLF
  let i = start;
  while (TOKEN[buf[i]!] === 1) i++;
  const methodEnd = i;
  if (buf[i] !== SP) {
    if (buf[i] === CR || isWhitespace(buf[i]!))
      throw new HttpParseError('INVALID_REQUEST_LINE', 'request line is not "method SP target SP version"');
    throw new HttpParseError('INVALID_METHOD', `invalid byte 0x${buf[i]!.toString(16)} in the method`);
  }
  if (methodEnd === start) throw new HttpParseError('INVALID_REQUEST_LINE', 'empty method');
  const targetStart = ++i;
  while (i < end && buf[i] !== SP && buf[i] !== CR) i++;
  const targetEnd = i;
  if (buf[i] !== SP || targetEnd === targetStart) {
    throw new HttpParseError('INVALID_REQUEST_LINE', 'request line is not "method SP target SP version"');
  }
  const versionStart = ++i;
  while (i < end && buf[i] !== CR) i++;
  const versionMinor = parseVersion(buf, versionStart, i);
  const method = knownMethod(buf, start, methodEnd) ?? latin1Text(buf, start, methodEnd);
  const targetForm = checkTarget(buf, targetStart, targetEnd, method);
  const target = latin1Text(buf, targetStart, targetEnd);
  return { method, target, targetForm, versionMinor };
}

/** `GET` or `HEAD` when the line starts with exactly that method (the same string every time, no decoding), else undefined. */
function knownMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  const n = end - start;
  if (n === 3 && buf[start] === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return 'GET';
  if (n === 4 && buf[start] === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41 && buf[start + 3] === 0x44)
    return 'HEAD';
  return undefined;
}

/**
 * Parses the rest of a complete request head: `bytes[start, end)` holds the request line (already
 * parsed into `line`, `lineBytes` long with its CRLF), the field lines and the closing empty line.
 *
 * @throws HttpParseError for every refusal listed on {@link HttpParseErrorCode} about fields and framing
 */
export function parseRequestHead(
  bytes: Uint8Array,
  start: number,
  end: number,
  line: RequestLine,
  lineBytes: number,
  limits: ParserLimits,
): RequestHead {
  const headers = parseFieldLines(latin1View(bytes), start + lineBytes, end - 2);
  return headFromFields(line, headers, limits);
}

/**
 * The {@link RequestHead} of a request line and its valid field lines: the message-framing and
 * connection rules of RFC 9112 §6 and §9 (exactly one Host in HTTP/1.1, Content-Length and
 * Transfer-Encoding checked against each other, `Connection`, `Expect`, `Upgrade`).
 *
 * @throws HttpParseError for every refusal listed on {@link HttpParseErrorCode} about framing and Host
 */
export function headFromFields(line: RequestLine, headers: HeaderList, limits: ParserLimits): RequestHead {
  const { method, target, targetForm, versionMinor } = line;
  const versionMajor = 1;
  const http11 = versionMinor >= 1;
  let hostIndex = -1;
  let contentLength = -1;
  let teIndex = -1;
  let connection: ConnectionTokens = 0;
  let expect: string | null = null;
  let upgradeIndex = -1;
  const fields = headers.size;
  // By the name's length first: most fields are none of these, and their names are never decoded.
  for (let f = 0; f < fields; f++) {
    switch (headers.nameLength(f)) {
      case 4:
        if (headers.nameIs(f, 'host')) {
          if (hostIndex >= 0) throw new HttpParseError('MULTIPLE_HOST', 'more than one Host field');
          hostIndex = f;
        }
        break;
      case 14:
        if (headers.nameIs(f, 'content-length')) {
          const n = parseContentLength(headers.valueAt(f));
          if (contentLength >= 0 && n !== contentLength) {
            throw new HttpParseError('CONFLICTING_CONTENT_LENGTH', 'Content-Length fields disagree');
          }
          contentLength = n;
        }
        break;
      case 17:
        if (teIndex < 0 && headers.nameIs(f, 'transfer-encoding')) teIndex = f;
        break;
      case 10:
        if (headers.nameIs(f, 'connection')) connection |= connectionTokens(headers.valueAt(f));
        break;
      case 6:
        if (headers.nameIs(f, 'expect'))
          expect = expect === null ? headers.valueAt(f) : `${expect}, ${headers.valueAt(f)}`;
        break;
      case 7:
        if (upgradeIndex < 0 && headers.nameIs(f, 'upgrade')) upgradeIndex = f;
        break;
    }
  }

  let host: string | null = null;
  if (hostIndex >= 0) {
    host = headers.valueAt(hostIndex);
    for (let k = 0; k < host.length; k++) {
      if (HOST[host.charCodeAt(k)] !== 1) throw new HttpParseError('INVALID_HOST', 'invalid character in Host');
    }
  } else if (http11) {
    throw new HttpParseError('MISSING_HOST', 'HTTP/1.1 request without Host');
  }

  let framing: BodyFraming = FRAMING_NONE;
  if (teIndex >= 0) {
    if (!http11) throw new HttpParseError('TRANSFER_ENCODING_IN_HTTP10', 'Transfer-Encoding in an HTTP/1.0 request');
    if (contentLength >= 0) {
      throw new HttpParseError('CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 'both Content-Length and Transfer-Encoding');
    }
    checkTransferEncoding(headers);
    framing = FRAMING_CHUNKED;
  } else if (contentLength >= 0) {
    if (contentLength > limits.maxBodyBytes) {
      throw new HttpParseError('BODY_TOO_LARGE', `Content-Length ${contentLength} exceeds ${limits.maxBodyBytes}`);
    }
    framing = { kind: 'length', length: contentLength };
  }

  const keepAlive = (connection & CONN_CLOSE) === 0 && (http11 || (connection & CONN_KEEP_ALIVE) !== 0);
  let expect100 = false;
  let expectOther: string | null = null;
  if (http11 && expect !== null) {
    if (expect.toLowerCase() === '100-continue') expect100 = true;
    else expectOther = expect;
  }
  const upgrade =
    http11 && upgradeIndex >= 0 && (connection & CONN_UPGRADE) !== 0 ? headers.valueAt(upgradeIndex) : null;

  return {
    method,
    target,
    targetForm,
    versionMajor,
    versionMinor,
    headers,
    host,
    keepAlive,
    framing,
    expect100,
    expectOther,
    upgrade,
  };
}

/** `HTTP/d.d`, exactly 8 bytes; a major other than 1 is 505. */
function parseVersion(buf: Uint8Array, start: number, end: number): number {
  const ok =
    end - start === 8 &&
    buf[start] === 0x48 && // H
    buf[start + 1] === 0x54 && // T
    buf[start + 2] === 0x54 && // T
    buf[start + 3] === 0x50 && // P
    buf[start + 4] === 0x2f && // /
    isDigitByte(buf[start + 5]!) &&
    buf[start + 6] === 0x2e && // .
    isDigitByte(buf[start + 7]!);
  if (!ok) throw new HttpParseError('INVALID_VERSION', 'the version is not HTTP/<digit>.<digit>');
  const major = buf[start + 5]! - 0x30;
  if (major !== 1) throw new HttpParseError('UNSUPPORTED_VERSION', `HTTP/${major}.x is not served over HTTP/1.x`);
  return buf[start + 7]! - 0x30;
}

function isDigitByte(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** Checks the bytes of the request-target and which form it is; the method decides the forms allowed. */
function checkTarget(buf: Uint8Array, start: number, end: number, method: string): TargetForm {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (TARGET[b] !== 1)
      throw new HttpParseError('INVALID_TARGET', `invalid byte 0x${b.toString(16)} in the request-target`);
    if (b === PERCENT && (i + 2 >= end || HEX_VALUE[buf[i + 1]!]! < 0 || HEX_VALUE[buf[i + 2]!]! < 0)) {
      throw new HttpParseError('INVALID_TARGET', 'a "%" in the request-target does not start a pct-encoding');
    }
  }
  const first = buf[start]!;
  if (method === 'CONNECT') {
    // authority-form: uri-host ":" port, nothing else
    let colon = -1;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (b === 0x2f || b === 0x3f || b === 0x40) throw new HttpParseError('INVALID_TARGET', 'CONNECT needs host:port');
      if (b === 0x3a) colon = i;
    }
    if (colon <= start || colon === end - 1) throw new HttpParseError('INVALID_TARGET', 'CONNECT needs host:port');
    for (let i = colon + 1; i < end; i++)
      if (!isDigitByte(buf[i]!)) throw new HttpParseError('INVALID_TARGET', 'CONNECT port is not numeric');
    return 'authority';
  }
  if (first === 0x2f) return 'origin';
  if (first === 0x2a && end - start === 1) {
    if (method !== 'OPTIONS') throw new HttpParseError('INVALID_TARGET', '"*" is only for OPTIONS');
    return 'asterisk';
  }
  // absolute-form: scheme ":" ..., scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  let i = start;
  if (!isAlphaByte(buf[i]!)) throw new HttpParseError('INVALID_TARGET', 'the request-target is in no known form');
  while (
    i < end &&
    (isAlphaByte(buf[i]!) || isDigitByte(buf[i]!) || buf[i] === 0x2b || buf[i] === 0x2d || buf[i] === 0x2e)
  )
    i++;
  if (buf[i] !== 0x3a || i + 1 >= end)
    throw new HttpParseError('INVALID_TARGET', 'the request-target is in no known form');
  return 'absolute';
}

function isAlphaByte(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/** 1*DIGIT up to 2^53-1; anything else (sign, inner whitespace, comma lists, empty) is refused. */
function parseContentLength(value: string): number {
  if (value.length === 0) throw new HttpParseError('INVALID_CONTENT_LENGTH', 'empty Content-Length');
  let n = 0;
  for (let k = 0; k < value.length; k++) {
    const d = value.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9)
      throw new HttpParseError('INVALID_CONTENT_LENGTH', `Content-Length is not 1*DIGIT: ${JSON.stringify(value)}`);
    n = n * 10 + d;
    if (n > Number.MAX_SAFE_INTEGER) throw new HttpParseError('INVALID_CONTENT_LENGTH', 'Content-Length overflows');
  }
  return n;
}

type ConnectionTokens = number;
const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;
const CONN_UPGRADE = 4;

/** The `close`, `keep-alive` and `upgrade` options of one Connection value (other tokens ignored). */
function connectionTokens(value: string): ConnectionTokens {
  let bits = 0;
  for (const part of value.split(',')) {
    switch (part.trim().toLowerCase()) {
      case 'close':
        bits |= CONN_CLOSE;
        break;
      case 'keep-alive':
        bits |= CONN_KEEP_ALIVE;
        break;
      case 'upgrade':
        bits |= CONN_UPGRADE;
        break;
    }
  }
  return bits;
}

/**
 * All Transfer-Encoding fields, taken as one list in order, must be a list of tokens ending with
 * `chunked`, with `chunked` exactly once. An empty element is refused (not skipped). A coding other
 * than chunked before it is 501: this server decodes no other coding.
 */
function checkTransferEncoding(headers: HeaderList): void {
  let sawChunked = false;
  let other: string | null = null;
  for (let f = headers.indexOf('transfer-encoding'); f >= 0; f = headers.indexOf('transfer-encoding', f + 1)) {
    const value = headers.valueAt(f);
    let start = 0;
    for (;;) {
      let comma = value.indexOf(',', start);
      if (comma < 0) comma = value.length;
      let s = start;
      let e = comma;
      while (s < e && isWhitespace(value.charCodeAt(s))) s++;
      while (e > s && isWhitespace(value.charCodeAt(e - 1))) e--;
      if (s === e) throw new HttpParseError('INVALID_TRANSFER_ENCODING', 'empty element in Transfer-Encoding');
      for (let k = s; k < e; k++) {
        if (TOKEN[value.charCodeAt(k)] !== 1) {
          throw new HttpParseError(
            'INVALID_TRANSFER_ENCODING',
            `Transfer-Encoding element is not a bare token: ${JSON.stringify(value)}`,
          );
        }
      }
      const coding = value.slice(s, e).toLowerCase();
      if (sawChunked) throw new HttpParseError('INVALID_TRANSFER_ENCODING', 'chunked is not the final transfer coding');
      if (coding === 'chunked') sawChunked = true;
      else other ??= coding;
      if (comma === value.length) break;
      start = comma + 1;
    }
  }
  if (!sawChunked) throw new HttpParseError('INVALID_TRANSFER_ENCODING', 'chunked is not the final transfer coding');
  if (other !== null)
    throw new HttpParseError(
      'UNSUPPORTED_TRANSFER_CODING',
      `transfer coding ${JSON.stringify(other)} is not supported`,
    );
}
