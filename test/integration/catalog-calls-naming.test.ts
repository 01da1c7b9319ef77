/**
 * The catalog call rewrite against real PostgreSQL (both upstreams), compared
 * with the same SQL run directly upstream on the security fixture's database:
 *
 * - column names: select-list items holding reg* casts and catalog calls,
 *   nested in CASE / COALESCE / casts / arrays / sub-selects, get the
 *   RowDescription names PostgreSQL gives the original statement;
 * - reg* array constants of names (`'{orders,customers}'::regclass[]`)
 *   resolve element by element as upstream does, with the same errors for a
 *   missing name, and a hidden name answers exactly like a missing one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachUpstream, type Upstream } from '../support/postgres.js';
import { PgError } from '../../src/sql/errors.js';
import {
  alicePolicies,
  CATALOG,
  loadParsers,
  openSecurityDb,
  resolve,
  rewriteFor,
  type SecurityDb,
} from '../security/fixture.js';

const ONE = "c.oid = 'orders'::regclass";

/** Statements whose column names must be PostgreSQL's (each runs through the rewriter and directly). */
const NAMING = [
  `SELECT c.oid::regclass FROM pg_class c WHERE ${ONE}`,
  `SELECT c.oid::regclass::text FROM pg_class c WHERE ${ONE}`,
  `SELECT CASE WHEN c.relkind = 'x' THEN 'a' ELSE c.reloftype::regtype::text END FROM pg_class c WHERE ${ONE}`,
  `SELECT CASE WHEN c.relkind = 'r' THEN c.oid::regclass END FROM pg_class c WHERE ${ONE}`,
  `SELECT COALESCE(c.oid::regclass::text, 'x') FROM pg_class c WHERE ${ONE}`,
  "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attnum = 1",
  "SELECT format_type(a.atttypid, a.atttypmod)::text, a.atttypid::regtype FROM pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attnum = 1",
  'SELECT pg_catalog.format_type(23, NULL)::varchar(20)',
  "SELECT 'orders'::regclass",
  "SELECT 'orders'::regclass::oid",
  "SELECT 'orders'::text::regclass",
  "SELECT to_regclass('orders'), to_regclass('orders')::text",
  `SELECT ARRAY[c.oid::regclass], ROW(c.oid::regclass) FROM pg_class c WHERE ${ONE}`,
  `SELECT (SELECT c.oid::regclass FROM pg_class c WHERE ${ONE})`,
  'SELECT EXISTS (SELECT c.oid::regclass FROM pg_class c)',
  `SELECT ARRAY(SELECT c.oid::regclass FROM pg_class c WHERE ${ONE})`,
  `SELECT NULLIF(c.oid::regclass, 0), GREATEST(c.oid::regclass::text, 'a'), LEAST(c.oid::regclass::text, 'a') FROM pg_class c WHERE ${ONE}`,
  `SELECT pg_table_is_visible(c.oid), pg_catalog.pg_table_is_visible(c.oid)::text FROM pg_class c WHERE ${ONE}`,
  "SELECT has_table_privilege('orders', 'SELECT'), has_schema_privilege('public', 'USAGE')",
  "SELECT t.typname, t.oid::regtype FROM pg_type t WHERE t.typname = 'int4'",
  `SELECT (c.oid::regclass)::text COLLATE "C" FROM pg_class c WHERE ${ONE}`,
  "SELECT CASE WHEN false THEN 'x' ELSE format_type(23, NULL) END",
  "SELECT CASE WHEN false THEN 'x' ELSE 'orders'::regclass::text END",
  `SELECT c.relname, c.oid::regclass AS named FROM pg_class c WHERE ${ONE}`,
  `SELECT x.oid FROM (SELECT c.oid::regclass FROM pg_class c WHERE ${ONE}) x`,
  `SELECT * FROM (SELECT c.oid::regclass, format_type(c.reltype, NULL) FROM pg_class c WHERE ${ONE}) s`,
  `SELECT c.oid::regclass FROM pg_class c WHERE ${ONE} UNION ALL SELECT 'orders'::regclass`,
  `SELECT pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class') FROM pg_class c WHERE ${ONE}`,
  "SELECT '{orders,customers}'::regclass[], '{orders}'::regclass[]::text[]",
  'SELECT current_schemas(false), version() IS NOT NULL',
  `SELECT c.oid::regclass = 'orders'::regclass, (c.oid::regclass)::text IS NOT NULL FROM pg_class c WHERE ${ONE}`,
  `SELECT CASE WHEN false THEN 1 ELSE (SELECT pg_table_is_visible(c.oid)::int FROM pg_class c WHERE ${ONE}) END`,
  `SELECT CASE WHEN false THEN 1 ELSE (SELECT 2) END, (SELECT c.relname FROM pg_class c WHERE ${ONE} UNION SELECT 'x' LIMIT 1)`,
  "SELECT a.attrelid::regclass, a.attname FROM pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attnum = 1",
  `SELECT c.oid::regclass FROM pg_class c WHERE ${ONE} ORDER BY oid`,
  `SELECT count(*), max(c.oid::regclass::text) FROM pg_class c WHERE ${ONE}`,
  // Identity calls and catalog system columns (identity.ts, system-columns.ts).
  "SELECT current_user::text, upper(session_user), CASE WHEN false THEN 'x' ELSE current_database()::text END",
  'SELECT txid_current()::text, pg_backend_pid() IS NOT NULL, COALESCE(current_schema, 0::text)',
  `SELECT c.xmin, c.xmin::text, (SELECT n.xmin FROM pg_namespace n WHERE n.oid = c.relnamespace) FROM pg_class c WHERE ${ONE}`,
];

