import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { newId } from '../../src/store/ids.js';
import { InvalidError } from '../../src/store/repo-errors.js';
import {
  insertQueryAuditBatch,
  listAdminAudit,
  listQueryAudit,
  parseAuditDateTime,
  type NewQueryAudit,
} from '../../src/store/repos/audit-log.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const ALICE = newId();
const BOB = newId();
const DS1 = newId();
const DS2 = newId();

const row = (created_at: string, extra: Partial<NewQueryAudit> = {}): NewQueryAudit => ({
  user_id: ALICE,
  username: 'alice',
  data_source_id: DS1,
  datasource_name: 'shop',
  original_query: 'SELECT id FROM public.orders',
  status: 'success',
  created_at,
  ...extra,
});

describe('parseAuditDateTime', () => {
  it('accepts exactly YYYY-MM-DDTHH:MM:SS naming a real instant', () => {
    expect(parseAuditDateTime('2026-04-26T10:20:30', 'from')).toBe('2026-04-26T10:20:30.000000');
    expect(parseAuditDateTime('2024-02-29T23:59:59', 'to')).toBe('2024-02-29T23:59:59.000000');
  });

  it.each([
    '2026-04-26T10:20:30Z',
    '2026-04-26T10:20:30.123',
    '2026-04-26T10:20:30+02:00',
    '2026-04-26 10:20:30',
    '2026-04-26',
    '2026-02-30T00:00:00',
    '2026-04-26T24:00:00',
    '',
  ])('rejects %j with the contract message', (value) => {
    expect(() => parseAuditDateTime(value, 'from')).toThrow(
      new InvalidError('from', `Invalid 'from' datetime: ${value}`),
    );
  });
});

