/**
 * Rewriter: leaky-predicate fence (V119/V120), statement-level behaviour
 * (multi-statement strings, writes, audit fields), fresh-alias collisions,
 * attribute literals (V2/V164), the deparse gate (V158) and the cache.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { LruCache } from '../../src/sql/cache.js';
import { PgError } from '../../src/sql/errors.js';
import type { RewriteResult } from '../../src/sql/rewrite.js';
import { classifierGate, gateWithAllowlist, rewrite, rewriteSync } from '../../src/sql/rewrite.js';
import { sameTree } from '../../src/sql/verify.js';
import {
  CUSTOMERS as C,
  EMPLOYEES as E,
  ORDERS as O,
  PAYMENTS as P,
  alicePolicy,
  allowAll,
  expr,
  filter,
  loadParser,
  policySet,
  ref,
  rw,
  rwError,
  table,
} from '../support/policy-fixtures.js';

beforeAll(loadParser);

describe('leakproof conjuncts copied into the fence', () => {
  it.each([
    [
      'point query by alias',
      'SELECT * FROM orders o WHERE o.id = 5',
      `SELECT * FROM ${O(1, 'o', '_rg_1.id = 5')} WHERE o.id = 5`,
    ],
    [
      'unqualified, single entry',
      'SELECT * FROM orders WHERE id = 5',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id = 5')} WHERE id = 5`,
    ],
    [
      'constant on the left',
      'SELECT * FROM orders WHERE 5 = id',
      `SELECT * FROM ${O(1, 'orders', '5 = _rg_1.id')} WHERE 5 = id`,
    ],
    [
      'parameter',
      'SELECT * FROM orders WHERE id = $1',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id = $1')} WHERE id = $1`,
    ],
    [
      'text literal',
      "SELECT * FROM orders WHERE note = 'x'",
      `SELECT * FROM ${O(1, 'orders', "_rg_1.note = 'x'")} WHERE note = 'x'`,
    ],
    [
      'range',
      'SELECT * FROM orders WHERE id >= 5 AND id < 10',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id >= 5', '_rg_1.id < 10')} WHERE id >= 5 AND id < 10`,
    ],
    [
      '<> (written !=)',
      'SELECT * FROM orders WHERE id != 5',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id <> 5')} WHERE id <> 5`,
    ],
    [
      'IS NULL',
      'SELECT * FROM orders WHERE note IS NULL',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.note IS NULL')} WHERE note IS NULL`,
    ],
    [
      'IS NOT NULL',
      'SELECT * FROM orders WHERE note IS NOT NULL',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.note IS NOT NULL')} WHERE note IS NOT NULL`,
    ],
    [
      'IN list',
      'SELECT * FROM orders WHERE id IN (1, 2)',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id IN (1, 2)')} WHERE id IN (1, 2)`,
    ],
    [
      'NOT IN list',
      'SELECT * FROM orders WHERE id NOT IN (1, 2)',
      `SELECT * FROM ${O(1, 'orders', '_rg_1.id NOT IN (1, 2)')} WHERE id NOT IN (1, 2)`,
    ],
    [
      'float column with decimal',
      'SELECT * FROM m WHERE x > 1.5',
      `SELECT * FROM ( SELECT _rg_1.x FROM public.m AS _rg_1 WHERE _rg_1.x <> 0 AND _rg_1.x > 1.5 OFFSET 0 ) AS m WHERE x > 1.5`,
    ],
    [
      'column alias list maps to the real column',
      'SELECT * FROM orders x(a) WHERE a = 1',
      `SELECT * FROM ${O(1, 'x(a)', '_rg_1.id = 1')} WHERE a = 1`,
    ],
    [
      'join: qualified conjuncts go to their own entry',
      'SELECT 1 FROM orders o JOIN customers c ON o.customer_id = c.id WHERE o.id = 1 AND c.id = 2',
      `SELECT 1 FROM ${O(1, 'o', '_rg_1.id = 1')} JOIN ${C(2, 'c', '_rg_2.id = 2')} ON o.customer_id = c.id WHERE o.id = 1 AND c.id = 2`,
    ],
    [
      'via-filtered table is fenced too (deparser parenthesises the inner AND)',
      'SELECT * FROM payments WHERE id = 3',
      `SELECT * FROM ${P(1, 'payments', '_rg_1.id = 3').replace(/WHERE (_rg_2\.id = .*'acme')\)/, 'WHERE ($1))')} WHERE id = 3`,
    ],
    [
      'subquery level has its own WHERE',
      'SELECT (SELECT note FROM orders o WHERE o.id = 1)',
      `SELECT (SELECT note FROM ${O(1, 'o', '_rg_1.id = 1')} WHERE o.id = 1)`,
    ],
  ])('%s', (_name, sql, expected) => {
    const floats = policySet([table('public', 'm', [['x', 'float8']], [filter('x <> 0')])]);
    expect(rw(sql, sql.includes(' m ') ? { policy: floats } : {})).toBe(expected);
  });

  it.each([
    [
      'masked column (V63)',
      "SELECT * FROM customers WHERE ssn = '1'",
      `SELECT * FROM ${C(1)} WHERE ssn = '1'`,
    ],
    [
      'leaky cast (V119)',
      'SELECT * FROM orders WHERE note::int > 0',
      `SELECT * FROM ${O(1)} WHERE note::int > 0`,
    ],
    [
      'leaky function (V118)',
      'SELECT * FROM orders WHERE bool(note)',
      `SELECT * FROM ${O(1)} WHERE bool(note)`,
    ],
    [
      'OR is not a top-level conjunct',
      'SELECT * FROM orders WHERE id = 1 OR id = 2',
      `SELECT * FROM ${O(1)} WHERE id = 1 OR id = 2`,
    ],
    [
      'LIKE is not on the list',
      "SELECT * FROM orders WHERE note LIKE 'a%'",
      `SELECT * FROM ${O(1)} WHERE note LIKE 'a%'`,
    ],
    [
      'column vs column',
      'SELECT * FROM orders WHERE id = customer_id',
      `SELECT * FROM ${O(1)} WHERE id = customer_id`,
    ],
    [
      'integer literal on a text column',
      'SELECT * FROM orders WHERE note = 5',
      `SELECT * FROM ${O(1)} WHERE note = 5`,
    ],
    [
      'typed constant',
      "SELECT * FROM orders WHERE note = 'x'::text",
      `SELECT * FROM ${O(1)} WHERE note = 'x'::text`,
    ],
    [
      'nullable side of LEFT JOIN',
      'SELECT 1 FROM employees e LEFT JOIN orders o ON true WHERE o.id = 1',
      `SELECT 1 FROM ${E(1, 'e')} LEFT JOIN ${O(2, 'o')} ON true WHERE o.id = 1`,
    ],
    [
      'nullable side of RIGHT JOIN',
      'SELECT 1 FROM orders o RIGHT JOIN employees e ON true WHERE o.id = 1',
      `SELECT 1 FROM ${O(1, 'o')} RIGHT JOIN ${E(2, 'e')} ON true WHERE o.id = 1`,
    ],
    [
      'FULL JOIN',
      'SELECT 1 FROM orders o FULL JOIN customers c ON true WHERE o.id = 1',
      `SELECT 1 FROM ${O(1, 'o')} FULL JOIN ${C(2, 'c')} ON true WHERE o.id = 1`,
    ],
    [
      'unqualified with two entries',
      'SELECT 1 FROM orders, employees WHERE note IS NULL',
      `SELECT 1 FROM ${O(1)}, ${E(2)} WHERE note IS NULL`,
    ],
    [
      'unfiltered table is not fenced',
      'SELECT * FROM employees WHERE id = 1',
      `SELECT * FROM ${E(1)} WHERE id = 1`,
    ],
    [
      'outer column in correlated subquery',
      'SELECT (SELECT 1 FROM orders o WHERE o.id = e.id) FROM employees e',
      `SELECT (SELECT 1 FROM ${O(2, 'o')} WHERE o.id = e.id) FROM ${E(1, 'e')}`,
    ],
    [
      'column of an outer level by name',
      'SELECT (SELECT 1 FROM orders WHERE department IS NULL) FROM employees',
      `SELECT (SELECT 1 FROM ${O(2)} WHERE department IS NULL) FROM ${E(1)}`,
    ],
    [
      'IN with a non-constant',
      'SELECT * FROM orders WHERE id IN (1, customer_id)',
      `SELECT * FROM ${O(1)} WHERE id IN (1, customer_id)`,
    ],
    [
      'function of a column',
      'SELECT * FROM orders WHERE abs(id) = 1',
      `SELECT * FROM ${O(1)} WHERE abs(id) = 1`,
    ],
    [
      'HAVING is not WHERE',
      'SELECT id FROM orders GROUP BY id HAVING id = 1',
      `SELECT id FROM ${O(1)} GROUP BY id HAVING id = 1`,
    ],
    ['column with unknown type', 'SELECT * FROM payments WHERE id = 1', ''],
  ])('not copied: %s', (name, sql, expected) => {
    if (name === 'column with unknown type') {
      const p = policySet([table('public', 'payments', ['id', 'order_id'], [filter("org = 'acme'")])]);
      expect(rw(sql, { policy: p })).not.toContain('_rg_1.id = 1');
    } else expect(rw(sql)).toBe(expected);
  });
});

describe('statements', () => {
  const policy = alicePolicy();
  const run = (sql: string): RewriteResult =>
    rewriteSync(sql, policy, { searchPath: ['public'] }, { gate: allowAll });

  it('splits multi-statement strings by parser offsets', () => {
    const r = run("SELECT ';' AS a; SELECT 2 ;; TABLE orders");
    expect(r.statements.map((s) => s.originalSql)).toEqual(["SELECT ';' AS a", 'SELECT 2', 'TABLE orders']);
    expect(r.statements.map((s) => s.rewrittenSql)).toEqual([
      "SELECT ';' AS a",
      'SELECT 2',
      `SELECT * FROM ${O(1)}`,
    ]);
  });

  it('slices non-ASCII text by bytes', () => {
    const r = run("SELECT 'äöü' AS x; SELECT 'ß'");
    expect(r.statements.map((s) => s.originalSql)).toEqual(["SELECT 'äöü' AS x", "SELECT 'ß'"]);
  });

  it('reports kind, tables and all effective policies', () => {
    const [s] = run('SELECT 1 FROM orders o JOIN sales.deals d ON true JOIN orders o2 ON true').statements;
    expect(s!.kind).toBe('select');
    expect(s!.tablesReferenced).toEqual(['public.orders', 'sales_raw.deals']);
    expect(s!.policiesApplied).toEqual(policy.policiesApplied);
  });

  it.each([
    ['SELECT * FROM orders FOR UPDATE', '25006: cannot execute SELECT FOR UPDATE in a read-only transaction'],
    ['SELECT * FROM orders FOR SHARE', '25006: cannot execute SELECT FOR SHARE in a read-only transaction'],
    [
      'SELECT * FROM (SELECT * FROM orders FOR NO KEY UPDATE) s',
      '25006: cannot execute SELECT FOR NO KEY UPDATE in a read-only transaction',
    ],
    ['SELECT * INTO t2 FROM orders', '25006: cannot execute SELECT INTO in a read-only transaction'],
    [
      'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d',
      '25006: cannot execute DELETE in a read-only transaction',
    ],
    [
      'WITH i AS (INSERT INTO orders VALUES (1) RETURNING *) SELECT 1',
      '25006: cannot execute INSERT in a read-only transaction',
    ],
    [
      'WITH u AS (UPDATE orders SET note = 1 RETURNING *) SELECT 1',
      '25006: cannot execute UPDATE in a read-only transaction',
    ],
  ])('refuses writes hidden in selects: %s', (sql, expected) => {
    expect(rwError(sql)).toBe(expected);
  });

  it('a broken policy fails every statement that references its table', () => {
    const broken = policySet([
      table(
        'public',
        'orders',
        [['id', 'int4']],
        [
          {
            kind: 'error',
            policy: ref('tenant'),
            sqlstate: '42704',
            message: 'attribute "tenant" is not defined',
          },
        ],
      ),
      table('public', 'employees', [['id', 'int4']]),
    ]);
    expect(rwError('SELECT * FROM (SELECT 1 FROM orders) s', { policy: broken })).toBe(
      '42704: attribute "tenant" is not defined',
    );
    expect(rw('SELECT * FROM employees', { policy: broken })).toBe(
      'SELECT * FROM ( SELECT _rg_1.id FROM public.employees AS _rg_1 ) AS employees',
    );
  });

  it('fails closed on a relation in a position it does not understand', () => {
    expect(rwError('CREATE TABLE x AS SELECT 1')).toBe('XX000: internal error: unsecured relation reference');
    expect(rwError('DELETE FROM orders')).toBe('XX000: internal error: unsecured relation reference');
    expect(rwError('COPY orders FROM STDIN')).toBe('XX000: internal error: unsecured relation reference');
  });

  it('uses the gate before resolving names, and its function check', async () => {
    const gate = {
      classifyStatement: () => new PgError('25006', 'cannot execute DELETE in a read-only transaction'),
      checkCalls: () => null,
    };
    expect(() => rewriteSync('SELECT * FROM payroll', policy, { searchPath: ['public'] }, { gate })).toThrow(
      'cannot execute DELETE',
    );
    const fgate = {
      classifyStatement: () => ({ kind: 'select' }),
      checkCalls: () => new PgError('42883', 'function query_to_xml(unknown) does not exist'),
    };
    await expect(
      rewrite("SELECT query_to_xml('x')", policy, { searchPath: ['public'] }, { gate: fgate }),
    ).rejects.toThrow('query_to_xml');
    await expect(
      rewrite('SELECT (SELECT lower(note) FROM orders)', policy, { searchPath: ['public'] }, { gate: fgate }),
    ).rejects.toThrow('query_to_xml');
  });
});

describe('with the function allowlist of functions.ts', () => {
  const gate = gateWithAllowlist(() => ({ kind: 'select' }));
  const codeOf = (sql: string): string => {
    try {
      rewriteSync(sql, alicePolicy(), { searchPath: ['public'] }, { gate });
      return 'ok';
    } catch (err) {
      return (err as PgError).sqlstate;
    }
  };
  it.each([
    ["SELECT query_to_xml('SELECT * FROM payroll', true, false, '')", '42883'],
    ['SELECT * FROM orders WHERE id = (SELECT pg_sleep(1))::int', '42883'],
    ['SELECT (NULL::payroll).salary', '42704'],
    ['SELECT count(*), max(amount) FROM orders', 'ok'],
  ])('%s', (sql, code) => {
    expect(codeOf(sql)).toBe(code);
  });
});

describe('with the classifier of classify.ts', () => {
  const gate = classifierGate();
  const run = (sql: string): string => {
    try {
      const r = rewriteSync(sql, alicePolicy(), { searchPath: ['public'] }, { gate });
      return r.statements.map((st) => st.kind).join(',');
    } catch (err) {
      return (err as PgError).sqlstate;
    }
  };
  it.each([
    ['SELECT * FROM orders', 'query'],
    ['DELETE FROM orders', '25006'],
    ['DROP TABLE payroll', '25006'],
    ['SELECT 1; DELETE FROM orders', '25006'],
    ['DECLARE c CURSOR FOR SELECT * FROM orders', 'cursor'],
  ])('%s', (sql, expected) => {
    expect(run(sql)).toBe(expected);
  });
});

describe('fresh aliases never collide with user identifiers', () => {
  it.each([
    ['user alias _rg_1', 'SELECT _rg_1.id FROM orders _rg_1', '_rg0_'],
    ['upper-case unquoted folds', 'SELECT 1 FROM orders _RG_1', '_rg0_'],
    ['both prefixes taken', 'SELECT 1 AS _rg_1, 2 AS _rg0_x FROM orders', '_rg1_'],
  ])('%s', (_name, sql, prefix) => {
    expect(rw(sql)).toContain(`FROM public.orders AS ${prefix}1 `);
  });

  it('unicode-escaped identifiers get a random prefix', () => {
    const out = rw('SELECT 1 FROM orders U&"\\005frg_1"');
    expect(out).not.toContain('AS _rg_1 ');
    expect(out).toMatch(/FROM public\.orders AS _rg[0-9a-z]+_1 /);
  });
});

describe('attribute literals (V2, V164)', () => {
  const tenantPolicy = (value: string): SessionPolicySet => {
    const f = filter("org = 'placeholder'");
    const node = f.kind === 'expr' ? f.expr : expr('1');
    const rexpr = (node as { A_Expr: { rexpr: { A_Const: { sval: { sval: string } } } } }).A_Expr.rexpr;
    rexpr.A_Const.sval.sval = value; // a typed constant node, as template substitution produces it
    return policySet([
      table(
        'public',
        'orders',
        [
          ['id', 'int4'],
          ['org', 'text'],
        ],
        [f],
      ),
    ]);
  };
  it.each([
    ["x' OR '1'='1", "_rg_1.org = 'x'' OR ''1''=''1'"],
    ["acme'; DROP TABLE orders; --", "_rg_1.org = 'acme''; DROP TABLE orders; --'"],
    ["O'Brien", "_rg_1.org = 'O''Brien'"],
    ['a\\', "_rg_1.org = E'a\\\\'"],
    ['$$', "_rg_1.org = '$$'"],
  ])('%s stays one literal', (value, expected) => {
    const out = rw('SELECT * FROM orders', { policy: tenantPolicy(value) });
    expect(out).toContain(`WHERE ${expected} OFFSET 0`);
  });
});

describe('deparse gate and cache', () => {
  it('sameTree ignores positions and protobuf defaults only', () => {
    expect(sameTree({ a: 1, location: 5 }, { a: 1, location: 9 })).toBe(true);
    expect(sameTree({ a: 1, inh: false }, { a: 1 })).toBe(true);
    expect(sameTree({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameTree({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(sameTree({ A_Const: { ival: {} } }, { A_Const: {} })).toBe(false);
  });

  it.each([
    'SELECT a - (b - c) FROM orders',
    'SELECT - (-1)',
    'SELECT \'x\' COLLATE "C" FROM orders',
    'SELECT id FROM orders ORDER BY id USING >',
    'SELECT count(*) FILTER (WHERE id > 1) FROM orders',
    'SELECT -2147483648',
    'SELECT ARRAY[]::int[]',
    "SELECT E'a\\nb', U&'\\0061'",
    'SELECT id IS DISTINCT FROM 1, id BETWEEN SYMMETRIC 1 AND 2 FROM orders',
    'SELECT sum(id) OVER (ORDER BY id RANGE BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE TIES) FROM orders',
  ])('round-trips (V158): %s', (sql) => {
    expect(() => rw(sql)).not.toThrow();
  });

  it('fails closed when the deparser changes meaning (pgsql-deparser drops WITH TIES)', () => {
    expect(rwError('SELECT * FROM orders ORDER BY id FETCH FIRST 1 ROW WITH TIES')).toBe(
      'XX000: internal error: rewritten statement does not round-trip',
    );
  });

  it('caches by (fingerprint, search path, text) and misses on a new fingerprint', () => {
    const cache = new LruCache<RewriteResult>(10);
    const opts = { gate: allowAll, cache };
    const a = rewriteSync('SELECT * FROM orders', alicePolicy(), { searchPath: ['public'] }, opts);
    const b = rewriteSync('SELECT * FROM orders', alicePolicy(), { searchPath: ['public'] }, opts);
    expect(b.statements).toBe(a.statements);
    rewriteSync(
      'SELECT * FROM orders',
      { ...alicePolicy(), fingerprint: 'fp-2' },
      { searchPath: ['public'] },
      opts,
    );
    rewriteSync('SELECT * FROM orders', alicePolicy(), { searchPath: ['other', 'public'] }, opts);
    expect(cache.hits).toBe(1);
    expect(cache.size).toBe(3);
    expect(() =>
      rewriteSync('SELECT * FROM payroll', alicePolicy(), { searchPath: ['public'] }, opts),
    ).toThrow();
    expect(cache.size).toBe(3);
  });

  it('evicts the least recently used entry', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual([1, undefined, 3]);
  });
});
