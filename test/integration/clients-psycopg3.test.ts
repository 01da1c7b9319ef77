/**
 * psycopg 3 (Debian python3-psycopg, /usr/bin/python3) through the proxy as
 * both client-matrix users: test/clients/psycopg3_client.py — server-side
 * parameters, prepared statements, binary results, a server-side cursor,
 * TypeInfo / EnumInfo.fetch + register_enum.
 *
 * FAILING at the last run: typeinfo_fetch and enum_introspection — psycopg's
 * TypeInfo query casts its parameter `$1::regtype`, answered 22P02 "invalid
 * input syntax for type oid: "order_status"".
 */
import { expect } from 'vitest';
import { join } from 'node:path';
import { VISIBLE } from '../support/client-matrix.js';
import { customersAsSeen } from '../support/client-matrix-expect.js';
import { CLIENTS_DIR, SYSTEM_PYTHON } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';

describeScriptClient({
  title: 'psycopg 3',
  command: SYSTEM_PYTHON,
  args: () => [join(CLIENTS_DIR, 'psycopg3_client.py')],
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
    { check: 'prepared_statement', verify: (r) => expect(r).toEqual([[[1]], [[1]], [[1]]]) },
    { check: 'select_star_columns', shows: (u) => ['region', ...forOpen(u, ['zz_secret_col'])] },
    { check: 'binary_results', shows: () => ['10.50', 'paid'] },
    { check: 'server_side_cursor', shows: () => ['Ada', 'Cleo'] },
    { check: 'typeinfo_fetch', shows: () => [VISIBLE.enumType] },
    {
      check: 'enum_introspection',
      verify: (r) => expect(r).toMatchObject({ labels: ['new', 'paid', 'shipped'] }),
    },
  ],
});