describe.each(STORE_ENGINES)('audit logs on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
  });
  afterEach(async () => t.dispose());

  async function seedQueries() {
    await insertQueryAuditBatch(db, [
      row('2026-01-01T10:00:00.000000', {
        rewritten_query: 'SELECT id FROM (SELECT …) o',
        policies_applied: [{ policy_id: 'p', version: 3, name: 'tenant' }],
        execution_time_ms: 12,
        client_info: 'psql',
        rows_returned: 7,
      }),
      row('2026-01-02T10:00:00.000000', {
        status: 'denied',
        error_message: 'Only read-only queries are allowed',
      }),
      row('2026-01-03T10:00:00.500000', {
        user_id: BOB,
        username: 'bob',
        data_source_id: DS2,
        datasource_name: 'crm',
      }),
      row('2026-01-04T10:00:00.000000', { status: 'error', error_message: 'relation "x" does not exist' }),
    ]);
  }

  it('writes a batch and reads it newest first in the §10.1 shape (no client_ip)', async () => {
    await seedQueries();
    const all = await listQueryAudit(db);
    expect(all).toMatchObject({ total: 4, page: 1, page_size: 50 });
    expect(all.data.map((r) => r.created_at)).toEqual([
      '2026-01-04T10:00:00.000000',
      '2026-01-03T10:00:00.500000',
      '2026-01-02T10:00:00.000000',
      '2026-01-01T10:00:00.000000',
    ]);
    expect(all.data[3]).toEqual({
      id: expect.any(String),
      user_id: ALICE,
      username: 'alice',
      data_source_id: DS1,
      datasource_name: 'shop',
      original_query: 'SELECT id FROM public.orders',
      rewritten_query: 'SELECT id FROM (SELECT …) o',
      policies_applied: [{ policy_id: 'p', version: 3, name: 'tenant' }],
      execution_time_ms: 12,
      client_info: 'psql',
      created_at: '2026-01-01T10:00:00.000000',
      status: 'success',
      error_message: null,
      rows_returned: 7,
    });
    expect(all.data[0]).toMatchObject({
      rows_returned: null,
      policies_applied: [],
      rewritten_query: null,
      execution_time_ms: null,
    });
    expect(all.data[0]).not.toHaveProperty('client_ip');
    expect(await insertQueryAuditBatch(db, [])).toBe(0);
  });

  it('filters by user, data source, status and inclusive from/to, with since/until aliases', async () => {
    await seedQueries();
    const names = async (filter: Parameters<typeof listQueryAudit>[1]) =>
      (await listQueryAudit(db, filter)).data.map((r) => r.created_at.slice(0, 10));
    expect(await names({ user_id: BOB })).toEqual(['2026-01-03']);
    expect(await names({ datasource_id: DS1 })).toEqual(['2026-01-04', '2026-01-02', '2026-01-01']);
    expect(await names({ status: 'denied' })).toEqual(['2026-01-02']);
    expect(await names({ status: 'DENIED' })).toEqual([]);
    expect(await names({ from: '2026-01-02T10:00:00', to: '2026-01-04T10:00:00' })).toEqual([
      '2026-01-04',
      '2026-01-03',
      '2026-01-02',
    ]);
    // `to` compares with the second's start (BR): a row at 10:00:00.5 is after 10:00:00.
    expect(await names({ to: '2026-01-03T10:00:00' })).toEqual(['2026-01-02', '2026-01-01']);
    expect(await names({ since: '2026-01-03T00:00:00', until: '2026-01-03T23:00:00' })).toEqual([
      '2026-01-03',
    ]);
    expect(await names({ from: '2026-01-04T00:00:00', since: '2020-01-01T00:00:00' })).toEqual([
      '2026-01-04',
    ]);
    await expect(listQueryAudit(db, { from: '2026-01-01' })).rejects.toThrow(
      "Invalid 'from' datetime: 2026-01-01",
    );
    await expect(listQueryAudit(db, { to: 'yesterday' })).rejects.toThrow("Invalid 'to' datetime: yesterday");
    await expect(listQueryAudit(db, { until: 'x' })).rejects.toThrow("Invalid 'until' datetime: x");
  });

  it('paginates: default 50, max 200, 0 → empty, limit alias, page < 1 → 1', async () => {
    const many = Array.from({ length: 1205 }, (_, i) =>
      row(`2026-02-01T00:00:00.${String(i).padStart(6, '0')}`, { original_query: `SELECT ${i}` }),
    );
    expect(await insertQueryAuditBatch(db, many)).toBe(1205); // spans two INSERT chunks
    const first = await listQueryAudit(db, { page: 0 });
    expect(first).toMatchObject({ total: 1205, page: 1, page_size: 50 });
    expect(first.data[0]?.original_query).toBe('SELECT 1204');
    expect(await listQueryAudit(db, { page_size: 0 })).toEqual({
      data: [],
      total: 1205,
      page: 1,
      page_size: 0,
    });
    const clamped = await listQueryAudit(db, { page_size: 5000, page: 7 });
    expect(clamped).toMatchObject({ page: 7, page_size: 200 });
    expect(clamped.data.map((r) => r.original_query)).toEqual([
      'SELECT 4',
      'SELECT 3',
      'SELECT 2',
      'SELECT 1',
      'SELECT 0',
    ]);
    const viaLimit = await listQueryAudit(db, { limit: 3, page: 2 });
    expect(viaLimit.data.map((r) => r.original_query)).toEqual(['SELECT 1201', 'SELECT 1200', 'SELECT 1199']);
    expect((await listQueryAudit(db, { page: 99 })).data).toEqual([]);
  });

  it('lists admin audit rows newest first with parsed changes and every filter', async () => {
    const actorA = newId();
    const actorB = newId();
    const resource = newId();
    const audit = (actor: string, resourceType: string, action: string, resourceId = newId()) =>
      auditedTransaction(t.store, actor, async (x) =>
        x.audit({ resourceType, resourceId, action, changes: { after: { n: action } } }),
      );
    await audit(actorA, 'policy', 'create', resource);
    await audit(actorB, 'policy', 'update', resource);
    await audit(actorA, 'role', 'create');
    await auditedTransaction(t.store, actorA, async (x) =>
      x.audit({ resourceType: 'datasource', resourceId: newId(), action: 'delete', changes: null }),
    );

    const all = await listAdminAudit(db);
    expect(all).toMatchObject({ total: 4, page: 1, page_size: 50 });
    expect(all.data.map((r) => `${r.resource_type}:${r.action}`)).toEqual([
      'datasource:delete',
      'role:create',
      'policy:update',
      'policy:create',
    ]);
    expect(all.data[0]?.changes).toBeNull();
    expect(all.data[3]).toEqual({
      id: expect.any(String),
      resource_type: 'policy',
      resource_id: resource,
      action: 'create',
      actor_id: actorA,
      changes: { after: { n: 'create' } },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/),
    });
    expect((await listAdminAudit(db, { resource_type: 'policy' })).total).toBe(2);
    expect(
      (await listAdminAudit(db, { resource_id: resource, action: 'update' })).data.map((r) => r.actor_id),
    ).toEqual([actorB]);
    expect((await listAdminAudit(db, { actor_id: actorA })).total).toBe(3);
    expect((await listAdminAudit(db, { page_size: 0 })).data).toEqual([]);
    expect((await listAdminAudit(db, { limit: 1, page: 2 })).data.map((r) => r.resource_type)).toEqual([
      'role',
    ]);
    expect((await listAdminAudit(db, { from: '2999-01-01T00:00:00' })).total).toBe(0);
    expect((await listAdminAudit(db, { to: '2999-01-01T00:00:00' })).total).toBe(4);
    await expect(listAdminAudit(db, { from: '2026-13-01T00:00:00' })).rejects.toThrow(InvalidError);
  });
});
