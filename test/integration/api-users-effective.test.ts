/**
 * `GET /users/{id}/effective-policies` (api-contract §4.3): one entry per
 * assignment reaching the user on a data source, with its source; the
 * required `datasource_id`, and the 404s in order.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createPolicy } from '../../src/store/repos/policies.js';
import { assignPolicy } from '../../src/store/repos/policy-assignments.js';
import { STORE_ENGINES } from '../support/stores.js';
import { openTestApi, type TestApi } from '../support/api.js';

const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const cipher = new SecretCipher(randomBytes(32));

describe.each(STORE_ENGINES)('API effective policies on %s', (engine) => {
  let api: TestApi;
  let shop: string;
  let crm: string;
  let bob: string;
  let ids: Record<string, string>;
  const tx = <T>(work: (t: AuditedTx) => Promise<T>) => auditedTransaction(api.store, api.admin.id, work);

  beforeAll(async () => {
    api = await openTestApi(engine);
    const config = { host: 'localhost', port: 5432, database: 'd', username: 'u', password: 'p' };
    shop = (await tx((t) => createDataSource(t, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
    crm = (await tx((t) => createDataSource(t, cipher, { name: 'crm', ds_type: 'postgres', config }))).id;
    bob = (await api.seedUser('bob')).id;
    const role = async (name: string) =>
      (await api.call('POST', '/api/v1/roles', { body: { name } })).json.id as string;
    const [staff, sales, dormant] = [await role('staff'), await role('sales'), await role('dormant')];
    await api.call('POST', `/api/v1/roles/${sales}/parents`, { body: { parent_role_id: staff } });
    await api.call('POST', `/api/v1/roles/${sales}/members`, { body: { user_ids: [bob] } });
    await api.call('POST', `/api/v1/roles/${dormant}/members`, { body: { user_ids: [bob] } });
    await api.call('PUT', `/api/v1/roles/${dormant}`, { body: { is_active: false } });
    const policy = async (name: string, is_enabled = true) =>
      (
        await tx((t) =>
          createPolicy(t, {
            name,
            policy_type: 'column_deny',
            targets: [{ schemas: ['public'], tables: ['t'], columns: ['c'] }],
            is_enabled,
          }),
        )
      ).id;
    ids = {
      everyone: await policy('everyone'),
      mine: await policy('mine', false),
      team: await policy('team'),
      company: await policy('company'),
      asleep: await policy('asleep'),
      elsewhere: await policy('elsewhere'),
      other: await policy('other-user'),
    };
    const assign = (policy_id: string, extra: Record<string, unknown>, data_source_id = shop) =>
      tx((t) => assignPolicy(t, { policy_id, data_source_id, ...extra }));
    await assign(ids.everyone!, { scope: 'all', priority: 5 });
    await assign(ids.mine!, { user_id: bob, priority: 10 });
    await assign(ids.team!, { role_id: sales, scope: 'role', priority: 20 });
    await assign(ids.company!, { role_id: staff, scope: 'role', priority: 30 });
    await assign(ids.asleep!, { role_id: dormant, scope: 'role', priority: 40 });
    await assign(ids.elsewhere!, { scope: 'all' }, crm);
    await assign(ids.other!, { user_id: api.admin.id });
  });
  afterAll(() => api.dispose());

  it('lists every assignment reaching the user on the data source, with its source', async () => {
    const r = await api.call('GET', `/api/v1/users/${bob}/effective-policies?datasource_id=${shop}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      {
        policy_id: ids.everyone,
        policy_name: 'everyone',
        policy_type: 'column_deny',
        datasource_name: 'shop',
        priority: 5,
        source: 'all users',
        is_enabled: true,
      },
      {
        policy_id: ids.mine,
        policy_name: 'mine',
        policy_type: 'column_deny',
        datasource_name: 'shop',
        priority: 10,
        source: 'direct',
        is_enabled: false,
      },
      {
        policy_id: ids.team,
        policy_name: 'team',
        policy_type: 'column_deny',
        datasource_name: 'shop',
        priority: 20,
        source: "role 'sales'",
        is_enabled: true,
      },
      {
        policy_id: ids.company,
        policy_name: 'company',
        policy_type: 'column_deny',
        datasource_name: 'shop',
        priority: 30,
        source: "inherited from 'staff'",
        is_enabled: true,
      },
    ]);
    const other = await api.call('GET', `/api/v1/users/${bob}/effective-policies?datasource_id=${crm}`);
    expect(other.json.map((p: { policy_name: string }) => p.policy_name)).toEqual(['elsewhere']);
  });

  it('requires datasource_id and answers 404 for the user first, then the data source', async () => {
    const missing = await api.call('GET', `/api/v1/users/${bob}/effective-policies`);
    expect([missing.status, missing.text]).toEqual([
      400,
      'Failed to deserialize query string: missing field `datasource_id`',
    ]);
    const bad = await api.call('GET', `/api/v1/users/${bob}/effective-policies?datasource_id=shop`);
    expect(bad.status).toBe(400);
    const noUser = await api.call(
      'GET',
      `/api/v1/users/${MISSING_ID}/effective-policies?datasource_id=${MISSING_ID}`,
    );
    expect([noUser.status, noUser.json]).toEqual([404, { error: 'User not found' }]);
    const noSource = await api.call(
      'GET',
      `/api/v1/users/${bob}/effective-policies?datasource_id=${MISSING_ID}`,
    );
    expect([noSource.status, noSource.json]).toEqual([404, { error: 'Data source not found' }]);
  });
});
