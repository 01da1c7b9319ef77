import type { FuncCall, Node } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PgError } from '../../src/sql/errors.js';
import {
  ALLOWED_FUNCTIONS,
  ALLOWED_OPERATORS,
  ALLOWED_TYPES,
  DENIED_FUNCTIONS,
  DENIED_TYPES,
} from '../../src/sql/function-list.js';
import { checkFunctionCall, checkTypeName, findForbiddenCalls } from '../../src/sql/functions.js';

const HINT =
  'No function matches the given name and argument types. You might need to add explicit type casts.';

beforeAll(async () => {
  await loadModule();
});

const stmt = (sql: string): Node => parseSync(sql).stmts?.[0]?.stmt as Node;
const check = (sql: string): PgError | null => findForbiddenCalls(stmt(sql));
const err = (sql: string) => {
  const e = check(sql);
  return e && { sqlstate: e.sqlstate, message: e.message };
};
const call = (name: string, args = 0): FuncCall => ({
  funcname: name.split('.').map((sval) => ({ String: { sval } })),
  args: Array.from({ length: args }, () => ({ A_Const: { sval: { sval: 'x' } } })),
});

describe('function allowlist: allowed names', () => {
  const argCount = (name: string) => (name === 'ts_rewrite' ? 3 : 0);
  it.each([...ALLOWED_FUNCTIONS].filter((n) => n !== 'current_setting'))('%s is allowed', (name) => {
    expect(checkFunctionCall(call(name, argCount(name)))).toBeNull();
    expect(checkFunctionCall(call(`pg_catalog.${name}`, argCount(name)))).toBeNull();
  });

  it('has a generous analytics core', () => {
    for (const name of [
      'count',
      'sum',
      'avg',
      'row_number',
      'lag',
      'date_trunc',
      'jsonb_path_query',
      'regexp_replace',
    ])
      expect(ALLOWED_FUNCTIONS.has(name)).toBe(true);
  });

  it.each([
    'SELECT upper(name), lower(x), coalesce(a, b), greatest(1, 2), nullif(a, b) FROM t',
    'SELECT count(*), count(DISTINCT a), sum(a) FILTER (WHERE a > 0) FROM t',
    'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a), mode() WITHIN GROUP (ORDER BY a) FROM t',
    'SELECT rank() OVER (PARTITION BY a ORDER BY b), lag(a, 1) OVER w FROM t WINDOW w AS (ORDER BY a)',
    "SELECT extract(year FROM d), substring(s FROM 1 FOR 2), position('a' IN s), trim(both FROM s) FROM t",
    "SELECT d AT TIME ZONE 'UTC', overlay(s PLACING 'x' FROM 1), s IS NORMALIZED, collation for (s) FROM t",
    "SELECT current_date, current_timestamp(2), localtime, now(), date_trunc('day', now())",
    'SELECT current_user, session_user, current_role, user',
    "SELECT to_jsonb(t), jsonb_build_object('a', 1), j->>'a', j #>> '{a,b}', j @> '{}' FROM t",
    "SELECT x::int, x::text, x::numeric(10,2), x::timestamptz, x::int[], x::jsonb, 'english'::regconfig FROM t",
    "SELECT to_tsvector('english', s) @@ plainto_tsquery('a') FROM t",
    'SELECT a FROM t ORDER BY a USING >',
    'SELECT * FROM t TABLESAMPLE system (10), u TABLESAMPLE pg_catalog.bernoulli (5)',
    "SELECT * FROM json_to_record('{}') AS r(a int, b text)",
    'SELECT * FROM generate_series(1, 10) g, unnest(ARRAY[1, 2]) u',
    "SELECT a OPERATOR(pg_catalog.+) b, a LIKE 'x%', a ILIKE 'y', a SIMILAR TO 'z' FROM t",
    "SELECT current_setting('TimeZone'), current_setting('datestyle', true)",
    "SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)",
    "SELECT xmlelement(name a), json_object('a': 1), json_value(j, '$.a') FROM t",
    'SELECT gen_random_uuid(), md5(s), sha256(b), encode(b, $$hex$$) FROM t',
  ])('admits %s', (sql) => {
    expect(check(sql)).toBeNull();
  });
});

