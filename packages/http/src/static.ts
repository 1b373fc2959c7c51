/**
 * Static files: GET and HEAD of files under a root directory, streamed with backpressure, with
 * Content-Type by extension, a size+mtime ETag, Last-Modified, Content-Length, single byte ranges,
 * conditional GET, and `index.html` for directories. With a {@link FileCache}, a file served before
 * is answered with no file-system call until its entry is due for a check (small files from memory).
 *
 * Path safety (checked on the raw, still-encoded path before the file system is touched):
 * - 400 Bad Request: a backslash (raw or `%5C`), an encoded slash `%2F`, a NUL (`%00`), a malformed
 *   escape, or a `%` left after decoding once (double encoding such as `%252e%252e`);
 * - 403 Forbidden: a `.` or `..` segment after decoding (so `..`, `%2e%2e`, `.%2E` alike), or a path
 *   that resolves (symlinks followed) outside the root;
 * - 404 Not Found: no such file, or not a regular file/directory.
 */
import { open, readFile, realpath, stat, type FileReadResult } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { evaluateRange, isNotModified } from './conditional.js';
import { FileCache, sameVersion, type CachedFile, type FileCacheOptions } from './file-cache.js';
import { sendStatus } from './router.js';
import { formatHttpDate } from './serializer/date.js';
import { PreparedResponse } from './server/prepared.js';
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';
import type { HttpResponse } from './server/response.js';

/** Content types by lower-case extension (with the dot). Unknown: `application/octet-stream`. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.xml': 'application/xml',
  '.bin': 'application/octet-stream',
};

/** The outcome of {@link resolveStaticPath}: a file system path, or the status that refuses it. */
export type StaticPathResult =
  { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly status: 400 | 403 };

/**
 * Checks a raw (encoded) path below the mount point and decodes it into segments (see the module
 * notes for which status each refusal gets). Never touches the file system.
 */
export function resolveStaticPath(rawPath: string): StaticPathResult {
  if (rawPath.includes('\\')) return { ok: false, status: 400 };
  const segments: string[] = [];
  const parts = rawPath.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    let name = part;
    if (part.includes('%')) {
      if (/%(2f|5c|00)/i.test(part)) return { ok: false, status: 400 };
      try {
        name = decodeURIComponent(part);
      } catch {
        return { ok: false, status: 400 };
      }
      if (name.includes('%')) return { ok: false, status: 400 };
    }
    if (name.includes('\0') || name.includes('\\') || name.includes('/')) return { ok: false, status: 400 };
    if (name === '.' || name === '..') return { ok: false, status: 403 };
    if (name === '' && i < parts.length - 1) continue;
    segments.push(name);
  }
  return { ok: true, segments };
}

/** Options of {@link serveStatic}. */
export interface StaticOptions {
  /** A path prefix to strip from `req.path` when the route has no `*` parameter, e.g. `"/static"`. */
  readonly prefix?: string;
  /** The file served for a directory. Default `index.html`. */
  readonly index?: string;
  /**
   * Read size of file streams (and so the write size). Default 256 KiB. A response
   * holds at most about two reads beyond the socket's send buffer: the one being written and the one
   * read ahead.
   */
  readonly chunkBytes?: number;
  /**
   * Keep what was learnt about served files ({@link FileCache}): a cached file is answered with no
   * file-system call, and small files from memory, until the entry is checked again (at most once
   * per `validMs` of the given clock). Pass the options (with the scheduler's clock as `now`) or a
   * cache to share. Default: no cache (every request stats, resolves and opens the file).
   */
  readonly cache?: FileCacheOptions | FileCache;
}

/**
 * Default {@link StaticOptions.chunkBytes}, so a 64 MiB download takes 256 thread-pool
 * reads, not 1,024, and the next read is ready before TCP's send buffer drains.
 */
const STATIC_CHUNK_BYTES = 256 * 1024;

/** Most request paths a {@link serveStatic} handler remembers the file path of (then it starts over). */
const PATH_MEMO_LIMIT = 1024;
/** Longer request paths are worked out every time (the memo stays small). */
const PATH_MEMO_MAX_CHARS = 256;

/** What locating a request's file gave: the file, or the answer instead of it. */
type Located =
  | { readonly kind: 'file'; readonly entry: CachedFile }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'redirect' };

/**
 * A handler serving files below `root`. Mount it on a `*` route (`router.get('/static/*', ...)`, it
 * uses `params['*']`) or as the whole handler (it uses `req.path`, minus `prefix`). Methods other than
 * GET and HEAD get 405 with `Allow: GET, HEAD`. A directory path without a trailing slash is redirected
 * (301) to the path with one. With `cache`, see {@link StaticOptions.cache}.
 */
