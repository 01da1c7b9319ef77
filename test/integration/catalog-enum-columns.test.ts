/**
 * Enum, domain and composite columns from discovery to the wire, on both
 * upstreams. Discovery must know an enum (Utf8), an array of enums
 * (List(Utf8)) and a domain (its base type's mapping, also nested, over an
 * enum, or in an array) from a composite or a range, which stay unsupported
 * (null arrow type: never exposed, even when selected). The catalog is saved
 * and synced through the discovery jobs, as the admin API does; then a real
 * proxy serves a user without policies and a user with a row filter and a
 * mask on the enum column: the enum column is in the rows, in pg_attribute
 * and in information_schema.columns, and the composite column nowhere.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { discoverColumns } from '../../src/catalog/discover.js';
import { DiscoveryJobs } from '../../src/catalog/jobs.js';
import { createLogger } from '../../src/log.js';
import { importPoliciesInTransaction } from '../../src/policy/yaml-import.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { getCatalog } from '../../src/store/repos/catalog.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createUser } from '../../src/store/repos/users.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { createTestDatabase, describeEachUpstream, dropTestDatabase } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const DATASOURCE = 'enumdb';
const PASSWORD = 'Enum-Columns-1!';

// Enum order differs from text order: `status > 'paid'` is 'cancelled' only when compared as the enum.
const SCHEMA = `
  CREATE TYPE order_state AS ENUM ('new', 'paid', 'cancelled');
  CREATE DOMAIN short_text AS text CHECK (length(VALUE) <= 40);
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE DOMAIN small_posint AS posint CHECK (VALUE < 100);
  CREATE DOMAIN state_domain AS order_state;
  CREATE DOMAIN price AS numeric(10,2);
  CREATE DOMAIN table_ref AS regclass;
  CREATE TYPE address AS (street text, city text);
  CREATE TABLE orders (
    id int PRIMARY KEY, status order_state NOT NULL, history order_state[], note short_text, qty posint,
    scores posint[], prio small_posint, review state_domain, amount price, ship_to address, period int4range,
    ref table_ref DEFAULT 'pg_class');
  INSERT INTO orders VALUES
    (1, 'paid', '{new,paid}', 'first', 3, '{1,2}', 5, 'paid', 10.5, ROW('1 Main St', 'Oslo'), '[1,5)'),
    (2, 'new', '{new}', 'second', 1, '{4}', 7, 'new', 20, ROW('2 Side St', 'Rome'), '[2,3)'),
    (3, 'cancelled', '{new,cancelled}', 'third', 2, '{}', 9, NULL, 7.25, ROW('3 Hill Rd', 'Lima'), NULL),
    (4, 'paid', '{paid}', 'fourth', 8, '{8}', 1, 'paid', 1, ROW('4 Lake Rd', 'Kyiv'), NULL);
  CREATE MATERIALIZED VIEW order_states AS SELECT id, status, qty, ship_to FROM orders;
`;

const POLICIES = `
version: 1
policies:
  - name: enum-paid-only
    policy_type: row_filter
    targets: [{ schemas: [public], tables: [orders] }]
    definition: { filter_expression: "status = 'paid'" }
    assignments: [{ datasource: ${DATASOURCE}, user: filtered }]
  - name: enum-mask-status
    policy_type: column_mask
    targets: [{ schemas: [public], tables: [orders], columns: [status] }]
    definition: { mask_expression: "'hidden'" }
    assignments: [{ datasource: ${DATASOURCE}, user: filtered }]
`;

/** column → [data_type, udt_name, arrow_type] as discovery reports them. */
const ORDERS: Record<string, [string, string, string | null]> = {
  id: ['integer', 'int4', 'Int32'],
  status: ['USER-DEFINED', 'order_state', 'Utf8'],
  history: ['ARRAY', '_order_state', 'List(Utf8)'],
  note: ['text', 'text', 'Utf8'], // information_schema names a domain's base type
  qty: ['integer', 'int4', 'Int32'],
  scores: ['ARRAY', '_posint', 'List(Int32)'], // … but an array of a domain by the domain's array type
  prio: ['USER-DEFINED', 'posint', 'Int32'], // a domain over a domain: one level resolved there
  review: ['USER-DEFINED', 'order_state', 'Utf8'],
  amount: ['numeric', 'numeric', 'Decimal128(10,2)'],
  ship_to: ['USER-DEFINED', 'address', null],
  period: ['int4range', 'int4range', null],
  ref: ['regclass', 'regclass', null], // a domain does not launder an unsupported type (V85)
};
const EXPOSED = Object.keys(ORDERS).filter((c) => ORDERS[c]![2] !== null);
const MATVIEW = { id: 'Int32', status: 'Utf8', qty: 'Int32', ship_to: null };

