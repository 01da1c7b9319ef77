/**
 * Unit tests of the virtual catalog (src/sql/catalog/): literal spelling,
 * every builder's SQL parses and round-trips through the deparser, name
 * resolution of catalog relations, and the function list contract. Behaviour
 * against real upstreams: test/security/catalog-leak.test.ts.
 */
import { parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { allCatalogRelations, catalogSql } from '../../src/sql/catalog/allowlist.js';
import { CATALOG_CALL_NAMES, touchesCatalog } from '../../src/sql/catalog/calls.js';
import { boolArray, sqlString, textArray } from '../../src/sql/catalog/literals.js';
import { parseVisibleSets } from '../../src/sql/catalog/visible-sets.js';
import { buildVisibleModel } from '../../src/sql/catalog/visible.js';
import { deparseStatement } from '../../src/sql/deparse.js';
import { CATALOG_FUNCTIONS } from '../../src/sql/function-list.js';
import { findForbiddenCalls } from '../../src/sql/functions.js';
import { buildCatalogIndex, resolveRelation } from '../../src/sql/relations.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { sameTree } from '../../src/sql/verify.js';
import { alicePolicy, filter, loadParser, policySet, table } from '../support/policy-fixtures.js';

beforeAll(loadParser);

const rv = (sql: string) => {
  const s = parseSync(sql).stmts![0]!.stmt as { SelectStmt: { fromClause: [{ RangeVar: object }] } };
  return s.SelectStmt.fromClause[0].RangeVar;
};

describe('literals', () => {
  it('quotes strings, doubling quotes; backslashes make an E string', () => {
    expect(sqlString("O'Brien")).toBe("'O''Brien'");
    expect(sqlString('a\\b')).toBe("E'a\\\\b'");
  });

  it('array literals quote every element, escaping " and \\', () => {
    expect(textArray(['a', "d'e"])).toBe(`'{"a","d''e"}'::pg_catalog.text[]`);
    // The element escape is a backslash, so the literal becomes an E string with it doubled (V164).
    expect(textArray(['b"c'])).toBe(String.raw`E'{"b\\"c"}'::pg_catalog.text[]`);
    expect(boolArray([true, false])).toBe("'{t,f}'::pg_catalog.bool[]");
    expect(textArray([])).toBe("'{}'::pg_catalog.text[]");
  });
});

describe('builders', () => {
  const hostile = policySet(
    [
      table('pub"lic', "t'1", [['c\\1', 'text', "'x'"], 'd'], [filter("d = 'a'")], 'vis'),
      table('public', 'plain', ['id']),
    ],
    undefined,
    "ds'x",
  );

  it.each(allCatalogRelations().map((r) => [`${r.schema}.${r.name}`, r] as const))(
    '%s parses as one SELECT and survives deparse → parse unchanged',
    (_name, rel) => {
      for (const policy of [alicePolicy(), hostile, policySet([])]) {
        const sql = catalogSql(rel, buildVisibleModel(policy));
        const tree = parseSync(sql).stmts!;
        expect(tree).toHaveLength(1);
        expect(tree[0]!.stmt).toHaveProperty('SelectStmt');
        const again = parseSync(deparseStatement(tree[0]!.stmt as never)).stmts![0]!.stmt;
        expect(sameTree(again, tree[0]!.stmt)).toBe(true);
      }
    },
  );

  it('the visible-set CTEs parse as one WITH list and survive deparse → parse unchanged', () => {
    for (const policy of [alicePolicy(), hostile, policySet([])]) {
      const model = buildVisibleModel(policy);
      const sets = parseVisibleSets(model);
      expect(sets.map((s) => s.cte.ctename)).toEqual(model.ctes.map(([name]) => name));
      expect(sets.every((s) => s.cte.ctematerialized === 'CTEMaterializeAlways')).toBe(true);
      // Types read columns and relations; constraints read relations, columns and indexes.
      const closure = (n: string) => [...sets.find((s) => s.cte.ctename === n)!.closure].sort();
      expect(closure('_rgv_typ')).toEqual(['_rgv_att', '_rgv_rel', '_rgv_typ']);
      expect(closure('_rgv_con')).toEqual(['_rgv_att', '_rgv_con', '_rgv_idx', '_rgv_rel']);
      const sql = `WITH ${model.ctes.map(([n, s]) => `${n} AS MATERIALIZED (${s})`).join(', ')} SELECT 1`;
      const tree = parseSync(sql).stmts![0]!.stmt;
      const again = parseSync(deparseStatement(tree as never)).stmts![0]!.stmt;
      expect(sameTree(again, tree)).toBe(true);
    }
  });

  it('names from the policy set appear only inside string constants', () => {
    const model = buildVisibleModel(hostile);
    const sql = [
      catalogSql({ schema: 'pg_catalog', name: 'pg_class' }, model),
      ...model.ctes.map(([, s]) => s),
    ].join(';\n');
    const consts: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const sval = (v as { A_Const?: { sval?: { sval?: string } } }).A_Const?.sval?.sval;
        if (sval !== undefined) consts.push(sval);
        Object.values(v).forEach(walk);
      }
    };
    walk(parseSync(sql));
    expect(consts.some((c) => c.includes("t'1"))).toBe(true);
    expect(consts.some((c) => c.includes('c\\\\1'))).toBe(true);
  });
});

