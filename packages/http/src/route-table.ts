/**
 * {@link RouteTable}: the matching half of routing, apart from any server. It maps a method and a
 * path to what was registered for them, and says why when nothing was: no route for the path, routes
 * for other methods only, or a path whose percent-encoding is broken. {@link Router} serves HTTP with
 * one; a program that answers requests of its own shape (an API tested without a network) can use one
 * directly with handlers of its own type.
 */

/** The method of a route registered for every method (see {@link RouteTable.add}). */
export const ANY_METHOD = '*';

type Segment = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'param'; readonly name: string };

/**
 * A route {@link RouteTable.find} found: its handler, and its parameters for the path it matched, worked
 * out only when asked (most handlers never read them, so finding a route allocates nothing).
 */
export interface FoundRoute<H> {
  /** What was registered for the route. */
  readonly handler: H;
  /** The route's parameters for `path` (a path this route matched): decoded, `*` raw; a new object each call. */
  paramsFor(path: string): Record<string, string>;
  /** `paramsFor(path)[name]` when `name` is one of the route's parameters there, else `undefined`; makes no object. */
  paramFor(path: string, name: string): string | undefined;
}

class Route<H> implements FoundRoute<H> {
  constructor(
    readonly method: string,
    readonly segments: readonly Segment[],
    /** The pattern ends in `*`: one or more further segments, raw, go to `params['*']`. */
    readonly wildcard: boolean,
    readonly handler: H,
  ) {}

  paramsFor(path: string): Record<string, string> {
    return matchPath(this, path, partsOf(path)) ?? {};
  }

  /**
   * The last {@link Route.paramFor} answer and its question: a keep-alive client repeats its path, so
   * it gets the very string it got before (no new one, and a handler memo keyed by it compares equal
   * at once). A string is immutable: sharing it between requests shares nothing they could change.
   */
  private memoPath: string | undefined = undefined;
  private memoName = '';
  private memoValue: string | undefined = undefined;

  paramFor(path: string, name: string): string | undefined {
    if (path === this.memoPath && name === this.memoName) return this.memoValue;
    let value: string | undefined;
    if (path.includes('%')) {
      const params = this.paramsFor(path);
      value = Object.hasOwn(params, name) ? params[name] : undefined;
    } else value = plainWalk(this, path, undefined, name);
    this.memoPath = path;
    this.memoName = name;
    this.memoValue = value;
    return value;
  }
}

/** Thrown by route registration for a malformed pattern. */
export class RoutePatternError extends Error {
  constructor(pattern: string, why: string) {
    super(`bad route pattern ${JSON.stringify(pattern)}: ${why}`);
    this.name = 'RoutePatternError';
  }
}

/** What {@link RouteTable.lookup} found. */
export type RouteLookup<H> =
  /** A route for the method (or a `GET` route for `HEAD`, or an {@link ANY_METHOD} route); `params` decoded, `*` raw. */
  | { readonly kind: 'found'; readonly handler: H; readonly params: Record<string, string> }
  /** Routes match the path for other methods only: those methods, in registration order, each once. */
  | { readonly kind: 'wrong-method'; readonly methods: readonly string[] }
  /** No route matches the path. */
  | { readonly kind: 'not-found' }
  /** No route matches and a segment of the path is not valid percent-encoding (a client error, 400). */
  | { readonly kind: 'bad-path' };

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

/** A request path split into segments, each percent-decoded; `undefined` for a segment that is not valid percent-encoding. */
function splitPath(path: string): Array<string | undefined> {
  return path
    .slice(1)
    .split('/')
    .map((part) => {
      if (!part.includes('%')) return part;
      try {
        return decodeURIComponent(part);
      } catch {
        return undefined;
      }
    });
}

