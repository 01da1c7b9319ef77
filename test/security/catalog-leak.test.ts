/**
 * THE virtual-catalog leak test (issue 6 "Done when"; threat model V92–V115,
 * V146 context). alice (fixture.ts) has a row filter (org = acme), masks
 * (customers.ssn, employees.salary), column denies (customers.credit_card,
 * employees.ssn) and table denies (salaries, order_totals, schema analytics).
 * For every allowlisted catalog relation (SELECT *) and every catalog function
 * (with OIDs of hidden objects read over a direct connection), the complete
 * output is scanned for the hidden table's, column's, index's, view's and
 * schema's names, for canaries (salaries' comment holds one), for other
 * tenants' names, for the upstream database name and for the SQL of another
 * session: zero hits — while the visible tables and columns do appear. psql's
 * own \d queries run through the rewriter on both upstreams.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allCatalogRelations } from '../../src/sql/catalog/allowlist.js';
import { describeEachUpstream, serverUrl, type Upstream } from '../support/postgres.js';
import { PSQL_QUERIES } from './catalog-psql-queries.js';
import {
  loadParsers,
  openSecurityDb,
  outcomeText,
  resolve,
  type Outcome,
  type SecurityDb,
} from './fixture.js';

const HIDDEN_NAMES = ['salaries', 'credit_card', 'customers_cc', 'analytics', 'order_totals'];

describeEachUpstream('virtual catalog leak scan', (upstream: Upstream) => {
  let db: SecurityDb;
  let other: pg.Client;
  const marker = `OTHERSESSION${randomBytes(4).toString('hex').toUpperCase()}`;
  const oids: Record<string, number> = {};

  beforeAll(async () => {
    await loadParsers();
    db = await openSecurityDb(upstream, () => resolve());
    // Another session's SQL, left as that backend's last statement (what pg_stat_activity would show).
    other = new pg.Client({ connectionString: serverUrl(db.client.database ?? 'postgres', upstream) });
    await other.connect();
    await other.query(`SELECT '${marker}' AS x`);
    const { rows } = await db.client.query<Record<string, number>>(`SELECT
      'salaries'::regclass::oid::int AS salaries,
      'salaries'::regtype::oid::int AS salaries_type,
      'analytics.events'::regclass::oid::int AS events,
      'analytics'::regnamespace::oid::int AS analytics,
      'order_totals'::regclass::oid::int AS order_totals,
      'customers'::regclass::oid::int AS customers,
      (SELECT indexrelid::int FROM pg_index WHERE indexrelid::regclass::text LIKE 'customers_cc%') AS cc_index,
      (SELECT oid::int FROM pg_constraint WHERE conname = 'salaries_pkey') AS salaries_pkey,
      'salaries_pkey'::regclass::oid::int AS salaries_pkey_index,
      (SELECT attnum::int FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'credit_card') AS cc_attnum`);
    Object.assign(oids, rows[0]);
  }, 120_000);
  afterAll(async () => {
    await other?.end();
    await db?.close();
  });

  const forbidden = (o: Outcome): string[] => {
    const text = 'rows' in o ? o.rows.join('\n') + o.columns.join(' ') : outcomeText(o);
    const hits = db.leaks(o);
    for (const n of [...HIDDEN_NAMES, marker, db.client.database ?? '\u0000'])
      if (text.includes(n)) hits.push(n);
    return hits;
  };

  it('every allowlisted catalog relation runs, and shows no hidden object, canary, tenant or other session', async () => {
    const all: string[] = [];
    for (const { schema, name } of allCatalogRelations()) {
      const got = await db.run(`SELECT * FROM ${schema}.${name}`);
      expect(got, `${schema}.${name}`).toHaveProperty('rows');
      expect(forbidden(got), `${schema}.${name}`).toEqual([]);
      all.push(outcomeText(got));
    }
    const text = all.join('\n');
    for (const visible of ['customers', 'orders', 'employees', 'payments', 'ssn', 'referrer_id', 'shop'])
      expect(text, visible).toContain(visible);
  });

  it('visible objects appear where clients look for them; hidden ones do not', async () => {
    const cols = await db.run(
      "SELECT attname FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attnum > 0",
    );
    expect(outcomeText(cols).split('\n').sort()).toEqual(
      ['["email"]', '["id"]', '["name"]', '["org"]', '["phone"]', '["referrer_id"]', '["ssn"]'].sort(),
    );
    const info = await db.run(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' ORDER BY ordinal_position",
    );
    expect(outcomeText(info)).toContain('ssn');
    expect(outcomeText(info)).not.toContain('credit_card');
    const tables = await db.run(
      'SELECT table_catalog, table_schema, table_name FROM information_schema.tables',
    );
    expect(outcomeText(tables)).toContain('["shop","public","customers"]');
    expect(await db.run('SELECT datname FROM pg_database')).toMatchObject({ rows: ['["shop"]'] });
    expect(await db.run('SELECT rolname, rolsuper FROM pg_roles')).toMatchObject({
      rows: ['["alice",false]'],
    });
    expect(
      await db.run("SELECT relname, reltuples, relpages FROM pg_class WHERE relname = 'orders'"),
    ).toMatchObject({
      rows: ['["orders",-1,0]'],
    });
    expect(await db.run('SELECT pid FROM pg_stat_activity')).toMatchObject({ stage: 'proxy', code: '42P01' });
  });

  it('catalog functions given OIDs of hidden objects reveal nothing', async () => {
    const o = oids;
    const calls = [
      `format_type(${o.salaries_type}, NULL)`,
      `pg_get_constraintdef(${o.salaries_pkey})`,
      `pg_get_constraintdef(${o.salaries_pkey}, true)`,
      `pg_get_indexdef(${o.cc_index})`,
      `pg_get_indexdef(${o.salaries_pkey_index}, 0, true)`,
      `pg_get_viewdef(${o.order_totals})`,
      `pg_get_viewdef(${o.order_totals}, true)`,
      `pg_get_expr(NULL, ${o.salaries})`,
      `obj_description(${o.salaries}, 'pg_class')`,
      `obj_description(${o.salaries})`,
      `col_description(${o.customers}, ${o.cc_attnum})`,
      `pg_table_is_visible(${o.salaries})`,
      `pg_table_is_visible(${o.events})`,
      `pg_type_is_visible(${o.salaries_type})`,
      `has_table_privilege(${o.salaries}, 'SELECT')`,
      `has_table_privilege('alice', ${o.salaries}, 'SELECT')`,
      `has_column_privilege(${o.customers}, ${o.cc_attnum}::int2, 'SELECT')`,
      `has_any_column_privilege(${o.salaries}, 'SELECT')`,
      `has_schema_privilege(${o.analytics}, 'USAGE')`,
      `${o.salaries}::oid::regclass`,
      `${o.cc_index}::oid::regclass`,
      `${o.analytics}::oid::regnamespace`,
      `${o.salaries_type}::oid::regtype`,
      `'${o.salaries}'::regclass`,
      `to_regclass('analytics.events')`,
      `to_regtype('salaries')`,
      `to_regnamespace('analytics')`,
      `pg_get_userbyid(10)`,
      `pg_get_userbyid(${o.salaries})`,
      'current_user',
      'session_user',
      'current_database()',
      'current_schema()',
      'current_schemas(true)',
      'version()',
      'pg_postmaster_start_time() IS NOT NULL',
      `pg_table_size(${o.salaries})`,
      "pg_get_serial_sequence('customers', 'id')",
      `pg_get_function_arguments(${o.salaries})`,
      'pg_encoding_to_char(6)',
      "quote_ident('Salaries')",
      "array_to_string(ARRAY['a', 'b'], ',')",
      "age('2020-01-01'::timestamp, '2019-01-01'::timestamp)",
    ];
    for (const call of calls) {
      const got = await db.run(`SELECT ${call}`);
      expect(got, call).toHaveProperty('rows');
      expect(forbidden(got), call).toEqual([]);
    }
    expect(await db.run('SELECT current_user, current_database()')).toMatchObject({
      rows: ['["alice","shop"]'],
    });
    expect(await db.run(`SELECT ${o.customers}::oid::regclass::text`)).toMatchObject({
      rows: ['["customers"]'],
    });
  });

  it('a hidden name in a name argument answers exactly like a missing one', async () => {
    for (const sql of [
      "SELECT 'salaries'::regclass",
      "SELECT to_regclass('salaries')",
      "SELECT has_table_privilege('salaries', 'SELECT')",
      "SELECT pg_get_viewdef('order_totals')",
      "SELECT has_schema_privilege('analytics', 'USAGE')",
      "SELECT 'analytics'::regnamespace",
    ]) {
      const name = ['salaries', 'order_totals', 'analytics'].find((n) => sql.includes(n))!;
      const missing = 'z'.repeat(name.length);
      const hidden = await db.run(sql);
      const absent = await db.run(sql.replaceAll(name, missing));
      expect(JSON.parse(JSON.stringify(hidden).replaceAll(name, missing)), sql).toEqual(absent);
    }
  });

  it("psql's \\d, \\dt, \\dn, \\l, \\dv, \\di, \\df, \\dT and \\du queries run and show no hidden object", async () => {
    const { rows } = await db.client.query<{ c: number; v: number }>(
      "SELECT 'customers'::regclass::oid::int AS c, 'orders'::regclass::oid::int AS v",
    );
    const text: string[] = [];
    for (const q of PSQL_QUERIES) {
      // psql 15's \l reads daticulocale, which PostgreSQL 17 renamed (a newer psql asks for datlocale).
      if (upstream === 'postgres' && q.includes('daticulocale')) continue;
      const sql = q.replaceAll(':OID', String(rows[0]!.c)).replaceAll(':VIEWOID', String(rows[0]!.v));
      const got = await db.run(sql);
      expect(got, sql).toHaveProperty('rows');
      expect(forbidden(got), sql).toEqual([]);
      text.push(outcomeText(got));
    }
    const all = text.join('\n');
    expect(all).toContain('customers_pkey');
    expect(all).toContain('"ssn"');
    expect(all).toContain('alice');
  });

  it('a policy change changes metadata on the next statement (new fingerprint, V12)', async () => {
    const without = resolve({ policies: [] });
    const got = await db.run(
      "SELECT attname FROM pg_attribute WHERE attrelid = 'customers'::regclass",
      without,
    );
    expect(outcomeText(got)).toContain('credit_card');
    const again = await db.run("SELECT attname FROM pg_attribute WHERE attrelid = 'customers'::regclass");
    expect(outcomeText(again)).not.toContain('credit_card');
  });
});
