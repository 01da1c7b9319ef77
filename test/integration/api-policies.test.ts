/**
 * Policies (api-contract §3.3, §4.10, §6): create with every documented
 * validation step in order (status and message), get with assignments,
 * list with search and paging, the admin audit row and version-1 snapshot,
 * auth and request-extraction errors before the handler.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/admin/auth/jwt.js';
import { auditRowsOf, JWT_SECRET } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import { MISSING_ID, openPolicyApi, TS, type PolicyTestApi } from './api-policies-fixture.js';

const ROW_FILTER = {
  name: 'tenant-isolation',
  policy_type: 'row_filter',
  targets: [{ schemas: ['public'], tables: ['orders'] }],
  definition: { filter_expression: 'org = {user.tenant}' },
};

describe.each(STORE_ENGINES)('API policies on %s', (engine) => {
  let api: PolicyTestApi;
  beforeEach(async () => {
    api = await openPolicyApi(engine);
  });
  afterEach(() => api.dispose());

  const create = (body: unknown) => api.call('POST', '/api/v1/policies', { body });

  it('creates a policy (201, version 1, no assignments key), snapshots it and audits {after}', async () => {
    const r = await create({
      ...ROW_FILTER,
      targets: [{ schemas: ['public'], tables: ['orders'], junk: 1 }],
    });
    expect(r.status).toBe(201);
    expect(Object.keys(r.json)).toEqual([
      'id',
      'name',
      'description',
      'policy_type',
      'targets',
      'definition',
      'is_enabled',
      'version',
      'assignment_count',
      'created_by',
      'updated_by',
      'created_at',
      'updated_at',
    ]);
    expect(r.json).toMatchObject({
      name: 'tenant-isolation',
      description: null,
      policy_type: 'row_filter',
      targets: [{ schemas: ['public'], tables: ['orders'] }],
      definition: { filter_expression: 'org = {user.tenant}' },
      is_enabled: true,
      version: 1,
      assignment_count: 0,
      created_by: api.admin.id,
      updated_by: api.admin.id,
    });
    expect(r.json.created_at).toMatch(TS);
    const snapshots = await api.store.db
      .selectFrom('policy_version')
      .selectAll()
      .where('policy_id', '=', r.json.id)
      .execute();
    expect(snapshots.map((s) => [s.version, s.change_type])).toEqual([[1, 'create']]);
    expect(await auditRowsOf(api.store, 'policy', r.json.id)).toMatchObject([
      {
        action: 'create',
        actor_id: api.admin.id,
        changes: {
          after: {
            name: 'tenant-isolation',
            description: null,
            policy_type: 'row_filter',
            targets: [{ schemas: ['public'], tables: ['orders'] }],
            is_enabled: true,
            decision_function_id: null,
          },
        },
      },
    ]);
  });

  it('applies the name rule, targets, definition, decision function and uniqueness, in that order', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '' }, 'Policy name must be between 1 and 100 characters'],
      [{ name: 'x'.repeat(101) }, 'Policy name must be between 1 and 100 characters'],
      [{ name: ' padded' }, 'Policy name must not have leading or trailing whitespace'],
      [{ name: 'semi;colon', targets: [] }, 'Policy name contains invalid characters'],
      [{ targets: [] }, "'targets' must not be empty"],
      [{ targets: [{ schemas: [], tables: ['t'] }] }, "targets[0]: 'schemas' must not be empty"],
      [
        { targets: [{ schemas: ['s'], tables: ['t'] }, { schemas: ['s'] }] },
        "targets[1]: 'tables' must not be empty",
      ],
      [
        { targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }] },
        "targets[0]: 'row_filter' must not have 'columns'",
      ],
      [
        { policy_type: 'column_mask', definition: null },
        "targets[0]: 'column_mask' requires non-empty 'columns'",
      ],
      [
        { policy_type: 'table_deny', targets: [{ schemas: ['s'], tables: ['t'], columns: [] }] },
        "targets[0]: 'table_deny' must not have 'columns'",
      ],
      [
        { policy_type: 'column_allow', targets: [{ schemas: ['s'], tables: ['t'], columns: [] }] },
        "targets[0]: 'column_allow' requires non-empty 'columns'",
      ],
      [{ definition: null }, "row_filter policy requires a 'definition' with 'filter_expression'"],
      [{ definition: { other: 1 } }, "row_filter: missing required field 'filter_expression'"],
      [{ definition: { filter_expression: 5 } }, "row_filter: 'filter_expression' must be a string"],
      [
        { definition: { filter_expression: 'upper(org) = 1' } },
        "Invalid filter expression: Function 'upper' in filter expressions is not supported. For complex expressions, use column masks instead.",
      ],
      [
        {
          policy_type: 'column_mask',
          targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
          definition: null,
        },
        "column_mask policy requires a 'definition' with 'mask_expression'",
      ],
      [
        {
          policy_type: 'column_mask',
          targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
          definition: {},
        },
        "column_mask: missing required field 'mask_expression'",
      ],
      [
        {
          policy_type: 'column_mask',
          targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
          definition: { mask_expression: [] },
        },
        "column_mask: 'mask_expression' must be a string",
      ],
      [
        {
          policy_type: 'column_mask',
          targets: [{ schemas: ['s'], tables: ['t'], columns: ['c'] }],
          definition: { mask_expression: 'foo(c)' },
        },
        "Invalid mask expression: Unknown function 'foo' in mask expression",
      ],
      [
        { decision_function_id: MISSING_ID },
        'decision_function_id references a non-existent decision function',
      ],
    ];
    for (const [override, message] of cases) {
      const r = await create({ ...ROW_FILTER, ...override });
      expect([r.status, r.json], message).toEqual([422, { error: message }]);
    }
    expect((await create(ROW_FILTER)).status).toBe(201);
    const dup = await create(ROW_FILTER);
    expect([dup.status, dup.json]).toEqual([409, { error: 'Policy name already exists' }]);
    // Nothing but the one create reached the store or the audit log.
    expect((await api.call('GET', '/api/v1/policies')).json.total).toBe(1);
    expect(await auditRowsOf(api.store, 'policy')).toHaveLength(1);
  });

  it('keeps a definition sent for a non-expression type (quirk Q16) and accepts the name alphabet', async () => {
    const r = await create({
      name: `Hide (PII): "ssn" col_1.v-2 'x'`,
      policy_type: 'column_deny',
      description: 'no ssn',
      is_enabled: false,
      targets: [{ schemas: ['*'], tables: ['cust*'], columns: ['ssn'] }],
      definition: { leftover: true },
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      description: 'no ssn',
      is_enabled: false,
      targets: [{ schemas: ['*'], tables: ['cust*'], columns: ['ssn'] }],
      definition: { leftover: true },
    });
    const without = await create({
      name: 'deny-t',
      policy_type: 'table_deny',
      targets: [{ schemas: ['s'], tables: ['t'], columns: null }],
    });
    expect([without.status, without.json.definition, without.json.targets]).toEqual([
      201,
      null,
      [{ schemas: ['s'], tables: ['t'] }],
    ]);
  });

  it('rejects bodies the extractor cannot type (422/400/415 plain text) before any handler check', async () => {
    const missing = await create({ name: 'x', policy_type: 'row_filter' });
    expect([missing.status, missing.headers['content-type']]).toEqual([422, 'text/plain; charset=utf-8']);
    expect(missing.text).toMatch(/^Failed to deserialize the JSON body into the target type: .*targets/);
    const badType = await create({ ...ROW_FILTER, policy_type: 'row_filters' });
    expect(badType.status).toBe(422);
    expect(badType.text).toMatch(/^Failed to deserialize the JSON body into the target type: policy_type/);
    const badFn = await create({ ...ROW_FILTER, decision_function_id: 'nope' });
    expect(badFn.status).toBe(422);
    const syntax = await create('{"name":');
    expect([syntax.status, syntax.text.startsWith('Failed to parse the request body as JSON:')]).toEqual([
      400,
      true,
    ]);
    const type = await api.call('POST', '/api/v1/policies', {
      body: JSON.stringify(ROW_FILTER),
      headers: { 'content-type': 'text/plain' },
    });
    expect([type.status, type.text]).toEqual([415, 'Expected request with `Content-Type: application/json`']);
  });

  it('gets a policy with its assignments and lists without them', async () => {
    const ds = await api.seedDataSource('prod', { public: { orders: ['id', 'org'] } });
    const bob = await api.seedUser('bob');
    const p = (await create(ROW_FILTER)).json;
    const a1 = await api.assign({ policy_id: p.id, data_source_id: ds, user_id: bob.id, priority: 5 });
    await api.assign({ policy_id: p.id, data_source_id: ds, scope: 'all' });
    const got = await api.call('GET', `/api/v1/policies/${p.id.toUpperCase()}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id: p.id, version: 3, assignment_count: 2 });
    expect(got.json.assignments).toHaveLength(2);
    expect(got.json.assignments[0]).toEqual({
      id: a1,
      policy_id: p.id,
      policy_name: 'tenant-isolation',
      data_source_id: ds,
      datasource_name: 'prod',
      user_id: bob.id,
      username: 'bob',
      role_id: null,
      role_name: null,
      assignment_scope: 'user',
      priority: 5,
      created_at: expect.stringMatching(TS),
      updated_at: expect.stringMatching(TS),
    });
    const list = await api.call('GET', '/api/v1/policies');
    expect(list.json.data[0]).not.toHaveProperty('assignments');
    expect(list.json.data[0].assignment_count).toBe(2);
    const missing = await api.call('GET', `/api/v1/policies/${MISSING_ID}`);
    expect([missing.status, missing.json]).toEqual([404, { error: 'Policy not found' }]);
    const bad = await api.call('GET', '/api/v1/policies/not-a-uuid');
    expect([bad.status, bad.text]).toEqual([400, 'Invalid URL: Cannot parse `not-a-uuid` to a UUID']);
  });

  it('lists oldest first with a case-insensitive name search and the §1.9 paging rules', async () => {
    for (const name of ['alpha', 'Beta', 'gamma', 'BETAMAX']) await create({ ...ROW_FILTER, name });
    const all = await api.call('GET', '/api/v1/policies');
    expect(all.json).toMatchObject({ total: 4, page: 1, page_size: 20 });
    expect(all.json.data.map((p: { name: string }) => p.name)).toEqual(['alpha', 'Beta', 'gamma', 'BETAMAX']);
    const search = await api.call('GET', '/api/v1/policies?search=beta');
    expect(search.json.data.map((p: { name: string }) => p.name)).toEqual(['Beta', 'BETAMAX']);
    const page = await api.call('GET', '/api/v1/policies?page=2&page_size=3');
    expect(page.json).toMatchObject({ total: 4, page: 2, page_size: 3 });
    expect(page.json.data.map((p: { name: string }) => p.name)).toEqual(['BETAMAX']);
    expect((await api.call('GET', '/api/v1/policies?page_size=0')).json).toMatchObject({
      data: [],
      total: 4,
    });
    expect((await api.call('GET', '/api/v1/policies?page_size=500')).json.page_size).toBe(100);
    expect((await api.call('GET', '/api/v1/policies?page=0')).json.page).toBe(1);
    const neg = await api.call('GET', '/api/v1/policies?page=-1');
    expect([neg.status, neg.text.startsWith('Failed to deserialize query string:')]).toEqual([400, true]);
  });

  it('checks auth first: 401 without a token (even with a bad id), 403 for a non-admin, 405 on other methods', async () => {
    const anon = await api.call('GET', '/api/v1/policies/x', { token: null });
    expect([anon.status, anon.text]).toEqual([401, 'Missing or invalid Authorization header']);
    const bad = await api.call('POST', '/api/v1/policies', { token: 'garbage', body: ROW_FILTER });
    expect([bad.status, bad.text]).toEqual([401, 'Invalid or expired token']);
    // A validly signed token without the admin claim (login never issues one to a non-admin).
    const nonAdmin = await signToken(
      { secret: JWT_SECRET, expiryHours: 1 },
      { id: MISSING_ID, username: 'x', is_admin: false },
    );
    for (const [method, url] of [
      ['GET', '/api/v1/policies'],
      ['PUT', `/api/v1/policies/${MISSING_ID}`],
      ['GET', '/api/v1/policies/export'],
      ['POST', '/api/v1/policies/import'],
    ]) {
      const r = await api.call(method!, url!, { token: nonAdmin });
      expect([r.status, r.text], url).toEqual([403, 'Admin access required']);
    }
    const wrong = await api.call('GET', '/api/v1/policies/validate-expression');
    expect([wrong.status, wrong.headers.allow, wrong.text]).toEqual([405, 'POST', '']);
    const patch = await api.call('PATCH', `/api/v1/policies/${MISSING_ID}`);
    expect([patch.status, patch.headers.allow]).toEqual([405, 'GET, HEAD, PUT, DELETE']);
    expect(await auditRowsOf(api.store, 'policy')).toHaveLength(0);
  });
});