/** reg* array constants whose answer through the rewriter must equal upstream's (visible names only). */
const ARRAYS = [
  "SELECT '{orders,customers}'::regclass[]",
  `SELECT '{ orders , " customers ", public.payments, "\\"public\\".\\"orders\\"", NULL, "NULL"}'::regclass[]`,
  'SELECT \'{"ORDERS",Orders}\'::regclass[]',
  "SELECT '{{orders,customers},{payments,NULL}}'::regclass[]",
  "SELECT '{1259,1247,NULL}'::regclass[], '{orders,1259}'::regclass[], '{}'::regclass[]",
  "SELECT '{-,0}'::regclass[], '-'::regclass, '-'::regtype, '-'::regnamespace",
  "SELECT '{pg_catalog.pg_class,pg_type}'::regclass[]",
  'SELECT \'{int4,"character varying",text,NULL,23}\'::regtype[]',
  "SELECT '{public,pg_catalog,Public}'::regnamespace[], 'Public'::regnamespace",
  "SELECT '{orders}'::text::regclass[]",
  'SELECT ARRAY[1259, NULL]::oid[]::regclass[], ARRAY[[1259], [1247]]::oid[]::regclass[]',
  "SELECT '{nosuch}'::regclass[]",
  "SELECT '{orders,NoSuch}'::regclass[]",
  'SELECT \'{orders,"\\"NoSuch\\""}\'::regclass[]',
  "SELECT '{public.nosuch}'::regclass[]",
  "SELECT '{orders'::regclass[]",
  "SELECT '{orders,,customers}'::regclass[]",
  "SELECT '{a.b.c.d}'::regclass[]",
  'SELECT \'{""}\'::regclass[]',
  "SELECT '{public,nosch}'::regnamespace[]",
  'SELECT \'{"a b"}\'::regnamespace[]',
  "SELECT 'NoSuch'::regclass",
  "SELECT 'a b'::regclass",
];

/** What a client sees: column names and rows, or the error's code, text and position. */
type Answer =
  { columns: string[]; rows: unknown[][] } | { code?: string; message: string; position?: string };

