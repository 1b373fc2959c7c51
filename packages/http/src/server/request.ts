/**
 * The request as a handler sees it.
 */
import type { HeaderList } from '../parser/headers.js';
import type { RequestHead } from '../parser/types.js';
import type { RequestBody } from './body.js';

/**
 * One HTTP request. The head is parsed and validated before the handler runs; the body arrives
 * through {@link HttpRequest.body} while the handler runs (with backpressure: an unread body stops the
 * connection reading).
 */
export class HttpRequest {
  /** The method token as sent (case-sensitive). */
  readonly method: string;
  /** The request-target exactly as sent. */
  readonly target: string;
  /**
   * The path part of the target (before `?`), still percent-encoded. For an absolute-form target the
   * scheme and authority are removed; for `*` and authority-form it is the target itself.
   */
  readonly path: string;
  /** The query after `?` (without it), still encoded; `''` when absent. */
  readonly query: string;
  /** `"1.0"` or `"1.1"` (minor versions above 1 are served as 1.1). */
  readonly version: '1.0' | '1.1';
  /** The header fields: `headers.get('content-type')` (any case), `headers.raw` for the wire order. */
  readonly headers: HeaderList;
  /** The peer's address as the transport reports it (`''` when unknown). */
  readonly remoteAddress: string;
  /** The parsed head (framing, keep-alive, expectations) for handlers that need the details. */
  readonly head: RequestHead;
  /** The body: `for await (const chunk of req.body)`, or `await req.body.text()`. Empty when none was sent. */
  readonly body: RequestBody;
  /** Route parameters (`/users/:id` gives `params.id`), filled by the {@link Router}; decoded. */
  params: Record<string, string> = {};

  constructor(head: RequestHead, body: RequestBody, remoteAddress: string) {
    this.head = head;
    this.method = head.method;
    this.target = head.target;
    this.version = head.versionMinor === 0 ? '1.0' : '1.1';
    this.headers = head.headers;
    this.remoteAddress = remoteAddress;
    this.body = body;
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

  /** The query parsed as `application/x-www-form-urlencoded` (a new object each call). */
  searchParams(): URLSearchParams {
    return new URLSearchParams(this.query);
  }
}
