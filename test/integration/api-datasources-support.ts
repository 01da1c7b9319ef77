/**
 * Shared set-up of the data-source API tests (api-datasources*, api-access*,
 * api-assignments*, api-catalog*, api-relationships*): the admin server with
 * the data-source route modules on a fresh store of one engine, a logged-in
 * admin, and a fresh upstream database holding a small catalog with foreign
 * keys. `call` injects a request like test/support/api.ts does.
 *
 * (test/support/api.ts's openTestApi cannot take extra route modules, hence
 * this twin; see the report of issue 5.)
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { expect, inject } from 'vitest';
import { dataSourceRouteModules } from '../../src/admin/routes/datasource-deps.js';
import { buildAdminServer } from '../../src/admin/server.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import type { Store, StoreEngine } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createUser, type User } from '../../src/store/repos/users.js';
import type { ApiResponse, CallOptions } from '../support/api.js';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/postgres.js';
import { openTestStore } from '../support/stores.js';

export { auditRowsOf } from '../support/api.js';
export type { ApiResponse } from '../support/api.js';

export const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
export const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/;
export const JWT_SECRET = 'api-datasources-secret';
const ADMIN_PASSWORD = 'Admin123!';

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

export interface DataSourceApi {
  app: FastifyInstance;
  store: Store;
  admin: User;
  token: string;
  /** The upstream login's password: must never appear in a response or an audit row. */
  upstreamPassword: string;
  /** Every response body so far (for the secret-absence checks). */
  responses: string[];
  /** The flat config of a data source pointing at the test's upstream database. */
  upstreamConfig: Record<string, unknown>;
  call(method: string, url: string, options?: CallOptions): Promise<ApiResponse>;
  seedUser(username: string, options?: { is_admin?: boolean; password?: string }): Promise<User>;
  /** Creates a data source through the API on the upstream database; returns its id. */
  createDataSource(name?: string, extra?: Record<string, unknown>): Promise<string>;
  /** Runs SQL on the upstream database. */
  upstream(sql: string): Promise<void>;
  /** Submits a discovery job and polls it until it ends; returns the job object. */
  runJob(dataSourceId: string, body: unknown): Promise<Record<string, unknown>>;
  /** Closes the admin server (idempotent; dispose calls it too). */
  closeServer(): Promise<void>;
  dispose(): Promise<void>;
}

export interface DataSourceApiOptions {
  /** Upstream timeouts for tests of hanging or unreachable servers. */
  connectMs?: number;
  /** Keep-alive interval of discovery event streams (default 15 s). */
  eventPingMs?: number;
}

export async function openDataSourceApi(
  engine: StoreEngine,
  options: DataSourceApiOptions = {},
): Promise<DataSourceApi> {
  const server = inject('postgres');
  const database = await createTestDatabase('dsapi');
  const testStore = await openTestStore(engine);
  const store = testStore.store;
  const cipher = SecretCipher.fromHex(randomBytes(32).toString('hex'));
  const logger = pino({ level: 'silent' });
  const app = await buildAdminServer({
    api: {
      store,
      jwt: { secret: JWT_SECRET, expiryHours: 1 },
      loginThrottle: { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 },
      routes: dataSourceRouteModules({
        cipher,
        logger,
        upstreamTimeouts: { connectMs: options.connectMs ?? 5_000, statementMs: 10_000 },
        eventPingMs: options.eventPingMs,
      }),
    },
  });
  const upstream = async (sql: string) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
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
  const responses: string[] = [];

  const call = async (method: string, url: string, callOptions: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...callOptions.headers };
    const token = callOptions.token === undefined ? api.token : callOptions.token;
    if (token !== null && headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (callOptions.body !== undefined) {
      payload = typeof callOptions.body === 'string' ? callOptions.body : JSON.stringify(callOptions.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    if (headers['content-type'] === '') delete headers['content-type'];
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    responses.push(response.body);
    const isJson = String(response.headers['content-type'] ?? '').startsWith('application/json');
    return {
      status: response.statusCode,
      headers: response.headers,
      text: response.body,
      json: isJson && response.body !== '' ? JSON.parse(response.body) : undefined,
    };
  };

  const seedUser: DataSourceApi['seedUser'] = (username, seed = {}) =>
    auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
      createUser(tx, {
        username,
        password: seed.password ?? 'Secret123!',
        is_admin: seed.is_admin ?? false,
      }),
    );

  const upstreamConfig = {
    host: server.host,
    port: server.port,
    database: database.name,
    username: login,
    password,
    sslmode: 'disable',
  };

  let closing: Promise<void> | undefined;
  const closeServer = () => (closing ??= app.close());

  const admin = await seedUser('admin', { is_admin: true, password: ADMIN_PASSWORD });
  const api: DataSourceApi = {
    app,
    store,
    admin,
    token: '',
    upstreamPassword: password,
    responses,
    upstreamConfig,
    call,
    seedUser,
    upstream,
    createDataSource: async (name = 'warehouse', extra = {}) => {
      const r = await call('POST', '/api/v1/datasources', {
        body: { name, ds_type: 'postgres', config: upstreamConfig, access_mode: 'open', ...extra },
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
    closeServer,
    dispose: async () => {
      await closeServer();
      await testStore.dispose();
      await dropTestDatabase(database.name);
      await dropRole(login);
    },
  };
  const session = await call('POST', '/api/v1/auth/login', {
    body: { username: 'admin', password: ADMIN_PASSWORD },
    token: null,
  });
  if (session.status !== 200) throw new Error(`login: ${session.status} ${session.text}`);
  api.token = session.json.token as string;
  return api;
}

async function dropRole(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(`DROP ROLE IF EXISTS ${name}`);
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