export function serveStatic(root: string, options: StaticOptions = {}): HttpHandler {
  const rootPath = resolve(root);
  const index = options.index ?? 'index.html';
  const chunkBytes = options.chunkBytes ?? STATIC_CHUNK_BYTES;
  const cache =
    options.cache === undefined
      ? undefined
      : options.cache instanceof FileCache
        ? options.cache
        : new FileCache(options.cache);
  let realRoot: Promise<string> | undefined;
  // The file path of a request path (or the refusal status) is pure: worked out once per path.
  const files = new Map<string, string | 400 | 403>();

  // The last path asked for and its answer: keep-alive clients repeat a path, and a string compare
  // costs less than hashing the request's new string for the map.
  let lastRaw: string | undefined;
  let lastFile: string | 400 | 403 = 400;

  function fileOf(raw: string): string | 400 | 403 {
    if (raw === lastRaw) return lastFile;
    let file = files.get(raw);
    if (file === undefined) {
      const checked = resolveStaticPath(raw);
      file = checked.ok ? join(rootPath, ...checked.segments) : checked.status;
      if (raw.length <= PATH_MEMO_MAX_CHARS) {
        if (files.size >= PATH_MEMO_LIMIT) files.clear();
        files.set(raw, file);
      }
    }
    lastRaw = raw;
    lastFile = file;
    return file;
  }

  /**
   * Finds the file for `file` (the request's path under the root, `slash` when that path ended in
   * `/`), checking everything the module notes list.
   */
  async function locate(file: string, key: string, slash: boolean): Promise<Located> {
    realRoot ??= realpath(rootPath);
    const base = await realRoot;
    let target = file;
    let info = await stat(target).catch(() => undefined);
    if (info?.isDirectory()) {
      if (!slash) return { kind: 'redirect' };
      target = join(target, index);
      info = await stat(target).catch(() => undefined);
    }
    if (info === undefined || !info.isFile()) {
      cache?.invalidate(key);
      return { kind: 'status', status: 404 };
    }
    const known = cache?.stale(key);
    if (known !== undefined && known.file === target && sameVersion(known, info)) {
      cache!.revalidated(key);
      return { kind: 'file', entry: known };
    }
    const real = await realpath(target).catch(() => undefined);
    if (real === undefined) return { kind: 'status', status: 404 };
    if (real !== base && !real.startsWith(base.endsWith(sep) ? base : base + sep))
      return { kind: 'status', status: 403 };
    let body: Uint8Array | undefined;
    if (cache !== undefined && info.size <= cache.maxFileBytes) {
      body = await readFile(target).catch(() => undefined);
      // Changed between the stat and the read: serve this request by streaming, cache nothing.
      if (body !== undefined && body.length !== info.size) body = undefined;
    }
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const lastModified = formatHttpDate(info.mtimeMs);
    const contentType = CONTENT_TYPES[extname(target).toLowerCase()] ?? 'application/octet-stream';
    const entry: CachedFile = {
      file: target,
      size: info.size,
      mtimeMs: info.mtimeMs,
      ino: info.ino,
      etag,
      lastModified,
      contentType,
      body,
      prepared: body === undefined ? undefined : fullResponse(etag, lastModified, contentType, body),
    };
    if (cache !== undefined && (body !== undefined || info.size > cache.maxFileBytes)) cache.store(key, entry);
    else cache?.invalidate(key);
    return { kind: 'file', entry };
  }

  // Requests for the same key while it is being located share that work: an entry due for its check
  // costs one `stat` however many requests arrive before the answer.
  const locating = new Map<string, Promise<Located>>();

  function locateOnce(file: string, key: string, slash: boolean): Promise<Located> {
    let located = locating.get(key);
    if (located === undefined) {
      located = locate(file, key, slash).finally(() => locating.delete(key));
      locating.set(key, located);
    }
    return located;
  }

  async function locateAndRespond(req: HttpRequest, res: HttpResponse, file: string, key: string): Promise<void> {
    const located = await locateOnce(file, key, key !== file);
    if (located.kind === 'redirect') {
      res.redirect(req.path + '/' + (req.query === '' ? '' : `?${req.query}`), 301);
      return;
    }
    if (located.kind === 'status') return sendStatus(res, located.status);
    await respond(req, res, located.entry, chunkBytes);
  }

  // Not async: a file fresh in the cache is answered at once, with no promise made.
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendStatus(res, 405);
    }
    const raw = rawPathOf(req, options.prefix);
    if (raw === undefined) return sendStatus(res, 404);
    const file = fileOf(raw);
    if (typeof file === 'number') return sendStatus(res, file);
    // A directory asked for with and without its slash are different answers (index vs redirect).
    const key = req.path.endsWith('/') ? file + sep : file;
    const entry = cache?.fresh(key);
    if (entry === undefined) return locateAndRespond(req, res, file, key);
    return respond(req, res, entry, chunkBytes);
  };
}

/**
 * Answers with `entry`: validators, 304, ranges, then the bytes from memory (at once, no promise) or
 * streamed from the file (the promise settles when the body is out).
 */
