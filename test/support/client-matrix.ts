/**
 * The client-compatibility fixture (issue 6): an upstream database with
 * enough metadata for tools to show (two schemas, primary and foreign keys,
 * indexes, a view, a sequence, an enum, comments), an admin store seeded
 * through the repository functions (as src/demo/seed-admin.ts does), and a
 * proxy in front of it, with two users:
 *
 * - `restricted`: a row filter (customers.region = 'eu'), a column mask
 *   (customers.email), a column_deny (customers.zz_secret_col) and a
 *   table_deny (public.zz_hidden_table);
 * - `open_user`: no policies at all, on an `open` data source.
 *
 * Hidden objects carry distinctive names (`zz_hidden…`, `zz_secret…`) so a
 * client's complete output can be scanned for them; everything touching them
 * (index, foreign key, constraint and comment names) carries the marker too.
 * The upstream database gets a random name that no client may ever see: the
 * data source name (`shopdb`) is the database clients connect to.
 */
import pg from 'pg';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { discoverWholeSchema } from '../../src/catalog/discover.js';
import { createLogger } from '../../src/log.js';
import { importPoliciesInTransaction } from '../../src/policy/yaml-import.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createUser } from '../../src/store/repos/users.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { createTestDatabase, dropTestDatabase, type Upstream } from './postgres.js';
import { openTestStore, type TestStore } from './stores.js';
import { inject } from 'vitest';

export const MATRIX_DATASOURCE = 'shopdb';
export const MATRIX_PASSWORD = 'Matrix-Pass-1!';
export type MatrixUser = 'restricted' | 'open_user';
export const MATRIX_USERS: readonly MatrixUser[] = ['restricted', 'open_user'];

/** Names only `open_user` may see; any of them in `restricted`'s output is a leak. */
export const HIDDEN_NAMES = ['zz_hidden_table', 'zz_secret_col'] as const;
/** Matches every hidden object and everything derived from it (indexes, fks, comments). */
export const HIDDEN_PATTERN = /zz_hidden|zz_secret/i;

/** Objects both users must see, by kind. */
export const VISIBLE = {
  schemas: ['public', 'inventory'],
  tables: ['customers', 'orders', 'stock_items'],
  views: ['order_summary'],
  columns: { customers: ['id', 'name', 'email', 'region'], orders: ['id', 'customer_id', 'status', 'total'] },
  primaryKeys: ['customers_pkey', 'orders_pkey', 'stock_items_pkey'],
  foreignKeys: ['orders_customer_id_fkey'],
  indexes: ['orders_customer_idx'],
  enumType: 'order_status',
  sequence: 'invoice_number_seq',
  comment: 'Customers of the shop',
} as const;

const UPSTREAM_SCHEMA = `
CREATE SCHEMA inventory;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');
CREATE SEQUENCE invoice_number_seq;
CREATE TABLE customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text,
  region text NOT NULL,
  zz_secret_col text
);
COMMENT ON TABLE customers IS 'Customers of the shop';
COMMENT ON COLUMN customers.email IS 'Contact address';
COMMENT ON COLUMN customers.zz_secret_col IS 'zz_secret comment';
CREATE INDEX customers_zz_secret_col_idx ON customers (zz_secret_col);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers (id),
  status order_status NOT NULL DEFAULT 'new',
  total numeric(10, 2),
  invoice_no bigint DEFAULT nextval('invoice_number_seq')
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE zz_hidden_table (
  id integer PRIMARY KEY,
  customer_id integer REFERENCES customers (id),
  note text
);
COMMENT ON TABLE zz_hidden_table IS 'zz_hidden comment';
CREATE VIEW order_summary AS
  SELECT o.id, c.name, o.total FROM orders o JOIN customers c ON c.id = o.customer_id;
CREATE TABLE inventory.stock_items (sku text PRIMARY KEY, quantity integer NOT NULL DEFAULT 0);
INSERT INTO customers (name, email, region, zz_secret_col) VALUES
  ('Ada', 'ada@example.com', 'eu', 'zz_secret_value_1'),
  ('Bob', 'bob@example.com', 'us', 'zz_secret_value_2'),
  ('Cleo', 'cleo@example.com', 'eu', 'zz_secret_value_3');
INSERT INTO orders (customer_id, status, total) VALUES (1, 'paid', 10.50), (2, 'new', 20), (3, 'shipped', 7.25);
INSERT INTO zz_hidden_table VALUES (1, 1, 'zz_hidden_note');
INSERT INTO inventory.stock_items VALUES ('SKU-1', 5), ('SKU-2', 0);
`;

const RESTRICTED_POLICIES = `
version: 1
policies:
  - name: matrix-eu-only
    policy_type: row_filter
    targets: [{ schemas: [public], tables: [customers] }]
    definition: { filter_expression: "region = 'eu'" }
    assignments: [{ datasource: ${MATRIX_DATASOURCE}, user: restricted }]
  - name: matrix-mask-email
    policy_type: column_mask
    targets: [{ schemas: [public], tables: [customers], columns: [email] }]
    definition: { mask_expression: "'***@***'" }
    assignments: [{ datasource: ${MATRIX_DATASOURCE}, user: restricted }]
  - name: matrix-deny-secret-col
    policy_type: column_deny
    targets: [{ schemas: [public], tables: [customers], columns: [zz_secret_col] }]
    assignments: [{ datasource: ${MATRIX_DATASOURCE}, user: restricted }]
  - name: matrix-deny-hidden-table
    policy_type: table_deny
    targets: [{ schemas: [public], tables: [zz_hidden_table] }]
    assignments: [{ datasource: ${MATRIX_DATASOURCE}, user: restricted }]
`;

