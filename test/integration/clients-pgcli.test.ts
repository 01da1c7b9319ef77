/**
 * pgcli 3.5 (Debian package pgcli, /usr/bin/python3) through the proxy as
 * both client-matrix users: test/clients/pgcli_metadata.py — the PGExecute
 * metadata calls of pgcli's completion refresher, pgspecial commands, and
 * the pgcli program itself with commands piped on stdin (pgcli 3.5 has no
 * -e option; piped stdin works, with a "not a terminal" warning).
 *
 * FAILING at the last run: functions — pgcli's function query casts to
 * `regtype[]`, 42704 type "regtype[]" does not exist.
 */
import { expect } from 'vitest';
import { join } from 'node:path';
import { VISIBLE } from '../support/client-matrix.js';
import { MASKED_EMAIL } from '../support/client-matrix-expect.js';
import { CLIENTS_DIR, SYSTEM_PYTHON } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';

describeScriptClient({
  title: 'pgcli',
  command: SYSTEM_PYTHON,
  args: () => [join(CLIENTS_DIR, 'pgcli_metadata.py')],
  timeoutMs: 150_000,
  checks: [
    { check: 'connect' },
    { check: 'search_path', shows: () => ['public'] },
    { check: 'schemata', verify: (r) => expect(r).toEqual(expect.arrayContaining([...VISIBLE.schemas])) },
    {
      check: 'tables',
      shows: (u) => ['customers', 'orders', 'stock_items', ...forOpen(u, ['zz_hidden_table'])],
    },
    { check: 'views', shows: () => VISIBLE.views },
    {
      check: 'table_columns',
      shows: (u) => [...VISIBLE.columns.customers, 'quantity', ...forOpen(u, ['zz_secret_col', 'note'])],
    },
    { check: 'view_columns', shows: () => ['order_summary', 'total'] },
    {
      check: 'foreignkeys',
      verify: (r, u) =>
        expect(r).toEqual([
          ['public', 'customers', 'id', 'public', 'orders', 'customer_id'],
          ...forOpen(u, [
            ['public', 'customers', 'id', 'public', 'zz_hidden_table', 'customer_id'],
          ] as never[]),
        ]),
    },
    { check: 'functions' },
    { check: 'datatypes', verify: (r) => expect(r).toEqual([['public', VISIBLE.enumType]]) },
    { check: 'databases', verify: (r) => expect(r).toEqual(['shopdb']) },
    { check: 'special \\dt', shows: (u) => ['customers', 'orders', ...forOpen(u, ['zz_hidden_table'])] },
    {
      check: 'special \\d customers',
      shows: (u) => [...VISIBLE.columns.customers, 'customers_pkey', ...forOpen(u, ['zz_secret_col'])],
    },
    { check: 'special \\l', shows: () => ['shopdb'] },
    { check: 'interactive \\dt', shows: (u) => ['customers', 'orders', ...forOpen(u, ['zz_hidden_table'])] },
    { check: 'interactive \\d customers', shows: () => [...VISIBLE.columns.customers, 'customers_pkey'] },
    {
      check: 'interactive SELECT name, email FROM customers ORDER BY id',
      shows: (u) => (u === 'open_user' ? ['Bob', 'bob@example.com'] : ['Ada', MASKED_EMAIL]),
    },
  ],
});
