/**
 * Method-aware routing with path parameters. A path that no route matches is 404; a path that routes
 * match for other methods only is 405 with `Allow`; `OPTIONS` on a known path (without its own route)
 * is 204 with `Allow`; `HEAD` falls back to the `GET` route; `OPTIONS *` lists every method routed.
 */
import { reasonPhrase as statusText } from './serializer/status.js';
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';
import type { HttpResponse } from './server/response.js';

type Segment = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'param'; readonly name: string };

interface Route {
  readonly method: string;
  readonly segments: readonly Segment[];
  /** The pattern ends in `*`: the rest of the path goes to `params['*']`. */
  readonly wildcard: boolean;
  readonly handler: HttpHandler;
}

/** Thrown by route registration for a malformed pattern. */
export class RoutePatternError extends Error {
  constructor(pattern: string, why: string) {
    super(`bad route pattern ${JSON.stringify(pattern)}: ${why}`);
    this.name = 'RoutePatternError';
  }
}

function compile(pattern: string): { segments: Segment[]; wildcard: boolean } {
  if (!pattern.startsWith('/')) throw new RoutePatternError(pattern, 'must start with /');
  const parts = pattern.slice(1).split('/');
  let wildcard = false;
  const segments: Segment[] = [];
  parts.forEach((part, i) => {
    if (part === '*') {
      if (i !== parts.length - 1) throw new RoutePatternError(pattern, '* must be the last segment');
      wildcard = true;
    } else if (part.startsWith(':')) {
      if (part.length < 2) throw new RoutePatternError(pattern, 'parameter without a name');
      segments.push({ kind: 'param', name: part.slice(1) });
    } else {
      segments.push({ kind: 'literal', text: part });
    }
  });
  return { segments, wildcard };
}

/** Splits a request path into decoded segments; undefined when a segment is not valid percent-encoding. */
function splitPath(path: string): string[] | undefined {
  const raw = path.slice(1).split('/');
  const out: string[] = [];
  for (const part of raw) {
    if (!part.includes('%')) {
      out.push(part);
      continue;
    }
    try {
      out.push(decodeURIComponent(part));
    } catch {
      return undefined;
    }
  }
  return out;
}

function match(route: Route, parts: readonly string[], rawPath: string): Record<string, string> | undefined {
  const segs = route.segments;
  if (route.wildcard ? parts.length < segs.length : parts.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const part = parts[i]!;
    if (seg.kind === 'literal') {
      if (seg.text !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params[seg.name] = part;
    }
  }
  if (route.wildcard) {
    // The rest of the raw (still encoded) path: a static handler checks it for traversal itself.
    let at = 1;
    for (let i = 0; i < segs.length && at <= rawPath.length; i++) {
      const slash = rawPath.indexOf('/', at);
      at = slash < 0 ? rawPath.length + 1 : slash + 1;
    }
    params['*'] = rawPath.slice(at);
  }
  return params;
}

/**
 * A router is itself an {@link HttpHandler}: pass `router.handler` to the server.
 *
 * ```ts
 * const router = new Router();
 * router.get('/api/routes/:id', (req, res) => res.json({ id: req.params.id }));
 * router.get('/static/*', serveStatic('/srv/www'));
 * ```
 *
 * Contract: routes are tried in registration order and the first match for the method wins; path
 * segments are percent-decoded before matching (a malformed escape is 400); parameters never match an
 * empty segment; `*` (last segment only) matches the rest of the path, kept encoded in `params['*']`.
 */
export class Router {
  private readonly routes: Route[] = [];
  /** Called when no route matches the path at all; default: 404. */
  notFound: HttpHandler = (_req, res) => sendStatus(res, 404);

  /** Registers `handler` for `method` (or several) on `pattern`. Chainable. */
  route(method: string | readonly string[], pattern: string, handler: HttpHandler): this {
    const { segments, wildcard } = compile(pattern);
    for (const m of typeof method === 'string' ? [method] : method) this.routes.push({ method: m, segments, wildcard, handler });
    return this;
  }

  /** `GET` (and so `HEAD`) route. */
  get(pattern: string, handler: HttpHandler): this {
    return this.route('GET', pattern, handler);
  }
  /** `POST` route. */
  post(pattern: string, handler: HttpHandler): this {
    return this.route('POST', pattern, handler);
  }
  /** `PUT` route. */
  put(pattern: string, handler: HttpHandler): this {
    return this.route('PUT', pattern, handler);
  }
  /** `PATCH` route. */
  patch(pattern: string, handler: HttpHandler): this {
    return this.route('PATCH', pattern, handler);
  }
  /** `DELETE` route. */
  delete(pattern: string, handler: HttpHandler): this {
    return this.route('DELETE', pattern, handler);
  }

  /** The handler to give the server. */
  readonly handler: HttpHandler = (req, res) => this.handle(req, res);

  /** The methods routed for `path` (with `HEAD` when `GET` is, and `OPTIONS`), sorted; empty when none. */
  allowedMethods(path: string): string[] {
    const parts = splitPath(path);
    if (parts === undefined) return [];
    const methods = new Set<string>();
    for (const route of this.routes) if (match(route, parts, path) !== undefined) methods.add(route.method);
    return withImplied(methods);
  }

  /** Routes one request (see the class contract). */
  handle(req: HttpRequest, res: HttpResponse): void | Promise<void> {
    if (req.head.targetForm === 'asterisk') {
      if (req.method !== 'OPTIONS') return sendStatus(res, 400);
      res.setHeader('Allow', withImplied(new Set(this.routes.map((r) => r.method))).join(', '));
      return sendStatus(res, 204);
    }
    const parts = splitPath(req.path);
    if (parts === undefined) return sendStatus(res, 400);
    let fallback: { route: Route; params: Record<string, string> } | undefined;
    const methods = new Set<string>();
    for (const route of this.routes) {
      const params = match(route, parts, req.path);
      if (params === undefined) continue;
      if (route.method === req.method) {
        req.params = params;
        return route.handler(req, res);
      }
      if (req.method === 'HEAD' && route.method === 'GET' && fallback === undefined) fallback = { route, params };
      methods.add(route.method);
    }
    if (fallback !== undefined) {
      req.params = fallback.params;
      return fallback.route.handler(req, res);
    }
    if (methods.size === 0) return this.notFound(req, res);
    res.setHeader('Allow', withImplied(methods).join(', '));
    if (req.method === 'OPTIONS') return sendStatus(res, 204);
    return sendStatus(res, 405);
  }
}

function withImplied(methods: Set<string>): string[] {
  if (methods.size === 0) return [];
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return [...methods].sort();
}

/** Ends `res` with `status` and a one-line plain-text body naming it (none for 204/304). */
export function sendStatus(res: HttpResponse, status: number): void {
  res.status(status);
  if (status === 204 || status === 304) {
    res.end();
    return;
  }
  res.send(`${status} ${statusText(status)}\n`, 'text/plain; charset=utf-8');
}
