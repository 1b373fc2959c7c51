/**
 * The contract of the HTTP/1.x request parser: limits, the request head it delivers, body framing
 * and the callbacks it drives. The parser itself is {@link RequestParser} in `request-parser.ts`.
 *
 * How a server drives it (in-order answers, RFC 9112 §9.3 pipelining):
 *
 * ```ts
 * const parser = new RequestParser(limits, {
 *   onHead(head) { startRequest(head); },            // head complete: route, maybe send 100 Continue
 *   onBody(data) { current.write(data); },           // zero-copy view of the socket chunk
 *   onMessageComplete(trailers) { current.end(); },  // parser is now paused
 * });
 * socket.on('data', (chunk) => { try { parser.execute(chunk); } catch (e) { answer(e.status); close(); } });
 * socket.on('end', () => { try { parser.finish(); } catch { close(); } });
 * // when the response to the current request has been written:
 * if (head.keepAlive) parser.resume(); else close();
 * ```
 *
 * Invariants:
 * - Every callback runs synchronously inside `execute`, `resume` or `finish`.
 * - After `onMessageComplete` the parser is paused: no callback for the next pipelined request runs
 *   until `resume()`. Input that arrives meanwhile is queued (by reference, not copied), bounded by
 *   {@link ParserLimits.maxBufferedBytes}.
 * - Any {@link HttpParseError} leaves the parser failed: every later `execute`/`resume`/`finish`
 *   throws that same error again. The connection must be closed (after answering `error.status`).
 *
 * Strictness decisions (stricter than RFC 9112 allows, never looser):
 * - CRLF everywhere: a bare LF line end is refused (`BARE_LF`), not tolerated (RFC 9112 §2.2 permits
 *   tolerating it; llhttp's lenient mode does; smuggling research says do not).
 * - Both Content-Length and Transfer-Encoding: refused (RFC lets a server drop Content-Length instead).
 * - Transfer-Encoding in HTTP/1.0: refused. Transfer-Encoding must be exactly one `chunked`, last; a
 *   known-shape list with another coding before `chunked` (e.g. `gzip, chunked`) is 501, anything else 400.
 * - Content-Length: one `1*DIGIT` per field; repeated fields with the same value are accepted
 *   (RFC 9110 §8.6), differing ones or a comma list are refused.
 * - CONNECT is parsed (authority-form target, no body) and left to the server, which may answer 501
 *   or tunnel with {@link RequestParser.detach}. The `*` target is accepted only with OPTIONS.
 * - Request-target bytes are limited to RFC 3986 characters (no `#`, no raw non-ASCII, `%` must be
 *   followed by two hex digits).
 * - Empty lines before a request line are skipped (RFC 9112 §2.2), counted against the request-line limit.
 *
 * @module
 */

import type { HeaderList } from './headers.js';

/**
 * Size and count bounds the parser enforces. Every limit is a positive integer; each one, when hit,
 * raises an {@link HttpParseError} with the code and status named below.
 */
export interface ParserLimits {
  /**
   * Longest request line, in bytes, without its CRLF (and without ignored leading empty lines, which
   * count against this limit too so that they stay bounded). Over it: `REQUEST_LINE_TOO_LONG`, 414.
   */
  readonly maxRequestLineBytes: number;
  /**
   * Largest header section, in bytes, from the first header line to the end of the empty line that
   * closes the head (CRLFs included). Over it: `HEADERS_TOO_LARGE`, 431.
   */
  readonly maxHeaderBytes: number;
  /** Most header field lines in one head (and, separately, in one trailer section). Over it: `TOO_MANY_HEADERS`, 431. */
  readonly maxHeaders: number;
  /**
   * Largest body, in bytes: a larger Content-Length is refused as soon as the head is complete; for
   * chunked bodies the running sum of chunk sizes is checked at each chunk-size line. Over it:
   * `BODY_TOO_LARGE`, 413.
   */
  readonly maxBodyBytes: number;
  /**
   * Longest chunk extension (everything after the hex size and before the CRLF of a chunk-size line).
   * Over it: `CHUNK_EXTENSION_TOO_LARGE`, 400.
   */
  readonly maxChunkExtensionBytes: number;
  /** Largest trailer section in bytes, CRLFs included. Over it: `TRAILERS_TOO_LARGE`, 431. */
  readonly maxTrailerBytes: number;
  /**
   * Most input bytes queued while the parser is paused (pipelined requests waiting for the answer to
   * the current one, or body bytes held back by `pause()`). Over it: `BUFFER_OVERFLOW`, 503. A server
   * should stop reading the transport while {@link RequestParser.paused} is true; this limit only
   * catches a peer that keeps sending regardless.
   */
  readonly maxBufferedBytes: number;
}

