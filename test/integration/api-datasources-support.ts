/**
 * Shared set-up of the data-source API tests (api-datasources*, api-access*,
 * api-assignments*, api-catalog*, api-relationships*): `openTestApi` of
 * test/support/api.ts with all route modules, plus a fresh upstream database
 * holding a small catalog with foreign keys, reachable through a login of
 * its own whose password must never leak (`expectNoSecretLeak`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect, inject } from 'vitest';
import type { StoreEngine } from '../../src/store/db.js';
import { openTestApi, type TestApi, type TestApiOptions } from '../support/api.js';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/postgres.js';

export { auditRowsOf, JWT_SECRET, MISSING_ID, TS } from '../support/api.js';
export type { ApiResponse } from '../support/api.js';

export const UPSTREAM_SQL = `
  CREATE TABLE public.customers (id int PRIMARY KEY, org text NOT NULL, email text UNIQUE);
  CREATE TABLE public.orders (
    id serial PRIMARY KEY, customer_id int REFERENCES public.customers(id), status text, note text);
  CREATE TABLE public.payments (
    id int PRIMARY KEY, order_id int REFERENCES public.orders(id), amount numeric(10,2));
  CREATE TABLE public.audit_notes (id int, customer_email text REFERENCES public.customers(email));
  CREATE SCHEMA sales;
  CREATE TABLE sales.regions (code char(2) PRIMARY KEY, label text);
  CREATE TABLE sales.stores (id int PRIMARY KEY, region char(2) REFERENCES sales.regions(code));
`;

export interface DataSourceApi extends TestApi {
  /** The upstream login's password: must never appear in a response or an audit row. */
  upstreamPassword: string;
  /** The flat config of a data source pointing at the test's upstream database. */
  upstreamConfig: Record<string, unknown>;
  /** Creates a data source through the API on the upstream database; returns its id. */
  createDataSource(name?: string, extra?: Record<string, unknown>): Promise<string>;
  /** Runs SQL on the upstream database. */
  upstream(sql: string): Promise<void>;
  /** Submits a discovery job and polls it until it ends; returns the job object. */
  runJob(dataSourceId: string, body: unknown): Promise<Record<string, unknown>>;
}

export async function openDataSourceApi(
  engine: StoreEngine,
  options: Pick<TestApiOptions, 'eventPingMs'> = {},
): Promise<DataSourceApi> {
  const server = inject('postgres');
  const database = await createTestDatabase('dsapi');
  const upstream = (sql: string) => runSql(database.url, sql);
  await upstream(UPSTREAM_SQL);
  // A login of its own with a distinctive password, so "the password never leaks" can be asserted.
  const login = `dsapi_${randomBytes(5).toString('hex')}`;
  const password = `Upstream-${randomBytes(9).toString('hex')}-Pw`;
  await upstream(`
    CREATE ROLE ${login} LOGIN PASSWORD '${password}';
    GRANT CONNECT ON DATABASE ${database.name} TO ${login};
    GRANT USAGE ON SCHEMA public, sales TO ${login};
    GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO ${login};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public, sales GRANT SELECT ON TABLES TO ${login};
  `);
  const upstreamConfig = {
    host: server.host,
    port: server.port,
    database: database.name,
    username: login,
    password,
    sslmode: 'disable',
  };

  const api = await openTestApi(engine, { ...options, routes: 'all' });
  const { call } = api;
  const closeApi = api.dispose;
  const extra: Omit<DataSourceApi, keyof TestApi> = {
    upstreamPassword: password,
    upstreamConfig,
    upstream,
    createDataSource: async (name = 'warehouse', more = {}) => {
      const r = await call('POST', '/api/v1/datasources', {
        body: { name, ds_type: 'postgres', config: upstreamConfig, access_mode: 'open', ...more },
      });
      if (r.status !== 201) throw new Error(`create data source: ${r.status} ${r.text}`);
      return r.json.id as string;
    },
    runJob: async (dataSourceId, body) => {
      const submitted = await call('POST', `/api/v1/datasources/${dataSourceId}/discover`, { body });
      if (submitted.status !== 202) throw new Error(`discover: ${submitted.status} ${submitted.text}`);
      const url = `/api/v1/datasources/${dataSourceId}/discover/${submitted.json.job_id as string}`;
      for (let i = 0; i < 400; i++) {
        const view = await call('GET', url);
        if (view.json.status !== 'running') return view.json as Record<string, unknown>;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error('job did not finish');
    },
  };
  return Object.assign(api, extra, {
    dispose: async () => {
      await closeApi();
      await dropTestDatabase(database.name);
      await runSql(serverUrl(), `DROP ROLE IF EXISTS ${login}`);
    },
  });
}

async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Every secret-absence check of a test: no response body and no admin audit row holds the password. */
export async function expectNoSecretLeak(api: DataSourceApi, ...secrets: string[]): Promise<void> {
  const audit = JSON.stringify(await api.store.db.selectFrom('admin_audit_log').selectAll().execute());
  for (const secret of [api.upstreamPassword, ...secrets]) {
    for (const text of api.responses) expect(text).not.toContain(secret);
    expect(audit).not.toContain(secret);
  }
}
/** A save_catalog body selecting every table of public and sales (sales aliased `s`). */
export function fullSelection() {
  const table = (table_name: string) => ({ table_name, table_type: 'TABLE', is_selected: true });
  return {
    action: 'save_catalog',
    schemas: [
      {
        schema_name: 'public',
        is_selected: true,
        tables: ['customers', 'orders', 'payments', 'audit_notes'].map(table),
      },
      {
        schema_name: 'sales',
        schema_alias: 's',
        is_selected: true,
        tables: ['regions', 'stores'].map(table),
      },
    ],
  };
}

/** Table ids by `schema.table` from the stored catalog. */
export async function tableIds(api: DataSourceApi, dataSourceId: string): Promise<Record<string, string>> {
  const r = await api.call('GET', `/api/v1/datasources/${dataSourceId}/catalog`);
  const ids: Record<string, string> = {};
  for (const schema of r.json.schemas as {
    schema_name: string;
    tables: { table_name: string; id: string }[];
  }[]) {
    for (const table of schema.tables) ids[`${schema.schema_name}.${table.table_name}`] = table.id;
  }
  return ids;
}
