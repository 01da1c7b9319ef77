/**
 * Decision-function endpoints (api-contract §4.12) before the decision-function
 * issue: every one answers 501 with a JSON error once the request is valid,
 * and everything of §1.4 still applies first — 401/403, 405 at routing,
 * 400 for a bad UUID or query string, 415/400/422 for the JSON body. Nothing
 * is written, nothing is audited.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/admin/auth/jwt.js';
import { auditRows } from '../support/stores.js';
import { JWT_SECRET } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import { MISSING_ID, openPolicyApi, type PolicyTestApi } from './api-policies-fixture.js';

const PENDING = { error: 'Decision functions are not implemented yet' };
const BASE = '/api/v1/decision-functions';
const VALID: [string, string, unknown][] = [
  ['GET', BASE, undefined],
  ['GET', `${BASE}?page=2&page_size=500&search=x`, undefined],
  ['POST', BASE, { name: 'hours', decision_fn: 'return {fire:true}', evaluate_context: 'session' }],
  ['GET', `${BASE}/${MISSING_ID}`, undefined],
  ['PUT', `${BASE}/${MISSING_ID}`, { version: 1, name: 'x', decision_config: null }],
  ['DELETE', `${BASE}/${MISSING_ID}`, undefined],
  ['POST', `${BASE}/test`, { decision_fn: 'return {fire:true}', context: { user: {} } }],
];

describe.each(STORE_ENGINES)('API decision functions (501 stubs) on %s', (engine) => {
  let api: PolicyTestApi;
  beforeEach(async () => {
    api = await openPolicyApi(engine);
  });
  afterEach(() => api.dispose());

  it('answers 501 JSON on every endpoint once the request is valid, writing nothing', async () => {
    const before = await auditRows(api.store);
    for (const [method, url, body] of VALID) {
      const r = await api.call(method, url, body === undefined ? {} : { body });
      expect([r.status, r.headers['content-type'], r.json], `${method} ${url}`).toEqual([
        501,
        'application/json; charset=utf-8',
        PENDING,
      ]);
    }
    expect(await auditRows(api.store)).toEqual(before);
    expect(await api.store.db.selectFrom('decision_function').selectAll().execute()).toEqual([]);
  });

  it('authenticates first: 401 without or with a bad token, 403 for a non-admin token, even with a bad id', async () => {
    const nonAdmin = await signToken(
      { secret: JWT_SECRET, expiryHours: 1 },
      { id: MISSING_ID, username: 'x', is_admin: false },
    );
    for (const [method, url] of [
      ...VALID.map(([m, u]) => [m, u] as const),
      ['GET', `${BASE}/not-a-uuid`] as const,
    ]) {
      const anon = await api.call(method, url, { token: null });
      expect([anon.status, anon.text], `${method} ${url}`).toEqual([
        401,
        'Missing or invalid Authorization header',
      ]);
      const bad = await api.call(method, url, { token: 'x.y.z' });
      expect([bad.status, bad.text]).toEqual([401, 'Invalid or expired token']);
      const user = await api.call(method, url, { token: nonAdmin });
      expect([user.status, user.text]).toEqual([403, 'Admin access required']);
    }
  });

  it('keeps the §1.4 order before the 501: 405, bad UUID, query string, content type, JSON, body shape', async () => {
    const cases: [string, string, { body?: unknown; headers?: Record<string, string> }, number, RegExp][] = [
      ['GET', `${BASE}/test`, {}, 405, /^$/],
      ['PATCH', BASE, {}, 405, /^$/],
      ['GET', `${BASE}/not-a-uuid`, {}, 400, /^Invalid URL: Cannot parse `not-a-uuid` to a UUID$/],
      ['DELETE', `${BASE}/1234`, {}, 400, /^Invalid URL: /],
      ['PUT', `${BASE}/nope`, { body: '{' }, 400, /^Invalid URL: /],
      ['GET', `${BASE}?page=-1`, {}, 400, /^Failed to deserialize query string: /],
      ['GET', `${BASE}?page_size=a`, {}, 400, /^Failed to deserialize query string: /],
      [
        'POST',
        BASE,
        { body: '{}', headers: { 'content-type': 'text/plain' } },
        415,
        /^Expected request with `Content-Type: application\/json`$/,
      ],
      [
        'POST',
        `${BASE}/test`,
        { body: '{"decision_fn":', headers: {} },
        400,
        /^Failed to parse the request body as JSON: /,
      ],
      ['POST', BASE, { body: { name: 'x', decision_fn: 'f' } }, 422, /missing field `evaluate_context`$/],
      [
        'POST',
        `${BASE}/test`,
        { body: { decision_fn: 'f', test_context: {} } },
        422,
        /missing field `context`$/,
      ],
      ['PUT', `${BASE}/${MISSING_ID}`, { body: { name: 'x' } }, 422, /missing field `version`$/],
      [
        'PUT',
        `${BASE}/${MISSING_ID}`,
        { body: { version: '1' } },
        422,
        /^Failed to deserialize the JSON body into the target type: version/,
      ],
    ];
    for (const [method, url, options, status, text] of cases) {
      const r = await api.call(method, url, options);
      expect(r.status, `${method} ${url}`).toBe(status);
      expect(r.text, `${method} ${url}`).toMatch(text);
      if (status !== 405) expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    const allow = await api.call('GET', `${BASE}/test`);
    expect(allow.headers.allow).toBe('POST');
    const allowId = await api.call('POST', `${BASE}/${MISSING_ID}`);
    expect(allowId.headers.allow).toBe('GET, HEAD, PUT, DELETE');
  });
});
