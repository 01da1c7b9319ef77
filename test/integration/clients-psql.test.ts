/**
 * psql 15 (Debian's /usr/lib/postgresql/15/bin/psql) through the proxy over
 * a PostgreSQL 15 upstream, as both client-matrix users
 * (test/support/client-matrix.ts): every
 * meta-command of issue 6 run with -E (the SQL psql sends is echoed, so a
 * failure shows it), and real tab completion in a pseudo-terminal
 * (test/clients/psql_tab_complete.py). Each check asserts that psql succeeds,
 * that what the user may see is listed, and that nothing hidden (nor the
 * upstream database's real name) appears anywhere in psql's stdout/stderr.
 *
 * FAILING at the last run (virtual catalog partly landed): \d+ customers (no
 * "Referenced by" orders_customer_id_fkey; ~11 s), \d orders (no
 * invoice_number_seq default); tab completion from / columns_after_where /
 * describe / types (their queries get XX000 "rewritten statement does not
 * round-trip", see clients-introspection psql15-tab-completion.sql), hence
 * also open_user's hidden-names-must-show scan. Nothing here is skipped.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import {
  openClientMatrix,
  VISIBLE,
  MATRIX_USERS,
  type ClientMatrix,
  type MatrixUser,
} from '../support/client-matrix.js';
import {
  CLIENTS_DIR,
  expectLeakFree,
  parseChecks,
  PSQL_15,
  recordFailedStatements,
  runProcess,
  SYSTEM_PYTHON,
  type ScriptCheck,
} from '../support/client-matrix-run.js';
import { join } from 'node:path';
import { matrixIt } from '../support/client-matrix-gaps.js';

let matrix: ClientMatrix;
// psql 15 against a PostgreSQL 15 upstream: its \l query is version-specific (see openClientMatrix).
beforeAll(async () => (matrix = await openClientMatrix('postgres15')));
afterAll(async () => {
  for (const user of MATRIX_USERS) if (matrix) await recordFailedStatements(matrix, 'psql 15', user);
  await matrix?.close();
});

const QUERY_ECHO = /\*{9} QUERY \*{10}\n([\s\S]*?)\n\*{26}\n/g;

/** Runs one psql command; `shown` is psql's output without the -E query echo, `sql` the queries it sent. */
async function psql(user: MatrixUser, command: string) {
  const result = await runProcess(
    PSQL_15,
    ['-X', '-E', '-v', 'ON_ERROR_STOP=1', '-P', 'pager=off', '-c', command],
    {
      env: matrix.env(user),
    },
  );
  const sql = [...result.stdout.matchAll(QUERY_ECHO)].map((m) => m[1]!.trim());
  const shown = result.output.replace(QUERY_ECHO, '');
  return { ...result, shown, sql };
}

/** Asserts a psql meta-command worked; on failure the message carries the last SQL psql sent and its error. */
async function expectMetaCommand(
  user: MatrixUser,
  command: string,
  visible: readonly string[],
  hidden = true,
) {
  const run = await psql(user, command);
  expect(
    run.code,
    `psql ${command} failed:\n${run.stderr}\nlast SQL sent:\n${run.sql.at(-1) ?? '(none)'}`,
  ).toBe(0);
  for (const name of visible) expect(run.shown, `${command} should list ${name}`).toContain(name);
  expectLeakFree(run.output, user, matrix.upstreamDatabase, { hiddenMustShow: hidden });
  return run;
}