function respond(
  req: HttpRequest,
  res: HttpResponse,
  entry: CachedFile,
  chunkBytes: number,
): Promise<void> | undefined {
  const prepared = entry.prepared;
  if (prepared !== undefined && req.method === 'GET' && !asksConditionOrRange(req) && res.endPrepared(prepared))
    return undefined;
  return respondInFull(req, res, entry, chunkBytes);
}

/**
 * {@link respond} past the prepared answer: validators, 304, ranges, then memory or the file. Kept
 * apart so that `respond` stays small: V8 optimizes a function by the bytecode its calls run, and a
 * large body that returns after its first line would run unoptimized for thousands of requests.
 */
function respondInFull(
  req: HttpRequest,
  res: HttpResponse,
  entry: CachedFile,
  chunkBytes: number,
): Promise<void> | undefined {
  const { size, etag, lastModified } = entry;
  res.setHeader('ETag', etag).setHeader('Last-Modified', lastModified).setHeader('Accept-Ranges', 'bytes');
  if (isNotModified(req, etag, entry.mtimeMs)) {
    res.status(304).end();
    return undefined;
  }
  res.setHeader('Content-Type', entry.contentType);
  const range = req.method === 'GET' ? evaluateRange(req, size, etag, lastModified) : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    sendStatus(res, 416);
    return undefined;
  }
  let start = 0;
  let end = size - 1;
  if (range.kind === 'partial') {
    start = range.start;
    end = range.end;
    res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  const length = end - start + 1;
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return undefined;
  }
  const body = entry.body;
  if (body !== undefined) {
    res.end(length === body.length ? body : body.subarray(start, end + 1));
    return undefined;
  }
  return streamFile(res, entry.file, start, end, chunkBytes);
}

/**
 * The 200 answer to a plain GET of a file held in memory, with the fields {@link respond} sets on its
 * general path, in the same order (so both paths send the same head).
 */
function fullResponse(etag: string, lastModified: string, contentType: string, body: Uint8Array): PreparedResponse {
  return new PreparedResponse(
    200,
    [
      ['ETag', etag],
      ['Last-Modified', lastModified],
      ['Accept-Ranges', 'bytes'],
      ['Content-Type', contentType],
    ],
    body,
  );
}

/** Whether the request carries a field that can change a GET's answer from the full 200 (a validator or a range). */
function asksConditionOrRange(req: HttpRequest): boolean {
  // By name, not through `lowerNames`: a head decoded in one pass then decodes none of its names.
  const headers = req.headers;
  for (let i = 0; i < headers.size; i++) {
    if (headers.nameIs(i, 'if-none-match') || headers.nameIs(i, 'if-modified-since') || headers.nameIs(i, 'range'))
      return true;
  }
  return false;
}

/**
 * Streams bytes `start..end` of `file` as the body, with backpressure: one read ahead of the write.
 * Each read fills a buffer this response owns; a written buffer is read into again once the socket
 * released it ({@link HttpResponse.writesReleased}: a copying socket, e.g. the netstack's, took it), else
 * a new one is made. So a download through a copying socket allocates two buffers, not one per chunk
 * (per-chunk buffers put 64 MiB of external memory per 64 MiB served on the collector, which answered
 * with full mark-compacts for external memory pressure).
 */
async function streamFile(
  res: HttpResponse,
  file: string,
  start: number,
  end: number,
  chunkBytes: number,
): Promise<void> {
  const handle = await open(file, 'r');
  const size = Math.min(chunkBytes, end - start + 1);
  let position = start;
  let reading: Promise<FileReadResult<Buffer>> = handle.read(Buffer.allocUnsafeSlow(size), 0, size, position);
  let inFlight = true;
  let free: Buffer | undefined;
  try {
    for (;;) {
      const { bytesRead, buffer } = await reading;
      inFlight = false;
      // The file shrank under us: end short (the response counts the missing bytes as broken framing).
      if (bytesRead === 0) break;
      if (res.aborted) return;
      position += bytesRead;
      const more = position <= end;
      if (more) {
        const next = free ?? Buffer.allocUnsafeSlow(size);
        free = undefined;
        reading = handle.read(next, 0, Math.min(size, end + 1 - position), position);
        inFlight = true;
      }
      if (!res.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))) await res.drain();
      if (!more) break;
      if (res.writesReleased) free = buffer;
    }
    res.end();
  } finally {
    // A read still running (the write threw) finishes before the file closes; its outcome is moot.
    if (inFlight) await reading.catch(() => undefined);
    await handle.close();
  }
}

function rawPathOf(req: HttpRequest, prefix: string | undefined): string | undefined {
  const star = req.param('*');
  if (star !== undefined) return star;
  let path = req.path;
  if (prefix !== undefined && prefix !== '' && prefix !== '/') {
    if (path !== prefix && !path.startsWith(prefix + '/')) return undefined;
    path = path.slice(prefix.length);
  }
  return path.startsWith('/') ? path.slice(1) : path;
}
