/**
 * Threat-model vectors: table deny, catalog/metadata leaks and functions that
 * read relations, files, settings or other sessions (V9, V17, V18, V26, V29,
 * V79, V86–V115, V132, V133, V160–V162). Catalog relations outside the
 * virtual catalog's allowlist are refused with 42P01; the served ones are
 * covered by catalog-leak.test.ts.
 * Hidden relations must answer exactly like missing ones, decided by the
 * proxy (nothing upstream). PostgreSQL 18 (most answers never reach upstream).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alicePolicies,
  loadParsers,
  openSecurityDb,
  policy,
  proxyRefusal,
  resolve,
  rewriteFor,
  type Outcome,
  type SecurityDb,
} from './fixture.js';

let db: SecurityDb;
beforeAll(async () => {
  await loadParsers();
  db = await openSecurityDb('postgres', () => resolve());
});
afterAll(async () => db?.close());

const outcomeRows = (o: Outcome): string[] => ('rows' in o ? o.rows : [o.message]);

const notFound = (name: string) => ({
  stage: 'proxy',
  code: '42P01',
  message: `relation "${name}" does not exist`,
});

/** `sql` with the hidden `name` answers byte-for-byte like `sql` with a name that exists nowhere. */
async function hiddenLikeMissing(
  sql: string,
  name: string,
  missing = 'z'.repeat(name.length),
): Promise<Outcome> {
  const hidden = await db.run(sql);
  const absent = await db.run(sql.replaceAll(name, missing));
  expect(hidden).toMatchObject({ stage: 'proxy' });
  expect(JSON.parse(JSON.stringify(hidden).replaceAll(name, missing))).toEqual(absent);
  expect(db.leaks(hidden)).toEqual([]);
  return hidden;
}