describeEachUpstream('enum and domain columns are exposed, composites are not', (upstream) => {
  let database: { name: string; url: string };
  let admin: TestStore;
  let jobs: DiscoveryJobs;
  let proxy: ProxyServer;
  let dataSourceId: string;
  const clients: pg.Client[] = [];

  const job = async (body: unknown) => {
    const view = await jobs.wait((await jobs.submit(dataSourceId, body)).job_id);
    expect(view).toMatchObject({ status: 'completed', error: null });
    return view!.result;
  };
  const connect = async (user: string) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password: PASSWORD,
      database: DATASOURCE,
    });
    await client.connect();
    clients.push(client);
    return client;
  };
  const rows = async (client: pg.Client, sql: string) => (await client.query(sql)).rows as unknown[];

  beforeAll(async () => {
    database = await createTestDatabase('enumcols', upstream);
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query(SCHEMA).finally(() => setup.end());
    admin = await openTestStore('sqlite');
    const cipher = SecretCipher.fromHex('4e'.repeat(32));
    const { host, port, user, password } = inject(upstream)!;
    await auditedTransaction(admin.store, SYSTEM_ACTOR_ID, async (tx) => {
      const users = [
        await createUser(tx, { username: 'plain', password: PASSWORD }),
        await createUser(tx, { username: 'filtered', password: PASSWORD }),
      ];
      const ds = await createDataSource(tx, cipher, {
        name: DATASOURCE,
        ds_type: 'postgres',
        config: { host, port, database: database.name, username: user, password, sslmode: 'disable' },
        access_mode: 'open',
        grantCreator: false,
      });
      dataSourceId = ds.id;
      await setUserAccess(
        tx,
        ds.id,
        users.map((u) => u.id),
      );
    });
    jobs = new DiscoveryJobs({ store: admin.store, cipher, logger: createLogger('silent') });
    proxy = await startProxyServer({
      bind: { host: '127.0.0.1', port: 0 },
      store: admin.store,
      cipher,
      logger: createLogger('silent'),
      idleTimeoutSecs: 0,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await proxy?.close();
    await jobs?.close();
    await admin?.dispose();
    if (database) await dropTestDatabase(database.name, upstream);
  });

  it('discovery maps enums, arrays of enums and domains; composites and ranges stay null', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const columns = await discoverColumns(client, [
      { schema: 'public', table: 'orders' },
      { schema: 'public', table: 'order_states' },
    ]).finally(() => client.end());
    const orders = columns.filter((c) => c.table_name === 'orders');
    const expected = Object.fromEntries(Object.entries(ORDERS).map(([name, [dt, udt]]) => [name, [dt, udt]]));
    expect(Object.fromEntries(orders.map((c) => [c.column_name, [c.data_type, c.udt_name]]))).toEqual(
      expected,
    );
    // discover_columns: exactly the contract's fields, the arrow types, and only supported columns pre-selected.
    const result = (await job({
      action: 'discover_columns',
      tables: [
        { schema: 'public', table: 'orders' },
        { schema: 'public', table: 'order_states' },
      ],
    })) as Array<Record<string, unknown>>;
    for (const c of result) {
      expect(Object.keys(c).sort()).toEqual(
        ['arrow_type', 'column_default', 'column_name', 'data_type', 'is_already_selected', 'is_nullable']
          .concat(['ordinal_position', 'schema_name', 'table_name'])
          .sort(),
      );
      expect(c.is_already_selected).toBe(c.arrow_type !== null);
    }
    const arrow = (table: string) =>
      Object.fromEntries(
        result.filter((c) => c.table_name === table).map((c) => [c.column_name, c.arrow_type]),
      );
    expect(arrow('orders')).toEqual(Object.fromEntries(Object.entries(ORDERS).map(([n, t]) => [n, t[2]])));
    expect(arrow('order_states')).toEqual(MATVIEW);
  });

  it('save_catalog stores the arrow types; an unchanged upstream syncs without drift', async () => {
    // No column list: every column is selected, the composite and the range too.
    await job({
      action: 'save_catalog',
      schemas: [
        {
          schema_name: 'public',
          is_selected: true,
          tables: [
            { table_name: 'orders', table_type: 'TABLE', is_selected: true },
            { table_name: 'order_states', table_type: 'MATERIALIZED VIEW', is_selected: true },
          ],
        },
      ],
    });
    await auditedTransaction(admin.store, SYSTEM_ACTOR_ID, (tx) => importPoliciesInTransaction(tx, POLICIES));
    const stored = (await getCatalog(admin.store.db, dataSourceId)).schemas[0]!.tables;
    const arrow = (table: string) =>
      Object.fromEntries(
        stored.find((t) => t.table_name === table)!.columns.map((c) => [c.column_name, c.arrow_type]),
      );
    expect(arrow('orders')).toEqual(Object.fromEntries(Object.entries(ORDERS).map(([n, t]) => [n, t[2]])));
    expect(arrow('order_states')).toEqual(MATVIEW);
    expect(stored.flatMap((t) => t.columns).every((c) => c.is_selected)).toBe(true);

    const noDrift = {
      added_schemas: [],
      removed_schemas: [],
      added_tables: [],
      removed_tables: [],
      changed_columns: [],
      has_breaking_changes: false,
    };
    expect(await job({ action: 'sync_catalog' })).toEqual(noDrift);
    // A new enum label changes no column's type.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("ALTER TYPE order_state ADD VALUE 'refunded'").finally(() => client.end());
    expect(await job({ action: 'sync_catalog' })).toEqual(noDrift);
  });

  it('a user without policies gets the enum and domain columns, never the composite', async () => {
    const plain = await connect('plain');
    const all = await plain.query('SELECT * FROM orders ORDER BY id');
    expect(all.fields.map((f) => f.name)).toEqual(EXPOSED);
    expect(all.rows[0]).toMatchObject({
      id: 1,
      status: 'paid',
      note: 'first',
      qty: 3,
      prio: 5,
      review: 'paid',
    });
    expect(all.rows[0].history).toBe('{new,paid}');
    // Compared upstream as the enum ('cancelled' sorts after 'paid'), also against a cast to the type.
    expect(await rows(plain, "SELECT id FROM orders WHERE status > 'paid'")).toEqual([{ id: 3 }]);
    expect(await rows(plain, "SELECT id FROM orders WHERE status = 'paid'::order_state ORDER BY id")).toEqual(
      [{ id: 1 }, { id: 4 }],
    );
    expect(await rows(plain, 'SELECT status FROM order_states WHERE id = 2')).toEqual([{ status: 'new' }]);
    for (const sql of [
      'SELECT ship_to FROM orders',
      'SELECT period FROM orders',
      'SELECT ref FROM orders',
      'SELECT ship_to FROM order_states',
    ])
      await expect(plain.query(sql)).rejects.toMatchObject({ code: '42703' });
    await expectCatalogColumns(plain);
  });

  it('a row filter and a mask on the enum column apply; the column stays listed', async () => {
    const filtered = await connect('filtered');
    expect(await rows(filtered, 'SELECT id, status, history FROM orders ORDER BY id')).toEqual([
      { id: 1, status: 'hidden', history: '{new,paid}' },
      { id: 4, status: 'hidden', history: '{paid}' },
    ]);
    expect(JSON.stringify(await rows(filtered, 'SELECT * FROM orders'))).not.toMatch(
      /new"|cancelled"|Oslo|Kyiv/,
    );
    await expect(filtered.query('SELECT ship_to FROM orders')).rejects.toMatchObject({ code: '42703' });
    await expectCatalogColumns(filtered);
  });

  it('a catalog saved before enums were mapped reports them once on sync, then exposes them', async () => {
    const tableIds = (await getCatalog(admin.store.db, dataSourceId)).schemas[0]!.tables.map((t) => t.id);
    await admin.store.db
      .updateTable('discovered_column')
      .set({ arrow_type: null })
      .where('discovered_table_id', 'in', tableIds)
      .where('column_name', 'in', ['status', 'history'])
      .execute();
    const report = (await job({ action: 'sync_catalog' })) as { changed_columns: string[] };
    expect(report.changed_columns).toEqual([
      'public.orders.status',
      'public.orders.history',
      'public.order_states.status',
    ]);
    expect(
      ((await job({ action: 'sync_catalog' })) as { changed_columns: string[] }).changed_columns,
    ).toEqual([]);
    const plain = await connect('plain');
    expect((await plain.query('SELECT * FROM orders LIMIT 0')).fields.map((f) => f.name)).toEqual(EXPOSED);
  });
});

/** The enum and domain columns are in pg_attribute and information_schema.columns; the composite, range and regclass ones are in neither. */
async function expectCatalogColumns(client: pg.Client): Promise<void> {
  const attributes = await client.query(
    `SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      WHERE c.relname = 'orders' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  expect(attributes.rows.map((r: { attname: string }) => r.attname)).toEqual(EXPOSED);
  const columns = await client.query(
    `SELECT column_name, data_type, udt_name FROM information_schema.columns
      WHERE table_name = 'orders' ORDER BY ordinal_position`,
  );
  expect(columns.rows.map((r: { column_name: string }) => r.column_name)).toEqual(EXPOSED);
  expect(columns.rows[1]).toEqual({
    column_name: 'status',
    data_type: 'USER-DEFINED',
    udt_name: 'order_state',
  });
  const anywhere = await client.query(
    `SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attname IN ('ship_to', 'period', 'ref')
     UNION ALL SELECT column_name::text FROM information_schema.columns WHERE column_name IN ('ship_to', 'period', 'ref')`,
  );
  expect(anywhere.rows).toEqual([]);
}
