/**
 * Method-aware routing with path parameters, over a {@link RouteTable}. A path that no route matches
 * is 404; a path that routes match for other methods only is 405 with `Allow`; `OPTIONS` on a known
 * path (without its own route) is 204 with `Allow`; `HEAD` falls back to the `GET` route; `OPTIONS *`
 * lists every method routed; a path with a broken percent-escape that no wildcard route takes is 400.
 */
import { ANY_METHOD, RouteTable, type RouteLookup } from './route-table.js';
import { reasonPhrase as statusText } from './serializer/status.js';
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';
import type { HttpResponse } from './server/response.js';

/**
 * A router is itself an {@link HttpHandler}: pass `router.handler` to the server.
 *
 * ```ts
 * const router = new Router();
 * router.get('/api/routes/:id', (req, res) => res.json({ id: req.params.id }));
 * router.get('/static/*', serveStatic('/srv/www'));
 * ```
 *
 * Contract: the matching is {@link RouteTable}'s (registration order, first match for the method,
 * percent-decoded segments, `*` for one or more raw trailing segments in `params['*']`). Routes
 * registered with {@link Router.all} take every method and are left out of `Allow` lists.
 */
export class Router {
  private readonly table = new RouteTable<HttpHandler>();
  /** Called when no route matches the path at all; default: 404. */
  notFound: HttpHandler = (_req, res) => sendStatus(res, 404);

  /** Registers `handler` for `method` (or several) on `pattern`. Chainable. Throws `RoutePatternError` for a malformed pattern. */
  route(method: string | readonly string[], pattern: string, handler: HttpHandler): this {
    this.table.add(method, pattern, handler);
    return this;
  }

  /** A route for every method (the handler answers 405 itself where it must). */
  all(pattern: string, handler: HttpHandler): this {
    return this.route(ANY_METHOD, pattern, handler);
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
    return withImplied(new Set(this.table.methodsFor(path).filter((m) => m !== ANY_METHOD)));
  }

  /** Routes one request (see the class contract). */
  handle(req: HttpRequest, res: HttpResponse): void | Promise<void> {
    // Only the found route's path is here: V8 optimizes a function after a number of calls that grows
    // with its whole bytecode size, and a short connection calls this once, so the rarer answers live
    // in their own methods (this one stays small enough to be optimized, or inlined, early).
    if (req.head.targetForm === 'asterisk') return this.handleAsterisk(req, res);
    const found = this.table.find(req.method, req.path);
    if (found === undefined) return this.handleUnrouted(req, res, this.table.unrouted(req.method, req.path));
    // The parameters are worked out when the handler first reads them (a static file's handler never does).
    req.routedBy(found);
    return found.handler(req, res);
  }

  /** `OPTIONS *` lists every method routed; any other method with `*` is 400. */
  private handleAsterisk(req: HttpRequest, res: HttpResponse): void {
    if (req.method !== 'OPTIONS') return sendStatus(res, 400);
    res.setHeader('Allow', withImplied(new Set(this.table.allMethods().filter((m) => m !== ANY_METHOD))).join(', '));
    return sendStatus(res, 204);
  }

  /** A lookup that found no route for the method: 400, the not-found handler, or 405/204 with `Allow`. */
  private handleUnrouted(
    req: HttpRequest,
    res: HttpResponse,
    found: Exclude<RouteLookup<HttpHandler>, { kind: 'found' }>,
  ): void | Promise<void> {
    switch (found.kind) {
      case 'bad-path':
        return sendStatus(res, 400);
      case 'not-found':
        return this.notFound(req, res);
      case 'wrong-method':
        res.setHeader('Allow', withImplied(new Set(found.methods)).join(', '));
        return sendStatus(res, req.method === 'OPTIONS' ? 204 : 405);
    }
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
