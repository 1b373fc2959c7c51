/**
 * The request as a handler sees it.
 */
import type { HeaderList } from '../parser/headers.js';
import type { RequestHead } from '../parser/types.js';
import { RequestBody } from './body.js';

/** What a route gives a request: its parameters for the request's path (see the router's `FoundRoute`). */
export interface RouteParams {
  /** Every parameter of the route for `path`, decoded (`*` raw): a new object each call. */
  paramsFor(path: string): Record<string, string>;
  /** One parameter of the route for `path`, or `undefined` when the route has none of that name. */
  paramFor(path: string, name: string): string | undefined;
}

/**
 * One HTTP request. The head is parsed and validated before the handler runs; the body arrives
 * through {@link HttpRequest.body} while the handler runs (with backpressure: an unread body stops the
 * connection reading).
 */
export class HttpRequest {
  // The method, target, version and headers are read from the head (getters): fewer fields to fill
  // per request.

  /** The method token as sent (case-sensitive). */
  get method(): string {
    return this.head.method;
  }

  /** The request-target exactly as sent. */
  get target(): string {
    return this.head.target;
  }

  /**
   * The path part of the target (before `?`), still percent-encoded. For an absolute-form target the
   * scheme and authority are removed; for `*` and authority-form it is the target itself.
   */
  readonly path: string;
  /** The query after `?` (without it), still encoded; `''` when absent. */
  readonly query: string;
  /** `"1.0"` or `"1.1"` (minor versions above 1 are served as 1.1). */
  get version(): '1.0' | '1.1' {
    return this.head.versionMinor === 0 ? '1.0' : '1.1';
  }

  /** The header fields: `headers.get('content-type')` (any case), `headers.raw` for the wire order. */
  get headers(): HeaderList {
    return this.head.headers;
  }

  /** The peer's address as the transport reports it (`''` when unknown). */
  readonly remoteAddress: string;
  /** The parsed head (framing, keep-alive, expectations) for handlers that need the details. */
  readonly head: RequestHead;
  /** The body, or undefined for a request without one until {@link HttpRequest.body} is first read. */
  private bodyRef: RequestBody | undefined;
  /** The route parameters, or undefined until {@link HttpRequest.params} is first read or set. */
  private paramsRef: Record<string, string> | undefined;
  /** The route the {@link Router} chose, which works out {@link HttpRequest.params} when first read. */
  private route: RouteParams | undefined;

  /**
   * @param body the request's body; undefined for a request sent without one (an empty, complete body is
   *   made if a handler reads {@link HttpRequest.body}: most requests without a body never do)
   */
  constructor(head: RequestHead, body: RequestBody | undefined, remoteAddress: string) {
    this.head = head;
    this.remoteAddress = remoteAddress;
    this.bodyRef = body;
    this.paramsRef = undefined;
    this.route = undefined;
    let pathAndQuery = head.target;
    if (head.targetForm === 'absolute') {
      const authorityStart = pathAndQuery.indexOf('//') + 2;
      const slash = pathAndQuery.indexOf('/', authorityStart);
      const question = pathAndQuery.indexOf('?', authorityStart);
      const start = slash >= 0 && (question < 0 || slash < question) ? slash : question;
      pathAndQuery = start < 0 ? '/' : pathAndQuery.slice(start);
      if (pathAndQuery.startsWith('?')) pathAndQuery = '/' + pathAndQuery;
    }
    const q = pathAndQuery.indexOf('?');
    this.path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    this.query = q < 0 ? '' : pathAndQuery.slice(q + 1);
  }

  /** The body: `for await (const chunk of req.body)`, or `await req.body.text()`. Empty when none was sent. */
  get body(): RequestBody {
    return (this.bodyRef ??= RequestBody.empty());
  }

  /** Route parameters (`/users/:id` gives `params.id`), filled by the {@link Router}; decoded. */
  get params(): Record<string, string> {
    return (this.paramsRef ??= this.route === undefined ? {} : this.route.paramsFor(this.path));
  }

  set params(params: Record<string, string>) {
    this.paramsRef = params;
  }

  /** `params[name]` when it is a parameter of its own (not inherited), else `undefined`; makes no params object. */
  param(name: string): string | undefined {
    const params = this.paramsRef;
    if (params !== undefined) return Object.hasOwn(params, name) ? params[name] : undefined;
    return this.route === undefined ? undefined : this.route.paramFor(this.path, name);
  }

  /**
   * The router's call: `route` matched this request's path, and {@link HttpRequest.params} become its
   * parameters (worked out on first read, replacing any set before).
   */
  routedBy(route: RouteParams): void {
    this.route = route;
    this.paramsRef = undefined;
  }

  /** The query parsed as `application/x-www-form-urlencoded` (a new object each call). */
  searchParams(): URLSearchParams {
    return new URLSearchParams(this.query);
  }
}
