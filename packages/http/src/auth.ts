/**
 * HTTP Basic authentication (RFC 7617): a parser for the `Authorization` header and a guard that
 * answers 401 with `WWW-Authenticate` when credentials are missing or wrong.
 */
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';
import { sendStatus } from './router.js';

/** Credentials from a `Basic` `Authorization` header. */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/** Parses `Authorization: Basic <base64(user:password)>`; undefined when absent or malformed. */
export function parseBasicAuth(req: HttpRequest): BasicCredentials | undefined {
  const header = req.headers.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Options of {@link basicAuth}. */
export interface BasicAuthOptions {
  /** The protection space named in the challenge. Must not contain `"` or `\`. */
  readonly realm: string;
  /** Decides whether the credentials are good. */
  readonly verify: (credentials: BasicCredentials, req: HttpRequest) => boolean | Promise<boolean>;
}

/**
 * Wraps `handler` so it runs only for requests with credentials `verify` accepts; others get
 * `401 Unauthorized` with `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"`.
 */
export function basicAuth(options: BasicAuthOptions, handler: HttpHandler): HttpHandler {
  if (/["\\\r\n]/.test(options.realm)) throw new TypeError('realm must not contain quotes, backslashes or line breaks');
  const challenge = `Basic realm="${options.realm}", charset="UTF-8"`;
  return async (req, res) => {
    const credentials = parseBasicAuth(req);
    if (credentials !== undefined && (await options.verify(credentials, req))) return handler(req, res);
    res.setHeader('WWW-Authenticate', challenge);
    sendStatus(res, 401);
  };
}
