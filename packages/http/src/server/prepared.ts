/**
 * {@link PreparedResponse}: a whole response (status line, fixed fields, `Content-Length`, `Date`, the
 * empty line and the body) serialized once, for an answer that is the same bytes every time but for its
 * `Date` (a cached static file, for instance). Sending it costs no copy and no allocation: the bytes
 * with one `Date` value are made once (the server's date changes once a second) and handed to every
 * response that carries that `Date`; no string is built or encoded per response.
 */
import { Buffer } from 'node:buffer';
import { assertFieldName, assertFieldValue } from '../serializer/fields.js';
import { reasonPhrase } from '../serializer/status.js';

/** Length of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only `Date` form a server sends. */
export const HTTP_DATE_LENGTH = 29;

/** Bodies up to this size are copied into the prepared bytes (one write); a larger one goes out as its own write. */
const INLINE_BODY_LIMIT = 16 * 1024;

/** The `Connection` field of a prepared answer: none (persistent HTTP/1.1), `close`, or `keep-alive` (persistent HTTP/1.0). */
export type PreparedConnection = 'none' | 'close' | 'keep-alive';

/** The line each {@link PreparedConnection} adds after `Date`, by index (none, close, keep-alive). */
const CONNECTION_LINES = ['', 'Connection: close\r\n', 'Connection: keep-alive\r\n'] as const;

function connectionIndex(connection: PreparedConnection): number {
  return connection === 'none' ? 0 : connection === 'close' ? 1 : 2;
}

/** One form of a prepared answer (one `Connection` line) and its bytes with the last `Date` patched in. */
class DatedBytes {
  /** The `Date` value in {@link DatedBytes.bytes} (`''`: none yet, the bytes not handed out). */
  private date = '';

  constructor(
    /** Status line to `Date: `, a placeholder date, the rest of the head and the inline body. */
    private bytes: Buffer,
    /** Where the `Date` value starts in {@link DatedBytes.bytes}. */
    private readonly dateAt: number,
  ) {}

  /** The bytes with `date`; the same bytes as the call before when `date` is the same, else new ones. */
  with(date: string): Buffer {
    if (date !== this.date) {
      if (date.length !== HTTP_DATE_LENGTH) throw new RangeError(`not an HTTP date: ${JSON.stringify(date)}`);
      // Handed-out bytes are never patched: the new second gets a copy of its own.
      let next = this.bytes;
      if (this.date !== '') {
        next = Buffer.allocUnsafeSlow(this.bytes.length);
        this.bytes.copy(next);
      }
      next.write(date, this.dateAt, 'latin1');
      this.bytes = next;
      this.date = date;
    }
    return this.bytes;
  }
}

/**
 * The bytes of one response, prepared once. Fields are sent in the given order, then `Content-Length`
 * (the body's length), `Date` and, when asked for, `Connection` (the order `HttpResponse` writes them
 * in); it never carries `Transfer-Encoding`. `HttpResponse.endPrepared` decides when it may be used.
 *
 * Invariants: immutable to its users; the bytes handed out are never written again (a new `Date` value
 * gets new bytes, so a response queued behind a pipelined one, or a chunk a transport still holds,
 * never sees a later patch), and their receivers must not write them either.
 */
export class PreparedResponse {
  /** The status code. */
  readonly status: number;
  /** The body's length in bytes (the `Content-Length`). */
  readonly bodyLength: number;
  /** The body when it is sent as a write of its own after {@link PreparedResponse.bytesWith} (too large to copy per response), else undefined. */
  readonly separateBody: Uint8Array | undefined;
  /** The head up to and including `Date: `. */
  private readonly head: string;
  /** The body when it is copied into the prepared bytes, else undefined. */
  private readonly inlineBody: Uint8Array | undefined;
  /** The bytes of each `Connection` form, made on first use (indexed as {@link CONNECTION_LINES}). */
  private readonly forms: Array<DatedBytes | undefined> = [undefined, undefined, undefined];

  /**
   * @param status a status whose responses carry a body (200..999 but 204 and 304)
   * @param fields `[name, value]` pairs to send, in order; must not name `Content-Length`, `Date`,
   *   `Connection` or `Transfer-Encoding` (the prepared response writes or omits those itself)
   * @param body the body bytes (kept by reference; the caller must not change them)
   * @throws RangeError for a status that forbids a body; HttpSerializeError for an invalid field; TypeError for a field the response writes itself
   */
  constructor(status: number, fields: ReadonlyArray<readonly [name: string, value: string]>, body: Uint8Array) {
    if (!Number.isInteger(status) || status < 200 || status > 999 || status === 204 || status === 304)
      throw new RangeError(`a prepared response needs a status that carries a body, got ${status}`);
    this.status = status;
    this.bodyLength = body.length;
    let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    for (const [name, value] of fields) {
      assertFieldName(name);
      assertFieldValue(name, value);
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'date' || lower === 'connection' || lower === 'transfer-encoding')
        throw new TypeError(`a prepared response writes ${name} itself`);
      head += `${name}: ${value}\r\n`;
    }
    this.head = `${head}Content-Length: ${body.length}\r\nDate: `;
    const inline = body.length <= INLINE_BODY_LIMIT;
    this.separateBody = inline ? undefined : body;
    this.inlineBody = inline ? body : undefined;
    this.forms[0] = this.makeForm(0);
  }

  /**
   * The response's bytes with `date` (an IMF-fixdate, {@link HTTP_DATE_LENGTH} characters) as its
   * `Date` and the `Connection` line `connection` asks for, to send first; then
   * {@link PreparedResponse.separateBody} if there is one. Every call with the same `date` and
   * `connection` as the call before for that `connection` returns the same bytes (read-only: the caller
   * and its transport must not write them); another `date` gets bytes of its own, leaving earlier ones
   * as they were.
   * @throws RangeError when `date` is not {@link HTTP_DATE_LENGTH} characters long
   */
  bytesWith(date: string, connection: PreparedConnection = 'none'): Buffer {
    const index = connectionIndex(connection);
    const form = (this.forms[index] ??= this.makeForm(index));
    return form.with(date);
  }

  /** The bytes of the form with `CONNECTION_LINES[index]`, its `Date` still blank. */
  private makeForm(index: number): DatedBytes {
    const head = `${this.head}${' '.repeat(HTTP_DATE_LENGTH)}\r\n${CONNECTION_LINES[index]!}\r\n`;
    const body = this.inlineBody;
    const bytes = Buffer.allocUnsafeSlow(head.length + (body === undefined ? 0 : body.length));
    bytes.write(head, 0, 'latin1');
    if (body !== undefined) bytes.set(body, head.length);
    return new DatedBytes(bytes, this.head.length);
  }
}