export interface ClientMatrix {
  proxy: ProxyServer;
  /** The upstream database's real name: no client output may contain it. */
  upstreamDatabase: string;
  /** libpq-style environment for a child process connecting as `user`. */
  env(user: MatrixUser): NodeJS.ProcessEnv;
  /** A connection URL to the proxy as `user`. */
  url(user: MatrixUser): string;
  /** A direct connection to the upstream (bypasses every policy; for expectations). */
  upstreamUrl: string;
  /** Every statement of `user` that failed so far (from the query audit log): the SQL to report. */
  failedStatements(user: MatrixUser): Promise<Array<{ sql: string; error: string | null }>>;
  close(): Promise<void>;
}

/**
 * The fixture on `upstream` (PostgreSQL 18 by default; psql 15's meta-commands need a server of
 * their own major version: against 17+ its \l names the renamed pg_database.daticulocale).
 */
export async function openClientMatrix(upstreamServer: Upstream = 'postgres'): Promise<ClientMatrix> {
  const server = inject(upstreamServer);
  if (!server) throw new Error(`no ${upstreamServer} server in this run (apt-get install postgresql-15)`);
  const upstream = await createTestDatabase('clients', upstreamServer);
  let admin: TestStore | undefined;
  try {
    const catalog = await seedUpstream(upstream.url);
    admin = await openTestStore('sqlite');
    const cipher = SecretCipher.fromHex('5a'.repeat(32));
    const { host, port, user, password } = server;
    await auditedTransaction(admin.store, SYSTEM_ACTOR_ID, async (tx) => {
      const users = [];
      for (const username of MATRIX_USERS)
        users.push(await createUser(tx, { username, password: MATRIX_PASSWORD }));
      const dataSource = await createDataSource(tx, cipher, {
        name: MATRIX_DATASOURCE,
        ds_type: 'postgres',
        config: { host, port, database: upstream.name, username: user, password, sslmode: 'disable' },
        access_mode: 'open',
        grantCreator: false,
      });
      await setUserAccess(
        tx,
        dataSource.id,
        users.map((u) => u.id),
      );
      await saveCatalog(tx, dataSource.id, catalog.selection, catalog.columns);
      await importPoliciesInTransaction(tx, RESTRICTED_POLICIES);
    });
    const store = admin;
    // The query audit gives the exact SQL each client sent and the error it got.
    const audit = new QueryAuditQueue(store.store, { flushIntervalMs: 200 });
    const proxy = await startProxyServer({
      bind: { host: '127.0.0.1', port: 0 },
      store: store.store,
      cipher,
      logger: createLogger('silent'),
      idleTimeoutSecs: 0,
      audit,
    });
    return {
      proxy,
      upstreamDatabase: upstream.name,
      upstreamUrl: upstream.url,
      env: (matrixUser) => ({
        ...process.env,
        PGHOST: '127.0.0.1',
        PGPORT: String(proxy.port),
        PGUSER: matrixUser,
        PGPASSWORD: MATRIX_PASSWORD,
        PGDATABASE: MATRIX_DATASOURCE,
        PGSSLMODE: 'disable',
        PGCONNECT_TIMEOUT: '10',
        // No __pycache__ left in test/clients/ by the Python clients.
        PYTHONDONTWRITEBYTECODE: '1',
      }),
      url: (matrixUser) =>
        `postgresql://${matrixUser}:${encodeURIComponent(MATRIX_PASSWORD)}@127.0.0.1:${proxy.port}/${MATRIX_DATASOURCE}`,
      failedStatements: async (matrixUser) => {
        await audit.flush();
        const rows = await store.store.db
          .selectFrom('query_audit_log')
          .select(['original_query', 'error_message'])
          .where('username', '=', matrixUser)
          .where('status', '!=', 'success')
          .orderBy('created_at')
          .execute();
        return rows.map((r) => ({ sql: r.original_query, error: r.error_message }));
      },
      close: async () => {
        await proxy.close();
        await audit.close();
        await store.dispose();
        await dropTestDatabase(upstream.name, upstreamServer);
      },
    };
  } catch (error) {
    await admin?.dispose();
    await dropTestDatabase(upstream.name, upstreamServer);
    throw error;
  }
}

/** Creates the schema and returns both schemas' catalog, ready for saveCatalog. */
async function seedUpstream(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(UPSTREAM_SCHEMA);
    const [publicSchema, inventory] = [
      await discoverWholeSchema(client, 'public'),
      await discoverWholeSchema(client, 'inventory'),
    ];
    // The enum column `orders.status` is exposed by the ordinary mapping (enums travel as text).
    return {
      selection: [...publicSchema.selection, ...inventory.selection],
      columns: [...publicSchema.columns, ...inventory.columns],
    };
  } finally {
    await client.end();
  }
}
