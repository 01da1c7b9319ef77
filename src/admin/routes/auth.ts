/**
 * POST /auth/login and GET /auth/me (api-contract §4.2, §12).
 *
 * Login gives no way to tell accounts apart: an unknown user, an inactive
 * one, a wrong password, an unreadable hash and a store failure all get the
 * same 401 `Invalid credentials`, and each costs one argon2 verification (an
 * unknown user is checked against a dummy hash made at start-up). Failed
 * attempts feed the shared AuthThrottle (per user name, tracked whether the
 * user exists or not, and per client address); while a key is locked the
 * answer is 429 with `Retry-After`, before any password work. A correct
 * password of a non-admin is 403 (BetweenRows' behaviour) and counts as a
 * success for the throttle.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword } from '../../identity/passwords.js';
import { NotFoundError } from '../../store/repo-errors.js';
import { getUserById, getUserCredentials, recordLogin, type User } from '../../store/repos/users.js';
import { signToken } from '../auth/jwt.js';
import { principalOf } from '../auth/guard.js';
import type { Api, ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { ErrorBody, PlainText, security } from '../schemas/common.js';
import { LoginBody, LoginResponse, presentUser, UserSchema } from '../schemas/users.js';

async function authenticate(
  context: ApiContext,
  dummyHash: string,
  username: string,
  password: string,
): Promise<User | undefined> {
  const { db } = context.store;
  try {
    const credentials = await getUserCredentials(db, username);
    if (!credentials) {
      await verifyPassword(dummyHash, password);
      return undefined;
    }
    const matches = await verifyPassword(credentials.password_hash, password);
    if (!matches || !credentials.is_active) return undefined;
    const user = await getUserById(db, credentials.id); // as read before this login (§4.2)
    await recordLogin(db, credentials.id);
    return user;
  } catch (error) {
    context.logger?.error({ err: error }, 'admin login failed on a store error');
    return undefined;
  }
}

export async function authRoutes(api: Api, context: ApiContext): Promise<void> {
  const dummyHash = await hashPassword(randomBytes(18).toString('base64'));

  api.post(
    '/auth/login',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        summary: 'Log in as an admin; returns a JWT',
        body: LoginBody,
        response: { 200: LoginResponse, 401: ErrorBody, 403: ErrorBody, 422: PlainText, 429: ErrorBody },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const address = request.ip;
      const gate = context.loginThrottle.check(username, address);
      if (!gate.allowed) {
        throw new ApiError(429, 'Too many failed login attempts, try again later', {
          'retry-after': String(Math.ceil(gate.retryAfterMs / 1000)),
        });
      }
      const user = await authenticate(context, dummyHash, username, password);
      if (!user) {
        context.loginThrottle.recordFailure(username, address);
        throw new ApiError(401, 'Invalid credentials');
      }
      context.loginThrottle.recordSuccess(username, address);
      if (!user.is_admin) throw new ApiError(403, 'Admin access required');
      return { token: await signToken(context.jwt, user), user: presentUser(user) };
    },
  );

  api.get(
    '/auth/me',
    {
      config: { auth: 'token' },
      schema: {
        tags: ['auth'],
        summary: 'The user the token belongs to',
        security,
        response: { 200: UserSchema, 401: PlainText, 404: ErrorBody },
      },
    },
    async (request) => {
      const user = await getUserById(context.store.db, principalOf(request).id);
      if (!user) throw new NotFoundError('User not found');
      return presentUser(user);
    },
  );
}