describe.each(MATRIX_USERS)('psql 15 meta-commands as %s', (user) => {
  const open = user === 'open_user';

  matrixIt('connects and runs a query in expanded mode (\\x)', async () => {
    const expanded = await runProcess(
      PSQL_15,
      ['-X', '-v', 'ON_ERROR_STOP=1', '-c', '\\x', '-c', 'SELECT name, email FROM customers ORDER BY id'],
      { env: matrix.env(user) },
    );
    expect(expanded.code, expanded.stderr).toBe(0);
    expect(expanded.stdout).toContain('-[ RECORD 1 ]');
    expect(expanded.stdout).toContain(open ? 'bob@example.com' : '***@***');
    expect(expanded.stdout).not.toContain(open ? '***@***' : 'Bob');
    expectLeakFree(expanded.output, user, matrix.upstreamDatabase, { hiddenMustShow: false });
  });

  matrixIt('\\l lists only the data source, under its name', async () => {
    const run = await expectMetaCommand(user, '\\l', ['shopdb'], false);
    expect(run.shown).not.toMatch(/template[01]/);
  });

  matrixIt('\\dn lists the schemas', () => expectMetaCommand(user, '\\dn', VISIBLE.schemas, false));

  matrixIt('\\dt lists the tables of the search path', () =>
    expectMetaCommand(user, '\\dt', ['customers', 'orders', ...(open ? ['zz_hidden_table'] : [])]),
  );

  matrixIt('\\dt *.* lists the tables of every schema', () =>
    expectMetaCommand(user, '\\dt *.*', ['customers', 'orders', 'stock_items']),
  );

  matrixIt('\\d lists relations', () =>
    expectMetaCommand(user, '\\d', ['customers', 'orders', 'order_summary']),
  );

  matrixIt('\\d+ customers describes columns, comments, index and referencing keys', async () => {
    const run = await expectMetaCommand(user, '\\d+ customers', [
      ...VISIBLE.columns.customers,
      'Contact address',
      'customers_pkey',
      'orders_customer_id_fkey',
      ...(open ? ['zz_secret_col', 'customers_zz_secret_col_idx', 'zz_hidden_table_customer_id_fkey'] : []),
    ]);
    expect(run.code).toBe(0);
  });

  matrixIt('\\d orders shows the enum column type, the sequence default, fk and index', () =>
    expectMetaCommand(
      user,
      '\\d orders',
      ['order_status', 'invoice_number_seq', 'orders_customer_id_fkey', 'orders_customer_idx'],
      false,
    ),
  );

  matrixIt('\\dt+ shows the table comment', () =>
    expectMetaCommand(user, '\\dt+ customers', [VISIBLE.comment], false),
  );

  matrixIt('\\dv lists the view', () => expectMetaCommand(user, '\\dv', VISIBLE.views, false));

  matrixIt('\\di lists the indexes', () =>
    expectMetaCommand(user, '\\di', [
      ...VISIBLE.indexes,
      'customers_pkey',
      'orders_pkey',
      ...(open ? ['customers_zz_secret_col_idx', 'zz_hidden_table_pkey'] : []),
    ]),
  );

  matrixIt('\\df runs', () => expectMetaCommand(user, '\\df', ['List of functions'], false));

  matrixIt('\\dT lists the enum type', () => expectMetaCommand(user, '\\dT', [VISIBLE.enumType], false));

  matrixIt('\\du lists the connected user', async () => {
    const run = await expectMetaCommand(user, '\\du', [user], false);
    expect(run.shown).not.toContain(open ? 'restricted' : 'open_user');
  });
});

describe.each(MATRIX_USERS)('psql 15 tab completion as %s', (user) => {
  const open = user === 'open_user';
  let checks: Map<string, ScriptCheck>;
  let output: string;

  beforeAll(async () => {
    const run = await runProcess(SYSTEM_PYTHON, [join(CLIENTS_DIR, 'psql_tab_complete.py'), PSQL_15], {
      env: matrix.env(user),
      timeoutMs: 90_000,
    });
    checks = parseChecks(run.stdout);
    output = run.output;
  }, 120_000);

  const completion = (name: string) => String(checks.get(name)?.result ?? '');

  matrixIt('connects', () => expect(checks.get('connect')).toMatchObject({ ok: true }));

  for (const [name, expected] of [
    ['from', ['customers', 'orders', 'order_summary', 'inventory.', ...(open ? ['zz_hidden_table'] : [])]],
    ['schema_qualified', ['stock_items']],
    ['columns_after_where', [...VISIBLE.columns.customers, ...(open ? ['zz_secret_col'] : [])]],
    ['describe', ['customers', 'orders_customer_idx', 'inventory.']],
    ['schemas', VISIBLE.schemas],
    ['types', [VISIBLE.enumType, 'int4']],
    ['databases', ['shopdb']],
    ['roles', [user]],
    ['search_path', VISIBLE.schemas],
  ] as const) {
    matrixIt(`completes ${name}`, () => {
      const shown = completion(name);
      for (const candidate of expected)
        expect(shown, `completion ${name} should offer ${candidate}`).toContain(candidate);
    });
  }

  matrixIt('never offers a hidden name or the upstream database', () => {
    expectLeakFree(output, user, matrix.upstreamDatabase);
  });
});