describe('function allowlist: refused names (42883 as for a missing function)', () => {
  it.each(Object.keys(DENIED_FUNCTIONS))('%s is refused', (name) => {
    const e = checkFunctionCall(call(name));
    expect(e?.sqlstate).toBe('42883');
    expect(e?.message).toBe(`function ${name}() does not exist`);
    expect(e?.extra.hint).toBe(HINT);
  });

  it.each([
    [
      "SELECT query_to_xml('SELECT * FROM payroll', true, false, '')",
      'query_to_xml(unknown, boolean, boolean, unknown)',
    ],
    ["SELECT table_to_xml('payroll', true, false, '')", 'table_to_xml(unknown, boolean, boolean, unknown)'],
    [
      "SELECT cursor_to_xml('c', 100, true, false, '')",
      'cursor_to_xml(unknown, integer, boolean, boolean, unknown)',
    ],
    ["SELECT database_to_xml(true, false, '')", 'database_to_xml(boolean, boolean, unknown)'],
    ["SELECT schema_to_xml('public', true, false, '')", 'schema_to_xml(unknown, boolean, boolean, unknown)'],
    ["SELECT pg_read_file('postgresql.conf')", 'pg_read_file(unknown)'],
    ["SELECT pg_read_binary_file('x')", 'pg_read_binary_file(unknown)'],
    ["SELECT * FROM pg_ls_dir('.')", 'pg_ls_dir(unknown)'],
    ["SELECT pg_stat_file('PG_VERSION')", 'pg_stat_file(unknown)'],
    ['SELECT lo_create(0)', 'lo_create(integer)'],
    ['SELECT loread(lo_open(16400, 262144), 1000000)', 'loread(unknown, integer)'],
    ["SELECT * FROM dblink('dbname=prod', 'SELECT 1') AS t(a int)", 'dblink(unknown, unknown)'],
    ['SELECT pg_sleep(86400)', 'pg_sleep(integer)'],
    ["SELECT pg_sleep_for('1 day')", 'pg_sleep_for(unknown)'],
    [
      "SELECT set_config('default_transaction_read_only', 'off', false)",
      'set_config(unknown, unknown, boolean)',
    ],
    ['SELECT pg_stat_get_activity(NULL)', 'pg_stat_get_activity(unknown)'],
    ['SELECT txid_current_snapshot()', 'txid_current_snapshot()'],
    ['SELECT pg_current_snapshot()', 'pg_current_snapshot()'],
    ['SELECT pg_current_xact_id()', 'pg_current_xact_id()'],
    ['SELECT pg_advisory_lock(42)', 'pg_advisory_lock(integer)'],
    ['SELECT pg_try_advisory_lock(10000000000)', 'pg_try_advisory_lock(bigint)'],
    ['SELECT pg_terminate_backend(4242)', 'pg_terminate_backend(integer)'],
    ['SELECT pg_cancel_backend(4242)', 'pg_cancel_backend(integer)'],
    ['SELECT pg_reload_conf()', 'pg_reload_conf()'],
    ['SELECT pg_rotate_logfile()', 'pg_rotate_logfile()'],
    ["SELECT regclass('payroll')", 'regclass(unknown)'],
    ["SELECT nextval('orders_id_seq')", 'nextval(unknown)'],
    ["SELECT * FROM ts_stat('SELECT to_tsvector(ssn) FROM customers')", 'ts_stat(unknown)'],
    ["SELECT ts_rewrite('a'::tsquery, 'SELECT q, s FROM rules')", 'ts_rewrite(tsquery, unknown)'],
    ["SELECT pg_notify('c', 'x')", 'pg_notify(unknown, unknown)'],
    ['SELECT current_query()', 'current_query()'],
    ["SELECT current_database('x')", 'current_database(unknown)'],
    ['SELECT current_schema(1)', 'current_schema(integer)'],
    ['SELECT public.tenant_ok(1)', 'public.tenant_ok(integer)'],
    [
      'SELECT nosuch(1, 1.5, true, NULL, 1::int4, 2::int8)',
      'nosuch(integer, numeric, boolean, unknown, integer, bigint)',
    ],
    [
      "SELECT nosuch('x'::timestamptz, 'y'::text[], a => 1)",
      'nosuch(timestamp with time zone, text[], a => integer)',
    ],
    ['SELECT nosuch(*)', 'nosuch()'],
    ['SELECT ssn(c) FROM customers c', 'ssn(unknown)'],
  ])('%s → function %s does not exist', (sql, signature) => {
    const e = check(sql);
    expect(e?.sqlstate).toBe('42883');
    expect(e?.message).toBe(`function ${signature} does not exist`);
    expect(e?.extra.hint).toBe(HINT);
  });

  it('a refused function and a missing one give byte-identical errors', () => {
    const a = check("SELECT pg_read_file('x')");
    const b = check("SELECT pg_read_filx('x')");
    expect(a?.message.replace('pg_read_file', 'X')).toBe(b?.message.replace('pg_read_filx', 'X'));
    expect(a?.extra).toEqual(b?.extra);
  });

  it('reports the position (byte offset + 1) of the call', () => {
    expect(check("SELECT 1, pg_read_file('x')")?.extra.position).toBe(11);
  });

  it('finds calls anywhere in the tree', () => {
    for (const sql of [
      "SELECT * FROM t WHERE a = (SELECT pg_read_file('x'))",
      "WITH c AS (SELECT pg_read_file('x')) SELECT * FROM c",
      'SELECT * FROM t, LATERAL (SELECT pg_read_file(t.a)) s',
      'SELECT * FROM t ORDER BY pg_current_snapshot()',
      'SELECT count(*) FILTER (WHERE pg_current_snapshot() > 0) FROM t',
      'SELECT sum(a) OVER (PARTITION BY pg_current_snapshot()) FROM t',
      'SELECT * FROM t JOIN u ON pg_current_snapshot() = 1',
      'VALUES (pg_current_snapshot())',
      'SELECT 1 UNION SELECT pg_current_snapshot()',
      'SELECT EXISTS (SELECT 1 WHERE pg_current_xact_id() > 0)',
      'SELECT CASE WHEN a THEN pg_sleep(1) END FROM t',
      'SELECT ARRAY[pg_current_snapshot()]',
    ]) {
      expect(check(sql)?.sqlstate, sql).toBe('42883');
    }
  });

  it('ts_rewrite is allowed only in its 3-argument form', () => {
    expect(checkFunctionCall(call('ts_rewrite', 3))).toBeNull();
    expect(checkFunctionCall(call('ts_rewrite', 2))?.message).toBe(
      'function ts_rewrite(unknown, unknown) does not exist',
    );
  });

  it('current_setting: only a literal, allowlisted name', () => {
    expect(check("SELECT current_setting('timezone')")).toBeNull();
    expect(check("SELECT current_setting('TimeZone', true)")).toBeNull();
    expect(err("SELECT current_setting('data_directory')")).toEqual({
      sqlstate: '42501',
      message: 'permission denied to examine "data_directory"',
    });
    expect(err("SELECT current_setting('app.tenant', true)")?.sqlstate).toBe('42501');
    expect(err("SELECT current_setting('search_path')")?.sqlstate).toBe('42501');
    expect(err('SELECT current_setting(name) FROM t')).toEqual({
      sqlstate: '42883',
      message: 'function current_setting(unknown) does not exist',
    });
    expect(err("SELECT current_setting('a', true, 1)")?.sqlstate).toBe('42883');
  });
});

