/**
 * Validators and ranges for GET: conditional requests (RFC 9110 §13) and single byte ranges (§14).
 */
import type { HttpRequest } from './server/request.js';
import { parseHttpDate } from './server/head.js';

/** Whether an entity tag list (an `If-None-Match` value) matches `etag` by weak comparison (`*` matches anything). */
export function etagListMatches(list: string, etag: string): boolean {
  const bare = (t: string): string => (t.startsWith('W/') ? t.slice(2) : t);
  const target = bare(etag);
  for (const item of list.split(',')) {
    const t = item.trim();
    if (t === '*' || bare(t) === target) return true;
  }
  return false;
}

/**
 * True when a GET/HEAD for a representation with `etag` and `lastModifiedMs` may be answered 304 Not
 * Modified. `If-None-Match` takes precedence: when present, `If-Modified-Since` is ignored.
 */
export function isNotModified(req: HttpRequest, etag: string | undefined, lastModifiedMs: number | undefined): boolean {
  const inm = req.headers.get('if-none-match');
  if (inm !== undefined) return etag !== undefined && etagListMatches(inm, etag);
  const ims = req.headers.get('if-modified-since');
  if (ims === undefined || lastModifiedMs === undefined) return false;
  const since = parseHttpDate(ims);
  if (Number.isNaN(since)) return false;
  return Math.floor(lastModifiedMs / 1000) * 1000 <= since;
}

/** The outcome of reading a `Range` header against a representation of `size` bytes. */
export type RangeResult =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

/**
 * Reads `Range` for a representation of `size` bytes. Only one `bytes` range is served: several ranges,
 * another unit, a malformed header, or an `If-Range` that does not match (`etag` or the
 * `Last-Modified` text) give `full` (200, RFC 9110 §14.2 allows ignoring Range). A range starting at
 * or past the end, or an empty suffix, is `unsatisfiable` (416). `end` is inclusive.
 */
export function evaluateRange(req: HttpRequest, size: number, etag?: string, lastModified?: string): RangeResult {
  const header = req.headers.get('range');
  if (header === undefined) return { kind: 'full' };
  const ifRange = req.headers.get('if-range');
  if (ifRange !== undefined && ifRange !== etag && ifRange !== lastModified) return { kind: 'full' };
  const m = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(header);
  if (m === null) return { kind: 'full' };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  let end = last === '' ? size - 1 : Number(last);
  if (last !== '' && end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'partial', start, end };
}
