/**
 * Static files: GET and HEAD of files under a root directory, streamed with backpressure, with
 * Content-Type by extension, a size+mtime ETag, Last-Modified, Content-Length, single byte ranges,
 * conditional GET, and `index.html` for directories.
 *
 * Path safety (checked on the raw, still-encoded path before the file system is touched):
 * - 400 Bad Request: a backslash (raw or `%5C`), an encoded slash `%2F`, a NUL (`%00`), a malformed
 *   escape, or a `%` left after decoding once (double encoding such as `%252e%252e`);
 * - 403 Forbidden: a `.` or `..` segment after decoding (so `..`, `%2e%2e`, `.%2E` alike), or a path
 *   that resolves (symlinks followed) outside the root;
 * - 404 Not Found: no such file, or not a regular file/directory.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { evaluateRange, isNotModified } from './conditional.js';
import { sendStatus } from './router.js';
import { formatHttpDate } from './serializer/date.js';
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';

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
export type StaticPathResult = { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly status: 400 | 403 };

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
  /** Read size of file streams (and so the write size). Default 64 KiB. */
  readonly chunkBytes?: number;
}

/**
 * A handler serving files below `root`. Mount it on a `*` route (`router.get('/static/*', ...)`, it
 * uses `params['*']`) or as the whole handler (it uses `req.path`, minus `prefix`). Methods other than
 * GET and HEAD get 405 with `Allow: GET, HEAD`. A directory path without a trailing slash is redirected
 * (301) to the path with one.
 */
export function serveStatic(root: string, options: StaticOptions = {}): HttpHandler {
  const rootPath = resolve(root);
  const index = options.index ?? 'index.html';
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  let realRoot: Promise<string> | undefined;
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendStatus(res, 405);
    }
    const raw = rawPathOf(req, options.prefix);
    if (raw === undefined) return sendStatus(res, 404);
    const checked = resolveStaticPath(raw);
    if (!checked.ok) return sendStatus(res, checked.status);
    realRoot ??= realpath(rootPath);
    const base = await realRoot;
    let file = join(rootPath, ...checked.segments);
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      if (!req.path.endsWith('/')) {
        res.redirect(req.path + '/' + (req.query === '' ? '' : `?${req.query}`), 301);
        return;
      }
      file = join(file, index);
      info = await stat(file).catch(() => undefined);
    }
    if (info === undefined || !info.isFile()) return sendStatus(res, 404);
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined) return sendStatus(res, 404);
    if (real !== base && !real.startsWith(base.endsWith(sep) ? base : base + sep)) return sendStatus(res, 403);

    const size = info.size;
    const etag = `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const lastModified = formatHttpDate(info.mtimeMs);
    res.setHeader('ETag', etag).setHeader('Last-Modified', lastModified).setHeader('Accept-Ranges', 'bytes');
    if (isNotModified(req, etag, info.mtimeMs)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Type', CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    const range = req.method === 'GET' ? evaluateRange(req, size, etag, lastModified) : ({ kind: 'full' } as const);
    if (range.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      return sendStatus(res, 416);
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
      return;
    }
    const stream = createReadStream(file, { start, end, highWaterMark: chunkBytes });
    try {
      await res.pipeFrom(stream);
    } finally {
      stream.destroy();
    }
  };
}

function rawPathOf(req: HttpRequest, prefix: string | undefined): string | undefined {
  const star = req.params['*'];
  if (star !== undefined) return star;
  let path = req.path;
  if (prefix !== undefined && prefix !== '' && prefix !== '/') {
    if (path !== prefix && !path.startsWith(prefix + '/')) return undefined;
    path = path.slice(prefix.length);
  }
  return path.startsWith('/') ? path.slice(1) : path;
}
