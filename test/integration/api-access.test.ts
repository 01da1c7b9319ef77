/**
 * Data-source access grants (api-contract §4.6) on both store engines: user
 * and role grants replaced as a whole, de-duplicated (Q8 fixed), unknown
 * users stored (Q9 replicated), unknown/inactive roles refused in the given
 * order, the `datasource` `update` audit rows, and authentication first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/admin/auth/jwt.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  JWT_SECRET,
  MISSING_ID,
  openDataSourceApi,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API data-source access on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
    ds = await api.createDataSource();
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const usernames = async (id = ds) =>
    (await api.call('GET', `/api/v1/datasources/${id}/users`)).json.map(
      (u: { username: string }) => u.username,
    );
  const accessAudit = async () =>
    (await auditRowsOf(api.store, 'datasource', ds))
      .filter((a) => a.action === 'update')
      .map((a) => a.changes);

  it('replaces the user grants: duplicates collapse, unknown ids are kept silently', async () => {
    expect(await usernames()).toEqual(['admin']);
    const bob = await api.seedUser('bob');
    const carol = await api.seedUser('carol');
    const r = await api.call('PUT', `/api/v1/datasources/${ds}/users`, {
      body: { user_ids: [carol.id, bob.id.toUpperCase(), bob.id, MISSING_ID] },
    });
    expect([r.status, r.text]).toEqual([204, '']);
    expect(await usernames()).toEqual(['bob', 'carol']); // created_at order; the unknown id is skipped
    const list = await api.call('GET', `/api/v1/datasources/${ds}/users`);
    expect(Object.keys(list.json[0])).toEqual([
      'id',
      'username',
      'is_admin',
      'is_active',
      'email',
      'display_name',
      'attributes',
      'last_login_at',
      'created_at',
      'updated_at',
    ]);
    expect(
      (await api.call('PUT', `/api/v1/datasources/${ds}/users`, { body: { user_ids: [] } })).status,
    ).toBe(204);
    expect(await usernames()).toEqual([]);
    expect(await accessAudit()).toEqual([
      { field: 'user_access', before: [api.admin.id], after: [carol.id, bob.id, MISSING_ID] },
      { field: 'user_access', before: [carol.id, bob.id, MISSING_ID], after: [] },
    ]);
  });

  it('answers 404 DS and rejects malformed user-grant bodies before touching anything', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { user_ids: [] }],
    ] as const) {
      const r = await api.call(method, `/api/v1/datasources/${MISSING_ID}/users`, body ? { body } : {});
      expect([r.status, r.json]).toEqual([404, { error: 'Data source not found' }]);
    }
    const missing = await api.call('PUT', `/api/v1/datasources/${ds}/users`, { body: {} });
    expect([missing.status, missing.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `user_ids`',
    ]);
    const notUuid = await api.call('PUT', `/api/v1/datasources/${ds}/users`, { body: { user_ids: ['bob'] } });
    expect(notUuid.status).toBe(422);
    expect(notUuid.text).toMatch(/^Failed to deserialize the JSON body into the target type: user_ids\.0/);
    const noType = await api.call('PUT', `/api/v1/datasources/${ds}/users`, {
      body: '{"user_ids":[]}',
      headers: { 'content-type': 'text/plain' },
    });
    expect([noType.status, noType.text]).toEqual([
      415,
      'Expected request with `Content-Type: application/json`',
    ]);
    expect(await accessAudit()).toEqual([]);
  });

  it('replaces the role grants: roles must exist and be active, checked in order', async () => {
    const role = async (name: string) =>
      (await api.call('POST', '/api/v1/roles', { body: { name } })).json as { id: string; name: string };
    const analysts = await role('analysts');
    const auditors = await role('auditors');
    const retired = await role('retired');
    await api.call('PUT', `/api/v1/roles/${retired.id}`, { body: { is_active: false } });
    const put = (role_ids: string[], target = ds) =>
      api.call('PUT', `/api/v1/datasources/${target}/access/roles`, { body: { role_ids } });

    const unknownFirst = await put([MISSING_ID, retired.id]);
    expect([unknownFirst.status, unknownFirst.json]).toEqual([
      404,
      { error: `Role '${MISSING_ID}' not found` },
    ]);
    const inactiveFirst = await put([analysts.id, retired.id, MISSING_ID]);
    expect([inactiveFirst.status, inactiveFirst.json]).toEqual([
      400,
      { error: "Role 'retired' is inactive" },
    ]);
    const noDs = await put([MISSING_ID], MISSING_ID);
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);

    expect((await put([auditors.id, analysts.id, auditors.id])).status).toBe(204);
    const list = await api.call('GET', `/api/v1/datasources/${ds}/access/roles`);
    expect(list.json).toEqual([
      { id: analysts.id, name: 'analysts', is_active: true },
      { id: auditors.id, name: 'auditors', is_active: true },
    ]);
    // A grant on a role deactivated later is still listed, with its state.
    await api.call('PUT', `/api/v1/roles/${auditors.id}`, { body: { is_active: false } });
    expect((await api.call('GET', `/api/v1/datasources/${ds}/access/roles`)).json[1]).toEqual({
      id: auditors.id,
      name: 'auditors',
      is_active: false,
    });
    expect((await put([analysts.id])).status).toBe(204);
    expect(await accessAudit()).toEqual([
      { field: 'role_access', before: [], after: [auditors.id, analysts.id] },
      { field: 'role_access', before: [auditors.id, analysts.id], after: [analysts.id] },
    ]);
    const gone = await api.call('GET', `/api/v1/datasources/${MISSING_ID}/access/roles`);
    expect([gone.status, gone.json]).toEqual([404, { error: 'Data source not found' }]);
  });

  it('authenticates before anything else: 401 without a token, 403 for a non-admin', async () => {
    const noToken = await api.call('PUT', `/api/v1/datasources/not-a-uuid/users`, {
      token: null,
      body: '{',
    });
    expect([noToken.status, noToken.text]).toEqual([401, 'Missing or invalid Authorization header']);
    const viewer = await api.seedUser('viewer');
    const token = await signToken({ secret: JWT_SECRET, expiryHours: 1 }, { ...viewer, is_admin: false });
    const forbidden = await api.call('GET', `/api/v1/datasources/${ds}/users`, { token });
    expect([forbidden.status, forbidden.text]).toEqual([403, 'Admin access required']);
    const bogus = await api.call('GET', `/api/v1/datasources/${ds}/access/roles`, { token: 'x.y.z' });
    expect([bogus.status, bogus.text]).toEqual([401, 'Invalid or expired token']);
  });
});