describe('table deny and hidden relations', () => {
  it('V9 zero-trust mode without column_allow hides the table: 42P01 like a missing one', async () => {
    const zero = resolve({ dataSource: { id: 'ds-1', name: 'shop', accessMode: 'policy_required' } });
    expect(await db.run('SELECT * FROM orders', zero)).toMatchObject(notFound('orders'));
    expect(await db.run('SELECT * FROM nosuch', zero)).toMatchObject(notFound('nosuch'));
  });

  it('V17 a schema-wide table deny hides every table of the schema; other schemas unaffected', async () => {
    expect(await hiddenLikeMissing('SELECT * FROM analytics.events', 'events')).toMatchObject(
      notFound('analytics.events'),
    );
    expect(await db.run('SELECT count(*) FROM public.orders')).toEqual({
      rows: ['["10000"]'],
      columns: ['count'],
    });
  });

  it('V18 a table deny hides that table only; its sibling still works', async () => {
    expect(await hiddenLikeMissing('SELECT * FROM salaries', 'salaries')).toMatchObject(notFound('salaries'));
    expect(await db.run('SELECT count(*) FROM employees')).toEqual({ rows: ['["30"]'], columns: ['count'] });
  });

  it('V26 hidden vs nonexistent: identical SQLSTATE and wording in every position', async () => {
    for (const sql of [
      'SELECT * FROM salaries',
      'SELECT * FROM public.salaries',
      'SELECT * FROM shop.public.salaries',
      'SELECT 1 FROM orders WHERE EXISTS (SELECT 1 FROM salaries)',
      'WITH x AS (SELECT * FROM salaries) SELECT 1',
      'SELECT * FROM orders o, LATERAL (SELECT * FROM salaries s WHERE s.id = o.id) z',
      'TABLE salaries',
      'SELECT 1 UNION SELECT id FROM salaries',
      'COPY salaries TO STDOUT',
      'DECLARE c CURSOR FOR SELECT * FROM salaries',
    ]) {
      await hiddenLikeMissing(sql, 'salaries');
    }
  });

  it('V29 zero-trust mode: a row filter alone never grants visibility', async () => {
    const zero = resolve({
      dataSource: { id: 'ds-1', name: 'shop', accessMode: 'policy_required' },
      policies: alicePolicies().filter((p) => p.policyType === 'row_filter'),
    });
    expect(await db.run('SELECT * FROM customers', zero)).toMatchObject(notFound('customers'));
    // The virtual catalog lists no table at all for this user (catalog-leak.test.ts covers the rest).
    expect(await db.run('SELECT * FROM information_schema.tables', zero)).toMatchObject({ rows: [] });
  });

  it('V79 only the data source name is accepted as catalog part; the upstream database name is not', async () => {
    expect(await db.run('SELECT count(*) FROM shop.public.orders')).toEqual({
      rows: ['["10000"]'],
      columns: ['count'],
    });
    const { rows } = await db.client.query<{ d: string }>('SELECT current_database() AS d');
    const upstreamDb = rows[0]!.d;
    const got = await db.run(`SELECT * FROM ${upstreamDb}.public.orders`);
    expect(got).toMatchObject({ stage: 'proxy' });
    expect(['42P01', '0A000']).toContain((got as { code: string }).code);
  });

  it('V79 current_database() never returns the upstream database name (refused or the data source name)', async () => {
    const { rows } = await db.client.query<{ d: string }>('SELECT current_database() AS d');
    const got = await db.run('SELECT current_database()');
    expect(JSON.stringify(got)).not.toContain(rows[0]!.d);
  });

  it('V132 a view over a protected table is not readable unless a policy grants it', async () => {
    expect(await db.run('SELECT * FROM order_totals')).toMatchObject(notFound('order_totals'));
    const zero = resolve({
      dataSource: { id: 'ds-1', name: 'shop', accessMode: 'policy_required' },
      policies: [
        policy('allow-orders', 'column_allow', [{ schemas: ['public'], tables: ['orders'], columns: ['*'] }]),
      ],
    });
    expect(await db.run('SELECT * FROM order_totals', zero)).toMatchObject(notFound('order_totals'));
  });

  it('V133 user-defined functions and operators outside pg_catalog are refused (42883)', async () => {
    for (const sql of [
      "SELECT * FROM public.search_customers('%')",
      "SELECT * FROM search_customers('%')",
      'SELECT 1 OPERATOR(public.===) 1',
      "SELECT public.upper('x')",
    ]) {
      expect(proxyRefusal(sql, resolve()), sql).toMatchObject({ code: '42883' });
    }
  });

  it('V160 relations are emitted schema-qualified: a same-named table on the search path cannot be substituted', async () => {
    const sql = rewriteFor('SELECT * FROM orders', resolve(), ['public']);
    expect(sql).toMatch(/FROM public\.orders AS/);
    expect(proxyRefusal('SELECT * FROM pg_temp.orders', resolve())).toMatchObject({ code: '42P01' });
    expect(proxyRefusal('SELECT * FROM "$user".orders', resolve())).toMatchObject({ code: '42P01' });
  });

  it('V161 quoted and Unicode-escaped spellings of a hidden table answer like a missing table', async () => {
    expect(await db.run('SELECT * FROM U&"s\\0061laries"')).toMatchObject(notFound('salaries'));
    expect(await db.run(`SELECT * FROM U&"!0073alaries" UESCAPE '!'`)).toMatchObject(notFound('salaries'));
    expect(await db.run('SELECT * FROM "Orders"')).toMatchObject(notFound('Orders'));
    expect(await db.run('SELECT * FROM sаlaries')).toMatchObject(notFound('sаlaries'));
  });

  it('V162 an over-long name that truncates to a hidden table is still hidden', async () => {
    const long = `salaries${'_'.repeat(0)}`;
    expect(await db.run(`SELECT * FROM ${long}`)).toMatchObject(notFound('salaries'));
    const over = `orders_${'x'.repeat(70)}`;
    const got = await db.run(`SELECT * FROM ${over}`);
    expect(got).toMatchObject({ code: '42P01' });
  });
});

