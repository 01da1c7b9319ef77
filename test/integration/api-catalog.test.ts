/**
 * Discovery jobs and the stored catalog through the API (api-contract §4.8,
 * §8) on both store engines, against a real upstream database: each action
 * submitted (202) and polled, save and sync (drift report stored on the data
 * source), failures as failed jobs, one running job per data source (409),
 * cancellation, the 404s, Q13 (status ignores the path's data source) and
 * body errors as 422 plain text. Event streams: api-catalog-events.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  TS,
  type DataSourceApi,
} from './api-datasources-support.js';
import { silentServer } from './catalog-jobs-fixture.js';

describe.each(STORE_ENGINES)('API discovery and catalog on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
    ds = await api.createDataSource();
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const discover = (body: unknown, target = ds) =>
    api.call('POST', `/api/v1/datasources/${target}/discover`, { body });

  it('discovers schemas, tables and columns, saves the selection and reads the catalog', async () => {
    const schemas = await api.runJob(ds, { action: 'discover_schemas' });
    expect(schemas).toEqual({
      job_id: expect.any(String),
      action: 'discover_schemas',
      status: 'completed',
      result: [
        { schema_name: 'public', schema_alias: null, is_already_selected: false },
        { schema_name: 'sales', schema_alias: null, is_already_selected: false },
      ],
      error: null,
    });
    const tables = await api.runJob(ds, { action: 'discover_tables', schemas: ['sales'], ignored: 1 });
    expect(tables.result).toEqual([
      { schema_name: 'sales', table_name: 'regions', table_type: 'TABLE', is_already_selected: false },
      { schema_name: 'sales', table_name: 'stores', table_type: 'TABLE', is_already_selected: false },
    ]);
    const columns = await api.runJob(ds, {
      action: 'discover_columns',
      tables: [{ schema: 'public', table: 'payments' }],
    });
    expect(columns.result).toEqual([
      expect.objectContaining({
        column_name: 'id',
        ordinal_position: 1,
        data_type: 'integer',
        arrow_type: 'Int32',
      }),
      expect.objectContaining({ column_name: 'order_id', is_nullable: true, is_already_selected: true }),
      expect.objectContaining({ column_name: 'amount', arrow_type: 'Decimal128(10,2)' }),
    ]);

    const empty = await api.call('GET', `/api/v1/datasources/${ds}/catalog`);
    expect([empty.status, empty.json]).toEqual([200, { schemas: [] }]);
    const saved = await api.runJob(ds, fullSelection());
    expect(saved).toMatchObject({ action: 'save_catalog', status: 'completed', result: { ok: true } });
    const catalog = (await api.call('GET', `/api/v1/datasources/${ds}/catalog`)).json;
    expect(catalog.schemas.map((s: { schema_name: string }) => s.schema_name)).toEqual(['public', 'sales']);
    const sales = catalog.schemas[1];
    expect(sales).toMatchObject({ schema_alias: 's', is_selected: true });
    expect(Object.keys(sales)).toEqual(['id', 'schema_name', 'schema_alias', 'is_selected', 'tables']);
    expect(sales.tables.map((t: { table_name: string }) => t.table_name)).toEqual(['regions', 'stores']);
    expect(sales.tables[0].columns[0]).toEqual({
      id: expect.any(String),
      column_name: 'code',
      ordinal_position: 1,
      data_type: 'character',
      is_nullable: false,
      column_default: null,
      arrow_type: 'Utf8',
      is_selected: true,
    });
    const orders = catalog.schemas[0].tables.find((t: { table_name: string }) => t.table_name === 'orders');
    expect(orders.columns[0].column_default).toBe("nextval('orders_id_seq'::regclass)");
    // The save is audited on the data source with the acting admin (Q18: allowed addition).
    const audit = await auditRowsOf(api.store, 'datasource', ds);
    expect(audit.at(-1)).toMatchObject({ action: 'save_catalog', actor_id: api.admin.id });
    const again = await api.runJob(ds, { action: 'discover_schemas' });
    expect(again.result).toEqual([
      { schema_name: 'public', schema_alias: null, is_already_selected: true },
      { schema_name: 'sales', schema_alias: 's', is_already_selected: true },
    ]);
  });

  it('syncs: reports drift, auto-selects new columns only, stores the report on the data source', async () => {
    await api.runJob(ds, fullSelection());
    await api.upstream(`
      CREATE TABLE public.refunds (id int);
      ALTER TABLE public.orders ADD COLUMN channel text;
      DROP TABLE public.audit_notes;
      CREATE SCHEMA archive;`);
    const sync = await api.runJob(ds, { action: 'sync_catalog' });
    const report = {
      added_schemas: ['archive'],
      removed_schemas: [],
      added_tables: ['public.refunds'],
      removed_tables: ['public.audit_notes'],
      changed_columns: ['public.orders.channel (new)'],
      has_breaking_changes: true,
    };
    expect(sync).toMatchObject({ action: 'sync_catalog', status: 'completed', result: report });
    const dsNow = (await api.call('GET', `/api/v1/datasources/${ds}`)).json;
    expect(dsNow.last_sync_result).toEqual(report);
    expect(dsNow.last_sync_at).toMatch(TS);
    const catalog = (await api.call('GET', `/api/v1/datasources/${ds}/catalog`)).json;
    const tables = catalog.schemas[0].tables.map((t: { table_name: string }) => t.table_name);
    expect(tables).not.toContain('refunds'); // new tables are reported, not added
    const orders = catalog.schemas[0].tables.find((t: { table_name: string }) => t.table_name === 'orders');
    expect(orders.columns.at(-1)).toMatchObject({ column_name: 'channel', is_selected: true });
  });

  it('ends a job failed on a validation or upstream problem, without an HTTP error', async () => {
    const duplicate = {
      action: 'save_catalog',
      schemas: [
        { schema_name: 'public', schema_alias: 'x', is_selected: true, tables: [] },
        { schema_name: 'sales', schema_alias: 'x', is_selected: true, tables: [] },
      ],
    };
    expect(await api.runJob(ds, duplicate)).toMatchObject({
      status: 'failed',
      result: null,
      error: "Duplicate effective schema name 'x': each schema must have a unique name or alias",
    });
    const refused = await api.createDataSource('refused', {
      config: { ...api.upstreamConfig, host: '127.0.0.1', port: 1 },
    });
    expect(await api.runJob(refused, { action: 'discover_schemas' })).toMatchObject({
      status: 'failed',
      error: 'Connection error: connection refused (127.0.0.1:1)',
    });
  });

  it('allows one running job per data source, cancels it, and answers the 404s', async () => {
    const silent = await silentServer();
    try {
      const hung = await api.createDataSource('hung', {
        config: { ...api.upstreamConfig, host: '127.0.0.1', port: silent.port },
      });
      const first = await discover({ action: 'discover_schemas' }, hung);
      expect(first.status).toBe(202);
      expect(Object.keys(first.json)).toEqual(['job_id']);
      const jobId = first.json.job_id as string;
      const busy = await discover({ action: 'sync_catalog' }, hung);
      expect([busy.status, busy.json]).toEqual([
        409,
        { error: `Discovery already in progress (job_id: ${jobId})` },
      ]);
      expect((await discover({ action: 'discover_schemas' })).status).toBe(202); // other data sources run

      // Q13 replicated: status and cancel identify the job by its id alone.
      const running = await api.call('GET', `/api/v1/datasources/${MISSING_ID}/discover/${jobId}`);
      expect(running.json).toEqual({
        job_id: jobId,
        action: 'discover_schemas',
        status: 'running',
        result: null,
        error: null,
      });
      const cancel = await api.call('DELETE', `/api/v1/datasources/${MISSING_ID}/discover/${jobId}`);
      expect([cancel.status, cancel.text]).toEqual([204, '']);
      const view = await api.call('GET', `/api/v1/datasources/${hung}/discover/${jobId}`);
      expect(view.json).toMatchObject({ status: 'failed', error: 'cancelled', result: null });
      const twice = await api.call('DELETE', `/api/v1/datasources/${hung}/discover/${jobId}`);
      expect([twice.status, twice.json]).toEqual([404, { error: 'Job not found or not running' }]);
      expect((await discover({ action: 'discover_schemas' }, hung)).status).toBe(202); // slot freed
    } finally {
      await silent.close();
    }
    const unknown = await api.call('GET', `/api/v1/datasources/${ds}/discover/no-such-job`);
    expect([unknown.status, unknown.json]).toEqual([404, { error: 'Job not found' }]);
    const unknownCancel = await api.call('DELETE', `/api/v1/datasources/${ds}/discover/no-such-job`);
    expect([unknownCancel.status, unknownCancel.json]).toEqual([
      404,
      { error: 'Job not found or not running' },
    ]);
    const noDs = await discover({ action: 'discover_schemas' }, MISSING_ID);
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
    const noCatalog = await api.call('GET', `/api/v1/datasources/${MISSING_ID}/catalog`);
    expect([noCatalog.status, noCatalog.json]).toEqual([404, { error: 'Data source not found' }]);
  });

  it('rejects malformed discover bodies with 422 plain text, before the 404', async () => {
    const prefix = 'Failed to deserialize the JSON body into the target type: ';
    const bodies: [unknown, string][] = [
      [{}, 'missing field `action`'],
      [{ action: 7 }, 'action: invalid type: expected string'],
      [{ action: 'discover_everything' }, "action: unknown variant 'discover_everything'"],
      [{ action: 'discover_tables' }, 'schemas: expected an array of strings'],
      [{ action: 'discover_columns', tables: [{ schema: 'public' }] }, 'tables: expected an array'],
      [{ action: 'save_catalog', schemas: [{ schema_name: 'public' }] }, 'schemas[0].is_selected'],
    ];
    for (const [body, problem] of bodies) {
      for (const target of [ds, MISSING_ID]) {
        const r = await discover(body, target);
        expect(r.status, JSON.stringify(body)).toBe(422);
        expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(r.text.startsWith(prefix + problem), r.text).toBe(true);
      }
    }
    const syntax = await discover('{"action":');
    expect(syntax.status).toBe(400);
    expect(syntax.text).toMatch(/^Failed to parse the request body as JSON: /);
  });
});
