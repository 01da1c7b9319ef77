/**
 * Policy update and delete (api-contract §4.10, §5.11): the PUT check order,
 * version bump on every PUT, optimistic concurrency (stale version and two
 * concurrent writers), enable/disable, definition rules on the final type,
 * decision-function detach, audit `{before, after}` and `{before}` rows,
 * snapshots, and the delete cascade.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRowsOf } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import { MISSING_ID, openPolicyApi, type PolicyTestApi } from './api-policies-fixture.js';

const ROW_FILTER = {
  name: 'tenant-isolation',
  policy_type: 'row_filter',
  targets: [{ schemas: ['public'], tables: ['orders'] }],
  definition: { filter_expression: 'org = {user.tenant}' },
};

describe.each(STORE_ENGINES)('API policy updates on %s', (engine) => {
  let api: PolicyTestApi;
  let id: string;
  beforeEach(async () => {
    api = await openPolicyApi(engine);
    id = (await api.call('POST', '/api/v1/policies', { body: ROW_FILTER })).json.id;
  });
  afterEach(() => api.dispose());

  const put = (body: unknown, policyId = id) => api.call('PUT', `/api/v1/policies/${policyId}`, { body });
  const updates = async () =>
    (await auditRowsOf(api.store, 'policy', id)).filter((a) => a.action === 'update');

  it('bumps the version on every PUT, even an empty one, and answers with assignments', async () => {
    const first = await put({ version: 1 });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ version: 2, name: 'tenant-isolation', assignments: [] });
    const second = await put({ version: 2, description: 'rows of the tenant', is_enabled: false });
    expect(second.json).toMatchObject({ version: 3, description: 'rows of the tenant', is_enabled: false });
    // null = unchanged for ordinary fields (§1.3).
    const nulls = await put({
      version: 3,
      name: null,
      description: null,
      is_enabled: null,
      targets: null,
      definition: null,
    });
    expect(nulls.json).toMatchObject({
      version: 4,
      description: 'rows of the tenant',
      is_enabled: false,
      ...ROW_FILTER,
    });
    const enabled = await put({ version: 4, is_enabled: true });
    expect(enabled.json.is_enabled).toBe(true);
    const snapshots = await api.store.db
      .selectFrom('policy_version')
      .select(['version', 'change_type'])
      .where('policy_id', '=', id)
      .orderBy('version')
      .execute();
    expect(snapshots).toEqual([
      { version: 1, change_type: 'create' },
      ...[2, 3, 4, 5].map((version) => ({ version, change_type: 'update' })),
    ]);
    expect((await updates()).map((a) => a.changes)).toEqual([
      { before: { version: 1 }, after: { version: 2 } },
      {
        before: { description: null, is_enabled: true, version: 2 },
        after: { description: 'rows of the tenant', is_enabled: false, version: 3 },
      },
      { before: { version: 3 }, after: { version: 4 } },
      { before: { is_enabled: false, version: 4 }, after: { is_enabled: true, version: 5 } },
    ]);
  });

  it('audits sent fields with arrays on both sides and definition_changed, never the definition', async () => {
    const r = await put({
      version: 1,
      name: 'tenants',
      targets: [{ schemas: ['*'], tables: ['orders', 'payments'] }],
      definition: { filter_expression: 'org = {user.org}' },
    });
    expect(r.status).toBe(200);
    expect(r.json.definition).toEqual({ filter_expression: 'org = {user.org}' });
    const [row] = await updates();
    expect(row?.changes).toEqual({
      before: {
        name: 'tenant-isolation',
        targets: [{ schemas: ['public'], tables: ['orders'] }],
        version: 1,
      },
      after: {
        name: 'tenants',
        targets: [{ schemas: ['*'], tables: ['orders', 'payments'] }],
        version: 2,
        definition_changed: true,
      },
    });
    expect(JSON.stringify(row)).not.toContain('user.org');
  });

  it('checks 404 → name → version → targets → definition → decision function → uniqueness', async () => {
    await api.call('POST', '/api/v1/policies', { body: { ...ROW_FILTER, name: 'taken' } });
    const cases: [unknown, string, number, string][] = [
      [{ version: 9, name: 'x' }, MISSING_ID, 404, 'Policy not found'],
      [{ version: 9, name: ' x' }, id, 422, 'Policy name must not have leading or trailing whitespace'],
      [{ version: 9, targets: [] }, id, 409, 'Policy version conflict: expected 1, got 9'],
      [{ version: 1, targets: [] }, id, 422, "'targets' must not be empty"],
      [
        { version: 1, policy_type: 'column_mask' },
        id,
        422,
        "targets[0]: 'column_mask' requires non-empty 'columns'",
      ],
      [
        {
          version: 1,
          policy_type: 'column_mask',
          targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
        },
        id,
        422,
        "column_mask: missing required field 'mask_expression'",
      ],
      [
        { version: 1, definition: { filter_expression: 'a + ' } },
        id,
        422,
        'Invalid filter expression: syntax error at end of input',
      ],
      [
        { version: 1, decision_function_id: MISSING_ID },
        id,
        422,
        'decision_function_id references a non-existent decision function',
      ],
      [{ version: 1, name: 'taken' }, id, 409, 'Policy name already exists'],
    ];
    for (const [body, target, status, message] of cases) {
      const r = await put(body, target);
      expect([r.status, r.json], message).toEqual([status, { error: message }]);
    }
    const stored = await api.call('GET', `/api/v1/policies/${id}`);
    expect(stored.json).toMatchObject({ version: 1, ...ROW_FILTER });
    expect(await updates()).toHaveLength(0);
    const noVersion = await put({ name: 'x' });
    expect([noVersion.status, noVersion.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `version`',
    ]);
    const bigVersion = await put({ version: 2 ** 31 });
    expect(bigVersion.status).toBe(422);
  });

  it('nulls the definition when the final type has none; detaches a decision function with null', async () => {
    const r = await put({ version: 1, policy_type: 'table_deny' });
    expect([r.status, r.json.definition, r.json.policy_type]).toEqual([200, null, 'table_deny']);
    const back = await put({ version: 2, policy_type: 'row_filter' });
    expect([back.status, back.json]).toEqual([
      422,
      { error: "row_filter policy requires a 'definition' with 'filter_expression'" },
    ]);
    const detached = await put({ version: 2, decision_function_id: null });
    expect(detached.status).toBe(200);
    expect(detached.json).not.toHaveProperty('decision_function_id');
    expect(detached.json).not.toHaveProperty('decision_function');
    const [, second] = await updates();
    expect(second?.changes).toEqual({
      before: { decision_function_id: null, version: 2 },
      after: { decision_function_id: null, version: 3 },
    });
  });

  it('lets exactly one of two concurrent updates with the same version win; the other gets 409', async () => {
    const [a, b] = await Promise.all([
      put({ version: 1, description: 'from a' }),
      put({ version: 1, description: 'from b' }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    const winner = a.status === 200 ? a : b;
    expect(loser.json).toEqual({ error: 'Policy version conflict: expected 2, got 1' });
    const stored = await api.call('GET', `/api/v1/policies/${id}`);
    expect(stored.json).toMatchObject({ version: 2, description: winner.json.description });
    expect(await updates()).toHaveLength(1);
    const snapshots = await api.store.db
      .selectFrom('policy_version')
      .select('version')
      .where('policy_id', '=', id)
      .execute();
    expect(snapshots.map((s) => s.version).sort()).toEqual([1, 2]);
  });

  it('deletes with its assignments and history (204), audits {before}, then 404', async () => {
    const ds = await api.seedDataSource('prod', { public: { orders: ['id', 'org'] } });
    await api.assign({ policy_id: id, data_source_id: ds, scope: 'all' });
    await put({ version: 2, is_enabled: false });
    const r = await api.call('DELETE', `/api/v1/policies/${id}`);
    expect([r.status, r.text]).toEqual([204, '']);
    const deletes = (await auditRowsOf(api.store, 'policy', id)).filter((a) => a.action === 'delete');
    expect(deletes.map((a) => a.changes)).toEqual([
      {
        before: {
          name: 'tenant-isolation',
          description: null,
          policy_type: 'row_filter',
          is_enabled: false,
          version: 3,
          decision_function_id: null,
        },
      },
    ]);
    const db = api.store.db;
    expect(await db.selectFrom('policy_assignment').selectAll().execute()).toEqual([]);
    expect(await db.selectFrom('policy_version').selectAll().execute()).toEqual([]);
    const again = await api.call('DELETE', `/api/v1/policies/${id}`);
    expect([again.status, again.json]).toEqual([404, { error: 'Policy not found' }]);
    expect((await api.call('GET', `/api/v1/policies/${id}`)).status).toBe(404);
  });
});
