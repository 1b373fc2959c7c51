/**
 * The strict, incremental, push-based HTTP/1.x request parser. See `types.ts` for the contract.
 */
import { Buffer } from 'node:buffer';
import {
  BACKSLASH as BACKSLASH_,
  CR as CR_,
  DQUOTE as DQUOTE_,
  EQUALS as EQUALS_,
  HEX_VALUE as HEX_VALUE_,
  HTAB as HTAB_,
  LF as LF_,
  QDTEXT as QDTEXT_,
  SEMI as SEMI_,
  TOKEN as TOKEN_,
  isWhitespace as isWhitespace_,
} from './chars.js';
import { HttpParseError } from './errors.js';
import { parseFieldLines } from './fields.js';
import { HeadPattern } from './head-match.js';
import { latin1Text, latin1View } from './latin1.js';
import { parseRequestHead, parseRequestLine } from './head.js';
import type { RequestLine } from './head.js';
import type { HeaderList } from './headers.js';
import { DEFAULT_PARSER_LIMITS } from './types.js';
import type { ParserLimits, RequestHead, RequestParserHandler } from './types.js';
import { parseWholeHead, type WholeHeadEnd } from './whole-head.js';

// Byte counts are read as `.length`, not `.byteLength` (the same for bytes): Node 20's optimizing compiler
// inlines a typed array's `length` but calls the generic property-load builtin for its `byteLength`.

// Module-local copies: hot loops read them without going through an import binding.
const BACKSLASH = BACKSLASH_;
const CR = CR_;
const DQUOTE = DQUOTE_;
const EQUALS = EQUALS_;
const HEX_VALUE = HEX_VALUE_;
const HTAB = HTAB_;
const LF = LF_;
const QDTEXT = QDTEXT_;
const SEMI = SEMI_;
const TOKEN = TOKEN_;
const isWhitespace = isWhitespace_;

// Parser states.
const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_CHUNK_LINE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_DATA_CR = 4;
const S_CHUNK_DATA_LF = 5;
const S_TRAILERS = 6;
const S_DETACHED = 7;

// Chunk-extension states (RFC 9112 §7.1.1: *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )).
const E_NONE = 0; // right after the hex size
const E_BWS_SEMI = 1; // whitespace, ";" must follow
const E_BEFORE_NAME = 2;
const E_NAME = 3;
const E_AFTER_NAME = 4;
const E_BEFORE_VALUE = 5;
const E_TOKEN_VALUE = 6;
const E_QUOTED = 7;
const E_QUOTED_PAIR = 8;
const E_AFTER_QUOTED = 9;

/** The chunk-extension states in which the line may end. */
const EXT_MAY_END = new Uint8Array([1, 0, 0, 1, 0, 0, 1, 0, 0, 1]);

const MAX_CHUNK_SIZE_DIGITS = 16;
const INITIAL_ACCUMULATOR = 1024;
/** Longest head remembered for {@link RequestParser}'s repeated-head check (a typical browser head is well below). */
const REPEAT_HEAD_MAX_BYTES = 2048;
/**
 * After this many decoded heads in a row that differed from the remembered one, the parser stops
 * remembering heads (a client whose heads vary pays no copy per head), except every
 * {@link REPEAT_HEAD_PROBE_EVERY}th, which it remembers again in case the client started repeating.
 */
const REPEAT_HEAD_MISSES = 2;
const REPEAT_HEAD_PROBE_EVERY = 16;

/** A remembered head: its bytes as a latin1 string, the same bytes ready for comparing, and the head they gave. */
interface SharedHead {
  readonly text: string;
  readonly pattern: HeadPattern;
  readonly head: RequestHead;
}
/** Most heads a {@link SharedHeads} table keeps; when full, it starts over. */
const SHARED_HEADS_MAX = 64;
/** The remembered heads of one limit set, by their text, and the one remembered or found last. */
interface SharedHeads {
  readonly table: Map<string, SharedHead>;
  newest: SharedHead | null;
}
/** Remembered heads by limit set (a head is a function of its bytes and the limits). */
const SHARED_HEADS = new WeakMap<object, SharedHeads>();

/** The remembered heads of parsers with `limits` (one table for all of a server's connections). */
function sharedHeadsOf(limits: Readonly<ParserLimits>): SharedHeads {
  let shared = SHARED_HEADS.get(limits);
  if (shared === undefined) SHARED_HEADS.set(limits, (shared = { table: new Map(), newest: null }));
  return shared;
}

