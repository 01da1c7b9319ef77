/**
 * Rewriter: SQL text in, rewritten SQL text out (exact strings). Relation
 * resolution, scopes, and the secured-subquery shape (design §2; threat
 * model V3–V9, V25–V31, V78, V124, V126–V131).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CUSTOMERS as C,
  DEALS,
  EMPLOYEES as E,
  LOST,
  MIXED,
  ORDERS as O,
  OTHER,
  PAYMENTS as P,
  loadParser,
  rw,
  rwError,
} from '../support/policy-fixtures.js';

beforeAll(loadParser);

const NF = (name: string): string => `42P01: relation "${name}" does not exist`;

describe('secured subquery shape', () => {
  it.each([
    ['plain select', 'SELECT * FROM orders', `SELECT * FROM ${O(1)}`],
    ['alias kept (V3)', 'SELECT * FROM orders AS o WHERE 1 = 1', `SELECT * FROM ${O(1, 'o')} WHERE 1 = 1`],
    ['alias without AS', 'SELECT o.id FROM orders o', `SELECT o.id FROM ${O(1, 'o')}`],
    ['column alias list', 'SELECT a FROM orders AS x(a, b)', `SELECT a FROM ${O(1, 'x(a, b)')}`],
    ['mask in select list', 'SELECT ssn FROM customers', `SELECT ssn FROM ${C(1)}`],
    ['mask under expression (V5)', "SELECT ssn || '' FROM customers", `SELECT ssn || '' FROM ${C(1)}`],
    ['constant mask, no filter: no fence', 'SELECT salary FROM employees', `SELECT salary FROM ${E(1)}`],
    ['filter false', 'SELECT * FROM lost', `SELECT * FROM ${LOST(1)}`],
    ['via filter is a semijoin (V80)', 'SELECT * FROM payments', `SELECT * FROM ${P(1)}`],
    ['count(*) (V25)', 'SELECT count(*) FROM orders', `SELECT count(*) FROM ${O(1)}`],
    ['zero-column select (V76)', 'SELECT FROM employees', `SELECT FROM ${E(1)}`],
    ['whole-row reference (V124)', 'SELECT c FROM customers c', `SELECT c FROM ${C(1, 'c')}`],
    [
      'row_to_json of alias',
      'SELECT row_to_json(c) FROM customers c',
      `SELECT row_to_json(c) FROM ${C(1, 'c')}`,
    ],
    ['table name as whole row', 'SELECT customers FROM customers', `SELECT customers FROM ${C(1)}`],
    ['system column left to fail upstream (V126)', 'SELECT ctid FROM orders', `SELECT ctid FROM ${O(1)}`],
    ['xmin qualified', 'SELECT o.xmin FROM orders o', `SELECT o.xmin FROM ${O(1, 'o')}`],
    [
      'ONLY moves inside (V130)',
      'SELECT * FROM ONLY orders',
      `SELECT * FROM ${O(1).replace('FROM public.orders', 'FROM ONLY public.orders')}`,
    ],
    [
      'TABLESAMPLE moves inside (V130)',
      'SELECT * FROM employees TABLESAMPLE system (10)',
      `SELECT * FROM ${E(1, 'employees', 'public.employees AS _rg_1 TABLESAMPLE system (10)')}`,
    ],
    [
      'TABLESAMPLE with alias and REPEATABLE',
      'SELECT * FROM employees e TABLESAMPLE bernoulli (5) REPEATABLE (1)',
      `SELECT * FROM ${E(1, 'e', 'public.employees AS _rg_1 TABLESAMPLE bernoulli (5) REPEATABLE (1)')}`,
    ],
    ['TABLE t', 'TABLE orders', `SELECT * FROM ${O(1)}`],
    ['quoted case-sensitive table', 'SELECT * FROM "Mixed Case"', `SELECT * FROM ${MIXED(1)}`],
    ['quoted with alias', 'SELECT m."Id" FROM "Mixed Case" m', `SELECT m."Id" FROM ${MIXED(1, 'm')}`],
    ['schema alias resolves to upstream schema', 'SELECT * FROM sales.deals', `SELECT * FROM ${DEALS(1)}`],
    ['datasource as catalog (V79)', 'SELECT * FROM ds.public.orders', `SELECT * FROM ${O(1)}`],
    ['VALUES untouched', 'VALUES (1, 2)', 'VALUES (1, 2)'],
    ['no relations', 'SELECT 1 + 1', 'SELECT 1 + 1'],
    ['quoted alias', 'SELECT "O".id FROM orders "O"', `SELECT "O".id FROM ${O(1, '"O"')}`],
  ])('%s', (_name, sql, expected) => {
    expect(rw(sql)).toBe(expected);
  });
});

describe('every position of a relation reference', () => {
  it.each([
    [
      'join (V7)',
      'SELECT c.ssn FROM orders o JOIN customers c ON o.customer_id = c.id',
      `SELECT c.ssn FROM ${O(1, 'o')} JOIN ${C(2, 'c')} ON o.customer_id = c.id`,
    ],
    ['comma join', 'SELECT 1 FROM orders, customers', `SELECT 1 FROM ${O(1)}, ${C(2)}`],
    [
      'left join',
      'SELECT 1 FROM orders o LEFT JOIN customers c ON true',
      `SELECT 1 FROM ${O(1, 'o')} LEFT JOIN ${C(2, 'c')} ON true`,
    ],
    [
      'nested joins',
      'SELECT 1 FROM orders o JOIN (customers c JOIN payments p ON true) ON true',
      `SELECT 1 FROM ${O(1, 'o')} JOIN (${C(2, 'c')} JOIN ${P(3, 'p')} ON true) ON true`,
    ],
    [
      'derived table (V8)',
      'SELECT * FROM (SELECT * FROM orders) sub',
      `SELECT * FROM ( SELECT * FROM ${O(1)} ) AS sub`,
    ],
    [
      'CTE body (V4)',
      'WITH data AS (SELECT * FROM orders) SELECT * FROM data',
      `WITH data AS (SELECT * FROM ${O(1)}) SELECT * FROM data`,
    ],
    [
      'scalar subquery in target list',
      'SELECT (SELECT max(amount) FROM orders)',
      `SELECT (SELECT max(amount) FROM ${O(1)})`,
    ],
    [
      'EXISTS in WHERE',
      'SELECT 1 WHERE EXISTS (SELECT 1 FROM orders)',
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM ${O(1)})`,
    ],
    [
      'IN sublink',
      'SELECT 1 WHERE 5 IN (SELECT id FROM orders)',
      `SELECT 1 WHERE 5 IN (SELECT id FROM ${O(1)})`,
    ],
    [
      'ANY sublink',
      'SELECT 1 WHERE 5 = ANY (SELECT id FROM orders)',
      `SELECT 1 WHERE 5 = ANY (SELECT id FROM ${O(1)})`,
    ],
    [
      'HAVING subquery',
      'SELECT 1 HAVING count(*) > (SELECT count(*) FROM orders)',
      `SELECT 1 HAVING count(*) > ((SELECT count(*) FROM ${O(1)}))`,
    ],
    [
      'ORDER BY subquery',
      'SELECT 1 ORDER BY (SELECT max(id) FROM orders)',
      `SELECT 1 ORDER BY (SELECT max(id) FROM ${O(1)})`,
    ],
    [
      'JOIN ON subquery',
      'SELECT 1 FROM employees e JOIN orders o ON o.id = (SELECT min(id) FROM customers)',
      `SELECT 1 FROM ${E(1, 'e')} JOIN ${O(2, 'o')} ON o.id = ((SELECT min(id) FROM ${C(3)}))`,
    ],
    [
      'function argument subquery',
      'SELECT coalesce((SELECT max(id) FROM orders), 0)',
      `SELECT COALESCE((SELECT max(id) FROM ${O(1)}), 0)`,
    ],
    [
      'GROUP BY subquery',
      'SELECT 1 GROUP BY (SELECT 1 FROM orders LIMIT 1)',
      `SELECT 1 GROUP BY (SELECT 1 FROM ${O(1)} LIMIT 1)`,
    ],
    [
      'LIMIT subquery',
      'SELECT 1 LIMIT (SELECT count(*) FROM orders)',
      `SELECT 1 LIMIT (SELECT count(*) FROM ${O(1)})`,
    ],
    ['VALUES sublink', 'VALUES ((SELECT count(*) FROM orders))', `VALUES ((SELECT count(*) FROM ${O(1)}))`],
    [
      'CASE branch subquery',
      'SELECT CASE WHEN true THEN (SELECT 1 FROM orders LIMIT 1) END',
      `SELECT CASE WHEN true THEN (SELECT 1 FROM ${O(1)} LIMIT 1) END`,
    ],
    [
      'window clause subquery',
      'SELECT sum(1) OVER (ORDER BY (SELECT 1 FROM orders LIMIT 1))',
      `SELECT sum(1) OVER (ORDER BY (SELECT 1 FROM ${O(1)} LIMIT 1))`,
    ],
    [
      'UNION (both arms)',
      'SELECT id FROM orders UNION SELECT id FROM customers',
      `SELECT id FROM ${O(1)} UNION SELECT id FROM ${C(2)}`,
    ],
    [
      'INTERSECT',
      'SELECT id FROM orders INTERSECT SELECT id FROM customers',
      `SELECT id FROM ${O(1)} INTERSECT SELECT id FROM ${C(2)}`,
    ],
    [
      'EXCEPT ALL',
      'SELECT id FROM orders EXCEPT ALL SELECT id FROM customers',
      `SELECT id FROM ${O(1)} EXCEPT ALL SELECT id FROM ${C(2)}`,
    ],
    [
      'three-way set op',
      'SELECT id FROM orders UNION SELECT id FROM customers UNION ALL SELECT id FROM payments',
      `(SELECT id FROM ${O(1)} UNION SELECT id FROM ${C(2)}) UNION ALL SELECT id FROM ${P(3)}`,
    ],
    [
      'LATERAL (V129)',
      'SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id) x',
      `SELECT * FROM ${C(1, 'c')}, LATERAL ( SELECT * FROM ${O(2, 'o')} WHERE o.customer_id = c.id ) AS x`,
    ],
    [
      'LEFT JOIN LATERAL',
      'SELECT * FROM customers c LEFT JOIN LATERAL (SELECT c.ssn) s ON true',
      `SELECT * FROM ${C(1, 'c')} LEFT JOIN LATERAL ( SELECT c.ssn ) AS s ON true`,
    ],
    [
      'correlated scalar subquery',
      'SELECT (SELECT max(amount) FROM orders o WHERE o.customer_id = c.id) FROM customers c',
      `SELECT (SELECT max(amount) FROM ${O(2, 'o')} WHERE o.customer_id = c.id) FROM ${C(1, 'c')}`,
    ],
    [
      'deeply nested',
      'SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT * FROM orders) a) b) c',
      `SELECT * FROM ( SELECT * FROM ( SELECT * FROM ( SELECT * FROM ${O(1)} ) AS a ) AS b ) AS c`,
    ],
    [
      'subquery in function in FROM',
      'SELECT * FROM generate_series(1, (SELECT count(*) FROM orders)) g',
      `SELECT * FROM generate_series(1, (SELECT count(*) FROM ${O(1)})) AS g`,
    ],
    [
      'DECLARE CURSOR body',
      'DECLARE c CURSOR WITH HOLD FOR SELECT * FROM orders',
      `DECLARE c CURSOR WITH HOLD FOR SELECT * FROM ${O(1)}`,
    ],
    ['PREPARE body', 'PREPARE q AS SELECT * FROM employees', `PREPARE q AS SELECT * FROM ${E(1)}`],
    ['EXPLAIN inner query', 'EXPLAIN SELECT * FROM employees', `EXPLAIN SELECT * FROM ${E(1)}`],
    ['COPY query form', 'COPY (SELECT * FROM employees) TO STDOUT', `COPY (SELECT * FROM ${E(1)}) TO STDOUT`],
    [
      'COPY table form becomes a query (V136)',
      'COPY employees TO STDOUT',
      `COPY (SELECT * FROM ${E(1)}) TO STDOUT`,
    ],
    [
      'COPY table form with columns',
      'COPY employees (id, salary) TO STDOUT',
      `COPY (SELECT id, salary FROM ${E(1)}) TO STDOUT`,
    ],
    [
      'EXECUTE param sublink',
      'EXECUTE q((SELECT count(*) FROM orders))',
      `EXECUTE q ((SELECT count(*) FROM ${O(1)}))`,
    ],
  ])('%s', (_name, sql, expected) => {
    expect(rw(sql)).toBe(expected);
  });
});

describe('CTE scoping (V127, V128)', () => {
  it.each([
    [
      'CTE shadows table',
      'WITH orders AS (SELECT 1 AS id) SELECT * FROM orders',
      'WITH orders AS (SELECT 1 AS id) SELECT * FROM orders',
    ],
    [
      'earlier sibling sees table, not later CTE',
      'WITH a AS (SELECT count(*) FROM orders), orders AS (SELECT 1 AS id) SELECT * FROM a',
      `WITH a AS (SELECT count(*) FROM ${O(1)}), orders AS (SELECT 1 AS id) SELECT * FROM a`,
    ],
    [
      'later sibling sees earlier CTE',
      'WITH orders AS (SELECT 1 AS id), b AS (SELECT * FROM orders) SELECT * FROM b',
      'WITH orders AS (SELECT 1 AS id), b AS (SELECT * FROM orders) SELECT * FROM b',
    ],
    [
      'CTE inside derived table does not leak out',
      'SELECT * FROM (WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) s, orders',
      `SELECT * FROM ( WITH orders AS (SELECT 1 AS id) SELECT * FROM orders ) AS s, ${O(1)}`,
    ],
    [
      'qualified name is never a CTE',
      'WITH orders AS (SELECT 1 AS id) SELECT * FROM public.orders',
      `WITH orders AS (SELECT 1 AS id) SELECT * FROM ${O(1)}`,
    ],
    [
      'CTE visible in nested subquery',
      'WITH orders AS (SELECT 1 AS id) SELECT (SELECT id FROM orders)',
      'WITH orders AS (SELECT 1 AS id) SELECT (SELECT id FROM orders)',
    ],
    [
      'CTE visible in sublink in WHERE',
      'WITH orders AS (SELECT 1 AS id) SELECT 1 WHERE EXISTS (SELECT 1 FROM orders)',
      'WITH orders AS (SELECT 1 AS id) SELECT 1 WHERE EXISTS (SELECT 1 FROM orders)',
    ],
    [
      'CTE own name in non-recursive body is the table',
      'WITH orders AS (SELECT * FROM orders) SELECT * FROM orders',
      `WITH orders AS (SELECT * FROM ${O(1)}) SELECT * FROM orders`,
    ],
    [
      'recursive CTE self reference',
      'WITH RECURSIVE orders AS (SELECT 1 AS id UNION ALL SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders',
      'WITH RECURSIVE orders AS (SELECT 1 AS id UNION ALL SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders',
    ],
    [
      'recursive CTE over protected table (V128)',
      'WITH RECURSIVE t(id) AS (SELECT id FROM employees UNION ALL SELECT e.id FROM employees e JOIN t ON e.id = t.id) SELECT * FROM t',
      `WITH RECURSIVE t(id) AS (SELECT id FROM ${E(1)} UNION ALL SELECT e.id FROM ${E(2, 'e')} JOIN t ON e.id = t.id) SELECT * FROM t`,
    ],
    [
      'recursive: all siblings see each other',
      'WITH RECURSIVE a AS (SELECT * FROM orders), orders AS (SELECT 1 AS id) SELECT * FROM a',
      'WITH RECURSIVE a AS (SELECT * FROM orders), orders AS (SELECT 1 AS id) SELECT * FROM a',
    ],
    [
      'CTE on set operation applies to both arms',
      'WITH orders AS (SELECT 1 AS id) SELECT id FROM orders UNION SELECT id FROM orders',
      'WITH orders AS (SELECT 1 AS id) SELECT id FROM orders UNION SELECT id FROM orders',
    ],
    [
      'inner WITH shadows outer only inside',
      'WITH x AS (SELECT 1) SELECT * FROM (WITH orders AS (SELECT 2 AS id) SELECT * FROM orders) s JOIN orders o ON true',
      `WITH x AS (SELECT 1) SELECT * FROM ( WITH orders AS (SELECT 2 AS id) SELECT * FROM orders ) AS s JOIN ${O(1, 'o')} ON true`,
    ],
    [
      'CTE with MATERIALIZED',
      'WITH m AS MATERIALIZED (SELECT * FROM orders) SELECT * FROM m',
      `WITH m AS MATERIALIZED (SELECT * FROM ${O(1)}) SELECT * FROM m`,
    ],
    [
      'CTE name in a scalar subquery of a CTE body',
      'WITH orders AS (SELECT 1 AS id), b AS (SELECT (SELECT id FROM orders)) SELECT * FROM b',
      'WITH orders AS (SELECT 1 AS id), b AS (SELECT (SELECT id FROM orders)) SELECT * FROM b',
    ],
  ])('%s', (_name, sql, expected) => {
    expect(rw(sql)).toBe(expected);
  });
});

describe('name resolution and errors', () => {
  it.each([
    ['hidden table (V26)', 'SELECT * FROM payroll', NF('payroll')],
    ['missing table is the same', 'SELECT * FROM no_such_table', NF('no_such_table')],
    ['qualified hidden', 'SELECT * FROM public.payroll', NF('public.payroll')],
    ['missing schema', 'SELECT * FROM nope.orders', NF('nope.orders')],
    [
      'upstream schema name is not visible when aliased',
      'SELECT * FROM sales_raw.deals',
      NF('sales_raw.deals'),
    ],
    ['pg_catalog relation outside the allowlist, unqualified', 'SELECT * FROM pg_authid', NF('pg_authid')],
    [
      'pg_catalog relation outside the allowlist',
      'SELECT * FROM pg_catalog.pg_stats',
      NF('pg_catalog.pg_stats'),
    ],
    [
      'information_schema outside the allowlist',
      'SELECT * FROM information_schema.foreign_servers',
      NF('information_schema.foreign_servers'),
    ],
    ['pg_ prefix never reaches a user table', 'SELECT * FROM pg_stat_activity', NF('pg_stat_activity')],
    [
      'other database',
      'SELECT * FROM otherdb.public.orders',
      '0A000: cross-database references are not implemented: "otherdb.public.orders"',
    ],
    ['case-sensitive: Orders is not orders', 'SELECT * FROM "Orders"', NF('Orders')],
    ['unquoted folds: ORDERS is orders', 'SELECT * FROM ORDERS', ''],
    ['mixed case unquoted folds and misses', 'SELECT * FROM Mixed', NF('mixed')],
    ['hidden inside a subquery', 'SELECT (SELECT 1 FROM payroll)', NF('payroll')],
    ['hidden inside a CTE that is never used', 'WITH x AS (SELECT * FROM payroll) SELECT 1', NF('payroll')],
    [
      'hidden in a later statement refuses the whole string',
      'SELECT * FROM orders; SELECT * FROM payroll',
      NF('payroll'),
    ],
    ['hidden in UNION arm', 'SELECT 1 UNION SELECT 1 FROM payroll', NF('payroll')],
    ['hidden in LATERAL', 'SELECT * FROM orders, LATERAL (SELECT * FROM payroll) p', NF('payroll')],
    [
      'CTE name does not cover a qualified hidden table',
      'WITH payroll AS (SELECT 1) SELECT * FROM public.payroll',
      NF('public.payroll'),
    ],
    ['syntax error', 'SELECT * FROM', '42601: syntax error at end of input'],
  ])('%s', (_name, sql, expected) => {
    if (expected === '') expect(rw(sql)).toBe(`SELECT * FROM ${O(1)}`);
    else expect(rwError(sql)).toBe(expected);
  });

  it('search path: first visible schema wins; hidden tables never shadow (V78, V160)', () => {
    expect(rw('SELECT * FROM customers', { searchPath: ['other', 'public'] })).toBe(
      `SELECT * FROM ${OTHER(1)}`,
    );
    expect(rw('SELECT * FROM customers', { searchPath: ['public', 'other'] })).toBe(`SELECT * FROM ${C(1)}`);
    // `other` has no visible orders (as if hidden): public.orders is found.
    expect(rw('SELECT * FROM orders', { searchPath: ['other', 'public'] })).toBe(`SELECT * FROM ${O(1)}`);
    expect(rw('SELECT * FROM deals', { searchPath: ['sales'] })).toBe(`SELECT * FROM ${DEALS(1)}`);
    expect(rwError('SELECT * FROM deals', { searchPath: ['sales_raw', 'public'] })).toBe(NF('deals'));
    expect(rwError('SELECT * FROM orders', { searchPath: [] })).toBe(NF('orders'));
    expect(rw('SELECT * FROM orders', { searchPath: ['$user', 'pg_catalog', 'pg_temp', 'public'] })).toBe(
      `SELECT * FROM ${O(1)}`,
    );
  });

  it('reports the position of the relation as PostgreSQL does', () => {
    try {
      rw('SELECT * FROM orders, payroll');
    } catch (err) {
      expect((err as { extra: { position: number } }).extra.position).toBe(23);
    }
    try {
      rw("SELECT 'é' FROM payroll");
    } catch (err) {
      expect((err as { extra: { position: number } }).extra.position).toBe(17);
    }
  });
});

describe('qualified column references (V124)', () => {
  it.each([
    ['schema.table.col', 'SELECT public.customers.name FROM customers', `SELECT customers.name FROM ${C(1)}`],
    [
      'db.schema.table.col',
      'SELECT ds.public.customers.name FROM customers',
      `SELECT customers.name FROM ${C(1)}`,
    ],
    ['schema.table.*', 'SELECT public.customers.* FROM customers', `SELECT customers.* FROM ${C(1)}`],
    [
      'aliased entry is not rewritten',
      'SELECT public.customers.name FROM customers c',
      `SELECT public.customers.name FROM ${C(1, 'c')}`,
    ],
    [
      'other schema not rewritten',
      'SELECT other.customers.id FROM customers',
      `SELECT other.customers.id FROM ${C(1)}`,
    ],
    [
      'outer level in subquery',
      'SELECT (SELECT public.customers.id) FROM customers',
      `SELECT (SELECT customers.id) FROM ${C(1)}`,
    ],
    ['visible schema alias', 'SELECT sales.deals.id FROM sales.deals', `SELECT deals.id FROM ${DEALS(1)}`],
    [
      'wrong database left alone',
      'SELECT x.public.customers.id FROM customers',
      `SELECT x.public.customers.id FROM ${C(1)}`,
    ],
  ])('%s', (_name, sql, expected) => {
    expect(rw(sql)).toBe(expected);
  });
});
