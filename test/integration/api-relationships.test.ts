/**
 * Relationships and FK suggestions (api-contract §4.9) on both store
 * engines, on a saved catalog of a real upstream database: deterministic
 * ids, the idempotent create (200, no audit), every check in order with its
 * message, delete guarded by anchors, live FK suggestions (selected tables
 * only, `already_added`, upstream failure as a 500 without secrets) and the
 * audit rows. Column anchors: api-relationships-anchors.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relationshipId } from '../../src/store/ids.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  tableIds,
  TS,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API relationships on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  let t: Record<string, string>;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
    ds = await api.createDataSource();
    expect((await api.runJob(ds, fullSelection())).status).toBe('completed');
    t = await tableIds(api, ds);
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const url = (suffix = '', target = ds) => `/api/v1/datasources/${target}/relationships${suffix}`;
  const paymentsToOrders = () => ({
    child_table_id: t['public.payments'],
    child_column_name: 'order_id',
    parent_table_id: t['public.orders'],
    parent_column_name: 'id',
  });
  const create = (body: unknown, target = ds) => api.call('POST', url('', target), { body });

  it('creates a relationship (201, deterministic id), repeats as 200 without audit, lists and filters', async () => {
    const r = await create(paymentsToOrders());
    expect(r.status).toBe(201);
    const id = relationshipId(
      ds,
      t['public.payments'] as string,
      'order_id',
      t['public.orders'] as string,
      'id',
    );
    expect(r.json).toEqual({
      id,
      data_source_id: ds,
      child_table_id: t['public.payments'],
      child_table_name: 'payments',
      child_schema_name: 'public',
      child_column_name: 'order_id',
      parent_table_id: t['public.orders'],
      parent_table_name: 'orders',
      parent_schema_name: 'public',
      parent_column_name: 'id',
      created_at: expect.stringMatching(TS),
      created_by: api.admin.id,
    });
    const repeat = await create({
      ...paymentsToOrders(),
      child_table_id: t['public.payments']?.toUpperCase(),
    });
    expect([repeat.status, repeat.json]).toEqual([200, r.json]);
    const stores = await create({
      child_table_id: t['sales.stores'],
      child_column_name: 'region',
      parent_table_id: t['sales.regions'],
      parent_column_name: 'code',
    });
    expect(stores.json).toMatchObject({ child_schema_name: 'sales', parent_schema_name: 'sales' }); // upstream names
    const all = await api.call('GET', url());
    expect(all.json.map((x: { id: string }) => x.id)).toEqual([id, stores.json.id]);
    const filtered = await api.call('GET', url(`?child_table=${t['sales.stores']}`));
    expect(filtered.json.map((x: { id: string }) => x.id)).toEqual([stores.json.id]);
    const bad = await api.call('GET', url('?child_table=orders'));
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Failed to deserialize query string: child_table/);
    const audit = await auditRowsOf(api.store, 'table_relationship', id);
    expect(audit.map((a) => [a.action, a.changes])).toEqual([
      [
        'create',
        {
          after: {
            data_source_id: ds,
            child_table_id: t['public.payments'],
            child_column_name: 'order_id',
            parent_table_id: t['public.orders'],
            parent_column_name: 'id',
          },
        },
      ],
    ]);
  });

  it('checks 404 DS → same table → child table → parent table → child column → parent column', async () => {
    const other = await api.createDataSource('other');
    await api.runJob(other, fullSelection());
    const foreign = (await tableIds(api, other))['public.orders'];
    const base = paymentsToOrders();
    const missingColumn = (name: string) =>
      `Column '${name}' not found on the selected table (column names are case-sensitive and must match ` +
      'exactly what discovery stored — check for quoted-identifier casing)';
    const cases: [Record<string, unknown>, string | undefined, number, string][] = [
      [{ ...base, parent_table_id: base.child_table_id }, MISSING_ID, 404, 'Data source not found'],
      [
        { ...base, parent_table_id: base.child_table_id },
        undefined,
        422,
        'child_table and parent_table must differ',
      ],
      [{ ...base, child_table_id: MISSING_ID, parent_table_id: foreign }, undefined, 404, 'Table not found'],
      [{ ...base, child_table_id: foreign }, undefined, 404, 'Table not found in this datasource'],
      [{ ...base, parent_table_id: MISSING_ID, child_column_name: 'x' }, undefined, 404, 'Table not found'],
      [{ ...base, parent_table_id: foreign }, undefined, 404, 'Table not found in this datasource'],
      [
        { ...base, child_column_name: 'Order_ID', parent_column_name: 'x' },
        undefined,
        422,
        missingColumn('Order_ID'),
      ],
      [{ ...base, parent_column_name: 'ID' }, undefined, 422, missingColumn('ID')],
    ];
    for (const [body, target, status, message] of cases) {
      const r = await create(body, target);
      expect([r.status, r.json], message).toEqual([status, { error: message }]);
    }
    const missingField = await create({ child_table_id: base.child_table_id });
    expect([missingField.status, missingField.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `child_column_name`',
    ]);
    expect(await auditRowsOf(api.store, 'table_relationship')).toEqual([]);
    const noDs = await api.call('GET', url('', MISSING_ID));
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
  });

  it('deletes: 404 DS, 404 for another data source, 409 while an anchor uses it, then 204', async () => {
    const rel = (await create(paymentsToOrders())).json;
    const other = await api.createDataSource('other');
    const anchor = await api.call('POST', `/api/v1/datasources/${ds}/column-anchors`, {
      body: { child_table_id: t['public.payments'], resolved_column_name: 'org', relationship_id: rel.id },
    });
    expect(anchor.status).toBe(201);
    const del = (target = ds, id = rel.id as string) => api.call('DELETE', url(`/${id}`, target));
    const noDs = await del(MISSING_ID);
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
    const elsewhere = await del(other);
    expect([elsewhere.status, elsewhere.json]).toEqual([404, { error: 'Relationship not found' }]);
    const used = await del();
    expect([used.status, used.json]).toEqual([
      409,
      { error: 'This relationship is used by 1 column anchor(s); remove the anchors first.' },
    ]);
    await api.call('DELETE', `/api/v1/datasources/${ds}/column-anchors/${anchor.json.id}`);
    const ok = await del();
    expect([ok.status, ok.text]).toEqual([204, '']);
    expect((await api.call('GET', url())).json).toEqual([]);
    expect((await auditRowsOf(api.store, 'table_relationship', rel.id)).at(-1)).toMatchObject({
      action: 'delete',
      changes: {
        before: {
          data_source_id: ds,
          child_table_id: t['public.payments'],
          child_column_name: 'order_id',
          parent_table_id: t['public.orders'],
          parent_column_name: 'id',
        },
      },
    });
    const gone = await del();
    expect([gone.status, gone.json]).toEqual([404, { error: 'Relationship not found' }]);
  });

  it('suggests single-column FKs to a primary or unique key between selected tables, live', async () => {
    await create(paymentsToOrders());
    const r = await api.call('GET', `/api/v1/datasources/${ds}/fk-suggestions`);
    expect(r.status).toBe(200);
    const short = (s: Record<string, unknown>) =>
      `${String(s.child_schema_name)}.${String(s.child_table_name)}.${String(s.child_column_name)}` +
      ` -> ${String(s.parent_schema_name)}.${String(s.parent_table_name)}.${String(s.parent_column_name)}` +
      ` ${String(s.already_added)}`;
    expect(r.json.map(short)).toEqual([
      'public.audit_notes.customer_email -> public.customers.email false',
      'public.orders.customer_id -> public.customers.id false',
      'public.payments.order_id -> public.orders.id true',
      'sales.stores.region -> sales.regions.code false',
    ]);
    expect(r.json[2]).toEqual({
      child_table_id: t['public.payments'],
      child_schema_name: 'public',
      child_table_name: 'payments',
      child_column_name: 'order_id',
      parent_table_id: t['public.orders'],
      parent_schema_name: 'public',
      parent_table_name: 'orders',
      parent_column_name: 'id',
      fk_constraint_name: 'payments_order_id_fkey',
      already_added: true,
    });
    // Deselecting a table (or a schema) drops the keys that touch it.
    const selection = fullSelection();
    selection.schemas[0]!.tables[0]!.is_selected = false; // customers
    selection.schemas[1]!.is_selected = false; // sales
    await api.runJob(ds, selection);
    const fewer = await api.call('GET', `/api/v1/datasources/${ds}/fk-suggestions`);
    expect(fewer.json.map(short)).toEqual(['public.payments.order_id -> public.orders.id true']);
  });

  it('answers [] without upstream contact when nothing is selected; 404 DS; 500 on upstream failure', async () => {
    const unreachable = await api.createDataSource('unreachable', {
      config: { ...api.upstreamConfig, host: '127.0.0.1', port: 1 },
    });
    const empty = await api.call('GET', `/api/v1/datasources/${unreachable}/fk-suggestions`);
    expect([empty.status, empty.json]).toEqual([200, []]);
    const noDs = await api.call('GET', `/api/v1/datasources/${MISSING_ID}/fk-suggestions`);
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
    await api.call('PUT', `/api/v1/datasources/${ds}`, { body: { config: { password: 'Wrong-Pw-77' } } });
    const failed = await api.call('GET', `/api/v1/datasources/${ds}/fk-suggestions`);
    expect(failed.status).toBe(500);
    expect(failed.json.error).toMatch(
      /^Failed to read foreign keys from the data source: password authentication failed/,
    );
    await expectNoSecretLeak(api, 'Wrong-Pw-77');
  });
});
