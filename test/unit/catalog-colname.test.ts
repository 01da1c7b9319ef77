/**
 * colname.ts: the port of PostgreSQL's FigureColname over raw parse trees
 * (expected names as PostgreSQL 18 gives them; test/integration/
 * catalog-calls-naming.test.ts compares with real servers), and the
 * catalog call rewrite keeping them on items it changed.
 */
import { parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { figureColname } from '../../src/sql/catalog/colname.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { alicePolicy, expr, loadParser } from '../support/policy-fixtures.js';

beforeAll(loadParser);

const name = (text: string) => figureColname(expr(text) as Record<string, unknown>);

describe('figureColname', () => {
  it.each([
    ['c.relname', 'relname'],
    ['"Mixed"', 'Mixed'],
    ['(c).x', 'x'],
    ['(c).x[1]', 'x'],
    ['a[1]', 'a'],
    ['lower(x)', 'lower'],
    ['pg_catalog.format_type(1, 2)', 'format_type'],
    ['count(*)', 'count'],
    ['nullif(a, b)', 'nullif'],
    ['a + 1', '?column?'],
    ['1', '?column?'],
    ["'x'", '?column?'],
    ['$1', '?column?'],
    ['a IS NULL', '?column?'],
    ['NOT a', '?column?'],
    ['a::text', 'a'],
    ["'x'::text", 'text'],
    ["'x'::text::regclass", 'regclass'],
    ['1::int', 'int4'],
    ['1::varchar(3)', 'varchar'],
    ["'{a}'::regclass[]", 'regclass'],
    ['f(x)::text', 'f'],
    ['CAST(c.oid AS regclass)', 'oid'],
    ['x COLLATE "C"', 'x'],
    ["CASE WHEN a THEN 'x' ELSE c.reloftype::regtype::text END", 'reloftype'],
    ["CASE WHEN a THEN c.x ELSE 'y' END", 'case'],
    ['CASE WHEN a THEN c.x END', 'case'],
    ["CASE WHEN a THEN 1 ELSE 'y'::text END", 'case'],
    ['CASE WHEN a THEN 1 ELSE (SELECT 2) END', '?column?'],
    ['CASE WHEN a THEN 1 ELSE f(x) END', 'f'],
    ['ARRAY[1, 2]', 'array'],
    ['ARRAY(SELECT 1)', 'array'],
    ['ROW(1, 2)', 'row'],
    ['(1, 2)', 'row'],
    ['COALESCE(a, b)', 'coalesce'],
    ['GREATEST(a, b)', 'greatest'],
    ['LEAST(a, b)', 'least'],
    ['current_date', 'current_date'],
    ['current_time(2)', 'current_time'],
    ['localtimestamp', 'localtimestamp'],
    ['current_user', 'current_user'],
    ['session_user', 'session_user'],
    ['user', 'user'],
    ['current_catalog', 'current_catalog'],
    ['current_schema', 'current_schema'],
    ["xmlconcat('a')", 'xmlconcat'],
    ['xmlelement(name a)', 'xmlelement'],
    ["xmlserialize(content 'a' as text)", 'xmlserialize'],
    ["'a' IS DOCUMENT", '?column?'],
    ['EXISTS (SELECT 1)', 'exists'],
    ['(SELECT x FROM t)', 'x'],
    ['(SELECT 1 AS y)', 'y'],
    ['(SELECT 1)', '?column?'],
    ['(SELECT a UNION SELECT b)', 'a'],
    ['(VALUES (1))', 'column1'],
    ['(SELECT c.oid::regclass FROM pg_class c)', 'oid'],
    ['x IN (SELECT 1)', '?column?'],
    ['x = ANY (SELECT 1)', '?column?'],
    ["x AT TIME ZONE 'UTC'", 'timezone'],
    ['EXTRACT(year FROM x)', 'extract'],
    ['GROUPING(a)', 'grouping'],
    ["json_object('a': 1)", 'json_object'],
    ['json_array(1)', 'json_array'],
    ["json_value(j, '$.a')", 'json_value'],
    ["json_exists(j, '$.a')", 'json_exists'],
    ['json_scalar(1)', 'json_scalar'],
  ])('%s → %s', (text, expected) => {
    expect(name(text)).toBe(expected);
  });

  it('a scalar sub-select whose first column is * is unknown without the catalog', () => {
    expect(name('(SELECT * FROM t)')).toBeNull();
    expect(name('(SELECT t.* FROM t)')).toBeNull();
    expect(name('CASE WHEN a THEN 1 ELSE (SELECT * FROM t) END')).toBeNull();
  });
});

describe('rewritten items keep the name of the original', () => {
  const rewrite = (sql: string) =>
    rewriteSync(sql, alicePolicy(), { searchPath: ['public'] }, { gate: classifierGate() }).statements[0]!
      .rewrittenSql!;
  const targets = (sql: string) => {
    const stmt = parseSync(rewrite(sql)).stmts![0]!.stmt as {
      SelectStmt: { targetList: { ResTarget: { name?: string } }[] };
    };
    return stmt.SelectStmt.targetList.map((t) => t.ResTarget.name);
  };

  it('names a changed item after its original, however deep the replaced node sits', () => {
    expect(
      targets(
        "SELECT CASE WHEN c.relkind = 'r' THEN 'a' ELSE c.reloftype::regtype::text END FROM pg_class c",
      ),
    ).toEqual(['reloftype']);
    expect(targets('SELECT COALESCE(c.oid::regclass::text, $$x$$) FROM pg_class c')).toEqual(['coalesce']);
    expect(targets('SELECT (SELECT c.oid::regclass FROM pg_class c LIMIT 1)')).toEqual(['oid']);
    expect(targets("SELECT 'orders'::text::regclass")).toEqual(['regclass']);
    expect(targets("SELECT to_regclass('orders')")).toEqual(['to_regclass']);
    expect(targets('SELECT c.oid::regclass = 1 FROM pg_class c')).toEqual(['?column?']);
  });

  it('leaves unchanged items, aliased items and stars alone', () => {
    expect(targets('SELECT c.relname, c.oid::regclass AS r, c.oid FROM pg_class c')).toEqual([
      undefined,
      'r',
      undefined,
    ]);
    expect(targets('SELECT * FROM pg_class c')).toEqual([undefined]);
  });
});
