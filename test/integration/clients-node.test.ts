/**
 * node-postgres (`pg`) and postgres.js through the proxy as both
 * client-matrix users: named prepared statements reused with new parameters,
 * type introspection (postgres.js reads pg_type at connect with its default
 * `fetch_types: true`, to parse arrays; node-postgres apps look up a
 * result's type OIDs in pg_type), metadata listings as ORMs run them
 * (information_schema), and `SELECT *`. Every result is scanned for hidden
 * names and the upstream database's real name.
 *
 * FAILING at the last run: postgres.js array parsing with
 * `::order_status[]` (42704 type "order_status[]" does not exist).
 */
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { MATRIX_USERS, openClientMatrix, VISIBLE, type ClientMatrix } from '../support/client-matrix.js';
import { customersAsSeen } from '../support/client-matrix-expect.js';
import { expectLeakFree, recordFailedStatements } from '../support/client-matrix-run.js';
import { matrixIt } from '../support/client-matrix-gaps.js';

let matrix: ClientMatrix;
beforeAll(async () => (matrix = await openClientMatrix()));
afterAll(async () => {
  for (const user of MATRIX_USERS) if (matrix) await recordFailedStatements(matrix, 'node clients', user);
  await matrix?.close();
});

const COLUMNS_SQL = `SELECT table_name, column_name, data_type FROM information_schema.columns
  WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`;

describe.each(MATRIX_USERS)('node-postgres as %s', (user) => {
  const open = user === 'open_user';
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: matrix.url(user) });
    await client.connect();
  });
  afterAll(async () => client?.end());

  /** Runs a query and checks its complete result (fields and rows) for leaks. */
  async function query(config: string | pg.QueryConfig | pg.QueryArrayConfig) {
    const result = await client.query(config as pg.QueryConfig);
    expectLeakFree(JSON.stringify({ f: result.fields, r: result.rows }), user, matrix.upstreamDatabase, {
      hiddenMustShow: false,
    });
    return result;
  }

  matrixIt('reads the rows and columns it may see', async () => {
    const { rows } = await query({
      text: 'SELECT id, name, email FROM customers ORDER BY id',
      rowMode: 'array',
    });
    expect(rows).toEqual(customersAsSeen(user, ['id', 'name', 'email']));
    const star = await query('SELECT * FROM customers LIMIT 1');
    expect(star.fields.map((f) => f.name).includes('zz_secret_col')).toBe(open);
  });

  matrixIt('reuses a named prepared statement with new parameters', async () => {
    for (const id of [1, 2, 3, 1]) {
      const { rows } = await query({
        name: 'customer_by_id',
        text: 'SELECT name FROM customers WHERE id = $1',
        values: [id],
      });
      expect(rows.length).toBe(open || id !== 2 ? 1 : 0);
    }
  });

  matrixIt("looks up a result's type OIDs in pg_type (enum included)", async () => {
    const result = await query('SELECT id, status, total FROM orders LIMIT 0');
    const { rows } = await query({
      text: 'SELECT oid::int AS oid, typname FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[]) ORDER BY typname',
      values: [result.fields.map((f) => f.dataTypeID)],
    });
    expect(rows.map((r: { typname: string }) => r.typname)).toEqual(['int4', 'numeric', VISIBLE.enumType]);
  });

  matrixIt('lists columns through information_schema', async () => {
    const { rows } = await query(COLUMNS_SQL);
    const names = rows.map(
      (r: { table_name: string; column_name: string }) => `${r.table_name}.${r.column_name}`,
    );
    expect(names).toEqual(
      expect.arrayContaining(['customers.email', 'orders.status', 'order_summary.total']),
    );
    expect(names.includes('customers.zz_secret_col')).toBe(open);
    expect(names.includes('zz_hidden_table.note')).toBe(open);
  });
});

describe.each(MATRIX_USERS)('postgres.js as %s', (user) => {
  const open = user === 'open_user';
  let sql: postgres.Sql;
  beforeAll(() => {
    // Defaults kept on purpose: fetch_types (pg_type read at connect) and prepare (named statements).
    sql = postgres(matrix.url(user), { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  });
  afterAll(async () => sql?.end({ timeout: 5 }));

  const leakFree = (value: unknown) =>
    expectLeakFree(JSON.stringify(value), user, matrix.upstreamDatabase, { hiddenMustShow: false });

  matrixIt('connects with its type fetch and parses arrays with the fetched types', async () => {
    const [row] =
      await sql`SELECT ARRAY[1, 2]::int4[] AS ints, ARRAY['paid', 'new']::order_status[] AS statuses`;
    leakFree(row);
    expect(row).toEqual({ ints: [1, 2], statuses: ['paid', 'new'] });
  });

  matrixIt('reads the rows it may see through prepared statements, reused', async () => {
    for (let i = 0; i < 3; i++) {
      const rows =
        await sql`SELECT id, name, email FROM customers WHERE id = ANY(${[1, 2, 3]}) ORDER BY id`.values();
      leakFree(rows);
      expect(rows).toEqual(customersAsSeen(user, ['id', 'name', 'email']));
    }
  });

  matrixIt('describes a statement (parameter and column types)', async () => {
    const described = await sql`SELECT * FROM customers WHERE id = ${1}`.describe();
    leakFree(described);
    expect(described.columns.map((c) => c.name).includes('zz_secret_col')).toBe(open);
  });

  matrixIt('lists tables through information_schema', async () => {
    const rows = await sql`SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`;
    leakFree(rows);
    const names = rows.map((r) => `${r.table_schema}.${r.table_name}`);
    expect(names).toEqual([
      'inventory.stock_items',
      'public.customers',
      'public.order_summary',
      'public.orders',
      ...(open ? ['public.zz_hidden_table'] : []),
    ]);
  });
});
