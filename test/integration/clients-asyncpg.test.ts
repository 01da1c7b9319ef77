/**
 * asyncpg (Debian python3-asyncpg, /usr/bin/python3) through the proxy as
 * both client-matrix users: test/clients/asyncpg_client.py — named prepared
 * statements reused with new arguments, type introspection (asyncpg reads
 * pg_catalog the first time it meets the enum order_status or its array),
 * set_type_codec, a cursor, result attributes.
 *
 * FAILING at the last run: enum_parameter — `$1::order_status[]` gets 42704
 * type "order_status[]" does not exist (array of a user enum).
 */
import { expect } from 'vitest';
import { join } from 'node:path';
import { VISIBLE } from '../support/client-matrix.js';
import { customersAsSeen } from '../support/client-matrix-expect.js';
import { CLIENTS_DIR, SYSTEM_PYTHON } from '../support/client-matrix-run.js';
import { describeScriptClient, forOpen } from '../support/client-matrix-suite.js';

const names = (user: string) => (user === 'open_user' ? ['Ada', 'Bob', 'Cleo'] : ['Ada', null, 'Cleo']);

describeScriptClient({
  title: 'asyncpg',
  command: SYSTEM_PYTHON,
  args: () => [join(CLIENTS_DIR, 'asyncpg_client.py')],
  checks: [
    { check: 'connect' },
    { check: 'identity', verify: (r, user) => expect(r).toEqual([['shopdb', user, 'public']]) },
    {
      check: 'select',
      verify: (r, user) => expect(r).toEqual(customersAsSeen(user, ['id', 'name', 'email'])),
    },
    {
      check: 'named_prepared_statement',
      verify: (r, user) => expect(r).toEqual({ params: ['int4'], values: names(user) }),
    },
    {
      check: 'enum_type_introspection',
      verify: (r) =>
        expect(r).toEqual([
          [1, 'paid'],
          [2, 'new'],
          [3, 'shipped'],
        ]),
    },
    { check: 'enum_parameter', verify: (r) => expect(r).toEqual([[1], [2]]) },
    { check: 'set_type_codec', verify: (r) => expect(r).toEqual([['PAID'], ['NEW'], ['SHIPPED']]) },
    { check: 'cursor', shows: () => ['Ada', 'Cleo'] },
    {
      check: 'result_attributes',
      shows: (u) => [...VISIBLE.columns.customers, ...forOpen(u, ['zz_secret_col'])],
    },
  ],
});
