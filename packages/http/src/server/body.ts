/**
 * The request body as a pull stream with backpressure. The connection pushes chunks as the parser
 * yields them; when more than `highWater` bytes wait unread the connection stops reading the socket,
 * and starts again once the reader has taken them. A body nobody reads is never buffered beyond that.
 */
import { Buffer } from 'node:buffer';

/** Raised to a body reader when the body ends abnormally (timeout, connection loss, bad framing, size limit). */
export class BodyError extends Error {
  /** `'aborted'` (connection lost), `'timeout'`, `'too-large'` or `'malformed'`. */
  readonly code: 'aborted' | 'timeout' | 'too-large' | 'malformed';
  constructor(code: BodyError['code'], message: string) {
    super(message);
    this.name = 'BodyError';
    this.code = code;
  }
}

/** Callbacks from a {@link RequestBody} to the connection that feeds it. */
export interface BodyFeedControl {
  /** The reader asked for data for the first time (send `100 Continue` if it was expected). */
  firstRead(): void;
  /** Buffered bytes fell to or below the high-water mark: the connection may read again. */
  resume(): void;
}

const EMPTY = new Uint8Array(0);
/** The chunk list of every empty body: never added to (such a body is complete from the start), so one is shared. */
const NO_CHUNKS: Uint8Array[] = [];

/**
 * A request body: an async iterable of byte chunks (views into received segments; do not assume they
 * stay valid after the next `await` if you hand them on to a mutator — copy to keep).
 *
 * Invariants: chunks come out in the order they arrived, each once; after the end (or an error) the
 * iterator is done (or throws the {@link BodyError}); reading a body twice yields nothing the second time.
 */
export class RequestBody implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[];
  private head = 0;
  private buffered = 0;
  private ended = false;
  private error: BodyError | undefined;
  private waiter: (() => void) | undefined;
  private reads = 0;
  private blocked = false;
  /** Bytes received so far. */
  received = 0;

  /** @internal The server makes one per request and hands it to the handler as `req.body`. */
  constructor(
    private readonly control: BodyFeedControl | undefined,
    private readonly highWater: number,
    ended = false,
  ) {
    this.ended = ended;
    this.chunks = ended ? NO_CHUNKS : [];
  }

  /** A body that is empty and already complete (no control needed). */
  static empty(): RequestBody {
    return new RequestBody(undefined, 0, true);
  }

  /** True once the whole body arrived (or failed). */
  get complete(): boolean {
    return this.ended || this.error !== undefined;
  }

  /** True once a reader asked for data. */
  get touched(): boolean {
    return this.reads > 0;
  }

  /** Connection side: appends a chunk. Returns false when the reader is behind and the socket should pause. */
  push(chunk: Uint8Array): boolean {
    if (this.ended || this.error !== undefined || chunk.length === 0) return true;
    this.received += chunk.length;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.wake();
    if (this.buffered > this.highWater) {
      this.blocked = true;
      return false;
    }
    return true;
  }

  /** Connection side: the body is complete. */
  finish(): void {
    if (this.error !== undefined) return;
    this.ended = true;
    this.wake();
  }

  /** Connection side: the body failed; readers see `error`. Buffered chunks are dropped. */
  fail(error: BodyError): void {
    if (this.ended || this.error !== undefined) return;
    this.error = error;
    this.chunks.length = 0;
    this.head = 0;
    this.buffered = 0;
    this.wake();
  }

  /** Connection side: drops whatever is buffered (the handler finished without reading). */
  discard(): void {
    this.chunks.length = 0;
    this.head = 0;
    this.buffered = 0;
    this.reads++;
    this.unblock();
  }

  /** The next chunk, or `undefined` at the end. Throws the {@link BodyError} if the body failed. */
  async read(): Promise<Uint8Array | undefined> {
    if (this.reads++ === 0) this.control?.firstRead();
    for (;;) {
      if (this.head < this.chunks.length) {
        const chunk = this.chunks[this.head]!;
        this.chunks[this.head] = EMPTY;
        this.head++;
        if (this.head === this.chunks.length) {
          this.chunks.length = 0;
          this.head = 0;
        }
        this.buffered -= chunk.length;
        this.unblock();
        return chunk;
      }
      if (this.error !== undefined) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Iterates the chunks (see {@link RequestBody.read}). */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let chunk = await this.read(); chunk !== undefined; chunk = await this.read()) yield chunk;
  }

  /**
   * Reads the whole body into one buffer. Rejects with a `too-large` {@link BodyError} past `limit`
   * bytes (default: no limit beyond the server's body limit).
   */
  async bytes(limit = Number.POSITIVE_INFINITY): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of this) {
      total += chunk.length;
      if (total > limit) throw new BodyError('too-large', `body larger than ${limit} bytes`);
      parts.push(chunk);
    }
    if (parts.length === 1) return parts[0]!;
    return Buffer.concat(parts, total);
  }

  /** The whole body decoded as UTF-8. */
  async text(limit?: number): Promise<string> {
    const bytes = await this.bytes(limit);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  }

  /** The whole body parsed as JSON (a `SyntaxError` for bad JSON). */
  async json(limit?: number): Promise<unknown> {
    return JSON.parse(await this.text(limit)) as unknown;
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter();
    }
  }

  private unblock(): void {
    if (this.blocked && this.buffered <= this.highWater) {
      this.blocked = false;
      this.control?.resume();
    }
  }
}
