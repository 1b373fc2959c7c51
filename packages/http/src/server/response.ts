/**
 * The response a handler writes. Bytes go straight to the socket when this response is the oldest
 * unanswered one on its connection; a pipelined response that finishes early is held until the ones
 * before it are done, so answers always leave in request order.
 */
import { Buffer } from 'node:buffer';
import { reasonPhrase } from '../serializer/status.js';
import { assertFieldName, assertFieldValue } from '../serializer/fields.js';
import { HTTP_DATE_LENGTH, type PreparedResponse } from './prepared.js';

/** What a response needs from its connection. Implemented by the connection; not for handlers. */
export interface ResponseChannel {
  /** Sends bytes now (the response is the active one). False: the socket is above its high-water mark. */
  transmit(data: Uint8Array): boolean;
  /** True when the socket accepts more without waiting for `'drain'`. */
  readonly writable: boolean;
  /** True when the socket copies each chunk it accepted (see `HttpTransportSocket.copiesWrites`). */
  readonly copiesWrites?: boolean;
  /** Resolves when the socket drained (or the connection closed). */
  waitDrain(): Promise<void>;
  /** The response is complete (all its bytes were handed to {@link ResponseChannel.transmit} or queued). */
  responseDone(response: HttpResponse): void;
  /**
   * Whether the connection closes after this response (decided when the head is written). `endsNow`:
   * the response is complete and ends in this same call (its bytes and {@link ResponseChannel.responseDone}
   * follow at once), so the channel can hold its bytes for the FIN without waiting for the turn's end.
   */
  closesAfter(response: HttpResponse, endsNow: boolean): boolean;
  /** The current `Date` header value, or undefined when the server has no wall clock. */
  dateValue(): string | undefined;
}

/** Request facts that shape the response framing. */
export interface ResponseContext {
  /** The request was HEAD: same head as GET, no body bytes. */
  readonly isHead: boolean;
  /** The request was HTTP/1.0 (no chunked coding; a response of unknown length ends with close). */
  readonly http10: boolean;
  /** The request asked for a persistent connection (HTTP/1.1 default, HTTP/1.0 `keep-alive`). */
  readonly keepAlive: boolean;
}

/**
 * The fields of a response with none set, shared (never written: the first field set replaces it
 * with arrays of the response's own), so a response that sets no header allocates none.
 */
const NO_FIELDS = Object.freeze([]) as unknown as string[];

/** Statuses whose responses never carry a body (RFC 9110 §6.4.1). */
function statusForbidsBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** Most distinct header names remembered as valid, with their lower case (see {@link checkedLowerName}). */
const NAME_MEMO_LIMIT = 512;
const nameMemo = new Map<string, string>();

/**
 * The lower-case form of header name `name`, after checking it is a token (`HttpSerializeError`
 * otherwise). A handler sets the same few names on every response: each is checked and lowered once.
 */
function checkedLowerName(name: string): string {
  let lower = nameMemo.get(name);
  if (lower === undefined) {
    assertFieldName(name);
    lower = name.toLowerCase();
    if (nameMemo.size < NAME_MEMO_LIMIT) nameMemo.set(name, lower);
  }
  return lower;
}

// The bits of HttpResponse.bits.
/** The oldest unanswered response of its connection: bytes go to the socket, not to its pending list. */
const ACTIVE = 1;
/** The connection is gone: writes are dropped. */
const DEAD = 2;
/** The body goes out in chunked coding. */
const CHUNKED = 4;
/** The response carries no body bytes (HEAD, 1xx, 204, 304). */
const NO_BODY = 8;
/** The body did not match its declared length. */
const BROKEN = 16;
/** `100 Continue` was sent. */
const CONTINUE_SENT = 32;
/** The head was produced ({@link HttpResponse.headersSent}). */
const HEADERS_SENT = 64;
/** `end` was called ({@link HttpResponse.finished}). */
const FINISHED = 128;
/** The connection closes after this response ({@link HttpResponse.closesConnection}). */
const CLOSES_CONNECTION = 256;

const PENDING_HIGH_WATER = 64 * 1024;
const COALESCE_LIMIT = 16 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * A header's value: a string or a number, or one string per field line for a repeated header.
 * @inline
 */
type HeaderValue = string | number | readonly string[];

