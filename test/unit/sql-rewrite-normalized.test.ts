/**
 * Literal-normalized templates (normalized.ts): statements that differ only in
 * constants are served from a template, and the result must mean exactly what
 * the full rewrite of the same statement means (compared as parse trees).
 */
import { normalizeSync, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { LruCache } from '../../src/sql/cache.js';
import type { NormalizedTemplate } from '../../src/sql/normalized.js';
import { literalSpans } from '../../src/sql/normalized.js';
import type { RewriteResult } from '../../src/sql/rewrite.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { sameTree } from '../../src/sql/verify.js';
import { alicePolicy, loadParser } from '../support/policy-fixtures.js';

beforeAll(loadParser);

const gate = classifierGate();
const session = { searchPath: ['public'] };

function setup() {
  const templates = new LruCache<NormalizedTemplate>();
  const policy = alicePolicy();
  const run = (sql: string, s = session) => rewriteSync(sql, policy, s, { gate, templates }).statements[0]!;
  const full = (sql: string) => rewriteSync(sql, policy, session, { gate }).statements[0]!;
  return { templates, run, full };
}

const tree = (sql: string) => parseSync(sql).stmts?.[0]?.stmt;

describe('served from a template, meaning what the full rewrite means', () => {
  it.each([
    ['SELECT id, note FROM orders WHERE id = 42', 'SELECT id, note FROM orders WHERE id = 4242'],
    [
      "SELECT * FROM customers c WHERE c.name = 'x' AND c.id IN (1, 2) LIMIT 10 OFFSET 5",
      "SELECT * FROM customers c WHERE c.name = 'it''s $1 OR 1=1 --' AND c.id IN (7, 8) LIMIT 1 OFFSET 0",
    ],
    ["  SELECT 'ä', id FROM orders WHERE id = 1 ;  ", "  SELECT 'ü€', id FROM orders WHERE id = 2 ;  "],
    ['SELECT * FROM orders WHERE id = 5.5', 'SELECT * FROM orders WHERE id = 5000000000'],
    ['SELECT * FROM orders ORDER BY 1 LIMIT 5', 'SELECT * FROM orders ORDER BY 1 LIMIT 6'],
    [
      "SELECT * FROM orders WHERE note = 'a' AND id = $1",
      "SELECT * FROM orders WHERE note = 'b' AND id = $1",
    ],
    [
      'SELECT x::varchar(3) FROM (SELECT note AS x FROM orders WHERE id = 1) s',
      'SELECT x::varchar(3) FROM (SELECT note AS x FROM orders WHERE id = 2) s',
    ],
    [
      "SELECT interval '1 day', true, null FROM orders WHERE id = 1",
      "SELECT interval '2 days', false, NULL FROM orders WHERE id = 3",
    ],
    [
      'SELECT c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 1',
      'SELECT c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 99',
    ],
    [
      "SELECT current_user, 'a' FROM employees WHERE id = 1",
      "SELECT current_user, 'b' FROM employees WHERE id = 2",
    ],
    ["SELECT 'a\\' FROM employees WHERE id = 1", "SELECT 'b\\\\' FROM employees WHERE id = 2"],
  ])('%s', (first, second) => {
    const { templates, run, full } = setup();
    run(first);
    expect(templates.size).toBe(1);
    const hits = templates.hits;
    const fast = run(second);
    expect(templates.hits).toBe(hits + 1);
    const reference = full(second);
    expect(fast.originalSql).toBe(reference.originalSql);
    expect(fast).toMatchObject({
      kind: 'query',
      commandTag: 'SELECT',
      tablesReferenced: reference.tablesReferenced,
      policiesApplied: reference.policiesApplied,
    });
    expect(sameTree(tree(fast.rewrittenSql!), tree(reference.rewrittenSql!))).toBe(true);
  });
});

describe('never from a template', () => {
  it.each([
    [
      'current_setting: the literal decides the allowlist',
      "SELECT current_setting('timezone') FROM orders WHERE id = 1",
    ],
    ['negative numbers', 'SELECT * FROM orders WHERE id = -1'],
    ['E strings', "SELECT * FROM orders WHERE note = E'x'"],
    ['dollar quotes', 'SELECT * FROM orders WHERE note = $$x$$'],
    ['hex integers (unknown to PostgreSQL 15)', 'SELECT * FROM orders WHERE id = 0x10'],
    ['underscored numbers', 'SELECT * FROM orders WHERE id = 1_000'],
    ['bit strings', "SELECT B'101' FROM orders"],
    ['no constants', 'SELECT * FROM orders'],
    ['several statements', 'SELECT 1 FROM orders WHERE id = 1; SELECT 2'],
    ['not a query', 'DECLARE c CURSOR FOR SELECT * FROM orders WHERE id = 1'],
    ['string continued on the next line', "SELECT * FROM orders WHERE note = 'a'\n'b'"],
  ])('%s', (_why, sql) => {
    const { templates, run } = setup();
    run(sql);
    expect(templates.size).toBe(0);
  });

  it('a constant of another class gets its own template (the fence depends on it)', () => {
    const { templates, run } = setup();
    expect(run('SELECT * FROM orders WHERE id = 5').rewrittenSql).toContain('_rg_1.id = 5 OFFSET 0');
    expect(run('SELECT * FROM orders WHERE id = 5.5').rewrittenSql).not.toContain('_rg_1.id = 5.5');
    expect(run("SELECT * FROM orders WHERE id = '7'").rewrittenSql).toContain("_rg_1.id = '7' OFFSET 0");
    expect(templates.size).toBe(3);
    expect(templates.hits).toBe(0);
  });

  it('another search path, policy set or spelling misses', () => {
    const { templates, run } = setup();
    run('SELECT * FROM orders WHERE id = 5');
    run('SELECT * FROM orders WHERE id = 6', { searchPath: ['other', 'public'] });
    run('select * FROM orders WHERE id = 6');
    rewriteSync('SELECT * FROM orders WHERE id = 6', { ...alicePolicy(), fingerprint: 'x' }, session, {
      gate,
      templates,
    });
    expect(templates.hits).toBe(0);
  });

  it('errors are not templated and stay errors', () => {
    const { templates, run } = setup();
    expect(() => run('SELECT ssn::int FROM payroll WHERE id = 1')).toThrow(
      'relation "payroll" does not exist',
    );
    expect(() => run('SELECT ssn::int FROM payroll WHERE id = 2')).toThrow(
      'relation "payroll" does not exist',
    );
    expect(templates.size).toBe(0);
  });

  it('the exact-text cache stays in front', () => {
    const templates = new LruCache<NormalizedTemplate>();
    const cache = new LruCache<RewriteResult>();
    const opts = { gate, templates, cache };
    const a = rewriteSync('SELECT * FROM orders WHERE id = 5', alicePolicy(), session, opts);
    rewriteSync('SELECT * FROM orders WHERE id = 6', alicePolicy(), session, opts);
    const c = rewriteSync('SELECT * FROM orders WHERE id = 5', alicePolicy(), session, opts);
    expect(c.statements).toBe(a.statements);
    expect([cache.hits, templates.hits]).toEqual([1, 1]);
  });
});

describe('literalSpans', () => {
  it.each([
    ["SELECT 1, 'a''b', 2.5, .5, 1e3, TRUE, null", ['1', "'a''b'", '2.5', '.5', '1e3', 'TRUE', 'null']],
    ["SELECT /* 5 */ 5 -- 'x'\n", ['5']],
    ['SELECT $1, 7', ['7']],
  ])('%s', (sql, literals) => {
    const spans = literalSpans(sql, normalizeSync(sql));
    expect(spans?.map((s) => sql.slice(s.start, s.end))).toEqual(literals);
  });

  it('gives up on anything outside the small syntax or out of step', () => {
    expect(literalSpans('SELECT -1', 'SELECT $1')).toBeNull();
    expect(literalSpans("SELECT E'x'", 'SELECT $1')).toBeNull();
    expect(literalSpans('SELECT 1', 'SELECT 2')).toBeNull();
    expect(literalSpans('SELECT 12abc', 'SELECT $1abc')).toBeNull();
  });
});