/**
 * The defaults: 8 KiB request line, 16 KiB header section, 100 header lines, 1 MiB body, 1 KiB chunk
 * extension, 8 KiB trailers, 1 MiB queued while paused.
 */
export const DEFAULT_PARSER_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxRequestLineBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  maxBodyBytes: 1024 * 1024,
  maxChunkExtensionBytes: 1024,
  maxTrailerBytes: 8 * 1024,
  maxBufferedBytes: 1024 * 1024,
});

/**
 * How the body of a request is delimited (RFC 9112 §6.3):
 * - `none`: no body (no Content-Length and no Transfer-Encoding; requests never read until close);
 * - `length`: exactly `length` bytes follow the head (`length` may be 0);
 * - `chunked`: the chunked transfer coding, the only one accepted (and it must be the only coding).
 */
export type BodyFraming =
  { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

/**
 * The form of the request-target (RFC 9112 §3.2):
 * - `origin`: `/path?query` (the usual one);
 * - `absolute`: `http://host/path` (proxies; servers must accept it too);
 * - `authority`: `host:port`, only with CONNECT (and CONNECT only with it);
 * - `asterisk`: `*`, only with OPTIONS.
 */
export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

/**
 * A complete, validated request head. Delivered once per request, before any body byte.
 * All strings are decoded as latin1 (one code unit per byte), so they round-trip to the wire bytes.
 * Immutable: a parser delivers a head byte-for-byte identical to one it decoded before as that same
 * object again, so nothing may change a head (or its {@link HeaderList}) once delivered.
 */
export interface RequestHead {
  /** The method token, case preserved (methods are case-sensitive: `get` is not `GET`). */
  readonly method: string;
  /** The request-target exactly as sent (no decoding, no normalization). */
  readonly target: string;
  /** Which of the four request-target forms {@link RequestHead.target} is. */
  readonly targetForm: TargetForm;
  /** Always 1 (other majors are refused with 505). */
  readonly versionMajor: 1;
  /** The minor version as sent (0 or 1 in practice; 1.2 and up are treated with 1.1 semantics). */
  readonly versionMinor: number;
  /** The header fields, in order, names case preserved; lookups are case-insensitive. */
  readonly headers: HeaderList;
  /**
   * The Host field value (`''` when sent empty), or `null` when absent (only possible in HTTP/1.0:
   * HTTP/1.1 without exactly one Host is refused).
   */
  readonly host: string | null;
  /**
   * Whether the connection may carry another request after this one: HTTP/1.1 unless `Connection`
   * lists `close`; HTTP/1.0 only if `Connection` lists `keep-alive` (and not `close`).
   */
  readonly keepAlive: boolean;
  /** How the body is delimited. */
  readonly framing: BodyFraming;
  /** True for HTTP/1.1 requests whose `Expect` is `100-continue` (ignored in 1.0, RFC 9110 §10.1.1). */
  readonly expect100: boolean;
  /**
   * The raw `Expect` value when present and not exactly `100-continue` (a server answers 417), else `null`.
   */
  readonly expectOther: string | null;
  /**
   * The `Upgrade` field value when the request asks for a protocol switch (HTTP/1.1, `Connection`
   * lists `upgrade`, `Upgrade` present), else `null`. The parser does not switch anything: after the
   * message, the server may call {@link RequestParser.detach} to take the bytes that follow.
   */
  readonly upgrade: string | null;
}

/**
 * The callbacks a {@link RequestParser} drives, all synchronous. A callback may call `pause()`,
 * `resume()` or `execute()` on the parser (re-entrant calls only queue or flip a flag; they never
 * parse recursively). A callback that throws fails the parser with that exception.
 */
export interface RequestParserHandler {
  /** A request head is complete and valid. Body bytes (if any) follow through `onBody`. */
  onHead(head: RequestHead): void;
  /**
   * A run of body bytes (de-chunked), a `subarray` of an input chunk: valid until the caller reuses
   * that chunk's memory. Never empty.
   */
  onBody(data: Uint8Array): void;
  /**
   * The message is complete. `trailers` holds the chunked trailer section (possibly empty) for chunked
   * bodies, and is `null` otherwise. Trailer fields are never merged into the head's headers. The
   * parser is paused when this runs.
   */
  onMessageComplete(trailers: HeaderList | null): void;
}

/**
 * The stable codes of {@link HttpParseError}, each with the status a server answers:
 * - `REQUEST_LINE_TOO_LONG` 414; `HEADERS_TOO_LARGE`, `TOO_MANY_HEADERS`, `TRAILERS_TOO_LARGE` 431;
 *   `BODY_TOO_LARGE` 413;
 * - `INVALID_REQUEST_LINE` 400 (not exactly `method SP target SP version`), `INVALID_METHOD` 400
 *   (non-token byte), `INVALID_TARGET` 400 (byte outside RFC 3986, or a form the method does not allow),
 *   `INVALID_VERSION` 400 (not `HTTP/d.d`), `UNSUPPORTED_VERSION` 505 (major other than 1);
 * - `BARE_CR`, `BARE_LF` 400 (CRLF is required everywhere: no bare LF line ends are tolerated);
 * - `OBS_FOLD` 400 (a line starting with SP/HTAB inside a head or trailer section);
 * - `INVALID_HEADER_NAME` 400 (empty or non-token), `WHITESPACE_BEFORE_COLON` 400, `MISSING_COLON` 400,
 *   `INVALID_HEADER_VALUE` 400 (NUL, other CTLs or DEL in a value);
 * - `MISSING_HOST`, `MULTIPLE_HOST`, `INVALID_HOST` 400;
 * - `INVALID_CONTENT_LENGTH` 400 (non-digits, sign, inner whitespace, comma lists such as `5, 5`,
 *   empty, above 2^53-1),
 *   `CONFLICTING_CONTENT_LENGTH` 400 (values that differ; identical repeats are accepted, RFC 9110 §8.6);
 * - `CONTENT_LENGTH_WITH_TRANSFER_ENCODING` 400; `INVALID_TRANSFER_ENCODING` 400 (empty element,
 *   `chunked` not last, `chunked` twice, non-token); `TRANSFER_ENCODING_IN_HTTP10` 400;
 *   `UNSUPPORTED_TRANSFER_CODING` 501 (`chunked` is last but another coding such as `gzip` precedes it);
 * - `INVALID_CHUNK_SIZE` 400 (no hex digit, non-hex), `CHUNK_SIZE_OVERFLOW` 400 (more than 16 hex
 *   digits, leading zeros included, or a value above 2^53-1), `INVALID_CHUNK_EXTENSION` 400 (not
 *   `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )`, or whitespace after the size
 *   with no extension), `CHUNK_EXTENSION_TOO_LARGE` 400,
 *   `MISSING_CHUNK_CRLF` 400 (chunk data not followed by CRLF);
 * - `INCOMPLETE_MESSAGE` 400: `finish()` in the middle of a message;
 * - `BUFFER_OVERFLOW` 503: more than `maxBufferedBytes` queued while paused;
 * - `INPUT_AFTER_END` 400: `execute` after `finish` or `detach` (a caller bug; still typed).
 */
export type HttpParseErrorCode =
  | 'REQUEST_LINE_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'TOO_MANY_HEADERS'
  | 'TRAILERS_TOO_LARGE'
  | 'BODY_TOO_LARGE'
  | 'INVALID_REQUEST_LINE'
  | 'INVALID_METHOD'
  | 'INVALID_TARGET'
  | 'INVALID_VERSION'
  | 'UNSUPPORTED_VERSION'
  | 'BARE_CR'
  | 'BARE_LF'
  | 'OBS_FOLD'
  | 'INVALID_HEADER_NAME'
  | 'WHITESPACE_BEFORE_COLON'
  | 'MISSING_COLON'
  | 'INVALID_HEADER_VALUE'
  | 'MISSING_HOST'
  | 'MULTIPLE_HOST'
  | 'INVALID_HOST'
  | 'INVALID_CONTENT_LENGTH'
  | 'CONFLICTING_CONTENT_LENGTH'
  | 'CONTENT_LENGTH_WITH_TRANSFER_ENCODING'
  | 'INVALID_TRANSFER_ENCODING'
  | 'TRANSFER_ENCODING_IN_HTTP10'
  | 'UNSUPPORTED_TRANSFER_CODING'
  | 'INVALID_CHUNK_SIZE'
  | 'CHUNK_SIZE_OVERFLOW'
  | 'INVALID_CHUNK_EXTENSION'
  | 'CHUNK_EXTENSION_TOO_LARGE'
  | 'MISSING_CHUNK_CRLF'
  | 'INCOMPLETE_MESSAGE'
  | 'BUFFER_OVERFLOW'
  | 'INPUT_AFTER_END';
