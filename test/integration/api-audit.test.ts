/**
 * The audit logs (api-contract §4.14, §10): filters, both spellings of the
 * bounds (design §9), paging, newest first, parsed JSON, the Rowgate
 * `rows_returned` field, no `client_ip`, and append-only (405 on writes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/store/ids.js';
import { insertQueryAuditBatch, type NewQueryAudit } from '../../src/store/repos/audit-log.js';
import { STORE_ENGINES } from '../support/stores.js';
import { openTestApi, type TestApi } from '../support/api.js';

const ALICE = newId();
const BOB = newId();
const SHOP = newId();
const CRM = newId();

function row(n: number, overrides: Partial<NewQueryAudit> = {}): NewQueryAudit {
  return {
    user_id: ALICE,
    username: 'alice',
    data_source_id: SHOP,
    datasource_name: 'shop',
    original_query: `SELECT ${n}`,
    created_at: `2026-03-0${n}T10:00:00.000000`,
    status: 'success',
    ...overrides,
  };
}

describe.each(STORE_ENGINES)('API audit logs on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await openTestApi(engine);
    await insertQueryAuditBatch(api.store.db, [
      row(1, { rows_returned: 3, policies_applied: [{ policy_id: newId(), version: 1, name: 'p' }] }),
      row(2, {
        status: 'denied',
        error_message: "Access denied by policy 'p'",
        user_id: BOB,
        username: 'bob',
      }),
      row(3, { data_source_id: CRM, datasource_name: 'crm', status: 'error', error_message: 'boom' }),
      row(4, { rewritten_query: 'SELECT 4 /* rewritten */', execution_time_ms: 12, client_info: 'psql' }),
    ]);
  });
  afterAll(() => api.dispose());

  const queries = (qs = '') => api.call('GET', `/api/v1/audit/queries${qs}`);
  const names = (r: { json: { data: { original_query: string }[] } }) =>
    r.json.data.map((d) => d.original_query);

  it('lists query audit rows newest first with every §10.1 field plus rows_returned', async () => {
    const r = await queries();
    expect(r.json).toMatchObject({ total: 4, page: 1, page_size: 50 });
    expect(names(r)).toEqual(['SELECT 4', 'SELECT 3', 'SELECT 2', 'SELECT 1']);
    const newest = r.json.data[0];
    expect(Object.keys(newest).sort()).toEqual(
      [
        'id',
        'user_id',
        'username',
        'data_source_id',
        'datasource_name',
        'original_query',
        'rewritten_query',
        'policies_applied',
        'execution_time_ms',
        'client_info',
        'created_at',
        'status',
        'error_message',
        'rows_returned',
      ].sort(),
    );
    expect(newest).toMatchObject({
      rewritten_query: 'SELECT 4 /* rewritten */',
      execution_time_ms: 12,
      client_info: 'psql',
      created_at: '2026-03-04T10:00:00',
      policies_applied: [],
      rows_returned: null,
    });
    expect(r.json.data[3]).toMatchObject({ rows_returned: 3, policies_applied: [{ version: 1, name: 'p' }] });
  });

  it('filters query rows by user, data source, status and inclusive time bounds', async () => {
    expect(names(await queries(`?user_id=${BOB}`))).toEqual(['SELECT 2']);
    expect(names(await queries(`?datasource_id=${CRM}`))).toEqual(['SELECT 3']);
    expect(names(await queries('?status=denied'))).toEqual(['SELECT 2']);
    expect((await queries('?status=bogus')).json.total).toBe(0);
    expect(names(await queries('?from=2026-03-02T10:00:00&to=2026-03-03T10:00:00'))).toEqual([
      'SELECT 3',
      'SELECT 2',
    ]);
    expect(names(await queries('?since=2026-03-04T00:00:00'))).toEqual(['SELECT 4']);
    expect(names(await queries('?until=2026-03-01T23:59:59&limit=5'))).toEqual(['SELECT 1']);
    expect(names(await queries(`?user_id=${ALICE}&status=success`))).toEqual(['SELECT 4', 'SELECT 1']);
  });

  it('answers a malformed bound with 400 JSON and a malformed UUID with 400 plain text', async () => {
    for (const [qs, message] of [
      ['?from=2026-03-01', "Invalid 'from' datetime: 2026-03-01"],
      ['?to=2026-03-01T10:00:00Z', "Invalid 'to' datetime: 2026-03-01T10:00:00Z"],
      ['?from=2026-02-30T10:00:00', "Invalid 'from' datetime: 2026-02-30T10:00:00"],
      ['?since=yesterday', "Invalid 'since' datetime: yesterday"],
    ]) {
      const r = await queries(qs);
      expect([r.status, r.json], qs).toEqual([400, { error: message }]);
    }
    const uuid = await queries('?user_id=alice');
    expect([uuid.status, uuid.headers['content-type']]).toEqual([400, 'text/plain; charset=utf-8']);
    expect(uuid.text).toMatch(/^Failed to deserialize query string: user_id/);
    const admin = await api.call('GET', '/api/v1/audit/admin?from=x');
    expect([admin.status, admin.json]).toEqual([400, { error: "Invalid 'from' datetime: x" }]);
  });

  it('pages query rows: 0 → empty page with total, max 200, past the end empty', async () => {
    const second = await queries('?page=2&page_size=3');
    expect(second.json).toMatchObject({ total: 4, page: 2, page_size: 3 });
    expect(names(second)).toEqual(['SELECT 1']);
    expect((await queries('?page_size=0')).json).toMatchObject({ data: [], total: 4, page_size: 0 });
    expect((await queries('?page_size=500')).json.page_size).toBe(200);
    expect((await queries('?page=7')).json).toMatchObject({ data: [], total: 4, page: 7 });
  });

  it('lists admin audit rows newest first with parsed changes and every filter', async () => {
    const created = await api.call('POST', '/api/v1/users', {
      body: { username: 'carol', password: 'Carol123!' },
    });
    const carol = created.json.id as string;
    await api.call('PUT', `/api/v1/users/${carol}`, { body: { email: 'c@x.io' } });
    await api.call('POST', '/api/v1/attribute-definitions', {
      body: { key: 'tenant', entity_type: 'user', display_name: 'Tenant', value_type: 'string' },
    });

    const all = await api.call('GET', '/api/v1/audit/admin');
    const mine = all.json.data.filter((d: { actor_id: string }) => d.actor_id === api.admin.id);
    expect(
      mine.map((d: { resource_type: string; action: string }) => `${d.resource_type}/${d.action}`),
    ).toEqual(['attribute_definition/create', 'proxy_user/update', 'proxy_user/create']);
    expect(Object.keys(mine[1]).sort()).toEqual([
      'action',
      'actor_id',
      'changes',
      'created_at',
      'id',
      'resource_id',
      'resource_type',
    ]);
    expect(mine[1]).toMatchObject({
      resource_id: carol,
      changes: { before: { email: null }, after: { email: 'c@x.io' } },
    });
    expect(mine[1].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/);

    const byResource = await api.call(
      'GET',
      `/api/v1/audit/admin?resource_type=proxy_user&resource_id=${carol}`,
    );
    expect(byResource.json.total).toBe(2);
    const byAction = await api.call('GET', `/api/v1/audit/admin?resource_id=${carol}&action=update`);
    expect(byAction.json.data.map((d: { action: string }) => d.action)).toEqual(['update']);
    const byActor = await api.call('GET', `/api/v1/audit/admin?actor_id=${api.admin.id}&page_size=2`);
    expect(byActor.json).toMatchObject({ total: 3, page_size: 2 });
    const future = await api.call('GET', '/api/v1/audit/admin?from=2999-01-01T00:00:00');
    expect(future.json).toMatchObject({ data: [], total: 0 });
  });

  it('has no way to change either log', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/api/v1/audit/queries', '/api/v1/audit/admin']) {
        expect((await api.call(method, path, { body: {} })).status).toBe(405);
      }
    }
    expect((await api.call('DELETE', `/api/v1/audit/admin/${newId()}`)).status).toBe(404);
    expect((await queries()).json.total).toBe(4);
  });
});