describe('types', () => {
  it.each([...ALLOWED_TYPES])('%s is an allowed cast target', (name) => {
    expect(check(`SELECT NULL::${name}`)).toBeNull();
    expect(check(`SELECT NULL::pg_catalog.${name}[]`)).toBeNull();
  });

  it.each(DENIED_TYPES)('%s is refused as "does not exist" (42704)', (name) => {
    expect(err(`SELECT 'x'::${name}`)).toEqual({
      sqlstate: '42704',
      message: `type "${name}" does not exist`,
    });
  });

  it.each([
    ['SELECT g::regrole FROM generate_series(1, 20000) g', 'regrole'],
    ["SELECT 'x'::regclass[][]", 'regclass[]'],
    ["SELECT 'x'::_regclass", '_regclass'],
    ['SELECT NULL::payroll', 'payroll'],
    ['SELECT NULL::public.customers', 'public.customers'],
    ["SELECT * FROM json_populate_record(NULL::customers, '{}')", 'customers'],
    ['SELECT (NULL::customers).ssn', 'customers'],
  ])('%s → type "%s" does not exist', (sql, written) => {
    expect(err(sql)).toEqual({ sqlstate: '42704', message: `type "${written}" does not exist` });
  });

  it('admits one-dimensional reg* array casts (catalog/calls.ts rewrites them)', () => {
    expect(check('SELECT proargtypes::regtype[] FROM pg_proc')).toBeNull();
  });

  it('admits information_schema._pg_expandarray with one argument only', () => {
    expect(check('SELECT information_schema._pg_expandarray(ARRAY[1, 2])')).toBeNull();
    expect(err('SELECT information_schema._pg_expandarray(ARRAY[1], 2)')?.sqlstate).toBe('42883');
    expect(err('SELECT information_schema._pg_keysequal(ARRAY[1], ARRAY[1])')?.sqlstate).toBe('42883');
  });

  it('admits user types through the visibility hook', () => {
    const type = { names: [{ String: { sval: 'mood' } }] };
    expect(checkTypeName(type)?.sqlstate).toBe('42704');
    expect(checkTypeName(type, { isVisibleType: (s, n) => s === undefined && n === 'mood' })).toBeNull();
  });
});