describeEachUpstream('catalog calls: naming and reg* arrays against upstream', (upstream: Upstream) => {
  let db: SecurityDb;
  const oids: Record<string, number> = {};

  beforeAll(async () => {
    await loadParsers();
    db = await openSecurityDb(upstream, () => resolve());
    const { rows } = await db.client.query<Record<string, number>>(
      "SELECT 'salaries'::regclass::oid::int AS salaries, 'salaries'::regtype::oid::int AS salaries_type",
    );
    Object.assign(oids, rows[0]);
  }, 120_000);
  afterAll(async () => db?.close());

  /** `sql` as is on the upstream, in a read-only transaction with search_path public. */
  const direct = async (sql: string): Promise<Answer> => {
    await db.client.query('BEGIN READ ONLY; SET LOCAL search_path = public');
    try {
      const r = await db.client.query({ text: sql, rowMode: 'array' });
      return { columns: r.fields.map((f) => f.name), rows: r.rows as unknown[][] };
    } catch (err) {
      const e = err as { code?: string; message: string; position?: string };
      return { code: e.code, message: e.message, position: e.position };
    } finally {
      await db.client.query('ROLLBACK');
    }
  };
  /** `sql` through the rewriter (alice, or `set`), then upstream. */
  const proxied = async (sql: string, set = resolve()): Promise<Answer> => {
    let text: string;
    try {
      text = rewriteFor(sql, set);
    } catch (err) {
      if (!(err instanceof PgError)) throw err;
      const position = (err.extra as { position?: number }).position;
      return { code: err.sqlstate, message: err.message, position: position?.toString() };
    }
    return direct(text);
  };

  it.each(NAMING)('column names of %s are upstream’s', async (sql) => {
    const upstreamAnswer = await direct(sql);
    const answer = await proxied(sql);
    expect(upstreamAnswer, sql).toHaveProperty('columns');
    expect(answer, sql).toHaveProperty('columns');
    expect((answer as { columns: string[] }).columns).toEqual(
      (upstreamAnswer as { columns: string[] }).columns,
    );
  });

  it.each(ARRAYS)('%s answers as upstream', async (sql) => {
    expect(await proxied(sql)).toEqual(await direct(sql));
  });

  it('a hidden name in a reg* array constant answers exactly like a missing one', async () => {
    for (const [sql, name] of [
      ["SELECT '{salaries}'::regclass[]", 'salaries'],
      ["SELECT '{orders,salaries}'::regclass[]", 'salaries'],
      ["SELECT '{orders,public.salaries}'::regclass[]", 'salaries'],
      ["SELECT '{analytics.events}'::regclass[]", 'analytics'],
      ["SELECT '{public,analytics}'::regnamespace[]", 'analytics'],
      ["SELECT '{int4,salaries}'::regtype[]", 'salaries'],
      ["SELECT '{int4,public.salaries}'::regtype[]", 'salaries'],
    ] as const) {
      const missing = 'z'.repeat(name.length);
      const hidden = await proxied(sql);
      const absent = await proxied(sql.replaceAll(name, missing));
      expect(JSON.parse(JSON.stringify(hidden).replaceAll(name, missing)), sql).toEqual(absent);
    }
    // As the scalar forms: regclass / regnamespace names raise, regtype names give NULL.
    expect(await proxied("SELECT '{salaries}'::regclass[]")).toMatchObject({ code: '42P01' });
    expect(await proxied("SELECT '{analytics}'::regnamespace[]")).toMatchObject({ code: '3F000' });
    expect(await proxied("SELECT '{int4,salaries}'::regtype[]")).toMatchObject({ rows: [[null]] });
  });

  it('an OID array holding a hidden object is NULL; NULL elements stay NULL', async () => {
    const { salaries, salaries_type } = oids;
    for (const sql of [
      `SELECT '{1259,${salaries}}'::regclass[]`,
      `SELECT '{${salaries_type}}'::regtype[]`,
      `SELECT ARRAY[1259, ${salaries}]::oid[]::regclass[]`,
      `SELECT ARRAY[NULL, ${salaries}]::oid[]::regclass[]`,
    ]) {
      expect(await proxied(sql), sql).toMatchObject({ rows: [[null]] });
    }
    expect(await proxied("SELECT '{1259,NULL}'::regclass[]")).toMatchObject({ rows: [['{pg_class,NULL}']] });
  });

  it('names in a schema shown under an alias resolve through the alias, once', async () => {
    // analytics is visible as "reports"; resolved names are emitted upstream and never resolved again.
    const aliased = resolve({
      catalog: CATALOG.map((s) => (s.name === 'analytics' ? { ...s, alias: 'reports' } : s)),
      policies: alicePolicies().filter((p) => p.id !== 'deny-analytics'),
    });
    const upstreamOids = await direct(
      "SELECT 'analytics.events'::regclass::oid::int, 'analytics'::regnamespace::oid::int",
    );
    const [rel, nsp] = (upstreamOids as { rows: number[][] }).rows[0]!;
    expect(
      await proxied(
        "SELECT has_table_privilege('reports.events', 'SELECT'), '{reports.events}'::regclass[]::oid[]::int[], " +
          "'reports.events'::regclass::oid::int, 'reports'::regnamespace::oid::int, '{reports}'::regnamespace[]::oid[]::int[]",
        aliased,
      ),
    ).toEqual({
      columns: ['has_table_privilege', 'int4', 'int4', 'int4', 'int4'],
      rows: [[true, [rel], rel, nsp, [nsp]]],
    });
    expect(await proxied("SELECT '{analytics.events}'::regclass[]", aliased)).toMatchObject({
      code: '42P01',
      message: 'relation "analytics.events" does not exist',
    });
  });
});