/** The route's parameters for `parts`, or `undefined` when it does not match. */
function match(
  route: Route<unknown>,
  parts: ReadonlyArray<string | undefined>,
  rawPath: string,
): Record<string, string> | undefined {
  const segs = route.segments;
  if (route.wildcard ? parts.length <= segs.length : parts.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const part = parts[i];
    if (part === undefined) return undefined; // a broken escape matches nothing but a wildcard
    if (seg.kind === 'literal') {
      if (seg.text !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params[seg.name] = part;
    }
  }
  if (route.wildcard) {
    // The rest of the raw (still encoded) path: its handler decodes it, or checks it for traversal.
    let at = 1;
    for (let i = 0; i < segs.length; i++) at = rawPath.indexOf('/', at) + 1;
    params['*'] = rawPath.slice(at);
  }
  return params;
}

/**
 * {@link match} for a path with no `%` (so every segment is its own decoding): walks the path's
 * segments in place instead of splitting it, and makes no object unless the route matches.
 */
function matchPlain(route: Route<unknown>, path: string): Record<string, string> | undefined {
  if (!plainMatches(route, path)) return undefined;
  const params: Record<string, string> = {};
  plainWalk(route, path, params, '');
  return params;
}

/** Whether {@link matchPlain} would match: the same walk, making nothing. */
function plainMatches(route: Route<unknown>, path: string): boolean {
  const segs = route.segments;
  const length = path.length;
  let at = 1;
  for (let i = 0; i < segs.length; i++) {
    if (at > length) return false;
    const slash = path.indexOf('/', at);
    const end = slash < 0 ? length : slash;
    const seg = segs[i]!;
    if (seg.kind === 'literal') {
      if (seg.text.length !== end - at || !path.startsWith(seg.text, at)) return false;
    } else if (end === at) return false;
    at = end + 1;
  }
  return route.wildcard ? at <= length : at > length;
}

/**
 * The parameters of `route` in `path` (a plain path it matches): all of them into `into`, or (without
 * `into`) only the one called `name`, returned without making an object.
 */
function plainWalk(
  route: Route<unknown>,
  path: string,
  into: Record<string, string> | undefined,
  name: string,
): string | undefined {
  const segs = route.segments;
  let value: string | undefined;
  let at = 1;
  for (let i = 0; i < segs.length; i++) {
    const slash = path.indexOf('/', at);
    const end = slash < 0 ? path.length : slash;
    const seg = segs[i]!;
    // A later segment of the same name overwrites an earlier one, as in the params object.
    if (seg.kind === 'param') {
      if (into !== undefined) into[seg.name] = path.slice(at, end);
      else if (seg.name === name) value = path.slice(at, end);
    }
    at = end + 1;
  }
  if (!route.wildcard) return value;
  if (into !== undefined) into['*'] = path.slice(at);
  return name === '*' ? path.slice(at) : value;
}

/** The route's parameters for `path`, split into `parts` only when it holds a percent-escape. */
function matchPath(
  route: Route<unknown>,
  path: string,
  parts: ReadonlyArray<string | undefined> | undefined,
): Record<string, string> | undefined {
  return parts === undefined ? matchPlain(route, path) : match(route, parts, path);
}

/** The segments {@link match} needs, or undefined when {@link matchPlain} can walk the path itself. */
function partsOf(path: string): Array<string | undefined> | undefined {
  return path.length === 0 || path.includes('%') ? splitPath(path) : undefined;
}

/**
 * Routes by method and path pattern, for handlers of any type `H`.
 *
 * Patterns: `/literal/:param/*`. Contract: routes are tried in registration order and the first one
 * registered for the method (or for {@link ANY_METHOD}) wins; `HEAD` falls back to the first `GET`
 * route; path segments are percent-decoded before they are compared; a parameter never matches an
 * empty segment; `*` (last segment only) matches one or more further segments (`/files/*` matches
 * `/files/` and `/files/a/b`, not `/files`) and keeps them encoded in `params['*']`, so a segment
 * that is not valid percent-encoding can still reach a wildcard route (and only one).
 */
export class RouteTable<H> {
  private readonly routes: Route<H>[] = [];
  /**
   * The last lookup that found a route for its method directly (no `HEAD` fallback) on a path without
   * `%`: the same method and path find the same route again (the routes before it cannot match).
   * Cleared when a route is added.
   */
  private lastMethod = '';
  private lastPath = '';
  private lastRoute: Route<H> | undefined;

  /**
   * Registers `handler` for `method` (a method token, several, or {@link ANY_METHOD}) on `pattern`.
   * Chainable. Throws {@link RoutePatternError} for a malformed pattern.
   */
  add(method: string | readonly string[], pattern: string, handler: H): this {
    const { segments, wildcard } = compile(pattern);
    for (const m of typeof method === 'string' ? [method] : method)
      this.routes.push(new Route(m, segments, wildcard, handler));
    this.lastRoute = undefined;
    return this;
  }

  /** What is registered for `method` on `path` (the path part of a request target, encoded). See the class contract. */
  lookup(method: string, path: string): RouteLookup<H> {
    const route = this.find(method, path);
    if (route !== undefined) return { kind: 'found', handler: route.handler, params: route.paramsFor(path) };
    return this.unrouted(method, path);
  }

  /**
   * The route {@link RouteTable.lookup} finds for `method` on `path` (a `GET` route for `HEAD`), or
   * `undefined` when it finds none ({@link RouteTable.unrouted} says why). Allocates nothing for a path
   * without `%`: the route is the table's own object, its parameters worked out only when asked.
   */
  find(method: string, path: string): FoundRoute<H> | undefined {
    // Kept short: a request repeating the last route returns here, and the optimizing compiler weighs a
    // function by its whole size, so the walk lives in its own method (see {@link RouteTable.walk}).
    const last = this.lastRoute;
    if (last !== undefined && path === this.lastPath && method === this.lastMethod) return last;
    return this.walk(method, path);
  }

  /** {@link RouteTable.find} past the remembered route: tries every route in order, remembering a plain path's match. */
  private walk(method: string, path: string): Route<H> | undefined {
    const parts = partsOf(path);
    let headFallback: Route<H> | undefined;
    for (const route of this.routes) {
      if (parts === undefined ? !plainMatches(route, path) : match(route, parts, path) === undefined) continue;
      if (route.method === method || route.method === ANY_METHOD) {
        if (parts === undefined) {
          this.lastMethod = method;
          this.lastPath = path;
          this.lastRoute = route;
        }
        return route;
      }
      if (method === 'HEAD' && route.method === 'GET' && headFallback === undefined) headFallback = route;
    }
    return headFallback;
  }

  /**
   * Why {@link RouteTable.find} finds no route for `method` on `path` (what {@link RouteTable.lookup}
   * says then): other methods only, no route, or a broken escape. Only for a path `find` found nothing for.
   */
  unrouted(method: string, path: string): Exclude<RouteLookup<H>, { kind: 'found' }> {
    const methods = this.methodsFor(path);
    if (methods.length > 0) return { kind: 'wrong-method', methods };
    return partsOf(path)?.includes(undefined) ? { kind: 'bad-path' } : { kind: 'not-found' };
  }

  /** The methods routed for `path`, in registration order, each once ({@link ANY_METHOD} when a route takes any). */
  methodsFor(path: string): string[] {
    const parts = partsOf(path);
    const methods: string[] = [];
    for (const route of this.routes)
      if (!methods.includes(route.method) && matchPath(route, path, parts) !== undefined) methods.push(route.method);
    return methods;
  }

  /** Every method some route is registered for, in registration order, each once. */
  allMethods(): string[] {
    return [...new Set(this.routes.map((r) => r.method))];
  }
}