describe('catalog relations outside the virtual catalog are absent (42P01)', () => {
  it.each([
    ['V89', 'SELECT * FROM pg_largeobject_metadata'],
    ['V92', 'SELECT pid, query FROM pg_stat_activity'],
    ['V93', 'SELECT statement FROM pg_prepared_statements'],
    ['V93', 'SELECT statement FROM pg_cursors'],
    ['V94', 'SELECT query FROM pg_stat_statements'],
    ['V95', 'SELECT * FROM pg_locks'],
    ['V101', "SELECT most_common_vals FROM pg_stats WHERE tablename = 'customers'"],
    ['V101', 'SELECT * FROM pg_statistic'],
    ['V101', 'SELECT * FROM pg_catalog.pg_stats_ext'],
    ['V102', 'SELECT n_live_tup FROM pg_stat_user_tables'],
    ['V112', 'SELECT * FROM information_schema.user_mappings'],
    ['V110', 'SELECT * FROM pg_authid'],
    ['V110', 'SELECT * FROM pg_shadow'],
    ['V111', 'SELECT * FROM pg_stat_database'],
    ['V112', 'SELECT * FROM pg_catalog.pg_user_mappings'],
    ['V112', 'SELECT * FROM pg_foreign_server'],
    ['V112', 'SELECT * FROM pg_policies'],
    ['V88', 'SELECT * FROM pg_hba_file_rules'],
    ['V88', 'SELECT * FROM pg_file_settings'],
    ['V113', 'SELECT * FROM pg_toast.pg_toast_2619'],
  ])('%s catalog relation refused with 42P01: %s', (_id, sql) => {
    const got = proxyRefusal(sql, resolve());
    expect(got).toMatchObject({ stage: 'proxy', code: '42P01' });
  });
});

