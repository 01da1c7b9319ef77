/**
 * Discovery jobs (api-contract §4.8, §8.1–8.5) against a real upstream
 * database created per test: each action's result, the one-running-job rule,
 * events, cancellation and retention (failures: catalog-jobs-upstream.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getCatalog } from '../../src/store/repos/catalog.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import { auditRows } from '../support/stores.js';
import {
  collect,
  defaultSelection,
  openJobsFixture,
  silentServer,
  type JobsFixture,
} from './catalog-jobs-fixture.js';

describe('discovery jobs', () => {
  let f: JobsFixture;
  beforeEach(async () => {
    f = await openJobsFixture('sqlite', { timeouts: { connectMs: 2_000, statementMs: 10_000 } });
  });
  afterEach(async () => f.dispose());

  it('discover_schemas lists upstream schemas without system ones, marking stored selections', async () => {
    const first = await f.run({ action: 'discover_schemas' });
    expect(first).toMatchObject({ action: 'discover_schemas', status: 'completed', error: null });
    expect(first.result).toEqual([
      { schema_name: 'public', schema_alias: null, is_already_selected: false },
      { schema_name: 'sales', schema_alias: null, is_already_selected: false },
    ]);
    expect((await f.run(defaultSelection())).status).toBe('completed');
    const second = await f.run({ action: 'discover_schemas' });
    expect(second.result).toEqual([
      { schema_name: 'public', schema_alias: null, is_already_selected: true },
      { schema_name: 'sales', schema_alias: 's', is_already_selected: true },
    ]);
  });

  it('discover_tables lists tables, views and materialized views last', async () => {
    const view = await f.run({ action: 'discover_tables', schemas: ['public', 'sales'] });
    expect(view.result).toEqual([
      { schema_name: 'public', table_name: 'big_orders', table_type: 'VIEW', is_already_selected: false },
      { schema_name: 'public', table_name: 'customers', table_type: 'TABLE', is_already_selected: false },
      { schema_name: 'public', table_name: 'orders', table_type: 'TABLE', is_already_selected: false },
      { schema_name: 'sales', table_name: 'regions', table_type: 'TABLE', is_already_selected: false },
      {
        schema_name: 'sales',
        table_name: 'totals',
        table_type: 'MATERIALIZED VIEW',
        is_already_selected: false,
      },
    ]);
    expect((await f.run({ action: 'discover_tables', schemas: [] })).result).toEqual([]);
    await f.run(defaultSelection());
    const after = (await f.run({ action: 'discover_tables', schemas: ['sales'] })).result;
    expect(after).toEqual([
      { schema_name: 'sales', table_name: 'regions', table_type: 'TABLE', is_already_selected: true },
      {
        schema_name: 'sales',
        table_name: 'totals',
        table_type: 'MATERIALIZED VIEW',
        is_already_selected: false,
      },
    ]);
  });

  it('discover_columns pre-selects supported types, then follows the stored flags', async () => {
    const tables = [
      { schema: 'public', table: 'orders' },
      { schema: 'sales', table: 'regions' },
      { schema: 'sales', table: 'totals' },
    ];
    const view = await f.run({ action: 'discover_columns', tables });
    const result = view.result as Record<string, unknown>[];
    expect(result.map((c) => `${String(c.table_name)}.${String(c.column_name)}`)).toEqual([
      'orders.id',
      'orders.status',
      'orders.amount',
      'orders.created',
      'regions.code',
      'regions.area',
      'totals.status',
      'totals.total',
    ]);
    expect(result[0]).toEqual({
      schema_name: 'public',
      table_name: 'orders',
      column_name: 'id',
      ordinal_position: 1,
      data_type: 'integer',
      is_nullable: false,
      column_default: "nextval('orders_id_seq'::regclass)",
      arrow_type: 'Int32',
      is_already_selected: true,
    });
    expect(result[2]).toMatchObject({ arrow_type: 'Decimal128(10,2)', is_nullable: true });
    expect(result[5]).toMatchObject({ column_name: 'area', arrow_type: null, is_already_selected: false });

    const selection = defaultSelection();
    const orders = selection.schemas[0]?.tables[0] as Record<string, unknown>;
    orders.columns = [{ column_name: 'amount', is_selected: false }];
    await f.run(selection);
    const stored = (await f.run({ action: 'discover_columns', tables })).result as Record<string, unknown>[];
    const flags = Object.fromEntries(
      stored.map((c) => [`${String(c.table_name)}.${String(c.column_name)}`, c.is_already_selected]),
    );
    // Stored rows decide (amount deselected, area stored selected); columns never stored count as selected.
    expect(flags).toMatchObject({
      'orders.amount': false,
      'orders.id': true,
      'regions.area': true,
      'totals.total': true,
    });
  });

  it('save_catalog writes the allow-list with an audit row and returns {ok: true}', async () => {
    const view = await f.run(defaultSelection());
    expect(view).toEqual({
      job_id: view.job_id,
      action: 'save_catalog',
      status: 'completed',
      result: { ok: true },
      error: null,
    });
    const catalog = await getCatalog(f.store.db, f.dataSourceId);
    expect(
      catalog.schemas.map((s) => [s.schema_name, s.schema_alias, s.tables.map((t) => t.table_name)]),
    ).toEqual([
      ['public', null, ['big_orders', 'customers', 'orders']],
      ['sales', 's', ['regions']],
    ]);
    const orders = catalog.schemas[0]?.tables.find((t) => t.table_name === 'orders');
    expect(orders?.columns.map((c) => [c.column_name, c.data_type, c.arrow_type, c.is_selected])).toEqual([
      ['id', 'integer', 'Int32', true],
      ['status', 'text', 'Utf8', true],
      ['amount', 'numeric', 'Decimal128(10,2)', true],
      ['created', 'timestamp with time zone', 'Timestamp(Microsecond,Some("UTC"))', true],
    ]);
    const audit = (await auditRows(f.store)).filter((r) => r.action === 'save_catalog');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ resource_type: 'datasource', resource_id: f.dataSourceId });
  });

  it('save_catalog with duplicate effective schema names fails the job and writes nothing', async () => {
    const body = {
      action: 'save_catalog',
      schemas: [
        { schema_name: 'public', schema_alias: 'x', is_selected: true, tables: [] },
        { schema_name: 'sales', schema_alias: 'x', is_selected: true, tables: [] },
      ],
    };
    expect(await f.run(body)).toMatchObject({
      status: 'failed',
      result: null,
      error: "Duplicate effective schema name 'x': each schema must have a unique name or alias",
    });
    expect((await getCatalog(f.store.db, f.dataSourceId)).schemas).toEqual([]);
  });

  it('allows one running job per data source: the second gets the documented conflict', async () => {
    const other = await f.addDataSource('other', {});
    const { job_id } = await f.jobs.submit(f.dataSourceId, { action: 'discover_schemas' });
    const rejected = f.jobs.submit(f.dataSourceId, { action: 'sync_catalog' });
    await expect(rejected).rejects.toBeInstanceOf(ConflictError);
    await expect(rejected).rejects.toThrow(`Discovery already in progress (job_id: ${job_id})`);
    // Another data source runs concurrently.
    const parallel = await f.jobs.submit(other, { action: 'discover_schemas' });
    expect((await f.jobs.wait(parallel.job_id))?.status).toBe('completed');
    expect((await f.jobs.wait(job_id))?.status).toBe('completed');
    // Two submissions racing: exactly one wins.
    const raced = await Promise.allSettled([
      f.jobs.submit(other, { action: 'discover_schemas' }),
      f.jobs.submit(other, { action: 'discover_schemas' }),
    ]);
    expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    for (const r of raced) if (r.status === 'fulfilled') await f.jobs.wait(r.value.job_id);
    // The slot is free again once the job ended.
    expect((await f.run({ action: 'discover_schemas' })).status).toBe('completed');
  });

  it('rejects an unknown data source and an invalid request before starting a job', async () => {
    await expect(
      f.jobs.submit('0196a000-0000-7000-8000-000000000000', { action: 'discover_schemas' }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(f.jobs.submit(f.dataSourceId, { action: 'drop_everything' })).rejects.toBeInstanceOf(
      InvalidError,
    );
    await expect(f.jobs.submit(f.dataSourceId, { action: 'discover_tables' })).rejects.toThrow(/schemas/);
    await expect(
      f.jobs.submit(f.dataSourceId, { action: 'save_catalog', schemas: [{ schema_name: 'p' }] }),
    ).rejects.toThrow(/schemas\[0\]\.is_selected/);
    expect((await f.run({ action: 'discover_schemas' })).status).toBe('completed');
  });

  it('streams progress, then result and done, to a subscriber; a late subscriber gets the end at once', async () => {
    const { job_id } = await f.jobs.submit(f.dataSourceId, { action: 'discover_tables', schemas: ['sales'] });
    const events = await collect(f.jobs.events(job_id));
    expect(events.map((e) => (e.type === 'progress' ? `progress:${e.phase}` : e.type))).toEqual([
      'progress:connecting',
      'progress:querying',
      'result',
      'done',
    ]);
    const result = events[2] as { type: 'result'; data: unknown };
    expect(result.data).toEqual(f.jobs.get(job_id)?.result);
    expect(await collect(f.jobs.events(job_id))).toEqual([result, { type: 'done' }]);
    expect(f.jobs.events('no-such-job')).toBeUndefined();
  });

  it('cancels a running job at once, frees the slot, and the stream ends with cancelled', async () => {
    const hanging = await silentServer();
    try {
      const stuck = await f.addDataSource('stuck', { host: '127.0.0.1', port: hanging.port });
      const { job_id } = await f.jobs.submit(stuck, { action: 'discover_schemas' });
      const stream = f.jobs.events(job_id);
      await new Promise((resolve) => setTimeout(resolve, 200)); // connecting, and hanging there
      expect(f.jobs.get(job_id)?.status).toBe('running');
      const started = Date.now();
      expect(f.jobs.cancel(job_id)).toBe(true);
      expect(f.jobs.get(job_id)).toEqual({
        job_id,
        action: 'discover_schemas',
        status: 'failed',
        result: null,
        error: 'cancelled',
      });
      expect(f.jobs.cancel(job_id)).toBe(false);
      const events = await collect(stream);
      expect(Date.now() - started).toBeLessThan(1_000); // not the 2 s connect timeout
      expect(events.at(-1)).toEqual({ type: 'cancelled' });
      expect(events.map((e) => e.type)).toEqual(['progress', 'cancelled']);
      const next = await f.jobs.submit(stuck, { action: 'discover_schemas' });
      expect(f.jobs.cancel(next.job_id)).toBe(true);
      expect(f.jobs.cancel('no-such-job')).toBe(false);
    } finally {
      await hanging.close();
    }
  });

  it('keeps finished jobs for a bounded count', async () => {
    const bounded = await openJobsFixture('sqlite', { maxFinished: 2 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await bounded.run({ action: 'discover_schemas' })).job_id);
      await bounded.run({ action: 'discover_schemas' }); // submitting prunes
      expect(bounded.jobs.get(ids[0] as string)).toBeUndefined();
      expect(bounded.jobs.get(ids[2] as string)?.status).toBe('completed');
    } finally {
      await bounded.dispose();
    }
  });

  it('keeps finished jobs for a bounded time', async () => {
    const bounded = await openJobsFixture('sqlite', { retainMs: 50 });
    try {
      const { job_id } = await bounded.run({ action: 'discover_schemas' });
      expect(bounded.jobs.get(job_id)?.status).toBe('completed');
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(bounded.jobs.get(job_id)).toBeUndefined();
    } finally {
      await bounded.dispose();
    }
  });
});

describe('discovery jobs on a PostgreSQL admin store', () => {
  it('save_catalog then discover_columns', async () => {
    const f = await openJobsFixture('postgres');
    try {
      expect((await f.run(defaultSelection())).status).toBe('completed');
      const columns = (
        await f.run({ action: 'discover_columns', tables: [{ schema: 'public', table: 'customers' }] })
      ).result;
      expect(columns).toMatchObject([
        { column_name: 'id', arrow_type: 'Int32', is_already_selected: true },
        {
          column_name: 'name',
          data_type: 'character varying',
          arrow_type: 'Utf8',
          is_already_selected: true,
        },
      ]);
    } finally {
      await f.dispose();
    }
  });
});
