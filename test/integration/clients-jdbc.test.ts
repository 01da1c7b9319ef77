/**
 * The PostgreSQL JDBC driver 42.5 (Debian libpostgresql-jdbc-java, run by
 * single-file source launch with the JDK of default-jdk-headless) through
 * the proxy as both client-matrix users: test/clients/JdbcMetadata.java —
 * DatabaseMetaData getCatalogs / getSchemas / getTables / getColumns /
 * getPrimaryKeys / getImportedKeys / getExportedKeys / getIndexInfo, a
 * PreparedStatement past the server-prepare threshold, result type names.
 *
 * FAILING at the last run: schemas (XX000 "rewritten statement does not
 * parse"), primary_keys / index_info (42883 information_schema._pg_expandarray
 * missing), imported / exported keys (driver: "Unable to determine a value
 * for MaxIndexKeys" — its `SHOW max_index_keys` / pg_settings read), and
 * open_user's hidden-names-must-show scan as a consequence.
 */
import { expect } from 'vitest';
import { join } from 'node:path';
import { VISIBLE } from '../support/client-matrix.js';
import { CLIENTS_DIR } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';

const JDBC_JAR = '/usr/share/java/postgresql.jar';
/** Column n (0-based) of each row of a DatabaseMetaData result. */
const column = (r: unknown, n: number) => (r as string[][]).map((row) => row[n]);

describeScriptClient({
  title: 'PostgreSQL JDBC',
  command: 'java',
  args: () => ['-cp', JDBC_JAR, join(CLIENTS_DIR, 'JdbcMetadata.java')],
  timeoutMs: 120_000,
  checks: [
    { check: 'connect' },
    { check: 'catalogs', verify: (r) => expect(r).toEqual([['shopdb']]) },
    {
      check: 'schemas',
      verify: (r) => expect(column(r, 0)).toEqual(expect.arrayContaining([...VISIBLE.schemas])),
    },
    {
      check: 'tables',
      verify: (r, u) =>
        expect(column(r, 2).sort()).toEqual(
          ['customers', 'order_summary', 'orders', 'stock_items', ...forOpen(u, ['zz_hidden_table'])].sort(),
        ),
    },
    {
      check: 'columns_customers',
      verify: (r, u) =>
        expect(column(r, 3)).toEqual([...VISIBLE.columns.customers, ...forOpen(u, ['zz_secret_col'])]),
    },
    {
      check: 'columns_all_public',
      shows: (u) => [...VISIBLE.columns.orders, 'order_summary', ...forOpen(u, ['note'])],
    },
    { check: 'primary_keys_customers', verify: (r) => expect(column(r, 5)).toEqual(['customers_pkey']) },
    {
      check: 'imported_keys_orders',
      verify: (r) => expect(column(r, 11)).toEqual(['orders_customer_id_fkey']),
    },
    {
      check: 'exported_keys_customers',
      verify: (r, u) =>
        expect(column(r, 11)).toEqual([
          'orders_customer_id_fkey',
          ...forOpen(u, ['zz_hidden_table_customer_id_fkey']),
        ]),
    },
    {
      check: 'index_info_orders',
      verify: (r) => expect(column(r, 5)).toEqual(['orders_pkey', ...VISIBLE.indexes]),
    },
    {
      check: 'index_info_customers',
      verify: (r, u) =>
        expect(column(r, 5)).toEqual(['customers_pkey', ...forOpen(u, ['customers_zz_secret_col_idx'])]),
    },
    {
      check: 'prepared_statement',
      verify: (r, u) =>
        expect((r as unknown[][]).length === 7 && JSON.stringify(r)).toContain(
          u === 'open_user' ? 'bob@example.com' : '***@***',
        ),
    },
    {
      check: 'result_type_names',
      verify: (r) =>
        expect(r).toEqual([
          ['id', expect.stringMatching(/serial|int4/)],
          ['status', VISIBLE.enumType],
          ['total', 'numeric'],
        ]),
    },
  ],
});
