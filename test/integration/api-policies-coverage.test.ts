/**
 * `POST /policies/validate-expression` and `GET /policies/{id}/anchor-coverage`
 * (api-contract §4.10, §6.3, §6.4), and the "never a 500 for a client
 * mistake" sweep over every policy, policy-YAML and decision-function route.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaId, tableId } from '../../src/store/ids.js';
import { createColumnAnchor, createRelationship } from '../../src/store/repos/relationships.js';
import { auditRowsOf, documentedOperations, garbageRequests } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import { MISSING_ID, openPolicyApi, type PolicyTestApi } from './api-policies-fixture.js';

describe.each(STORE_ENGINES)('API policy expressions and coverage on %s', (engine) => {
  let api: PolicyTestApi;
  beforeEach(async () => {
    api = await openPolicyApi(engine);
  });
  afterEach(() => api.dispose());

  const validate = (body: unknown) => api.call('POST', '/api/v1/policies/validate-expression', { body });
  const createPolicy = async (body: Record<string, unknown>) => {
    const r = await api.call('POST', '/api/v1/policies', { body });
    expect(r.status, r.text).toBe(201);
    return r.json.id as string;
  };

  it('validates filters and masks with the save-time grammar, always 200, error key only when invalid', async () => {
    expect(
      (await validate({ expression: 'org = {user.tenant} AND status IN (1, 2)', is_mask: false })).json,
    ).toEqual({ valid: true });
    expect((await validate({ expression: "'***-**-' || RIGHT(ssn, 4)", is_mask: true })).json).toEqual({
      valid: true,
    });
    const cases: [string, boolean, string][] = [
      [
        'upper(org) = 1',
        false,
        "Invalid filter expression: Function 'upper' in filter expressions is not supported. For complex expressions, use column masks instead.",
      ],
      ['org = (select 1)', false, 'Invalid filter expression: subqueries are not supported'],
      ['org = 1; drop table t', false, 'Invalid filter expression: '],
      ['', false, 'Invalid filter expression: expression is empty'],
      ['foo(ssn)', true, "Invalid mask expression: Unknown function 'foo' in mask expression"],
    ];
    for (const [expression, is_mask, error] of cases) {
      const r = await validate({ expression, is_mask });
      expect(r.status).toBe(200);
      expect(r.json.valid, expression).toBe(false);
      expect(r.json.error.startsWith(error), `${expression}: ${r.json.error}`).toBe(true);
    }
    const missing = await validate({ expression: '1=1' });
    expect([missing.status, missing.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `is_mask`',
    ]);
    expect(await auditRowsOf(api.store, 'policy')).toEqual([]);
  });

  it('classifies every referenced column on every matched table of every assigned data source', async () => {
    const alpha = await api.seedDataSource('alpha', { public: { orders: ['id', 'org', 'status'] } });
    const prod = await api.seedDataSource(
      'prod',
      {
        public: {
          orders: ['id', 'org', 'status'],
          payments: ['id', 'order_id', 'status'],
          refunds: ['id', 'status', 'tenant_code'],
          notes: ['id', 'status'],
          audit: ['id', 'status'],
        },
        other: { orders: ['id'] },
      },
      { public: 'sales' },
    );
    const table = (name: string) => tableId(schemaId(prod, 'public'), name);
    const rel = await api.asAdmin((tx) =>
      createRelationship(tx, prod, {
        child_table_id: table('payments'),
        child_column_name: 'order_id',
        parent_table_id: table('orders'),
        parent_column_name: 'id',
      }),
    );
    await api.asAdmin(async (tx) => {
      await createColumnAnchor(tx, prod, {
        child_table_id: table('payments'),
        resolved_column_name: 'org',
        relationship_id: rel.id,
      });
      await createColumnAnchor(tx, prod, {
        child_table_id: table('refunds'),
        resolved_column_name: 'org',
        actual_column_name: 'tenant_code',
      });
      await createColumnAnchor(tx, prod, {
        child_table_id: table('audit'),
        resolved_column_name: 'org',
        actual_column_name: 'tenant',
      });
    });
    const id = await createPolicy({
      name: 'tenant',
      policy_type: 'row_filter',
      targets: [{ schemas: ['public'], tables: ['*'] }],
      definition: { filter_expression: "status <> 'void' AND org = {user.tenant}" },
    });
    await api.assign({ policy_id: id, data_source_id: prod, scope: 'all' });
    await api.assign({ policy_id: id, data_source_id: alpha, scope: 'all' });

    const r = await api.call('GET', `/api/v1/policies/${id}/anchor-coverage`);
    expect(r.status).toBe(200);
    const onTable = (column: string) => ({ kind: 'on_table', column });
    const entry = (ds: string, name: string, schema: string, tableName: string, org: object) => ({
      data_source_id: ds,
      data_source_name: name,
      schema,
      schema_upstream: 'public',
      table: tableName,
      verdicts: [org, onTable('status')],
    });
    expect(r.json).toEqual({
      policy_id: id,
      policy_type: 'row_filter',
      coverage: [
        entry(alpha, 'alpha', 'public', 'orders', onTable('org')),
        entry(prod, 'prod', 'sales', 'audit', {
          kind: 'missing_column_on_alias_target',
          column: 'org',
          actual_column_name: 'tenant',
        }),
        entry(prod, 'prod', 'sales', 'notes', { kind: 'missing_anchor', column: 'org' }),
        entry(prod, 'prod', 'sales', 'orders', onTable('org')),
        entry(prod, 'prod', 'sales', 'payments', {
          kind: 'anchor_walk',
          column: 'org',
          via_relationship_id: rel.id,
          via_child_column: 'order_id',
          via_parent_column: 'id',
          parent_schema: 'sales',
          parent_table: 'orders',
        }),
        entry(prod, 'prod', 'sales', 'refunds', {
          kind: 'anchor_alias',
          column: 'org',
          actual_column_name: 'tenant_code',
        }),
      ],
    });
  });

  it('answers [] for other types and for filters without columns; 404 and 422 as documented', async () => {
    const ds = await api.seedDataSource('prod', { public: { orders: ['id', 'org'] } });
    const mask = await createPolicy({
      name: 'mask',
      policy_type: 'column_mask',
      targets: [{ schemas: ['*'], tables: ['*'], columns: ['org'] }],
      definition: { mask_expression: "'x'" },
    });
    const all = await createPolicy({
      name: 'all',
      policy_type: 'row_filter',
      targets: [{ schemas: ['*'], tables: ['*'] }],
      definition: { filter_expression: '1=1' },
    });
    for (const id of [mask, all]) await api.assign({ policy_id: id, data_source_id: ds, scope: 'all' });
    expect((await api.call('GET', `/api/v1/policies/${mask}/anchor-coverage`)).json).toEqual({
      policy_id: mask,
      policy_type: 'column_mask',
      coverage: [],
    });
    expect((await api.call('GET', `/api/v1/policies/${all}/anchor-coverage`)).json).toEqual({
      policy_id: all,
      policy_type: 'row_filter',
      coverage: [],
    });
    const missing = await api.call('GET', `/api/v1/policies/${MISSING_ID}/anchor-coverage`);
    expect([missing.status, missing.json]).toEqual([404, { error: 'Policy not found' }]);

    // Stored rows the API would not accept (written by an older version or by hand).
    const db = api.store.db;
    await db
      .updateTable('policy')
      .set({ definition: '{"filter_expression":"  "}' })
      .where('id', '=', all)
      .execute();
    const blank = await api.call('GET', `/api/v1/policies/${all}/anchor-coverage`);
    expect([blank.status, blank.json]).toEqual([
      422,
      { error: 'row_filter policy is missing filter_expression' },
    ]);
    await db.updateTable('policy').set({ definition: null }).where('id', '=', all).execute();
    expect((await api.call('GET', `/api/v1/policies/${all}/anchor-coverage`)).status).toBe(422);
    await db
      .updateTable('policy')
      .set({ definition: '{"filter_expression":"org = ("}' })
      .where('id', '=', all)
      .execute();
    const broken = await api.call('GET', `/api/v1/policies/${all}/anchor-coverage`);
    expect(broken.status).toBe(422);
    expect(broken.json.error).toMatch(/^filter parse failed: /);
  });

  it('never answers a client mistake with 500 on the policy and decision-function routes', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
    const policy = await createPolicy({
      name: 'p',
      policy_type: 'row_filter',
      targets: [{ schemas: ['*'], tables: ['*'] }],
      definition: { filter_expression: 'org = {user.tenant}' },
    });
    const bodies = [
      '{',
      '[]',
      'null',
      '"\u0000"',
      '{"name":{},"policy_type":[],"targets":"x","version":"1"}',
      '{"name":"q","policy_type":"row_filter","targets":[null,1,{"schemas":"x","tables":[1]}],"definition":[]}',
      '{"version":1,"targets":[{"schemas":["*"],"tables":["*"],"columns":{}}],"definition":{"filter_expression":"\u0000"}}',
      '{"expression":"' + 'x = 1 AND '.repeat(2000) + 'true","is_mask":false}',
      '{"decision_fn":1,"context":null,"evaluate_context":5}',
    ];
    const ids = [MISSING_ID, policy, 'x', policy.replace(/.$/, 'g')];
    const queries = [
      '',
      '?page=-5&page_size=x',
      '?page=99999999999999999999&page_size=9999999',
      '?dry_run=1&search=%25',
    ];
    let calls = 0;
    const operations = documentedOperations(
      doc,
      (path) => path.startsWith('/api/v1/policies') || path.startsWith('/api/v1/decision-functions'),
    );
    for (const { method, url, body } of garbageRequests(operations, { ids, queries, bodies })) {
      const r = await api.call(method, url, body === undefined ? {} : { body });
      calls++;
      // The decision-function stubs answer 501 once the request is valid; never any other 5xx.
      const status = url.startsWith('/api/v1/decision-functions') && r.status === 501 ? 499 : r.status;
      expect(status, `${method} ${url} ${body?.slice(0, 80)}`).toBeLessThan(500);
    }
    expect(calls).toBeGreaterThan(300);
    for (const body of [
      '',
      ':',
      '- [',
      'version: 1',
      '\u0000',
      'version: 1\npolicies: {}',
      'version: 1\npolicies: [1, null, {name: 5}]',
    ]) {
      const r = await api.call('POST', '/api/v1/policies/import', {
        body,
        headers: { 'content-type': 'text/plain' },
      });
      expect(r.status, body).toBeLessThan(500);
    }
  });
});
