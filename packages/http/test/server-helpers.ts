/**
 * Helpers for the server suite: a transport fixture interface (so the same suite runs over Node's
 * `net` and over Postern sockets), a raw client, and a small response parser.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { HttpTransportServer } from '../src/index.js';

/** A client-side connected byte stream (a `net.Socket` or a compatible Duplex). */
export type ClientSocket = Duplex;

/** One listening transport: what the server attaches to and how clients reach it. */
export interface ListeningTransport {
  readonly server: HttpTransportServer;
  connect(): Promise<ClientSocket>;
  close(): Promise<void>;
  /** `http://host:port` when real HTTP clients (curl, fetch) can reach it; undefined otherwise. */
  readonly url?: string;
}

/** Makes a fresh listening transport per test. */
export type MakeTransport = () => Promise<ListeningTransport>;

/** A parsed response. */
export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  /** Header names in order as sent. */
  names: string[];
  body: string;
  raw: string;
}

/**
 * Parses one response from `text` (latin1). `noBody`: the request was HEAD. Close-delimited bodies
 * are only complete when `ended`. Returns undefined when more bytes are needed.
 */
export function parseResponse(
  text: string,
  noBody = false,
  ended = false,
): { res: ParsedResponse; rest: string } | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const lines = text.slice(0, headEnd).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  const names: string[] = [];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    const name = line.slice(0, c);
    names.push(name);
    headers[name.toLowerCase()] = line.slice(c + 1).trim();
  }
  let at = headEnd + 4;
  let body = '';
  if (noBody || status < 200 || status === 204 || status === 304) {
    // no body
  } else if (headers['transfer-encoding'] === 'chunked') {
    for (;;) {
      const lineEnd = text.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(text.slice(at, lineEnd), 16);
      if (text.length < lineEnd + 2 + size + 2) return undefined;
      body += text.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (text.length < at + n) return undefined;
    body = text.slice(at, at + n);
    at += n;
  } else {
    if (!ended) return undefined;
    body = text.slice(at);
    at = text.length;
  }
  return { res: { status, headers, names, body, raw: text.slice(0, at) }, rest: text.slice(at) };
}

/** A raw HTTP client over one socket: send bytes, read parsed responses, watch who closes. */
export class RawClient {
  data = '';
  /** The server sent FIN. */
  ended = false;
  closed = false;
  constructor(readonly socket: ClientSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => (this.data += s));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  /** Writes a request (string is latin1). */
  send(text: string | Uint8Array): void {
    this.socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  /** Waits until `predicate` holds, or throws after `ms`. */
  async until(predicate: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
    const step = 5;
    for (let waited = 0; !predicate(); waited += step) {
      if (waited >= ms)
        throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.data.slice(0, 400))}`);
      await sleep(step);
    }
  }

  /** Reads the next response (consuming it from {@link RawClient.data}). */
  async response(noBody = false, ms = 3000): Promise<ParsedResponse> {
    let parsed: ReturnType<typeof parseResponse>;
    await this.until(() => (parsed = parseResponse(this.data, noBody, this.ended)) !== undefined, ms, 'a response');
    this.data = parsed!.rest;
    return parsed!.res;
  }

  /** Half-closes the client side (FIN). */
  end(): void {
    this.socket.end();
  }
}

/** `GET path` with Host, plus extra header lines. */
export function get(path: string, extra = '', method = 'GET', version = '1.1'): string {
  return `${method} ${path} HTTP/${version}\r\nHost: test\r\n${extra}\r\n`;
}
