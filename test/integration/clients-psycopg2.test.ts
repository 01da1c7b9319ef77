/**
 * psycopg2 (Debian python3-psycopg2, run with /usr/bin/python3) through the
 * proxy as both client-matrix users: test/clients/psycopg2_client.py.
 *
 * All checks passed at the last run (virtual catalog partly landed).
 */
import { expect } from 'vitest';
import { VISIBLE } from '../support/client-matrix.js';
import { CLIENTS_DIR, SYSTEM_PYTHON } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';
import { join } from 'node:path';
import { customersAsSeen } from '../support/client-matrix-expect.js';

describeScriptClient({
  title: 'psycopg2',
  command: SYSTEM_PYTHON,
  args: () => [join(CLIENTS_DIR, 'psycopg2_client.py')],
  checks: [
    { check: 'connect' },
    { check: 'identity', verify: (r, user) => expect(r).toEqual([['shopdb', user, 'public']]) },
    {
      check: 'select',
      verify: (r, user) => expect(r).toEqual(customersAsSeen(user, ['id', 'name', 'email'])),
    },
    {
      check: 'parameterized',
      verify: (r, user) => expect(r).toEqual(user === 'open_user' ? [['Ada'], ['Bob']] : [['Ada']]),
    },
    { check: 'enum_column', shows: () => ['paid', 'shipped'] },
    { check: 'named_cursor', shows: () => ['Ada', 'Cleo'] },
    { check: 'select_star_columns', shows: (u) => ['region', ...forOpen(u, ['zz_secret_col'])] },
    {
      check: 'information_schema_tables',
      shows: (u) => [...VISIBLE.tables, ...VISIBLE.views, 'inventory', ...forOpen(u, ['zz_hidden_table'])],
    },
    {
      check: 'information_schema_columns',
      shows: (u) => [
        ...VISIBLE.columns.customers,
        ...VISIBLE.columns.orders,
        ...forOpen(u, ['zz_secret_col', 'note']),
      ],
    },
    { check: 'type_names_of_result', shows: () => ['order_status', 'numeric', 'int4'] },
  ],
});