/**
 * One response. Set {@link HttpResponse.statusCode} and headers, then `write` (streaming: chunked for
 * HTTP/1.1 clients unless a `Content-Length` was set, close-delimited for HTTP/1.0) and `end`; or send it
 * whole with `end(body)` / {@link HttpResponse.send} / {@link HttpResponse.json} (always `Content-Length`).
 *
 * Contract:
 * - `write` returns false when the caller should wait: `await res.drain()` before writing more.
 * - A HEAD response gets the same head as GET would (including the length of the body passed to
 *   `end`), and no body bytes. 1xx, 204 and 304 never carry a body or body framing headers.
 * - `Connection`, `Date`, `Transfer-Encoding` (and for whole bodies `Content-Length`) are written by the
 *   server; a handler may set `Content-Length` itself for a streamed body, and writing more or fewer
 *   bytes than declared breaks the connection (more throws `RangeError`; fewer closes the connection).
 * - Header names must be tokens and values must not hold CR, LF or other controls (`HttpSerializeError`).
 */
export class HttpResponse {
  /** The status to send (default 200). Ignored once {@link HttpResponse.headersSent}. */
  statusCode = 200;
  /** Body bytes written by the handler (not counting framing). */
  bodyBytes = 0;
  /** Header names and values, interleaved, case preserved ({@link NO_FIELDS} until the first is set). */
  private fields: string[] = NO_FIELDS;
  /** The lower-case name of each field of {@link HttpResponse.fields} (one per name/value pair). */
  private lowerNames: string[] = NO_FIELDS;
  /** Bytes held while an earlier pipelined response is still going out (made on first use). */
  private pending: Uint8Array[] | undefined;
  private pendingBytes = 0;
  private declaredLength = -1;
  /** The response's yes/no facts ({@link ACTIVE}, {@link DEAD}, {@link FINISHED} ...), one bit each: one field, not nine. */
  private bits = 0;

  /** @internal The server makes one per request and hands it to the handler. */
  constructor(
    private readonly channel: ResponseChannel,
    /** The request facts that shape framing. */
    readonly context: ResponseContext,
  ) {}

  /** True once the head was produced (queued or sent). */
  get headersSent(): boolean {
    return (this.bits & HEADERS_SENT) !== 0;
  }

  /** True once `end` was called. */
  get finished(): boolean {
    return (this.bits & FINISHED) !== 0;
  }

  /** @internal Connection side: the connection closes after this response (set when its head is written). */
  get closesConnection(): boolean {
    return (this.bits & CLOSES_CONNECTION) !== 0;
  }

  /** @internal Connection side: once set, the connection closes after this response. */
  set closesConnection(closes: boolean) {
    this.bits = closes ? this.bits | CLOSES_CONNECTION : this.bits & ~CLOSES_CONNECTION;
  }

  /** Sets {@link HttpResponse.statusCode}; chainable. */
  status(code: number): this {
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new RangeError(`invalid status ${code}`);
    this.statusCode = code;
    return this;
  }

  /** Sets a header (replacing any of the same name, any case). An array sends one field line per element. */
  setHeader(name: string, value: HeaderValue): this {
    const lower = checkedLowerName(name);
    this.removeLower(lower);
    if (typeof value === 'object') {
      for (const v of value) this.appendField(name, lower, v);
    } else {
      this.appendField(name, lower, typeof value === 'string' ? value : String(value));
    }
    return this;
  }

  /** Adds a field line without removing others of the same name (e.g. `Set-Cookie`). */
  appendHeader(name: string, value: string): this {
    this.appendField(name, checkedLowerName(name), value);
    return this;
  }

