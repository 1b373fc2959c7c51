/**
 * HTTP Basic authentication (RFC 7617): a parser for the `Authorization` value, the challenge a 401
 * carries, and a guard that answers 401 with that challenge when credentials are missing or wrong.
 *
 * The syntax (RFC 9110 §11.4, RFC 7617 §2): `credentials = auth-scheme 1*SP token68`. The scheme
 * `Basic` is case-insensitive; one or more spaces (not tabs) separate it from the base64 of
 * `user-id ":" password`; the optional whitespace around a field value is the field's, not the
 * credentials', so it is ignored. The user is everything before the first colon.
 */
import type { HttpHandler } from './server/options.js';
import type { HttpRequest } from './server/request.js';
import { sendStatus } from './router.js';

/** Credentials from a `Basic` `Authorization` header. */
export interface BasicCredentials {
  /** The user-id: the decoded text before the first colon. */
  readonly user: string;
  /** The password: everything after that colon (it may contain colons). */
  readonly password: string;
}

const BASIC_CREDENTIALS = /^[ \t]*basic +([A-Za-z0-9+/]+={0,2})[ \t]*$/i;

/**
 * Parses an `Authorization` field value as `Basic` credentials (see the module comment for the
 * syntax). `undefined` when the value is absent, another scheme, not base64, or has no colon.
 */
export function parseBasicAuthorization(value: string | undefined): BasicCredentials | undefined {
  if (value === undefined) return undefined;
  const match = BASIC_CREDENTIALS.exec(value);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The request's `Authorization` header parsed by {@link parseBasicAuthorization}. */
export function parseBasicAuth(req: HttpRequest): BasicCredentials | undefined {
  return parseBasicAuthorization(req.headers.get('authorization'));
}

/**
 * The `WWW-Authenticate` value of a 401 for `realm`: `Basic realm="<realm>", charset="UTF-8"`.
 * Throws `TypeError` for a realm with a quote, backslash or line break (it must be sent as is).
 */
export function basicChallenge(realm: string): string {
  if (/["\\\r\n]/.test(realm)) throw new TypeError('realm must not contain quotes, backslashes or line breaks');
  return `Basic realm="${realm}", charset="UTF-8"`;
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
 * `401 Unauthorized` with the {@link basicChallenge} of the realm.
 */
export function basicAuth(options: BasicAuthOptions, handler: HttpHandler): HttpHandler {
  const challenge = basicChallenge(options.realm);
  return async (req, res) => {
    const credentials = parseBasicAuth(req);
    if (credentials !== undefined && (await options.verify(credentials, req))) return handler(req, res);
    res.setHeader('WWW-Authenticate', challenge);
    sendStatus(res, 401);
  };
}