describe('functions that read relations, files, settings or other sessions are refused (42883)', () => {
  it.each([
    ['V86', "SELECT query_to_xml('SELECT * FROM salaries, customers', true, false, '')"],
    ['V86', "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', ssn) FROM customers')"],
    ['V86', "SELECT ts_rewrite('a'::tsquery, 'SELECT q, s FROM salaries')"],
    ['V87', "SELECT table_to_xml('salaries', true, false, '')"],
    ['V87', "SELECT schema_to_xml('public', true, false, '')"],
    ['V87', "SELECT database_to_xml(true, false, '')"],
    ['V87', "SELECT cursor_to_xml('c', 100, true, false, '')"],
    ['V88', "SELECT pg_read_file('postgresql.conf')"],
    ['V88', "SELECT pg_stat_file('PG_VERSION')"],
    ['V88', "SELECT * FROM pg_ls_dir('.')"],
    ['V88', 'SELECT pg_current_logfile()'],
    ['V89', 'SELECT lo_create(0)'],
    ['V89', 'SELECT lo_get(16400)'],
    ['V89', 'SELECT loread(lo_open(16400, 262144), 1000000)'],
    ['V90', "SELECT * FROM dblink('dbname=prod', 'SELECT * FROM salaries') AS t(id int)"],
    ['V91', "SELECT set_config('default_transaction_read_only', 'off', false)"],
    ['V92', 'SELECT * FROM pg_stat_get_activity(NULL)'],
    ['V93', 'SELECT current_query()'],
    ['V94', 'SELECT pg_stat_statements_reset()'],
    ['V95', 'SELECT pg_blocking_pids(1)'],
    ['V96', 'SELECT txid_current_snapshot()'],
    ['V96', 'SELECT pg_current_xact_id()'],
    ['V96', 'SELECT pg_current_snapshot()'],
    ['V96', 'SELECT pg_export_snapshot()'],
    ['V97', 'SELECT pg_sleep(86400)'],
    ['V98', 'SELECT pg_cancel_backend(4242)'],
    ['V98', 'SELECT pg_terminate_backend(4242)'],
    ['V99', 'SELECT pg_advisory_lock(42)'],
    ['V99', 'SELECT pg_try_advisory_lock(42)'],
    ['V100', "SELECT pg_notify('c', 'x')"],
    ['V102', "SELECT pg_sequence_last_value('orders_id_seq')"],
    ['V104', 'SELECT pg_get_functiondef(1)'],
    ['V113', "SELECT * FROM pg_partition_tree('events')"],
    ['V115', 'SELECT pg_describe_object(1259, 16384, 0)'],
    ['V110', "SELECT pg_has_role('svc', 'member')"],
    ['V110', "SELECT to_regrole('svc')"],
  ])('%s function refused with 42883: %s', (_id, sql) => {
    const got = proxyRefusal(sql, resolve());
    expect(got).toMatchObject({ stage: 'proxy', code: '42883' });
    expect(got?.message).toMatch(/^function .* does not exist$/);
  });

  it('V91 current_setting of a setting outside the allowlist is refused like SHOW (42501)', () => {
    for (const name of ['data_directory', 'app.tenant', 'hba_file', 'default_transaction_read_only'])
      expect(proxyRefusal(`SELECT current_setting('${name}')`, resolve())).toMatchObject({
        code: '42501',
        message: `permission denied to examine "${name}"`,
      });
    expect(proxyRefusal("SELECT current_setting('app.tenant', true)", resolve())).not.toBeNull();
  });

  it('V114 existence probes through reg* casts and name lookups answer alike for hidden and missing', async () => {
    for (const sql of [
      "SELECT 'salaries'::regclass",
      "SELECT CAST('salaries' AS regclass)",
      "SELECT regclass('salaries')",
      "SELECT to_regclass('salaries')",
      "SELECT 'salaries'::text::regclass",
      "SELECT has_table_privilege('salaries', 'SELECT')",
      "SELECT 'public.tenant_ok'::regproc",
      "SELECT 'salaries'::regtype",
      "SELECT 'analytics'::regnamespace",
    ]) {
      // The virtual catalog resolves the name: a hidden relation answers like a missing one (42P01,
      // 3F000, or NULL from to_regclass / reg* lookups) — hiddenLikeMissing asserts the equality.
      const hidden = await db.run(sql);
      const absent = await db.run(
        sql.replaceAll('salaries', 'zzzzzzzz').replaceAll('analytics', 'zzzzzzzzz'),
      );
      const same = JSON.stringify(hidden)
        .replaceAll('salaries', 'zzzzzzzz')
        .replaceAll('analytics', 'zzzzzzzzz');
      expect(JSON.parse(same), sql).toEqual(absent);
      expect(db.leaks(hidden), sql).toEqual([]);
    }
  });

  it('V115 enumeration by oid casts names visible relations only; regrole stays refused', async () => {
    const sweep = await db.run(
      // Around the fixture's own OIDs (they are cluster-wide: a busy test run pushes them past any fixed bound).
      `SELECT g::oid::regclass::text
         FROM generate_series(('orders'::regclass)::oid::int8 - 5000, ('orders'::regclass)::oid::int8 + 5000) g
        WHERE g::oid::regclass IS NOT NULL`,
    );
    expect(sweep).toHaveProperty('rows');
    const names = (sweep as { rows: string[] }).rows.join(' ');
    for (const hidden of ['salaries', 'events', 'order_totals', 'customers_cc_', 'credit_card'])
      expect(names, hidden).not.toContain(hidden);
    expect(names).toContain('customers');
    const next = await db.run("SELECT (('orders'::regclass)::oid::int8 + 1)::oid::regclass");
    expect(outcomeRows(next).join()).not.toMatch(/salaries|events|order_totals/);
    const role = await db.run('SELECT g::oid::regrole FROM generate_series(1, 20000) g');
    expect(role).toMatchObject({ stage: 'proxy', code: '42704' });
  });
});
