/**
 * The management API's global conventions (api-contract §1): error families
 * and texts, check order, 405/404, HEAD, trailing slash, body and query
 * parsing, UUID paths, security headers, CORS, the OpenAPI document, and no
 * 500 for any client mistake on any route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../support/stores.js';
import { openTestApi, type TestApi } from '../support/api.js';

const TEXT = 'text/plain; charset=utf-8';
const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';

describe.each(STORE_ENGINES)('API foundation on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await openTestApi(engine);
  });
  afterAll(() => api.dispose());

  it('puts the security headers on every response, success or error', async () => {
    for (const [method, url, token] of [
      ['GET', '/health', null],
      ['GET', '/api/v1/users', undefined],
      ['GET', '/api/v1/users', null],
      ['GET', '/api/v1/nope', undefined],
      ['PATCH', '/api/v1/users', undefined],
    ] as const) {
      const r = await api.call(method, url, { token });
      expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('serves /health without a token', async () => {
    const r = await api.call('GET', '/health', { token: null });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ version: expect.any(String) });
  });

  it('answers unknown /api/v1 paths with 404 JSON, with or without a token (Q1 fixed)', async () => {
    for (const token of [undefined, null]) {
      const r = await api.call('GET', '/api/v1/no/such/thing', { token });
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ error: 'Not found' });
    }
    expect((await api.call('POST', `/api/v1/users/${MISSING_ID}/nope`, { body: {} })).status).toBe(404);
  });

  it('answers a known path with another method with 405, empty body and Allow, before auth', async () => {
    const cases = [
      ['PATCH', '/api/v1/users', 'GET, HEAD, POST'],
      ['DELETE', '/api/v1/users', 'GET, HEAD, POST'],
      ['POST', `/api/v1/users/${MISSING_ID}`, 'GET, HEAD, PUT, DELETE'],
      ['POST', '/api/v1/users/not-a-uuid', 'GET, HEAD, PUT, DELETE'],
      ['GET', '/api/v1/auth/login', 'POST'],
      ['POST', '/api/v1/audit/admin', 'GET, HEAD'],
      ['DELETE', '/api/v1/audit/queries', 'GET, HEAD'],
      ['GET', `/api/v1/users/${MISSING_ID}/password`, 'PUT'],
    ] as const;
    for (const [method, url, allow] of cases) {
      const r = await api.call(method, url, { token: null });
      expect(r.status, `${method} ${url}`).toBe(405);
      expect(r.text).toBe('');
      expect(r.headers.allow).toBe(allow);
    }
  });

  it('accepts HEAD wherever GET is, with the same authentication', async () => {
    const ok = await api.call('HEAD', '/api/v1/users');
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('');
    expect((await api.call('HEAD', '/api/v1/users', { token: null })).status).toBe(401);
  });

  it('ignores one trailing slash (§1.2)', async () => {
    const r = await api.call('GET', '/api/v1/users/');
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(1);
  });

  it('checks auth, then path, then query, then body (§1.4)', async () => {
    const noToken = await api.call('PUT', '/api/v1/users/not-a-uuid', { token: null, body: '{' });
    expect([noToken.status, noToken.text]).toEqual([401, 'Missing or invalid Authorization header']);

    const badPath = await api.call('PUT', '/api/v1/users/not-a-uuid', {
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(badPath.status).toBe(400);
    expect(badPath.headers['content-type']).toBe(TEXT);
    expect(badPath.text).toMatch(/^Invalid URL: /);

    const badPathAndQuery = await api.call('DELETE', '/api/v1/attribute-definitions/nope?force=yes');
    expect(badPathAndQuery.text).toMatch(/^Invalid URL: /);

    const badQuery = await api.call('DELETE', `/api/v1/attribute-definitions/${MISSING_ID}?force=yes`);
    expect(badQuery.status).toBe(400);
    expect(badQuery.text).toMatch(/^Failed to deserialize query string: force/);

    const badType = await api.call('PUT', `/api/v1/users/${MISSING_ID}`, {
      body: '{"is_admin": "yes"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(badType.status).toBe(415);

    const shapeBeforeHandler = await api.call('PUT', `/api/v1/users/${MISSING_ID}`, {
      body: { is_admin: 'yes' },
    });
    expect(shapeBeforeHandler.status).toBe(422);
    const handler = await api.call('PUT', `/api/v1/users/${MISSING_ID}`, { body: { is_admin: true } });
    expect([handler.status, handler.json]).toEqual([404, { error: 'User not found' }]);
  });

  it('requires a JSON content type on body routes: 415 plain text otherwise', async () => {
    const expected = 'Expected request with `Content-Type: application/json`';
    for (const headers of [
      { 'content-type': '' },
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/xml' },
    ]) {
      const r = await api.call('POST', '/api/v1/users', { body: '{}', headers });
      expect([r.status, r.text, r.headers['content-type']]).toEqual([415, expected, TEXT]);
    }
    const none = await api.call('POST', '/api/v1/users');
    expect([none.status, none.text]).toEqual([415, expected]);
    for (const type of [
      'application/json; charset=utf-8',
      'application/vnd.rowgate+json',
      'Application/JSON',
    ]) {
      const r = await api.call('POST', '/api/v1/users', { body: '{}', headers: { 'content-type': type } });
      expect(r.status, type).toBe(422);
    }
  });

  it('answers malformed JSON with 400 and shape errors with 422 naming the field', async () => {
    for (const body of ['{', '', '{"username": "a",}', 'nul', '\u00ff']) {
      const r = await api.call('POST', '/api/v1/users', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.text).toMatch(/^Failed to parse the request body as JSON: /);
    }
    const prefix = 'Failed to deserialize the JSON body into the target type: ';
    const missing = await api.call('POST', '/api/v1/users', { body: { username: 'someone' } });
    expect([missing.status, missing.text]).toEqual([422, `${prefix}missing field \`password\``]);
    const wrongType = await api.call('POST', '/api/v1/users', {
      body: { username: 'someone', password: 'Abcdef1!', is_admin: 'true' },
    });
    expect([wrongType.status, wrongType.text]).toEqual([
      422,
      `${prefix}is_admin: invalid type: expected boolean`,
    ]);
    const nullable = await api.call('POST', '/api/v1/users', {
      body: { username: 'someone', password: 'Abcdef1!', email: 5 },
    });
    expect(nullable.text).toBe(`${prefix}email: invalid type: expected string or null`);
    for (const body of ['[]', '"text"', 'null', '42']) {
      const r = await api.call('POST', '/api/v1/users', { body });
      expect([r.status, r.headers['content-type']]).toEqual([422, TEXT]);
      expect(r.text).toBe(`${prefix}invalid type: expected object`);
    }
  });

  it('ignores unknown body fields (§1.3)', async () => {
    const r = await api.call('POST', '/api/v1/users', {
      body: {
        username: 'ignoring',
        password: 'Abcdef1!',
        attributes: { tenant: 'x' },
        is_active: false,
        id: MISSING_ID,
      },
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ username: 'ignoring', is_active: true, attributes: {} });
    expect(r.json.id).not.toBe(MISSING_ID);
  });

  it('refuses bodies over 2 MiB with 413', async () => {
    const r = await api.call('POST', '/api/v1/users', { body: `"${'x'.repeat(2 * 1024 * 1024 + 10)}"` });
    expect(r.status).toBe(413);
    expect(r.headers['content-type']).toBe(TEXT);
  });

  it('parses query strings strictly: 400 plain text for bad numbers, repeats and UUIDs', async () => {
    for (const query of [
      'page=abc',
      'page=-1',
      'page_size=1.5',
      'page=1&page=2',
      'page=',
      'page_size=%2B-1',
    ]) {
      const r = await api.call('GET', `/api/v1/users?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.text).toMatch(/^Failed to deserialize query string: .*page/);
    }
    const uuid = await api.call('GET', '/api/v1/audit/admin?actor_id=nope');
    expect([uuid.status, uuid.text]).toEqual([
      400,
      'Failed to deserialize query string: actor_id: invalid UUID `nope`',
    ]);
    const unknownIgnored = await api.call('GET', '/api/v1/users?colour=blue&page=1');
    expect(unknownIgnored.status).toBe(200);
  });

  it('answers a malformed UUID segment with 400 and accepts upper case ids', async () => {
    for (const id of ['123', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', `${MISSING_ID}0`, '%20']) {
      const r = await api.call('GET', `/api/v1/users/${id}`);
      expect(r.status, id).toBe(400);
      expect(r.text).toMatch(/^Invalid URL: /);
    }
    const upper = await api.call('GET', `/api/v1/users/${api.admin.id.toUpperCase()}`);
    expect(upper.status).toBe(200);
    expect(upper.json.id).toBe(api.admin.id);
    const badEncoding = await api.call('GET', '/api/v1/users/%zz');
    expect(badEncoding.status).toBe(400);
  });

  it('sends no CORS headers when no origin is configured', async () => {
    const r = await api.call('GET', '/api/v1/users', { headers: { origin: 'https://evil.example' } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const preflight = await api.call('OPTIONS', '/api/v1/users', {
      token: null,
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const r = await api.call('GET', '/api/v1/openapi.json', { token: null });
    expect(r.status).toBe(200);
    const doc = r.json;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/login',
        '/api/v1/auth/me',
        '/api/v1/users',
        '/api/v1/users/{id}',
        '/api/v1/users/{id}/password',
        '/api/v1/attribute-definitions',
        '/api/v1/attribute-definitions/{id}',
        '/api/v1/audit/queries',
        '/api/v1/audit/admin',
      ]),
    );
    const create = doc.paths['/api/v1/users'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
    expect(Object.keys(create.responses['201'].content['application/json'].schema.properties)).not.toContain(
      'password_hash',
    );
    expect(doc.paths['/api/v1/users'].get.security).toEqual([{ bearerAuth: [] }]);
  });

  it('never answers a client mistake with 500, on any documented route', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
    const bodies = [
      '{',
      '[]',
      'null',
      '{"username":{},"password":[]}',
      '{"attributes":"x","is_admin":1}',
      '"\u0000"',
    ];
    const ids = [MISSING_ID, 'x', api.admin.id.replace(/.$/, 'g')];
    const queries = [
      '',
      '?page=-5&page_size=x',
      '?page=99999999999999999999&page_size=9999999',
      '?force=1&from=x&to=y',
    ];
    let calls = 0;
    for (const [path, operations] of Object.entries(doc.paths as Record<string, object>)) {
      for (const method of Object.keys(operations)) {
        for (const id of ids) {
          for (const query of queries) {
            for (const body of method === 'get' ? [undefined] : bodies) {
              const url = path.replace(/\{[a-z_]+\}/g, id) + query;
              if (url.endsWith('/auth/login') || url.endsWith('/password')) continue; // argon2 cost; covered below
              const r = await api.call(method.toUpperCase(), url, body === undefined ? {} : { body });
              calls++;
              expect(r.status, `${method} ${url} ${body}`).toBeLessThan(500);
            }
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(100);
    for (const body of bodies.concat(['{"username":"a","password":"b"}'])) {
      expect((await api.call('POST', '/api/v1/auth/login', { body, token: null })).status).toBeLessThan(500);
      expect((await api.call('PUT', `/api/v1/users/${MISSING_ID}/password`, { body })).status).toBeLessThan(
        500,
      );
    }
    // Large page numbers stay correct (empty page) instead of overflowing the database's OFFSET.
    const far = await api.call('GET', '/api/v1/users?page=18446744073709551615&page_size=100');
    expect(far.status).toBe(200);
    expect(far.json).toMatchObject({ data: [], total: expect.any(Number), page_size: 100 });
  });
});

describe('API foundation: CORS for configured origins', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await openTestApi('sqlite', { corsAllowedOrigins: ['https://admin.example'] });
  });
  afterAll(() => api.dispose());

  it('allows the configured origin with credentials, and no other', async () => {
    const ok = await api.call('GET', '/api/v1/users', { headers: { origin: 'https://admin.example' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    const other = await api.call('GET', '/api/v1/users', { headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight from the configured origin before authentication', async () => {
    const r = await api.call('OPTIONS', '/api/v1/users', {
      token: null,
      headers: {
        origin: 'https://admin.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('https://admin.example');
    expect(r.headers['access-control-allow-methods']).toBe('GET, POST, PUT, DELETE');
    expect(String(r.headers['access-control-allow-headers']).toLowerCase()).toBe(
      'authorization, content-type',
    );
  });
});

describe('API foundation: store failures', () => {
  it('answers 500 JSON without internal details when the store fails, and 401 on login', async () => {
    const api = await openTestApi('sqlite');
    const token = api.token;
    await api.store.close();
    const r = await api.call('GET', '/api/v1/users', { token });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: 'Internal server error' });
    const login = await api.call('POST', '/api/v1/auth/login', {
      token: null,
      body: { username: 'admin', password: 'Admin123!' },
    });
    expect([login.status, login.json]).toEqual([401, { error: 'Invalid credentials' }]);
    await api.app.close();
  });
});
