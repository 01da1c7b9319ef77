/**
 * Authentication and authorisation of every `/api/v1` route (api-contract
 * §1.4 step 1, §1.5, §12), as an onRequest hook so it runs before anything
 * else looks at the request.
 *
 * A route declares its level in `config.auth`: `none` (login), `token`
 * (`/auth/me`: any valid token) or `admin` (the default). Checks, in order:
 * `Authorization: Bearer <token>` present (401 `Missing or invalid
 * Authorization header`), token valid (401 `Invalid or expired token`),
 * `is_admin` claim (403 `Admin access required`, admin routes only).
 *
 * Quirk Q20 is fixed: the token's user is then read from the store on every
 * request (one primary-key lookup; no cache, so a change made through another
 * replica applies at once). A user who is inactive, or whose password changed
 * after the token was issued, gets 401 `Invalid or expired token`; on admin
 * routes so does a user who was deleted or is no longer an admin.
 * `/auth/me` lets a deleted user through to its own 404 (§4.2).
 */
import type { FastifyRequest } from 'fastify';
import type { Store } from '../../store/db.js';
import { fromFlag } from '../../store/values.js';
import { ADMIN_REQUIRED, INVALID_TOKEN, MISSING_AUTH, PlainTextError } from '../errors.js';
import { verifyToken, type TokenClaims } from './jwt.js';

export type AuthLevel = 'none' | 'token' | 'admin';

export interface Principal {
  id: string;
  username: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthLevel;
  }
  interface FastifyRequest {
    /** The authenticated admin (set by the guard on every route but login). */
    principal?: Principal;
  }
}

const BEARER = 'Bearer ';

/** The password change time in whole seconds: `iat` has one-second resolution. */
const changedAtSeconds = (stored: string) => Math.floor(Date.parse(`${stored}Z`) / 1000);

async function loadUser(store: Store, id: string) {
  const row = await store.db
    .selectFrom('proxy_user')
    .select(['is_admin', 'is_active', 'password_changed_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  return (
    row && {
      isAdmin: fromFlag(row.is_admin),
      isActive: fromFlag(row.is_active),
      passwordChangedAt: changedAtSeconds(row.password_changed_at),
    }
  );
}

const issuedBefore = (claims: TokenClaims, changedAt: number) =>
  claims.iat !== undefined && claims.iat < changedAt;

export function authGuard(store: Store, secret: string) {
  return async function guard(request: FastifyRequest): Promise<void> {
    const level: AuthLevel = request.routeOptions.config.auth ?? 'admin';
    if (level === 'none') return;
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith(BEARER)) {
      throw new PlainTextError(401, MISSING_AUTH);
    }
    const claims = await verifyToken(secret, header.slice(BEARER.length));
    if (!claims) throw new PlainTextError(401, INVALID_TOKEN);
    if (level === 'admin' && !claims.is_admin) throw new PlainTextError(403, ADMIN_REQUIRED);
    const user = await loadUser(store, claims.sub);
    const revoked = user !== undefined && (!user.isActive || issuedBefore(claims, user.passwordChangedAt));
    const demoted = level === 'admin' && (user === undefined || !user.isAdmin);
    if (revoked || demoted) throw new PlainTextError(401, INVALID_TOKEN);
    request.principal = { id: claims.sub, username: claims.username };
  };
}

/** The authenticated admin; throws if a route without the guard asks (a programming error). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route has no authenticated principal');
  return request.principal;
}