describe('operators, TABLESAMPLE, SQL value functions', () => {
  it.each([...ALLOWED_OPERATORS])('operator %s is allowed', (op) => {
    expect(findForbiddenCalls({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: op } }] } })).toBeNull();
  });

  it.each([
    ['SELECT 1 OPERATOR(public.+) 2', 'operator does not exist: integer public.+ integer'],
    ["SELECT a OPERATOR(public.===) 'x' FROM t", 'operator does not exist: unknown public.=== unknown'],
    ['SELECT 1 === 1', 'operator does not exist: integer === integer'],
    ['SELECT a FROM t ORDER BY a USING OPERATOR(public.<)', 'operator does not exist: public.<'],
    ['SELECT 1 WHERE 1 OPERATOR(public.=) ANY (SELECT 1)', 'operator does not exist: public.='],
  ])('%s → %s', (sql, message) => {
    expect(err(sql)).toEqual({ sqlstate: '42883', message });
  });

  it('refuses non-built-in TABLESAMPLE methods', () => {
    expect(err('SELECT * FROM t TABLESAMPLE system_rows (10)')).toEqual({
      sqlstate: '42704',
      message: 'tablesample method system_rows does not exist',
    });
    expect(err('SELECT * FROM t TABLESAMPLE public.evil (1)')?.message).toBe(
      'tablesample method public.evil does not exist',
    );
  });

  it('admits identity calls in user statements: the rewriter replaces them (identity.ts, V79, V117)', () => {
    for (const sql of [
      'SELECT current_catalog, current_schema, current_user, session_user, current_role, user',
      'SELECT current_database(), current_schema(), pg_catalog.current_database()',
    ]) {
      expect(err(sql)).toBeNull();
    }
    expect(err('SELECT system_user')?.message).toBe('function pg_catalog.system_user() does not exist');
    // current_schemas() is a catalog function now (catalog/calls.ts answers it from the visible schemas).
    expect(err('SELECT current_schemas(true)')).toBeNull();
  });

  it('admits catalog functions and reg* casts at the gate, never unrewritten in the output (catalog/calls.ts)', () => {
    for (const sql of [
      "SELECT has_table_privilege('payroll', 'SELECT')",
      "SELECT to_regclass('payroll')",
      'SELECT version()',
      "SELECT 'payroll'::regclass",
      "SELECT 'public.tenant_ok'::regproc",
    ]) {
      expect(err(sql), sql).toBeNull();
      expect(findForbiddenCalls(stmt(sql), { rewritten: true })?.sqlstate, sql).toMatch(/^(XX000|42704)$/);
    }
    // A reg* type outside a cast is never rewritten: refused in the output like an unknown type.
    expect(
      findForbiddenCalls(stmt("SELECT * FROM json_to_record('{}') AS r(a regclass)"), { rewritten: true }),
    ).toMatchObject({ sqlstate: '42704', message: 'type "regclass" does not exist' });
  });

  it.each([
    ['SELECT current_user', 'CURRENT_USER'],
    ['SELECT 1 WHERE session_user IS NOT NULL', 'SESSION_USER'],
    ['SELECT user', 'USER'],
    ['SELECT current_role', 'CURRENT_ROLE'],
    ['SELECT current_catalog', 'CURRENT_CATALOG'],
    ['SELECT current_schema', 'CURRENT_SCHEMA'],
    ['SELECT current_database()', 'current_database()'],
    ['SELECT lower(pg_catalog.current_schema())', 'current_schema()'],
  ])('refuses %s in a rewritten tree (fail closed: it was not replaced)', (sql, what) => {
    expect(findForbiddenCalls(stmt(sql), { rewritten: true })).toMatchObject({
      sqlstate: 'XX000',
      message: `internal error: ${what} was not replaced`,
    });
  });
});

describe('walker robustness', () => {
  it('walks very deep trees without recursion', () => {
    let node: Node = { FuncCall: { funcname: [{ String: { sval: 'pg_current_snapshot' } }] } };
    for (let i = 0; i < 100_000; i++) node = { BoolExpr: { boolop: 'NOT_EXPR', args: [node] } };
    expect(findForbiddenCalls(node)?.message).toBe('function pg_current_snapshot() does not exist');
  });

  it('ignores scalars and empty input', () => {
    expect(findForbiddenCalls(null)).toBeNull();
    expect(findForbiddenCalls(42)).toBeNull();
    expect(findForbiddenCalls([])).toBeNull();
  });
});
