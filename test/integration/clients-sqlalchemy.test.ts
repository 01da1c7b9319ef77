/**
 * SQLAlchemy 1.4 Inspector (Debian python3-sqlalchemy with psycopg2,
 * /usr/bin/python3) through the proxy as both client-matrix users:
 * test/clients/sqlalchemy_inspector.py — schemas, tables, views, columns,
 * primary key, foreign keys, indexes, comments, enums, MetaData.reflect, and
 * the hidden table asked for by name (NoSuchTableError for `restricted`).
 *
 * FAILING at the last run: view_definition for restricted (null: the view's
 * definition is hidden though it mentions no hidden object) and
 * columns_orders (the nextval('invoice_number_seq') default is not shown).
 */
import { expect } from 'vitest';
import { join } from 'node:path';
import { VISIBLE } from '../support/client-matrix.js';
import { CLIENTS_DIR, SYSTEM_PYTHON } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';

describeScriptClient({
  title: 'SQLAlchemy Inspector',
  command: SYSTEM_PYTHON,
  args: () => [join(CLIENTS_DIR, 'sqlalchemy_inspector.py'), 'zz_hidden_table'],
  checks: [
    { check: 'connect_inspector' },
    {
      check: 'schema_names',
      verify: (r) => expect(r).toEqual(expect.arrayContaining([...VISIBLE.schemas])),
    },
    {
      check: 'table_names_public',
      verify: (r, u) => expect(r).toEqual(['customers', 'orders', ...forOpen(u, ['zz_hidden_table'])]),
    },
    { check: 'table_names_inventory', verify: (r) => expect(r).toEqual(['stock_items']) },
    { check: 'view_names', verify: (r) => expect(r).toEqual(VISIBLE.views) },
    { check: 'view_definition', shows: () => ['customers', 'orders'] },
    {
      check: 'columns_customers',
      verify: (r, u) =>
        expect((r as string[][]).map((c) => c[0])).toEqual([
          ...VISIBLE.columns.customers,
          ...forOpen(u, ['zz_secret_col']),
        ]),
    },
    { check: 'columns_orders', shows: () => [...VISIBLE.columns.orders, 'invoice_number_seq'] },
    {
      check: 'pk_customers',
      verify: (r) => expect(r).toEqual({ constrained_columns: ['id'], name: 'customers_pkey' }),
    },
    {
      check: 'foreign_keys_orders',
      verify: (r) =>
        expect(r).toMatchObject([
          {
            name: 'orders_customer_id_fkey',
            constrained_columns: ['customer_id'],
            referred_table: 'customers',
          },
        ]),
    },
    { check: 'indexes_orders', shows: () => VISIBLE.indexes },
    {
      check: 'indexes_customers',
      verify: (r, u) =>
        expect((r as Array<{ name: string }>).map((i) => i.name)).toEqual([
          ...forOpen(u, ['customers_zz_secret_col_idx']),
        ]),
    },
    { check: 'table_comment_customers', verify: (r) => expect(r).toEqual({ text: VISIBLE.comment }) },
    { check: 'enums', shows: () => [VISIBLE.enumType, 'shipped'] },
    {
      check: 'metadata_reflect',
      verify: (r, u) =>
        expect(Object.keys(r as object)).toEqual([
          'public.customers',
          'public.order_summary',
          'public.orders',
          ...forOpen(u, ['public.zz_hidden_table']),
        ]),
    },
    {
      check: 'columns_of_named_table',
      shows: () => ['note'],
      failsFor: (u) => (u === 'restricted' ? 'NoSuchTableError' : null),
    },
  ],
});