  /** The value of header `name` (any case), values joined with `", "`; undefined when unset. */
  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    const names = this.lowerNames;
    let out: string | undefined;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === lower) out = out === undefined ? this.fields[2 * i + 1]! : `${out}, ${this.fields[2 * i + 1]!}`;
    }
    return out;
  }

  /** Whether header `name` (any case) is set. */
  hasHeader(name: string): boolean {
    return this.lowerNames.includes(name.toLowerCase());
  }

  /** Removes every field named `name` (any case). */
  removeHeader(name: string): this {
    this.removeLower(name.toLowerCase());
    return this;
  }

  private removeLower(lower: string): void {
    const names = this.lowerNames;
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i] === lower) {
        names.splice(i, 1);
        this.fields.splice(2 * i, 2);
      }
    }
  }

  /** Sets the status and (optionally) headers; the head is sent with the first body bytes or at `end`. */
  writeHead(status: number, headers?: Record<string, HeaderValue>): this {
    this.status(status);
    if (headers !== undefined) for (const name of Object.keys(headers)) this.setHeader(name, headers[name]!);
    return this;
  }

  /**
   * Sends `100 Continue` ahead of the final response (the server calls it when a handler starts
   * reading a body sent with `Expect: 100-continue`). A no-op once the head was sent.
   */
  writeContinue(): void {
    if (this.headersSent || (this.bits & DEAD) !== 0 || (this.bits & CONTINUE_SENT) !== 0) return;
    this.bits |= CONTINUE_SENT;
    this.emit(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1'));
  }

  /**
   * Writes body bytes (strings are UTF-8). Returns false when the caller should `await res.drain()`
   * before writing more. Throws after `end`, or past a declared `Content-Length`.
   */
  write(chunk: Uint8Array | string): boolean {
    if (this.finished) throw new Error('write after end');
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (!this.headersSent) this.sendHead(-1);
    if (data.length === 0) return this.canWrite();
    this.countBody(data.length);
    if ((this.bits & NO_BODY) !== 0) return this.canWrite();
    if ((this.bits & CHUNKED) !== 0) {
      const size = Buffer.from(data.length.toString(16) + '\r\n', 'latin1');
      if (data.length <= COALESCE_LIMIT) return this.emit(Buffer.concat([size, data, CRLF]));
      this.emit(size);
      this.emit(data);
      return this.emit(CRLF);
    }
    return this.emit(data);
  }

  /** Ends the response, optionally with a last body chunk (sent with `Content-Length` if nothing was written before). */
  end(chunk?: Uint8Array | string): void {
    if (this.finished) return;
    const data = chunk === undefined ? undefined : typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (!this.headersSent) {
      const length = data === undefined ? 0 : data.length;
      const head = this.sendHead(length, data === undefined || this.noBodyFor() ? undefined : data);
      if (head) {
        this.finish();
        return;
      }
    } else if (data !== undefined && data.length > 0) {
      this.write(data);
    }
    if ((this.bits & CHUNKED) !== 0 && (this.bits & NO_BODY) === 0) this.emit(LAST_CHUNK);
    if ((this.bits & NO_BODY) === 0 && this.declaredLength >= 0 && this.bodyBytes < this.declaredLength)
      this.bits |= BROKEN;
    this.finish();
  }

  /**
   * Ends the response with `prepared` (its status, fields and body) as one copy of the prepared bytes
   * with the current `Date` and the `Connection` line this exchange needs (`close` when the connection
   * closes after it, `keep-alive` for a persistent HTTP/1.0 one) patched in, when nothing about this
   * response would make the head differ: nothing sent or set yet (no header, the status still the
   * prepared one), a GET-like request (not HEAD), and a `Date` to send. Returns false, having sent
   * nothing, otherwise: then build the response the usual way.
   */
  endPrepared(prepared: PreparedResponse): boolean {
    if (this.headersSent || this.finished || this.fields.length !== 0 || this.statusCode !== prepared.status)
      return false;
    const context = this.context;
    if (context.isHead) return false;
    const date = this.channel.dateValue();
    if (date === undefined || date.length !== HTTP_DATE_LENGTH) return false;
    this.bits |= HEADERS_SENT;
    this.declaredLength = prepared.bodyLength;
    this.bodyBytes = prepared.bodyLength;
    const connection = this.channel.closesAfter(this, true) ? 'close' : context.http10 ? 'keep-alive' : 'none';
    this.emit(prepared.bytesWith(date, connection));
    const body = prepared.separateBody;
    if (body !== undefined) this.emit(body);
    this.finish();
    return true;
  }

  /**
   * Sends `body` whole with a `Content-Type` (default `text/plain; charset=utf-8` for strings,
   * `application/octet-stream` for bytes) unless one is set.
   */
  send(body: string | Uint8Array, contentType?: string): void {
    if (contentType !== undefined) this.setHeader('Content-Type', contentType);
    else if (!this.hasHeader('content-type')) {
      this.setHeader(
        'Content-Type',
        typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      );
    }
    this.end(body);
  }

  /** Sends `value` as JSON (`application/json; charset=utf-8`), optionally with a status. */
  json(value: unknown, status?: number): void {
    if (status !== undefined) this.status(status);
    this.send(JSON.stringify(value) ?? 'null', 'application/json; charset=utf-8');
  }

  /** Redirects to `location` (302 Found by default; 301, 303, 307, 308 also make sense) with a short body. */
  redirect(location: string, status = 302): void {
    this.status(status).setHeader('Location', location);
    this.send(`Redirecting to ${location}\n`);
  }

  /** Resolves when writing may go on (the socket drained and earlier pipelined responses are done). */
  async drain(): Promise<void> {
    while ((this.bits & DEAD) === 0 && !this.canWrite()) {
      if ((this.bits & ACTIVE) === 0) await new Promise<void>((resolve) => (this.onActive = resolve));
      else await this.channel.waitDrain();
    }
  }

  /**
   * Writes every chunk of `source`, waiting for drain when needed, then ends the response. Once the
   * connection is lost no further chunk is pulled: the source is stopped (its `return`, which destroys a
   * Node Readable) and the promise resolves. A failing source rejects the promise (the server then
   * answers 500 if nothing was sent yet, or closes the connection).
   */
  async pipeFrom(source: AsyncIterable<Uint8Array | string>): Promise<void> {
    for await (const chunk of source) {
      if ((this.bits & DEAD) !== 0) return;
      if (!this.write(chunk)) await this.drain();
      // Lost while waiting for drain: stop here rather than pull one more chunk from the source.
      if ((this.bits & DEAD) !== 0) return;
    }
    this.end();
  }

  /** True once the connection was lost: further writes are dropped. */
  get aborted(): boolean {
    return (this.bits & DEAD) !== 0;
  }

  /**
   * True when no chunk written so far is referenced any more (the socket copied every one, or the
   * connection was lost): the writer may then refill the buffers it wrote. False when unsure (a chunk
   * queued here behind an earlier response, in the socket's queue, or a socket that keeps chunks).
   */
  get writesReleased(): boolean {
    if ((this.bits & DEAD) !== 0) return true;
    return (this.bits & ACTIVE) !== 0 && this.channel.writable && this.channel.copiesWrites === true;
  }

  /**
   * Connection side: resolves once the response is ended or abandoned, whichever comes first (the
   * server frees the request's worker then).
   */
  whenSettled(): Promise<void> {
    if (this.finished || (this.bits & DEAD) !== 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.onSettled(resolve));
  }

  /**
   * Connection side: calls `callback` once the response is ended or abandoned, whichever comes first
   * (at once when it already is). No promise: the server frees the request's worker from here.
   */
  onSettled(callback: () => void): void {
    if (this.finished || (this.bits & DEAD) !== 0) {
      callback();
      return;
    }
    if (this.settleFirst === undefined) this.settleFirst = callback;
    else (this.settleWaiters ??= []).push(callback);
  }

  // ---- connection side -------------------------------------------------------------------------

  /** Connection side: this response became the oldest unanswered one; queued bytes go out now. */
  activate(): void {
    if ((this.bits & ACTIVE) !== 0 || (this.bits & DEAD) !== 0) return;
    this.bits |= ACTIVE;
    const pending = this.pending;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (pending !== undefined) for (const data of pending) this.channel.transmit(data);
    if (this.finished) this.channel.responseDone(this);
    const resolve = this.onActive;
    this.onActive = undefined;
    resolve?.();
  }

  /** Connection side: the connection is gone; pending bytes are dropped and writes become no-ops. */
  abandon(): void {
    this.bits |= DEAD;
    this.pending = undefined;
    this.pendingBytes = 0;
    const resolve = this.onActive;
    this.onActive = undefined;
    resolve?.();
    this.settle();
  }

  /**
   * Connection side: forgets a head that was never sent so an error status can replace it. Returns
   * false when bytes of the head already left (then the connection must be destroyed instead).
   */
  resetForError(status: number): boolean {
    if (this.headersSent) return false;
    this.fields = NO_FIELDS;
    this.lowerNames = NO_FIELDS;
    this.statusCode = status;
    this.bits &= ~FINISHED;
    return true;
  }

  /** Connection side: true when the body did not match its declared length (the connection must close). */
  get framingBroken(): boolean {
    return (this.bits & BROKEN) !== 0;
  }

  /** Connection side: true when the response length is delimited by closing the connection. */
  get closeDelimited(): boolean {
    return this.headersSent && (this.bits & CHUNKED) === 0 && (this.bits & NO_BODY) === 0 && this.declaredLength < 0;
  }

  private onActive: (() => void) | undefined;
  /** The first {@link HttpResponse.onSettled} callback (the server's: one per response, so no array for it). */
  private settleFirst: (() => void) | undefined;
  /** Any further ones, in order. */
  private settleWaiters: Array<() => void> | undefined;

  private settle(): void {
    const first = this.settleFirst;
    if (first === undefined) return;
    this.settleFirst = undefined;
    const waiters = this.settleWaiters;
    this.settleWaiters = undefined;
    first();
    if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  private appendField(name: string, lower: string, value: string): void {
    assertFieldValue(name, value);
    if (this.fields === NO_FIELDS) {
      this.fields = [];
      this.lowerNames = [];
    }
    this.fields.push(name, value);
    this.lowerNames.push(lower);
  }

  private canWrite(): boolean {
    if ((this.bits & DEAD) !== 0) return true;
    return (this.bits & ACTIVE) !== 0 ? this.channel.writable : this.pendingBytes < PENDING_HIGH_WATER;
  }

  private countBody(n: number): void {
    if (this.declaredLength >= 0 && this.bodyBytes + n > this.declaredLength) {
      this.bits |= BROKEN;
      throw new RangeError(`body exceeds the declared Content-Length of ${this.declaredLength}`);
    }
    this.bodyBytes += n;
  }

  private noBodyFor(): boolean {
    return this.context.isHead || statusForbidsBody(this.statusCode);
  }

  /**
   * Builds and emits the head. `wholeLength >= 0`: the body is known and complete (from `end`), so it is
   * framed with Content-Length and `whole` (if any) goes out in the same write. Returns true when the
   * whole response was emitted.
   */
  private sendHead(wholeLength: number, whole?: Uint8Array): boolean {
    this.bits |= HEADERS_SENT;
    const status = this.statusCode;
    const forbids = statusForbidsBody(status);
    if (forbids || this.context.isHead) this.bits |= NO_BODY;
    let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    const fields = this.fields;
    const names = this.lowerNames;
    for (let i = 0; i < fields.length; i += 2) {
      const lower = names[i >> 1]!;
      if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'date') continue;
      if (lower === 'content-length') {
        if (forbids) continue;
        const declared = Number(fields[i + 1]);
        if (!Number.isSafeInteger(declared) || declared < 0) throw new TypeError('invalid Content-Length');
        this.declaredLength = declared;
      }
      head += `${fields[i]!}: ${fields[i + 1]!}\r\n`;
    }
    if (!forbids && this.declaredLength < 0) {
      if (wholeLength >= 0) {
        this.declaredLength = wholeLength;
        head += `Content-Length: ${wholeLength}\r\n`;
      } else if (!this.context.http10) {
        this.bits |= CHUNKED;
        head += 'Transfer-Encoding: chunked\r\n';
      }
    }
    const date = this.channel.dateValue();
    if (date !== undefined) head += `Date: ${date}\r\n`;
    if (this.channel.closesAfter(this, wholeLength >= 0)) head += 'Connection: close\r\n';
    else if (this.context.http10) head += 'Connection: keep-alive\r\n';
    head += '\r\n';
    if (wholeLength < 0) {
      this.emit(Buffer.from(head, 'latin1'));
      return false;
    }
    this.bodyBytes = wholeLength;
    const headLength = head.length;
    if (whole === undefined || (this.bits & NO_BODY) !== 0) {
      this.emit(Buffer.from(head, 'latin1'));
    } else if (whole.length <= COALESCE_LIMIT) {
      const out = Buffer.allocUnsafe(headLength + whole.length);
      out.write(head, 0, 'latin1');
      out.set(whole, headLength);
      this.emit(out);
    } else {
      this.emit(Buffer.from(head, 'latin1'));
      this.emit(whole);
    }
    return true;
  }

  private emit(data: Uint8Array): boolean {
    if ((this.bits & DEAD) !== 0) return true;
    if ((this.bits & ACTIVE) !== 0) return this.channel.transmit(data);
    (this.pending ??= []).push(data);
    this.pendingBytes += data.length;
    return this.pendingBytes < PENDING_HIGH_WATER;
  }

  private finish(): void {
    this.bits |= FINISHED;
    if ((this.bits & ACTIVE) !== 0 && (this.bits & DEAD) === 0) this.channel.responseDone(this);
    this.settle();
  }
}
