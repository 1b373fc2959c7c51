/**
 * HTTP Basic authentication (RFC 7617) for the admin API's mutating calls.
 *
 * Decision, for a request that changes something:
 * - no password configured: `403` (changes are disabled on this gateway);
 * - no `Authorization` header, not `Basic`, undecodable, or the wrong password: `401` with
 *   `WWW-Authenticate: Basic realm="postern-gateway", charset="UTF-8"`;
 * - a well-formed header naming a user other than the admin: `403`;
 * - the admin user with the right password: allowed.
 * Passwords are compared in constant time (over their SHA-256 digests, so lengths leak nothing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The realm sent in `WWW-Authenticate`. */
export const AUTH_REALM = 'postern-gateway';

/** The value of the `WWW-Authenticate` header of a 401. */
export const WWW_AUTHENTICATE = `Basic realm="${AUTH_REALM}", charset="UTF-8"`;

/** The outcome of {@link checkBasicAuth}. */
export type AuthDecision =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

/** Credentials decoded from an `Authorization: Basic` header. */
export interface BasicCredentials {
  /** The user name (before the first colon). */
  readonly user: string;
  /** The password (everything after it). */
  readonly password: string;
}

/** Decodes `Basic base64(user:password)`; `undefined` when the header is absent or malformed. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Decides whether a request with `authorization` may change the gateway. See the module comment. */
export function checkBasicAuth(authorization: string | undefined, admin: { readonly user: string; readonly password: string | undefined }): AuthDecision {
  if (admin.password === undefined) return { ok: false, status: 403, reason: 'changes are disabled: no admin password is configured (admin.password or POSTERN_ADMIN_PASSWORD)' };
  const cred = parseBasicAuth(authorization);
  if (cred === undefined) return { ok: false, status: 401, reason: 'authentication required' };
  if (cred.user !== admin.user) return { ok: false, status: 403, reason: `user ${JSON.stringify(cred.user)} may not change the gateway` };
  if (!sameSecret(cred.password, admin.password)) return { ok: false, status: 401, reason: 'wrong password' };
  return { ok: true, user: cred.user };
}
