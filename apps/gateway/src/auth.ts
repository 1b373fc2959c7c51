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
 * The header's syntax and the challenge are `@postern/http`'s ({@link parseBasicAuthorization},
 * {@link basicChallenge}); this module holds the gateway's policy.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { basicChallenge, parseBasicAuthorization } from '@postern/http';

/** The realm sent in `WWW-Authenticate`. */
export const AUTH_REALM = 'postern-gateway';

/** The value of the `WWW-Authenticate` header of a 401. */
export const WWW_AUTHENTICATE = basicChallenge(AUTH_REALM);

/** The outcome of {@link checkBasicAuth}. */
export type AuthDecision =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Decides whether a request with `authorization` may change the gateway. See the module comment. */
export function checkBasicAuth(
  authorization: string | undefined,
  admin: { readonly user: string; readonly password: string | undefined },
): AuthDecision {
  if (admin.password === undefined)
    return {
      ok: false,
      status: 403,
      reason: 'changes are disabled: no admin password is configured (admin.password or POSTERN_ADMIN_PASSWORD)',
    };
  const cred = parseBasicAuthorization(authorization);
  if (cred === undefined) return { ok: false, status: 401, reason: 'authentication required' };
  if (cred.user !== admin.user)
    return { ok: false, status: 403, reason: `user ${JSON.stringify(cred.user)} may not change the gateway` };
  if (!sameSecret(cred.password, admin.password)) return { ok: false, status: 401, reason: 'wrong password' };
  return { ok: true, user: cred.user };
}
