/**
 * sync_catalog's drift report (api-contract §8.6) after real upstream DDL, on
 * both admin-store engines: what is reported, what is written (metadata
 * refreshed, new columns inserted selected), and what is deliberately left
 * alone (tables and schemas are never added or removed by a sync).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getCatalog } from '../../src/store/repos/catalog.js';
import { getDataSource } from '../../src/store/repos/datasources.js';
import { auditRows, STORE_ENGINES } from '../support/stores.js';
import { defaultSelection, openJobsFixture, type JobsFixture } from './catalog-jobs-fixture.js';

const NO_DRIFT = {
  added_schemas: [],
  removed_schemas: [],
  added_tables: ['sales.totals'], // stored selection leaves the materialized view out
  removed_tables: [],
  changed_columns: [],
  has_breaking_changes: false,
};

describe.each(STORE_ENGINES)('sync_catalog drift report [%s admin store]', (engine) => {
  let f: JobsFixture;
  beforeEach(async () => {
    f = await openJobsFixture(engine);
    const selection = defaultSelection();
    const orders = selection.schemas[0]?.tables[0] as Record<string, unknown>;
    orders.columns = [{ column_name: 'status', is_selected: false }];
    expect((await f.run(selection)).status).toBe('completed');
  });
  afterEach(async () => f.dispose());

  it('reports no drift for an unchanged upstream and records the sync', async () => {
    const view = await f.run({ action: 'sync_catalog' });
    expect(view).toMatchObject({ action: 'sync_catalog', status: 'completed', error: null });
    expect(view.result).toEqual(NO_DRIFT);
    const ds = await getDataSource(f.store.db, f.dataSourceId);
    expect(ds.last_sync_result).toEqual(NO_DRIFT);
    expect(ds.last_sync_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    const audit = (await auditRows(f.store)).filter((r) => r.action === 'sync_catalog');
    expect(audit).toEqual([expect.objectContaining({ resource_type: 'datasource', changes: NO_DRIFT })]);
  });

  it('reports added, removed and changed items after ALTER / DROP / CREATE upstream', async () => {
    const before = await getCatalog(f.store.db, f.dataSourceId);
    await f.upstream(`
      DROP VIEW public.big_orders;
      DROP SCHEMA sales CASCADE;
      ALTER TABLE public.orders ADD COLUMN channel text;
      ALTER TABLE public.orders ALTER COLUMN id TYPE bigint;
      ALTER TABLE public.orders ALTER COLUMN status TYPE varchar(20);
      ALTER TABLE public.orders DROP COLUMN created;
      ALTER TABLE public.customers ALTER COLUMN name SET NOT NULL;
      CREATE TABLE public.refunds (id int PRIMARY KEY, order_id int);
      CREATE SCHEMA archive;
    `);
    const view = await f.run({ action: 'sync_catalog' });
    const report = {
      added_schemas: ['archive'],
      removed_schemas: ['sales'],
      added_tables: ['public.refunds'],
      removed_tables: ['public.big_orders', 'sales.regions'],
      changed_columns: [
        'public.customers.name',
        'public.orders.id',
        'public.orders.status',
        'public.orders.channel (new)',
      ],
      has_breaking_changes: true,
    };
    expect(view.result).toEqual(report);
    expect((await getDataSource(f.store.db, f.dataSourceId)).last_sync_result).toEqual(report);

    const after = await getCatalog(f.store.db, f.dataSourceId);
    // Nothing added or removed at table/schema level: the same tree as before.
    const tree = (c: typeof after) =>
      c.schemas.map((s) => [s.schema_name, s.tables.map((t) => [t.id, t.is_selected])]);
    expect(tree(after)).toEqual(tree(before));
    const orders = after.schemas[0]?.tables.find((t) => t.table_name === 'orders');
    expect(orders?.columns.map((c) => [c.column_name, c.data_type, c.arrow_type, c.is_selected])).toEqual([
      ['id', 'bigint', 'Int64', true],
      ['status', 'character varying', 'Utf8', false], // refreshed, still deselected
      ['amount', 'numeric', 'Decimal128(10,2)', true],
      ['created', 'timestamp with time zone', 'Timestamp(Microsecond,Some("UTC"))', true], // gone upstream, kept
      ['channel', 'text', 'Utf8', true], // new column of a selected table: selected (BR)
    ]);
    const customers = after.schemas[0]?.tables.find((t) => t.table_name === 'customers');
    expect(customers?.columns.find((c) => c.column_name === 'name')?.is_nullable).toBe(false);

    // A second sync sees the refreshed metadata: only the structural drift remains.
    expect((await f.run({ action: 'sync_catalog' })).result).toEqual({ ...report, changed_columns: [] });
  });

  it('lists a deselected stored table and an unselected schema as added', async () => {
    const selection = defaultSelection();
    (selection.schemas[0]?.tables[1] as { is_selected: boolean }).is_selected = false; // customers
    (selection.schemas[1] as { is_selected: boolean }).is_selected = false; // sales
    await f.run(selection);
    expect((await f.run({ action: 'sync_catalog' })).result).toEqual({
      added_schemas: ['sales'],
      removed_schemas: [],
      added_tables: ['public.customers'],
      removed_tables: [],
      changed_columns: [],
      has_breaking_changes: false,
    });
  });

  it('fails with a Connection error and records nothing when the upstream is gone', async () => {
    const gone = await f.addDataSource('gone', { port: 1 });
    await f.run(defaultSelection(), gone);
    const view = await f.run({ action: 'sync_catalog' }, gone);
    expect(view).toMatchObject({ status: 'failed', result: null });
    expect(view.error).toMatch(/^Connection error: connection refused \(.+:1\)$/);
    expect((await getDataSource(f.store.db, gone)).last_sync_at).toBeNull();
  });
});
