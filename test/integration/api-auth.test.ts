/**
 * Login and tokens (api-contract §4.2, §12): the token format, every 401/403
 * text, the per-request store re-check (quirk Q20 fixed), login throttling,
 * no user enumeration, and admin ≠ data access.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { canUserConnect } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { getUserById, setPassword, updateUser } from '../../src/store/repos/users.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { STORE_ENGINES } from '../support/stores.js';
import { ADMIN_PASSWORD, JWT_SECRET, openTestApi, type TestApi } from '../support/api.js';

const MISSING = 'Missing or invalid Authorization header';
const INVALID = 'Invalid or expired token';
const now = () => Math.floor(Date.now() / 1000);

async function mint(claims: JWTPayload, options: { secret?: string; alg?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

describe.each(STORE_ENGINES)('API auth on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await openTestApi(engine);
  });
  afterAll(() => api.dispose());

  const login = (username: string, password: string) =>
    api.call('POST', '/api/v1/auth/login', { token: null, body: { username, password } });

  it('logs an admin in with an HS256 JWT carrying exactly the §12 claims', async () => {
    await api.seedUser('root2', { password: 'Root1234!', is_admin: true });
    const before = Date.now();
    const r = await login('root2', 'Root1234!');
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['token', 'user']);
    expect(r.json.user).toMatchObject({ username: 'root2', is_admin: true, last_login_at: null });
    expect(r.json.user).not.toHaveProperty('password_hash');
    expect(decodeProtectedHeader(r.json.token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(r.json.token);
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'is_admin', 'sub', 'username']);
    expect(claims).toMatchObject({ sub: r.json.user.id, username: 'root2', is_admin: true });
    expect(claims.exp).toBe((claims.iat ?? 0) + 24 * 3600);
    expect(Math.abs((claims.iat ?? 0) - Math.floor(before / 1000))).toBeLessThanOrEqual(2);
    // The response shows the previous login time; the store now has this one.
    const stored = await getUserById(api.store.db, r.json.user.id);
    expect(stored?.last_login_at).not.toBeNull();
    const again = await login('root2', 'Root1234!');
    expect(again.json.user.last_login_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/);
  });

  it('gives the same 401 for unknown user, wrong password and inactive user', async () => {
    const inactive = await api.seedUser('sleepy', { password: 'Sleepy123!', is_admin: true });
    await auditedTransaction(api.store, SYSTEM_ACTOR_ID, (tx) =>
      updateUser(tx, inactive.id, { is_active: false }),
    );
    const answers = await Promise.all([
      login('nobody-here', 'Whatever1!'),
      login('admin', 'wrong-password'),
      login('sleepy', 'Sleepy123!'),
      login('ADMIN', ADMIN_PASSWORD), // user names are case-sensitive
    ]);
    for (const r of answers) {
      expect([r.status, r.text, r.headers['content-type']]).toEqual([
        401,
        '{"error":"Invalid credentials"}',
        'application/json; charset=utf-8',
      ]);
    }
    expect((await getUserById(api.store.db, inactive.id))?.last_login_at).toBeNull();
  });

  it('refuses a non-admin with 403 after the password check, which updates last_login_at', async () => {
    const user = await api.seedUser('plain', { password: 'Plain123!' });
    const r = await login('plain', 'Plain123!');
    expect([r.status, r.json]).toEqual([403, { error: 'Admin access required' }]);
    expect((await getUserById(api.store.db, user.id))?.last_login_at).not.toBeNull();
    expect((await login('plain', 'Wrong123!')).status).toBe(401);
  });

  it('requires both login fields (422 plain text)', async () => {
    const r = await api.call('POST', '/api/v1/auth/login', { token: null, body: { username: 'admin' } });
    expect(r.status).toBe(422);
    expect(r.text).toMatch(/^Failed to deserialize the JSON body into the target type: .*password/);
  });

  it('spends an argon2 verification on unknown users too (similar timing)', async () => {
    const time = async (username: string) => {
      const start = performance.now();
      expect((await login(username, 'Wrong-pass1')).status).toBe(401);
      return performance.now() - start;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('admin'));
      unknown.push(await time(`ghost-${i}`));
    }
    // Without the dummy hash an unknown user would answer in well under a tenth of the time.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });

  it('rejects missing, malformed and foreign tokens with the exact texts', async () => {
    const cases: [Record<string, string>, number, string][] = [
      [{}, 401, MISSING],
      [{ authorization: api.token }, 401, MISSING],
      [{ authorization: `bearer ${api.token}` }, 401, MISSING],
      [{ authorization: `Basic ${api.token}` }, 401, MISSING],
      [{ authorization: 'Bearer ' }, 401, INVALID],
      [{ authorization: 'Bearer garbage' }, 401, INVALID],
      [{ authorization: `Bearer  ${api.token}` }, 401, INVALID],
      [{ authorization: `Bearer ${api.token}x` }, 401, INVALID],
    ];
    for (const [headers, status, text] of cases) {
      for (const url of ['/api/v1/users', '/api/v1/auth/me']) {
        const r = await api.call('GET', url, { token: null, headers });
        expect([r.status, r.text, r.headers['content-type']], JSON.stringify(headers)).toEqual([
          status,
          text,
          'text/plain; charset=utf-8',
        ]);
      }
    }
  });

  it('validates signature, algorithm, expiry (60 s leeway) and claim types', async () => {
    const base = { sub: api.admin.id, username: 'admin', is_admin: true, exp: now() + 600 };
    const bad = [
      await mint(base, { secret: 'another-secret' }),
      await mint(base, { alg: 'HS512' }),
      await mint({ ...base, exp: now() - 120 }),
      await mint({ sub: base.sub, username: 'admin', is_admin: true }),
      await mint({ ...base, username: undefined }),
      await mint({ ...base, is_admin: 'true' }),
      await mint({ ...base, sub: 'not-a-uuid' }),
      await mint({ ...base, aud: 'rowgate' }),
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`,
    ];
    for (const token of bad) {
      const r = await api.call('GET', '/api/v1/users', { token });
      expect([r.status, r.text], token).toEqual([401, INVALID]);
    }
    // A BetweenRows-style token (no iat) within the leeway is accepted.
    const ok = await api.call('GET', '/api/v1/users', { token: await mint({ ...base, exp: now() - 30 }) });
    expect(ok.status).toBe(200);
  });

  it('answers 403 to a token whose is_admin claim is false, except on /auth/me', async () => {
    const user = await api.seedUser('claimless', { password: 'Claim123!' });
    const token = await mint({ sub: user.id, username: 'claimless', is_admin: false, exp: now() + 600 });
    const r = await api.call('GET', '/api/v1/users', { token });
    expect([r.status, r.text]).toEqual([403, 'Admin access required']);
    const unauthBeforePath = await api.call('GET', '/api/v1/users/not-a-uuid', { token });
    expect(unauthBeforePath.status).toBe(403);
    const me = await api.call('GET', '/api/v1/auth/me', { token });
    expect([me.status, me.json.username]).toEqual([200, 'claimless']);
  });

  it('refuses an admin-claim token of a user who is not an active admin (Q20 fixed)', async () => {
    const forged = await mint({
      sub: '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11',
      username: 'x',
      is_admin: true,
      exp: now() + 600,
    });
    expect((await api.call('GET', '/api/v1/users', { token: forged })).text).toBe(INVALID);
    const nonAdmin = await api.seedUser('pretender', { password: 'Pretend1!' });
    const claimsAdmin = await mint({
      sub: nonAdmin.id,
      username: 'pretender',
      is_admin: true,
      exp: now() + 600,
    });
    expect((await api.call('GET', '/api/v1/users', { token: claimsAdmin })).status).toBe(401);
  });

  it('/auth/me answers 404 for a deleted user', async () => {
    const ghostToken = await mint({
      sub: '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11',
      username: 'ghost',
      is_admin: false,
      exp: now() + 600,
    });
    const r = await api.call('GET', '/api/v1/auth/me', { token: ghostToken });
    expect([r.status, r.json]).toEqual([404, { error: 'User not found' }]);
  });

  it('does not give admins access to data sources (admin ≠ data access)', async () => {
    const cipher = new SecretCipher(randomBytes(32));
    await auditedTransaction(api.store, api.admin.id, (tx) =>
      createDataSource(tx, cipher, {
        name: 'warehouse',
        ds_type: 'postgres',
        config: { host: 'localhost', port: 5432, database: 'w', username: 'u', password: 'p' },
        grantCreator: false,
      }),
    );
    expect(await canUserConnect(api.store.db, 'warehouse', api.admin.id, [])).toBe(false);
  });
});

describe.each(STORE_ENGINES)('API token revocation on %s', (engine) => {
  let api: TestApi;
  let other: { id: string; token: string };
  beforeEach(async () => {
    api = await openTestApi(engine);
    const user = await api.seedUser('second', { password: 'Second123!', is_admin: true });
    other = { id: user.id, token: await api.login('second', 'Second123!') };
  });
  afterEach(() => api.dispose());

  it('stops accepting the token of a deactivated admin, also on /auth/me', async () => {
    expect((await api.call('GET', '/api/v1/users', { token: other.token })).status).toBe(200);
    expect((await api.call('PUT', `/api/v1/users/${other.id}`, { body: { is_active: false } })).status).toBe(
      200,
    );
    for (const url of ['/api/v1/users', '/api/v1/auth/me']) {
      const r = await api.call('GET', url, { token: other.token });
      expect([r.status, r.text]).toEqual([401, INVALID]);
    }
  });

  it('stops accepting the token of a demoted admin on admin routes', async () => {
    expect((await api.call('PUT', `/api/v1/users/${other.id}`, { body: { is_admin: false } })).status).toBe(
      200,
    );
    expect((await api.call('GET', '/api/v1/users', { token: other.token })).status).toBe(401);
    expect((await api.call('GET', '/api/v1/auth/me', { token: other.token })).status).toBe(200);
  });

  it('stops accepting tokens issued before a password change', async () => {
    const old = other.token;
    expect((await api.call('GET', '/api/v1/users', { token: old })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // `iat` has one-second resolution
    await auditedTransaction(api.store, SYSTEM_ACTOR_ID, (tx) => setPassword(tx, other.id, 'Changed123!'));
    expect((await api.call('GET', '/api/v1/users', { token: old })).text).toBe(INVALID);
    const fresh = await api.login('second', 'Changed123!');
    expect((await api.call('GET', '/api/v1/users', { token: fresh })).status).toBe(200);
  });

  it('stops accepting the token of a deleted admin', async () => {
    expect((await api.call('DELETE', `/api/v1/users/${other.id}`)).status).toBe(204);
    expect((await api.call('GET', '/api/v1/users', { token: other.token })).status).toBe(401);
  });
});

describe('API login throttling', () => {
  let api: TestApi;
  beforeEach(async () => {
    api = await openTestApi('sqlite', {
      loginThrottle: { maxFailuresPerUser: 3, maxFailuresPerAddress: 50, lockoutMs: 60_000 },
    });
  });
  afterEach(() => api.dispose());

  const login = (username: string, password: string) =>
    api.call('POST', '/api/v1/auth/login', { token: null, body: { username, password } });

  it('locks a user name after repeated failures, even for the right password, with Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await login('admin', 'Wrong1234!')).status).toBe(401);
    const locked = await login('admin', ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.json).toEqual({ error: 'Too many failed login attempts, try again later' });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60);
    await api.seedUser('other', { password: 'Other123!', is_admin: true });
    expect((await login('other', 'Other123!')).status).toBe(200);
  });

  it('treats unknown user names exactly like existing ones (no enumeration by lockout)', async () => {
    for (let i = 0; i < 3; i++) expect((await login('nobody', 'Wrong1234!')).status).toBe(401);
    expect((await login('nobody', 'Wrong1234!')).status).toBe(429);
  });

  it('clears a user name after a successful login', async () => {
    for (let i = 0; i < 2; i++) await login('admin', 'Wrong1234!');
    expect((await login('admin', ADMIN_PASSWORD)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login('admin', 'Wrong1234!')).status).toBe(401);
    expect((await login('admin', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('locks a client address that tries many user names', async () => {
    const strict = await openTestApi('sqlite', {
      loginThrottle: { maxFailuresPerUser: 100, maxFailuresPerAddress: 4, lockoutMs: 60_000 },
    });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await strict.call('POST', '/api/v1/auth/login', {
          token: null,
          body: { username: `spray-${i}`, password: 'Wrong1234!' },
        });
        expect(r.status).toBe(401);
      }
      const r = await strict.call('POST', '/api/v1/auth/login', {
        token: null,
        body: { username: 'admin', password: ADMIN_PASSWORD },
      });
      expect(r.status).toBe(429);
    } finally {
      await strict.dispose();
    }
  });
});