describe('resolution of catalog relations', () => {
  const index = buildCatalogIndex(
    policySet([table('public', 'tables', ['id']), table('public', 'orders', ['id'])]),
  );

  it('pg_catalog is searched first for unqualified pg_* names', () => {
    expect(resolveRelation(rv('SELECT * FROM pg_class'), index, ['public'])).toMatchObject({
      kind: 'catalog',
      relation: { schema: 'pg_catalog', name: 'pg_class' },
    });
  });

  it('relations outside the allowlist are 42P01 as written', () => {
    for (const [sql, name] of [
      ['SELECT * FROM pg_authid', 'pg_authid'],
      ['SELECT * FROM pg_catalog.pg_stat_activity', 'pg_catalog.pg_stat_activity'],
      ['SELECT * FROM information_schema.foreign_servers', 'information_schema.foreign_servers'],
      ['SELECT * FROM pg_toast.pg_toast_2619', 'pg_toast.pg_toast_2619'],
    ] as const) {
      expect(() => resolveRelation(rv(sql), index, ['public'])).toThrow(`relation "${name}" does not exist`);
    }
  });

  it('information_schema is searched only where the search path names it', () => {
    expect(resolveRelation(rv('SELECT * FROM tables'), index, ['public'])).toMatchObject({ kind: 'table' });
    expect(
      resolveRelation(rv('SELECT * FROM tables'), index, ['information_schema', 'public']),
    ).toMatchObject({
      kind: 'catalog',
      relation: { schema: 'information_schema', name: 'tables' },
    });
  });
});

describe('catalog functions', () => {
  it('the gate list equals the rewrite handlers', () => {
    expect([...CATALOG_FUNCTIONS].sort()).toEqual([...CATALOG_CALL_NAMES].sort());
  });

  const rewrite = (sql: string) =>
    rewriteSync(sql, alicePolicy(), { searchPath: ['public'] }, { gate: classifierGate() }).statements[0]!
      .rewrittenSql!;

  it.each([
    'SELECT format_type(23, NULL)',
    'SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef',
    'SELECT c.oid::regclass, pg_table_is_visible(c.oid) FROM pg_class c',
    "SELECT has_table_privilege('orders', 'SELECT'), 'orders'::regclass",
    'SELECT obj_description(c.oid), col_description(c.oid, 1) FROM pg_class c',
  ])('%s: every catalog call is guarded, and the output passes the re-check', (sql) => {
    const out = rewrite(sql);
    expect(findForbiddenCalls(parseSync(out), {})).toBeNull();
    expect(out).toMatch(/CASE WHEN/);
  });

  it('a hidden or missing name in a reg* literal is 42P01 before anything runs', () => {
    expect(() => rewrite("SELECT 'salaries'::regclass")).toThrow('relation "salaries" does not exist');
    expect(() => rewrite("SELECT 'nosuch'::regclass")).toThrow('relation "nosuch" does not exist');
  });

  it('a replaced call keeps the column name PostgreSQL gives it', () => {
    expect(rewrite('SELECT c.oid::regclass FROM pg_class c')).toMatch(/ AS oid FROM/);
    expect(rewrite('SELECT format_type(23, NULL)')).toMatch(/ AS format_type$/);
  });

  it('statements touching the catalog are recognised (never templated)', () => {
    const tree = (sql: string) => parseSync(sql).stmts![0]!.stmt;
    expect(touchesCatalog(tree('SELECT * FROM pg_class'))).toBe(true);
    expect(touchesCatalog(tree("SELECT 'x'::regclass"))).toBe(true);
    expect(touchesCatalog(tree('SELECT format_type(1, 2)'))).toBe(true);
    expect(touchesCatalog(tree('SELECT * FROM orders WHERE id = 1'))).toBe(false);
  });
});
