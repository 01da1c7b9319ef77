/**
 * Policy assignments (api-contract §4.7) on both store engines: scope
 * inference and the scope 400s in order, 404s, 409 duplicates (Q10 fixed),
 * priority rules, the version bump, the `policy` `assign`/`unassign` audit
 * rows, and deleting through another data source's path (Q11 fixed).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { createPolicy } from '../../src/store/repos/policies.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  MISSING_ID,
  openDataSourceApi,
  TS,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API policy assignments on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  let policyId: string;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
    ds = await api.createDataSource();
    policyId = await newPolicy('tenant-isolation');
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const newPolicy = async (name: string) =>
    (
      await auditedTransaction(api.store, api.admin.id, (tx) =>
        createPolicy(tx, {
          name,
          policy_type: 'row_filter',
          targets: [{ schemas: ['public'], tables: ['orders'] }],
          definition: { filter_expression: "status = 'open'" },
        }),
      )
    ).id;
  const assign = (body: Record<string, unknown>, target = ds) =>
    api.call('POST', `/api/v1/datasources/${target}/policies`, { body: { policy_id: policyId, ...body } });
  const version = async () =>
    (
      await api.store.db
        .selectFrom('policy')
        .select('version')
        .where('id', '=', policyId)
        .executeTakeFirstOrThrow()
    ).version;

  it('assigns to everyone, a user and a role (201), infers the scope, lists by priority', async () => {
    const bob = await api.seedUser('bob');
    const role = (await api.call('POST', '/api/v1/roles', { body: { name: 'analysts' } })).json;
    const all = await assign({ priority: 50 });
    expect(all.status).toBe(201);
    expect(Object.keys(all.json)).toEqual([
      'id',
      'policy_id',
      'policy_name',
      'data_source_id',
      'datasource_name',
      'user_id',
      'username',
      'role_id',
      'role_name',
      'assignment_scope',
      'priority',
      'created_at',
      'updated_at',
    ]);
    expect(all.json).toMatchObject({
      policy_id: policyId,
      policy_name: 'tenant-isolation',
      data_source_id: ds,
      datasource_name: 'warehouse',
      user_id: null,
      username: null,
      role_id: null,
      role_name: null,
      assignment_scope: 'all',
      priority: 50,
    });
    expect(all.json.created_at).toMatch(TS);
    const user = await assign({ user_id: bob.id.toUpperCase() });
    expect(user.json).toMatchObject({
      assignment_scope: 'user',
      user_id: bob.id,
      username: 'bob',
      priority: 100,
    });
    const viaRole = await assign({ role_id: role.id, scope: 'role', priority: -7 });
    expect(viaRole.json).toMatchObject({ assignment_scope: 'role', role_id: role.id, role_name: 'analysts' });
    const ghost = await assign({ user_id: MISSING_ID, scope: 'user', priority: 2147483647 });
    expect(ghost.json).toMatchObject({ user_id: MISSING_ID, username: null }); // Q9 replicated

    const list = await api.call('GET', `/api/v1/datasources/${ds}/policies`);
    expect(list.json.map((a: { priority: number }) => a.priority)).toEqual([-7, 50, 100, 2147483647]);
    expect(await version()).toBe(5);
    const audit = (await auditRowsOf(api.store, 'policy', policyId)).filter((a) => a.action === 'assign');
    expect(audit.map((a) => a.changes)).toEqual([
      {
        assignment_id: all.json.id,
        datasource_id: ds,
        scope: 'all',
        user_id: null,
        role_id: null,
        priority: 50,
      },
      {
        assignment_id: user.json.id,
        datasource_id: ds,
        scope: 'user',
        user_id: bob.id,
        role_id: null,
        priority: 100,
      },
      {
        assignment_id: viaRole.json.id,
        datasource_id: ds,
        scope: 'role',
        user_id: null,
        role_id: role.id,
        priority: -7,
      },
      {
        assignment_id: ghost.json.id,
        datasource_id: ds,
        scope: 'user',
        user_id: MISSING_ID,
        role_id: null,
        priority: 2147483647,
      },
    ]);
  });

  it('checks 404 DS → 404 policy → scope (400) → 404 role → 409, in that order', async () => {
    const bob = await api.seedUser('bob');
    const role = (await api.call('POST', '/api/v1/roles', { body: { name: 'analysts' } })).json;
    const cases: [Record<string, unknown>, string | undefined, number, string][] = [
      [{ policy_id: MISSING_ID, scope: 'nope' }, MISSING_ID, 404, 'Data source not found'],
      [{ policy_id: MISSING_ID, scope: 'nope' }, undefined, 404, 'Policy not found'],
      [{ scope: 'user' }, undefined, 400, "scope 'user' requires user_id"],
      [
        { scope: 'user', user_id: bob.id, role_id: role.id },
        undefined,
        400,
        "scope 'user' must not have role_id",
      ],
      [{ scope: 'role', user_id: bob.id }, undefined, 400, "scope 'role' requires role_id"],
      [{ user_id: bob.id, role_id: role.id }, undefined, 400, "scope 'role' must not have user_id"],
      [{ scope: 'all', user_id: bob.id }, undefined, 400, "scope 'all' must not have user_id or role_id"],
      [{ scope: 'everyone' }, undefined, 400, "scope must be 'user', 'role', or 'all'"],
      [{ role_id: MISSING_ID }, undefined, 404, 'Role not found'],
    ];
    for (const [body, target, status, message] of cases) {
      const r = await assign(body, target);
      expect([r.status, r.json], message).toEqual([status, { error: message }]);
    }
    expect((await assign({})).status).toBe(201);
    const dupAll = await assign({ scope: 'all', priority: 1 });
    expect([dupAll.status, dupAll.json]).toEqual([
      409,
      { error: 'This policy is already assigned to this datasource for all users' },
    ]);
    expect((await assign({ user_id: bob.id })).status).toBe(201);
    const dupUser = await assign({ user_id: bob.id, priority: 3 });
    expect([dupUser.status, dupUser.json]).toEqual([409, { error: 'This policy assignment already exists' }]);
    expect((await assign({ role_id: role.id })).status).toBe(201);
    const dupRole = await assign({ role_id: role.id }); // Q10 fixed
    expect([dupRole.status, dupRole.json]).toEqual([409, { error: 'This policy assignment already exists' }]);

    const bodies: [Record<string, unknown>, RegExp][] = [
      [{ priority: null }, /: priority: invalid type/],
      [{ priority: 2147483648 }, /: priority: invalid type/],
      [{ priority: 1.5 }, /: priority: invalid type/],
      [{ user_id: 'bob' }, /: user_id: /],
    ];
    for (const [body, pattern] of bodies) {
      const r = await assign(body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.text).toMatch(/^Failed to deserialize the JSON body into the target type: /);
      expect(r.text).toMatch(pattern);
    }
    const noPolicy = await api.call('POST', `/api/v1/datasources/${ds}/policies`, { body: {} });
    expect([noPolicy.status, noPolicy.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `policy_id`',
    ]);
    expect(await version()).toBe(4); // three successful assignments, nothing else
  });

  it('unassigns (204): bumps the version, audits, and refuses another data source (Q11 fixed)', async () => {
    const other = await api.createDataSource('other');
    const a = (await assign({})).json;
    const wrongDs = await api.call('DELETE', `/api/v1/datasources/${other}/policies/${a.id}`);
    expect([wrongDs.status, wrongDs.json]).toEqual([404, { error: 'Assignment not found' }]);
    const noDs = await api.call('DELETE', `/api/v1/datasources/${MISSING_ID}/policies/${a.id}`);
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
    const bad = await api.call('DELETE', `/api/v1/datasources/${ds}/policies/x`);
    expect([bad.status, bad.text]).toEqual([400, 'Invalid URL: Cannot parse `x` to a UUID']);

    const r = await api.call('DELETE', `/api/v1/datasources/${ds}/policies/${a.id}`);
    expect([r.status, r.text]).toEqual([204, '']);
    expect((await api.call('GET', `/api/v1/datasources/${ds}/policies`)).json).toEqual([]);
    expect(await version()).toBe(3);
    const audit = await auditRowsOf(api.store, 'policy', policyId);
    expect(audit.at(-1)).toMatchObject({
      action: 'unassign',
      actor_id: api.admin.id,
      changes: { assignment_id: a.id, datasource_id: ds, scope: 'all', user_id: null, role_id: null },
    });
    const again = await api.call('DELETE', `/api/v1/datasources/${ds}/policies/${a.id}`);
    expect([again.status, again.json]).toEqual([404, { error: 'Assignment not found' }]);
    const list = await api.call('GET', `/api/v1/datasources/${MISSING_ID}/policies`);
    expect([list.status, list.json]).toEqual([404, { error: 'Data source not found' }]);
  });
});