/** Remembers `head` (decoded from `text`, which `shared` does not hold yet) as the newest head of `shared`. */
function addShared(shared: SharedHeads, text: string, head: RequestHead): SharedHead {
  const table = shared.table;
  const added = { text, pattern: new HeadPattern(text), head };
  if (table.size >= SHARED_HEADS_MAX) table.clear();
  table.set(text, added);
  shared.newest = added;
  return added;
}

/** Where {@link parseWholeHead} stopped (one for every parser: read right after the call). */
const WHOLE_END: WholeHeadEnd = { end: 0 };

/** Limit sets already checked and frozen by {@link resolveParserLimits}: a parser takes them as they are. */
const CHECKED_LIMITS = new WeakSet<object>();

/**
 * `limits` with {@link DEFAULT_PARSER_LIMITS} filled in, checked and frozen, once: passing the result
 * to many parsers (a server makes one per connection) checks and copies nothing per parser.
 *
 * @throws RangeError when a limit is not a positive safe integer
 */
export function resolveParserLimits(limits: Partial<ParserLimits>): Readonly<ParserLimits> {
  if (CHECKED_LIMITS.has(limits)) return limits as Readonly<ParserLimits>;
  const merged: ParserLimits = { ...DEFAULT_PARSER_LIMITS, ...limits };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new RangeError(`parser limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const frozen = Object.freeze(merged);
  CHECKED_LIMITS.add(frozen);
  return frozen;
}

/**
 * A strict, incremental HTTP/1.x request parser (RFC 9112), push-based like llhttp.
 *
 * Feed it transport chunks with {@link RequestParser.execute}; it calls the
 * {@link RequestParserHandler} synchronously: `onHead` once a head is complete and valid, `onBody`
 * with zero-copy `subarray`s of the input (de-chunked), `onMessageComplete` at the end of each
 * message. The result never depends on how the input was split into chunks.
 *
 * Pipelining: after each message the parser pauses; bytes of later requests stay queued (by
 * reference: the caller must not overwrite a chunk it passed in until the parser has consumed it)
 * until {@link RequestParser.resume}. So answers go out in order with at most one request in flight.
 *
 * Memory: a head that arrives whole in one chunk (nearly every head) is checked and split into fields in
 * one pass, and its fields stay positions in that chunk, decoded (latin1) only when read: its
 * {@link HeaderList} refers to the chunk, so the caller must not overwrite a chunk while a head from it
 * is in use (a socket's chunks are new memory per read). A head or trailer section that spans chunks is
 * gathered into one growable buffer per parser (bounded by the limits) and its fields decoded into
 * strings at once. Chunk-size lines and extensions are checked byte by byte without buffering.
 *
 * Repeated heads: the parser remembers the last head it decoded from one chunk (its bytes as a latin1
 * string, at most 2 KiB, and the {@link RequestHead} they gave). Remembered heads are shared by the
 * parsers with the same limits object (a server's connections): a head whose text was seen before, on
 * any of them, is that same object (not decoded again), so many clients sending the same head keep one
 * copy of it, not one per idle connection (a table of at most 64 per limit set). A head that
 * starts a chunk's unread bytes with exactly those bytes is the same head (the parse is a function of
 * the bytes and the limits, and both are the same), so it is delivered as that same, immutable
 * object without being scanned or decoded again: a keep-alive client asking the same thing again
 * (a poller, a load generator) costs a byte comparison, not a parse. A client whose heads vary (a
 * browser: other paths, query strings, cookies) would pay that copy for nothing, so after two decoded
 * heads in a row that missed, only every 16th head is remembered (in case the client starts repeating).
 * A new parser (and one after {@link RequestParser.reset}) starts out remembering the head its limit
 * set remembered or found last, so a new connection whose first head is that one (short connections
 * from clients of one kind) gets it for a byte comparison too.
 *
 * Errors: every refusal is an {@link HttpParseError} thrown from `execute`, `resume` or `finish`;
 * afterwards the parser is failed and rethrows that error on every call until {@link RequestParser.reset}.
 * An exception thrown by a handler callback fails the parser the same way and propagates unchanged.
 */
export class RequestParser {
  /** The limits in force (defaults filled in). */
  readonly limits: Readonly<ParserLimits>;
  private handler: RequestParserHandler;
  /** The remembered heads of {@link RequestParser.limits} (looked up once, not at every reset). */
  private readonly shared: SharedHeads;

  private state = S_HEAD;
  private pausedFlag = false;
  private running = false;
  private ended = false;
  private failure: unknown = null;
  private failed = false;
  private messageCount = 0;

  // Input queue: chunks not yet consumed, the first one from queueOffset. The first is held in a field
  // and only the ones behind it in an array (made when a second chunk waits), so a connection between
  // requests keeps no array.
  private firstChunk: Uint8Array | null = null;
  private laterChunks: Uint8Array[] | null = null;
  private queueOffset = 0;
  private queuedBytes = 0;

  // Section scanner (head and trailers).
  private sectionStarted = false; // head: past the ignored leading empty lines
  private inRequestLine = false;
  private sawCR = false;
  private lineLength = 0;
  private sectionBytes = 0; // head: bytes after the request line; trailers: all bytes
  private leadingBytes = 0;
  private fieldLines = 0;
  private acc: Uint8Array | null = null;
  private accLength = 0;
  private requestLine: RequestLine | null = null;
  private requestLineBytes = 0;
  /** The bytes of the last head decoded from one chunk, and that head (both null or neither); see the class notes. */
  private lastHeadBytes: HeadPattern | null = null;
  private lastHead: RequestHead | null = null;
  /** Heads decoded in a row since the remembered one last matched (see {@link REPEAT_HEAD_MISSES}). */
  private headMisses = 0;

  // Body.
  private remaining = 0; // bytes left in the Content-Length body or the current chunk
  private bodyBytes = 0; // chunked: sum of chunk sizes so far
  private chunkSize = 0;
  private chunkDigits = 0;
  private extState = E_NONE;
  private extBytes = 0;

  /**
   * @param limits bounds to enforce; omitted fields take {@link DEFAULT_PARSER_LIMITS} (a set made by
   *   `resolveParserLimits` is used as it is, without a copy)
   * @param handler the callbacks to drive
   */
  constructor(limits: Partial<ParserLimits>, handler: RequestParserHandler) {
    this.limits = resolveParserLimits(limits);
    this.handler = handler;
    this.shared = sharedHeadsOf(this.limits);
    this.rememberNewestShared();
  }

  /**
   * Starts out remembering the head that parsers with these limits remembered or found last: a new
   * connection whose first head is that one (clients of one kind, short connections one after another)
   * gets it for a byte comparison, like a repeated head on a kept-alive connection.
   */
  private rememberNewestShared(): void {
    const newest = this.shared.newest;
    this.lastHeadBytes = newest === null ? null : newest.pattern;
    this.lastHead = newest === null ? null : newest.head;
  }

  /** True while the parser holds input back: after each message, or after {@link RequestParser.pause}. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** True while the parser is inside `execute`, `resume` or `finish` (a callback is on the stack). */
  get busy(): boolean {
    return this.running;
  }

  /** Input bytes received but not yet consumed (queued while paused). */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /**
   * True when part of a message has been consumed and the message is not complete: a server uses it
   * to tell a request timeout (answer 408) from an idle keep-alive connection (just close).
   */
  get messageInProgress(): boolean {
    return this.state !== S_HEAD || this.sectionStarted || this.sawCR;
  }

  /** Messages completed since construction or the last {@link RequestParser.reset}. */
  get messages(): number {
    return this.messageCount;
  }

  /** The error that failed the parser, or `null`. */
  get error(): unknown {
    return this.failed ? this.failure : null;
  }

  /**
   * Feeds transport bytes. Parses as far as possible unless paused, in which case the chunk is only
   * queued (by reference). Empty chunks are ignored.
   *
   * @throws HttpParseError on malformed or over-limit input (and rethrows it on later calls);
   *   `INPUT_AFTER_END` after {@link RequestParser.finish} or {@link RequestParser.detach}.
   */
  execute(chunk: Uint8Array): void {
    this.throwIfFailed();
    if (this.ended || this.state === S_DETACHED) {
      this.fail(new HttpParseError('INPUT_AFTER_END', 'input after finish() or detach()'));
    }
    if (chunk.length === 0) return;
    if (this.firstChunk === null) this.firstChunk = chunk;
    else (this.laterChunks ??= []).push(chunk);
    this.queuedBytes += chunk.length;
    if (!this.running && !this.pausedFlag) this.drain();
    else this.checkBuffered();
  }

  /**
   * Signals the end of input (the peer closed its sending side). Between messages this is a clean end;
   * inside a message it is `INCOMPLETE_MESSAGE`. While paused, the check waits until the queued input
   * has been parsed after `resume()`.
   *
   * @throws HttpParseError `INCOMPLETE_MESSAGE`
   */
  finish(): void {
    this.throwIfFailed();
    this.ended = true;
    if (!this.running && !this.pausedFlag) this.checkEnd();
  }

  /**
   * Stops delivering callbacks after the current one returns (backpressure, or waiting before reading
   * a body, e.g. to decide on 100-continue). Input keeps being queued up to `maxBufferedBytes`.
   */
  pause(): void {
    this.pausedFlag = true;
  }

  /**
   * Continues after a pause (the automatic one after each message, or {@link RequestParser.pause}):
   * parses queued input at once, which may run callbacks. Called from inside a callback, it only
   * clears the pause and the current run carries on. No-op when not paused or detached.
   *
   * @throws HttpParseError as {@link RequestParser.execute}
   */
  resume(): void {
    this.throwIfFailed();
    if (!this.pausedFlag || this.state === S_DETACHED) return;
    this.pausedFlag = false;
    if (!this.running) this.drain();
  }

  /**
   * Ends HTTP parsing on this connection and hands back the input not consumed yet, in order (views of
   * the chunks passed in): after a `101 Switching Protocols` or a CONNECT tunnel. Call it between
   * messages, e.g. in or after `onMessageComplete`. Later `execute` calls throw `INPUT_AFTER_END`.
   */
  detach(): Uint8Array[] {
    this.throwIfFailed();
    const out: Uint8Array[] = [];
    const first = this.firstChunk;
    if (first !== null) {
      const v = first.subarray(this.queueOffset);
      if (v.length > 0) out.push(v);
      for (const c of this.laterChunks ?? []) if (c.length > 0) out.push(c);
    }
    this.firstChunk = null;
    this.laterChunks = null;
    this.queueOffset = 0;
    this.queuedBytes = 0;
    this.state = S_DETACHED;
    this.pausedFlag = true;
    return out;
  }

  /**
   * Returns the parser to its initial state (no queue, not paused, not failed, not ended) for reuse on
   * a new connection; limits, handler and the gathering buffer are kept.
   */
  reset(): void {
    this.state = S_HEAD;
    this.pausedFlag = false;
    this.running = false;
    this.ended = false;
    this.failure = null;
    this.failed = false;
    this.messageCount = 0;
    this.firstChunk = null;
    this.laterChunks = null;
    this.queueOffset = 0;
    this.queuedBytes = 0;
    this.resetSection(true);
    this.requestLine = null;
    this.remaining = 0;
    this.bodyBytes = 0;
    this.rememberNewestShared();
    this.headMisses = 0;
  }

  /**
   * {@link RequestParser.reset} for another handler: a server takes a parser of a closed connection for
   * a new one (no parser object per connection). A gathering buffer grown past its initial size is
   * dropped (a spare parser keeps no large buffer).
   */
  reuse(handler: RequestParserHandler): void {
    this.handler = handler;
    if (this.acc !== null && this.acc.length > INITIAL_ACCUMULATOR) this.acc = null;
    this.reset();
  }

  // ------------------------------------------------------------------------------------------------

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }

  private fail(error: unknown): never {
    this.failed = true;
    this.failure = error;
    this.pausedFlag = true;
    throw error;
  }

  private checkBuffered(): void {
    if (this.queuedBytes > this.limits.maxBufferedBytes) {
      this.fail(
        new HttpParseError('BUFFER_OVERFLOW', `more than ${this.limits.maxBufferedBytes} bytes queued while paused`),
      );
    }
  }

  private checkEnd(): void {
    if (this.queuedBytes === 0 && this.messageInProgress) {
      this.fail(new HttpParseError('INCOMPLETE_MESSAGE', 'input ended inside a message'));
    }
  }

  private drain(): void {
    this.running = true;
    try {
      let chunk: Uint8Array | null;
      while (!this.pausedFlag && (chunk = this.firstChunk) !== null) {
        const start = this.queueOffset;
        const pos = this.run(chunk, start);
        if (this.state === S_DETACHED) return;
        this.queuedBytes -= pos - start;
        if (pos >= chunk.length) {
          this.dropFirstChunk();
          this.queueOffset = 0;
        } else {
          this.queueOffset = pos;
        }
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
    }
    if (this.failed) throw this.failure;
    if (this.ended && !this.pausedFlag) this.checkEnd();
    this.checkBuffered();
  }

  /** The first queued chunk is consumed: the next one (if any) becomes first. */
  private dropFirstChunk(): void {
    const later = this.laterChunks;
    if (later === null || later.length === 0) {
      this.firstChunk = null;
      this.laterChunks = null;
      return;
    }
    this.firstChunk = later.shift()!;
    if (later.length === 0) this.laterChunks = null;
  }

  /** Consumes `chunk[start...]` until its end or a pause; returns the position reached. */
  private run(chunk: Uint8Array, start: number): number {
    // Kept small (the body states are in {@link RequestParser.stepBody}): V8 inlines only functions
    // of a bounded bytecode size, and optimizes one after a number of calls that grows with its size.
    let i = start;
    const end = chunk.length;
    while (i < end && !this.pausedFlag) {
      const state = this.state;
      i = state === S_HEAD || state === S_TRAILERS ? this.scanSection(chunk, i, end) : this.stepBody(chunk, i, end);
    }
    return i;
  }

  /** One step of {@link RequestParser.run} in a body state; returns the position reached (`end` when detached). */
  private stepBody(chunk: Uint8Array, i: number, end: number): number {
    switch (this.state) {
      case S_BODY_LENGTH: {
        const n = Math.min(this.remaining, end - i);
        this.remaining -= n;
        const done = this.remaining === 0;
        this.queueOffset = i + n;
        this.handler.onBody(chunk.subarray(i, i + n));
        if (done) this.complete(null);
        return i + n;
      }
      case S_CHUNK_LINE:
        return this.scanChunkLine(chunk, i, end);
      case S_CHUNK_DATA: {
        const n = Math.min(this.remaining, end - i);
        this.remaining -= n;
        if (this.remaining === 0) this.state = S_CHUNK_DATA_CR;
        this.handler.onBody(chunk.subarray(i, i + n));
        return i + n;
      }
      case S_CHUNK_DATA_CR:
        if (chunk[i] !== CR) throw new HttpParseError('MISSING_CHUNK_CRLF', 'chunk data is not followed by CRLF');
        this.state = S_CHUNK_DATA_LF;
        return i + 1;
      case S_CHUNK_DATA_LF:
        if (chunk[i] !== LF) throw new HttpParseError('MISSING_CHUNK_CRLF', 'chunk data is not followed by CRLF');
        this.startChunkLine();
        return i + 1;
      default:
        return end; // detached: nothing more is parsed
    }
  }

  /** The end of a message: pause, then tell the handler. */
  private complete(trailers: HeaderList | null): void {
    this.state = S_HEAD;
    this.resetSection(true);
    this.messageCount++;
    this.pausedFlag = true;
    this.handler.onMessageComplete(trailers);
  }

  private resetSection(head: boolean): void {
    this.sectionStarted = !head;
    this.inRequestLine = false;
    this.sawCR = false;
    this.lineLength = 0;
    this.sectionBytes = 0;
    this.leadingBytes = 0;
    this.fieldLines = 0;
    this.accLength = 0;
  }

  private startChunkLine(): void {
    this.state = S_CHUNK_LINE;
    this.chunkSize = 0;
    this.chunkDigits = 0;
    this.extState = E_NONE;
    this.extBytes = 0;
    this.sawCR = false;
  }

  /**
   * Scans a head (S_HEAD) or trailer section (S_TRAILERS) for its closing empty line, enforcing CRLF
   * line ends and the size and count limits byte by byte. Returns the position after the bytes used.
   */
  private scanSection(chunk: Uint8Array, i: number, end: number): number {
    // The repeated head is answered here, in a small function (optimized after few calls, and
    // inlined); every other case is {@link RequestParser.scanSectionBytes}.
    if (!this.sectionStarted && this.state === S_HEAD && !this.sawCR) {
      const known = this.lastHeadBytes;
      if (known !== null && known.matchesAt(chunk, i, end)) {
        this.headMisses = 0;
        const after = i + known.length;
        this.queueOffset = after;
        this.startMessage(this.lastHead!);
        return after;
      }
    }
    return this.scanSectionBytes(chunk, i, end);
  }

  /** {@link RequestParser.scanSection} byte by byte (no remembered head starts at `chunk[i]`). */
  private scanSectionBytes(chunk: Uint8Array, i: number, end: number): number {
    const limits = this.limits;
    const head = this.state === S_HEAD;
    const maxSection = head ? limits.maxHeaderBytes : limits.maxTrailerBytes;
    // Ignored empty lines before a request line (RFC 9112 §2.2), bounded by the request-line limit.
    if (!this.sectionStarted) {
      for (; i < end; i++) {
        const b = chunk[i]!;
        if (this.sawCR) {
          if (b !== LF) throw new HttpParseError('BARE_CR', 'CR not followed by LF');
          this.sawCR = false;
          continue;
        }
        if (b === CR) {
          this.sawCR = true;
          if (++this.leadingBytes > limits.maxRequestLineBytes) {
            throw new HttpParseError('REQUEST_LINE_TOO_LONG', 'too many empty lines before the request line');
          }
          continue;
        }
        if (b === LF) throw new HttpParseError('BARE_LF', 'LF without CR');
        this.sectionStarted = true;
        this.inRequestLine = true;
        break;
      }
      if (i === end) return i;
      if (head) {
        // The head starts here: when all of it is in this chunk, one pass decodes it (else the scan below).
        const whole = parseWholeHead(chunk, i, end, limits, WHOLE_END);
        if (whole !== null) return this.wholeHeadDone(chunk, i, WHOLE_END.end, whole);
      }
    }
    let sectionStart = i;
    for (; i < end; i++) {
      const b = chunk[i]!;
      if (b !== CR && b !== LF && !this.sawCR) {
        // A run of line bytes: find where it stops at once, then count it against the same limits
        // (nothing but the length can be wrong inside a run, so the error is the one the byte at the limit gives).
        let j = i + 1;
        while (j < end) {
          const c = chunk[j]!;
          if (c === CR || c === LF) break;
          j++;
        }
        const n = j - i;
        if (this.inRequestLine) {
          if ((this.lineLength += n) > limits.maxRequestLineBytes)
            throw new HttpParseError(
              'REQUEST_LINE_TOO_LONG',
              `request line exceeds ${limits.maxRequestLineBytes} bytes`,
            );
        } else {
          if ((this.sectionBytes += n) > maxSection) {
            if (head) throw new HttpParseError('HEADERS_TOO_LARGE', `header section exceeds ${maxSection} bytes`);
            throw new HttpParseError('TRAILERS_TOO_LARGE', `trailer section exceeds ${maxSection} bytes`);
          }
          this.lineLength += n;
        }
        i = j - 1;
        continue;
      }
      if (!this.inRequestLine && ++this.sectionBytes > maxSection) {
        if (head) throw new HttpParseError('HEADERS_TOO_LARGE', `header section exceeds ${maxSection} bytes`);
        throw new HttpParseError('TRAILERS_TOO_LARGE', `trailer section exceeds ${maxSection} bytes`);
      }
      if (this.sawCR) {
        if (b !== LF) throw new HttpParseError('BARE_CR', 'CR not followed by LF');
        this.sawCR = false;
        if (this.inRequestLine) {
          this.inRequestLine = false;
          if (this.accLength > 0) {
            // the line spans chunks: finish gathering it, and gather the rest of the head from here
            this.gather(chunk, sectionStart, i + 1);
            sectionStart = i + 1;
            this.requestLineDone(this.acc!, 0, this.accLength);
          } else {
            this.requestLineDone(chunk, sectionStart, i + 1);
          }
        } else if (this.lineLength === 0) {
          this.sectionDone(chunk, sectionStart, i + 1);
          return i + 1;
        } else if (++this.fieldLines > limits.maxHeaders) {
          throw new HttpParseError('TOO_MANY_HEADERS', `more than ${limits.maxHeaders} field lines`);
        }
        this.lineLength = 0;
        continue;
      }
      if (b === CR) {
        this.sawCR = true;
        continue;
      }
      if (b === LF) throw new HttpParseError('BARE_LF', 'LF without CR');
      if (++this.lineLength > limits.maxRequestLineBytes && this.inRequestLine) {
        throw new HttpParseError('REQUEST_LINE_TOO_LONG', `request line exceeds ${limits.maxRequestLineBytes} bytes`);
      }
    }
    this.gather(chunk, sectionStart, end);
    return end;
  }

  /** The request line is complete: validate it now (a bad line is refused before the rest of the head). */
  private requestLineDone(bytes: Uint8Array, start: number, end: number): void {
    this.requestLineBytes = end - start;
    this.requestLine = parseRequestLine(bytes, start, end);
  }

  /** Appends `chunk[start, end)` to the gathering buffer (a section spanning chunks). */
  private gather(chunk: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    const need = this.accLength + n;
    let acc = this.acc;
    if (acc === null || acc.length < need) {
      let size = acc === null ? INITIAL_ACCUMULATOR : acc.length;
      while (size < need) size *= 2;
      const grown = Buffer.alloc(size);
      if (acc !== null) grown.set(acc.subarray(0, this.accLength));
      this.acc = acc = grown;
    }
    acc.set(chunk.subarray(start, end), this.accLength);
    this.accLength = need;
  }

  /** A head or trailer section is complete: decode it and move on. */
  private sectionDone(chunk: Uint8Array, start: number, end: number): void {
    // The section is `bytes[from, to)`: in the chunk itself, or in the gathering buffer when it spanned chunks.
    let bytes = chunk;
    let from = start;
    let to = end;
    if (this.accLength > 0) {
      this.gather(chunk, start, end);
      bytes = this.acc!;
      from = 0;
      to = this.accLength;
    }
    this.queueOffset = end;
    if (this.state === S_TRAILERS) {
      const trailers = parseFieldLines(latin1View(bytes), from, to - 2);
      this.complete(trailers);
      return;
    }
    let head: RequestHead;
    if (this.rememberNextHead() && bytes === chunk && to - from <= REPEAT_HEAD_MAX_BYTES) {
      // Decoded from the chunk itself: the same bytes at the start of a later chunk are this head again,
      // and the same bytes seen by another parser with these limits gave this head already.
      const text = latin1Text(latin1View(bytes), from, to);
      const heads = this.shared;
      let shared = heads.table.get(text);
      if (shared === undefined) {
        const decoded = parseRequestHead(bytes, from, to, this.requestLine!, this.requestLineBytes, this.limits);
        shared = addShared(heads, text, decoded);
      } else {
        heads.newest = shared;
      }
      this.lastHeadBytes = shared.pattern;
      this.lastHead = head = shared.head;
    } else {
      head = parseRequestHead(bytes, from, to, this.requestLine!, this.requestLineBytes, this.limits);
    }
    this.requestLine = null;
    this.startMessage(head);
  }

  /**
   * A head decoded in one pass from `chunk[start, end)` ({@link parseWholeHead}): remembered as
   * {@link RequestParser.sectionDone} remembers one (the same bytes from another parser with these
   * limits give the remembered object), then delivered. Returns `end`.
   */
  private wholeHeadDone(chunk: Uint8Array, start: number, end: number, decoded: RequestHead): number {
    this.queueOffset = end;
    let head = decoded;
    if (this.rememberNextHead() && end - start <= REPEAT_HEAD_MAX_BYTES) {
      const text = latin1Text(latin1View(chunk), start, end);
      const heads = this.shared;
      let shared = heads.table.get(text);
      if (shared === undefined) {
        // Kept beyond this request: its fields become strings, so it holds no chunk.
        decoded.headers.detach();
        shared = addShared(heads, text, decoded);
      } else {
        heads.newest = shared;
      }
      this.lastHeadBytes = shared.pattern;
      this.lastHead = head = shared.head;
    }
    this.startMessage(head);
    return end;
  }

  /**
   * Whether the head just decoded should be remembered for the repeated-head check: yes while the
   * remembered heads have been coming back; after {@link REPEAT_HEAD_MISSES} heads in a row that did
   * not, only every {@link REPEAT_HEAD_PROBE_EVERY}th (the others are forgotten: nothing is kept or copied).
   */
  private rememberNextHead(): boolean {
    const misses = ++this.headMisses;
    if (misses <= REPEAT_HEAD_MISSES || misses % REPEAT_HEAD_PROBE_EVERY === 0) return true;
    if (this.lastHead !== null) {
      this.lastHeadBytes = null;
      this.lastHead = null;
    }
    return false;
  }

  /** A valid head was received: set up its body and tell the handler (the message completes at once without one). */
  private startMessage(head: RequestHead): void {
    this.resetSection(true);
    this.sectionStarted = true; // in a message until complete()
    const framing = head.framing;
    if (framing.kind === 'chunked') {
      this.bodyBytes = 0;
      this.startChunkLine();
    } else if (framing.kind === 'length' && framing.length > 0) {
      this.state = S_BODY_LENGTH;
      this.remaining = framing.length;
    }
    this.handler.onHead(head);
    if (this.state === S_HEAD) this.complete(null);
  }

  /** Scans a chunk-size line: hex size, optional extensions (validated, discarded), CRLF. */
  private scanChunkLine(chunk: Uint8Array, i: number, end: number): number {
    const maxExt = this.limits.maxChunkExtensionBytes;
    for (; i < end; i++) {
      const b = chunk[i]!;
      if (this.sawCR) {
        if (b !== LF) throw new HttpParseError('BARE_CR', 'CR not followed by LF in a chunk-size line');
        this.sawCR = false;
        this.chunkLineDone();
        return i + 1;
      }
      if (b === LF) throw new HttpParseError('BARE_LF', 'LF without CR in a chunk-size line');
      if (this.extState === E_NONE && this.extBytes === 0) {
        const v = HEX_VALUE[b]!;
        if (v >= 0) {
          if (++this.chunkDigits > MAX_CHUNK_SIZE_DIGITS)
            throw new HttpParseError('CHUNK_SIZE_OVERFLOW', 'chunk size has too many digits');
          this.chunkSize = this.chunkSize * 16 + v;
          if (this.chunkSize > Number.MAX_SAFE_INTEGER)
            throw new HttpParseError('CHUNK_SIZE_OVERFLOW', 'chunk size overflows');
          continue;
        }
        if (this.chunkDigits === 0)
          throw new HttpParseError('INVALID_CHUNK_SIZE', `invalid byte 0x${b.toString(16)} in a chunk size`);
      }
      if (b === CR) {
        if (EXT_MAY_END[this.extState] !== 1)
          throw new HttpParseError('INVALID_CHUNK_EXTENSION', 'chunk-size line ends inside an extension');
        this.sawCR = true;
        continue;
      }
      if (++this.extBytes > maxExt)
        throw new HttpParseError('CHUNK_EXTENSION_TOO_LARGE', `chunk extension exceeds ${maxExt} bytes`);
      this.extState = nextExtState(this.extState, b);
    }
    return end;
  }

  private chunkLineDone(): void {
    const size = this.chunkSize;
    if (size === 0) {
      this.state = S_TRAILERS;
      this.resetSection(false);
      return;
    }
    this.bodyBytes += size;
    if (this.bodyBytes > this.limits.maxBodyBytes) {
      throw new HttpParseError('BODY_TOO_LARGE', `chunked body exceeds ${this.limits.maxBodyBytes} bytes`);
    }
    this.remaining = size;
    this.state = S_CHUNK_DATA;
  }
}

/** One step of the chunk-extension grammar; throws `INVALID_CHUNK_EXTENSION` on a byte it forbids. */
function nextExtState(state: number, b: number): number {
  const ws = isWhitespace(b);
  const tchar = TOKEN[b] === 1;
  switch (state) {
    case E_NONE:
    case E_TOKEN_VALUE:
    case E_AFTER_QUOTED:
      if (b === SEMI) return E_BEFORE_NAME;
      if (ws) return E_BWS_SEMI;
      if (state === E_TOKEN_VALUE && tchar) return E_TOKEN_VALUE;
      break;
    case E_BWS_SEMI:
      if (b === SEMI) return E_BEFORE_NAME;
      if (ws) return E_BWS_SEMI;
      break;
    case E_BEFORE_NAME:
      if (ws) return E_BEFORE_NAME;
      if (tchar) return E_NAME;
      break;
    case E_NAME:
    case E_AFTER_NAME:
      if (state === E_NAME && tchar) return E_NAME;
      if (ws) return E_AFTER_NAME;
      if (b === EQUALS) return E_BEFORE_VALUE;
      if (b === SEMI) return E_BEFORE_NAME;
      break;
    case E_BEFORE_VALUE:
      if (ws) return E_BEFORE_VALUE;
      if (b === DQUOTE) return E_QUOTED;
      if (tchar) return E_TOKEN_VALUE;
      break;
    case E_QUOTED:
      if (b === DQUOTE) return E_AFTER_QUOTED;
      if (b === BACKSLASH) return E_QUOTED_PAIR;
      if (QDTEXT[b] === 1) return E_QUOTED;
      break;
    case E_QUOTED_PAIR:
      if (b === HTAB || (b >= 0x20 && b !== 0x7f)) return E_QUOTED;
      break;
  }
  throw new HttpParseError('INVALID_CHUNK_EXTENSION', `invalid byte 0x${b.toString(16)} in a chunk extension`);
}
