/**
 * Test helpers: drive a RequestParser over chunks and collect what it delivers in a comparable form.
 */
import { HttpParseError, RequestParser } from '../src/index.js';
import type { ParserLimits, RequestHead } from '../src/index.js';

/** One message as the parser delivered it: head, all body bytes (latin1), trailers. */
export interface ParsedMessage {
  head: RequestHead;
  body: string;
  bodyPieces: number;
  trailers: Array<[string, string]> | null;
}

/** The outcome of feeding some chunks. */
export interface ParseOutcome {
  messages: ParsedMessage[];
  error: HttpParseError | null;
  /** Body views that were not subarrays of an input chunk's memory (must stay 0: zero-copy). */
  copiedBodyViews: number;
}

/** Bytes of a latin1 string. */
export function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/**
 * Feeds `chunks` to a fresh parser, resuming after every message (pipelining), then calls `finish()`.
 * A thrown HttpParseError is captured; anything else propagates (and fails the test).
 */
export function parseChunks(chunks: Uint8Array[], limits: Partial<ParserLimits> = {}, finish = true): ParseOutcome {
  const messages: ParsedMessage[] = [];
  let current: ParsedMessage | null = null;
  let copied = 0;
  const buffers = new Set(chunks.map((c) => c.buffer));
  const parser = new RequestParser(limits, {
    onHead(head) {
      current = { head, body: '', bodyPieces: 0, trailers: null };
    },
    onBody(data) {
      if (data.byteLength === 0) throw new Error('empty onBody');
      if (!buffers.has(data.buffer)) copied++;
      current!.body += Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
      current!.bodyPieces++;
    },
    onMessageComplete(trailers) {
      current!.trailers = trailers === null ? null : trailers.entries();
      messages.push(current!);
      current = null;
    },
  });
  let error: HttpParseError | null = null;
  try {
    for (const chunk of chunks) {
      parser.execute(chunk);
      while (parser.paused && parser.bufferedBytes > 0) parser.resume();
    }
    if (finish) {
      if (parser.paused) parser.resume();
      parser.finish();
    }
  } catch (e) {
    if (!(e instanceof HttpParseError)) throw e;
    error = e;
  }
  return { messages, error, copiedBodyViews: copied };
}

/** {@link parseChunks} on one latin1 string. */
export function parseText(text: string, limits: Partial<ParserLimits> = {}): ParseOutcome {
  return parseChunks([bytes(text)], limits);
}

/** The error code a latin1 string is refused with, or `null` when it parses. */
export function rejectCode(text: string, limits: Partial<ParserLimits> = {}): string | null {
  return parseText(text, limits).error?.code ?? null;
}

/** Splits `data` at the given sorted cut points into subarrays of one buffer. */
export function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c > prev && c < data.length) {
      out.push(data.subarray(prev, c));
      prev = c;
    }
  }
  out.push(data.subarray(prev));
  return out;
}

/** A comparable summary of an outcome (heads without the HeaderList object identity). */
export function summary(outcome: ParseOutcome): unknown {
  return {
    error: outcome.error?.code ?? null,
    messages: outcome.messages.map((m) => ({
      method: m.head.method,
      target: m.head.target,
      targetForm: m.head.targetForm,
      version: `${m.head.versionMajor}.${m.head.versionMinor}`,
      headers: m.head.headers.entries(),
      host: m.head.host,
      keepAlive: m.head.keepAlive,
      framing: m.head.framing,
      expect100: m.head.expect100,
      upgrade: m.head.upgrade,
      body: m.body,
      trailers: m.trailers,
    })),
  };
}
