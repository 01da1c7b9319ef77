/**
 * Admin API tokens (api-contract §12): compact JWS, HS256 over the UTF-8
 * bytes of the configured secret, claims `sub` (user id), `username`,
 * `is_admin`, `exp`, plus Rowgate's `iat` (tokens issued before the user's
 * last password change are refused, see guard.ts). Verification follows
 * §12: HS256 only, 60 s leeway on `exp`, all four claims present with the
 * right types, `sub` a UUID, no `aud`.
 */
import { SignJWT, jwtVerify } from 'jose';

export interface TokenClaims {
  sub: string;
  username: string;
  is_admin: boolean;
  exp: number;
  /** Absent in tokens minted by BetweenRows or by other tools. */
  iat?: number;
}

export interface JwtSettings {
  secret: string;
  expiryHours: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const keyOf = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(
  settings: JwtSettings,
  user: { id: string; username: string; is_admin: boolean },
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ username: user.username, is_admin: user.is_admin })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.expiryHours * 3600)
    .sign(keyOf(settings.secret));
}

/** The claims of a valid token, or undefined (any failure is the same 401). */
export async function verifyToken(secret: string, token: string): Promise<TokenClaims | undefined> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ['HS256'],
      clockTolerance: 60,
      requiredClaims: ['exp'],
    });
    const { sub, username, is_admin, exp, iat, aud } = payload;
    if (aud !== undefined) return undefined;
    if (typeof sub !== 'string' || !UUID.test(sub)) return undefined;
    if (typeof username !== 'string' || typeof is_admin !== 'boolean' || typeof exp !== 'number') {
      return undefined;
    }
    return { sub: sub.toLowerCase(), username, is_admin, exp, ...(typeof iat === 'number' ? { iat } : {}) };
  } catch {
    return undefined;
  }
}
