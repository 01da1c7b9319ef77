/**
 * Threat-model vectors of the policy engine (V1, V2, V12, V19, V20, V44,
 * V74, V75, V77, V164, V166, V167): policy documents resolved by the real
 * resolver, rewritten, and run on PostgreSQL 18 and 15. Injection attempts
 * must return zero rows of other tenants, never extra SQL.
 */
import { parseSync } from 'libpg-query';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateExpression } from '../../src/policy/expression.js';
import { describeEachUpstream } from '../support/postgres.js';
import {
  alicePolicies,
  loadParsers,
  openSecurityDb,
  policy,
  proxyRefusal,
  resolve,
  rewriteFor,
  type SecurityDb,
} from './fixture.js';

const withTenant = (tenant: unknown, valueType = 'string', filter = 'org = {user.tenant}') =>
  resolve({
    policies: alicePolicies(filter),
    user: { id: 'u-x', username: 'x', roleIds: [], attributes: tenant === undefined ? {} : { tenant } },
    attributeDefinitions: [
      { key: 'tenant', valueType, defaultValue: null },
      { key: 'orgs', valueType: 'list', defaultValue: null },
    ],
  });

describeEachUpstream('policy engine vectors', (upstream) => {
  let db: SecurityDb;
  beforeAll(async () => {
    await loadParsers();
    db = await openSecurityDb(upstream, () => resolve());
  });
  afterAll(async () => db?.close());

  const count = async (set: ReturnType<typeof resolve>, sql = 'SELECT count(*) FROM orders') =>
    db.run(sql, set);

  it('V1 filter texts that try to break out of their slot are rejected at save', () => {
    for (const text of [
      'true) OR (1=1',
      "org='a') UNION SELECT * FROM salaries --",
      'true; DROP TABLE orders',
      'org = (SELECT org FROM salaries LIMIT 1)',
      'org = {user.tenant} OR pg_sleep(1) IS NULL',
      'not an expression at all',
    ]) {
      expect(validateExpression('filter', text), text).toMatchObject({ ok: false });
    }
    // A comment cannot hide the rest: it is one node, and a tautology stays confined to its table.
    expect(validateExpression('filter', 'true /* OR 1=1 */')).toMatchObject({ ok: true });
  });

  it('V1 an admin tautology is honoured only for its target table', async () => {
    const set = resolve({
      policies: [
        ...alicePolicies(),
        policy('taut', 'row_filter', [{ schemas: ['public'], tables: ['employees'] }], {
          filter_expression: '1=1 OR 1=1',
        }),
      ],
    });
    expect(await count(set)).toEqual({ rows: ['["10000"]'], columns: ['count'] });
  });

  it.each([
    ["x' OR '1'='1"],
    ["acme'; DROP TABLE orders; --"],
    ["O'Brien"],
    ['a\\'],
    ["a\\' OR 1=1 --"],
    ['$$'],
    ['$x$ OR true $x$'],
    ['acme\u2028'],
    ['acme,globex'],
    ['{acme,globex}'],
  ])('V2/V164 attribute value %j is one typed literal: zero rows, one statement', async (value) => {
    const set = withTenant(value);
    const sent = rewriteFor('SELECT count(*) FROM orders', set);
    expect(parseSync(sent).stmts).toHaveLength(1);
    expect(await count(set)).toEqual({ rows: ['["0"]'], columns: ['count'] });
  });

  it('V164 a backslash value reads the same under standard_conforming_strings off', async () => {
    const sent = rewriteFor('SELECT count(*) FROM orders', withTenant("a\\' OR 1=1 --"));
    await db.client.query('BEGIN');
    try {
      await db.client.query('SET LOCAL standard_conforming_strings = off');
      const r = await db.client.query(sent).then(
        (x) => x.rows,
        (e: { code: string }) => e.code,
      );
      expect(r).toEqual([{ count: '0' }]);
    } finally {
      await db.client.query('ROLLBACK');
    }
  });

  it('V12 a disabled deny stops applying, and applies again when re-enabled (new fingerprint)', async () => {
    const off = alicePolicies().map((p) => (p.id === 'deny-cc' ? { ...p, enabled: false } : p));
    const disabled = resolve({ policies: off });
    const enabled = resolve();
    expect(disabled.fingerprint).not.toBe(enabled.fingerprint);
    expect(await db.run('SELECT count(credit_card) FROM customers', enabled)).toMatchObject({
      code: '42703',
    });
    expect(await db.run('SELECT count(credit_card) FROM customers', disabled)).toMatchObject({
      rows: ['["100"]'],
    });
  });

  it('V19 target patterns: prefix/suffix globs, exact and case-sensitive names', () => {
    const deny = (tables: string[]) =>
      resolve({ policies: [policy('d', 'table_deny', [{ schemas: ['public'], tables }])] }).tables.map(
        (t) => t.name,
      );
    expect(deny(['sal*'])).not.toContain('salaries');
    expect(deny(['*ries'])).not.toContain('salaries');
    expect(deny(['Salaries'])).toContain('salaries');
    expect(deny(['salarie'])).toContain('salaries');
    expect(deny(['ord*'])).toEqual(expect.not.arrayContaining(['orders', 'order_totals']));
    expect(
      proxyRefusal(
        'SELECT 1 FROM salaries',
        resolve({ policies: [policy('d', 'table_deny', [{ schemas: ['public'], tables: ['s*'] }])] }),
      ),
    ).toMatchObject({ code: '42P01' });
  });

  it('V20 zero-trust: column_allow * grants every column; a lone column_deny grants nothing', async () => {
    const zt = { id: 'ds-1', name: 'shop', accessMode: 'policy_required' as const };
    const all = resolve({
      dataSource: zt,
      policies: [
        policy('a', 'column_allow', [{ schemas: ['public'], tables: ['employees'], columns: ['*'] }]),
      ],
    });
    expect(await db.run('SELECT * FROM employees WHERE id = 1', all)).toMatchObject({
      columns: ['id', 'department', 'salary', 'ssn', 'manager_id'],
    });
    const denyOnly = resolve({
      dataSource: zt,
      policies: [
        policy('d', 'column_deny', [{ schemas: ['public'], tables: ['employees'], columns: ['ssn'] }]),
      ],
    });
    expect(await db.run('SELECT id FROM employees', denyOnly)).toMatchObject({ code: '42P01' });
  });

  it('V44 the same filter reached through two roles and the user is applied once', () => {
    const tenant = alicePolicies()[0]!;
    const many = resolve({
      user: { id: 'u-alice', username: 'alice', roleIds: ['r1', 'r2'], attributes: { tenant: 'acme' } },
      policies: [
        {
          ...tenant,
          assignments: [
            { scope: 'role', userId: null, roleId: 'r1', priority: 5 },
            { scope: 'role', userId: null, roleId: 'r2', priority: 7 },
            { scope: 'user', userId: 'u-alice', roleId: null, priority: 9 },
          ],
        },
      ],
    });
    expect(many.tables.find((t) => t.name === 'orders')?.rowFilters).toHaveLength(1);
    expect(rewriteFor('SELECT * FROM orders', many).match(/'acme'/g)).toHaveLength(1);
  });

  it('V74 built-in template variables win over same-named attributes', async () => {
    const set = resolve({
      policies: alicePolicies("org = 'acme' AND {user.username} = 'alice'"),
      user: {
        id: 'u-alice',
        username: 'alice',
        roleIds: [],
        attributes: { username: 'mallory', tenant: 'acme' },
      },
      attributeDefinitions: [{ key: 'username', valueType: 'string', defaultValue: null }],
    });
    expect(await count(set)).toEqual({ rows: ['["10000"]'], columns: ['count'] });
  });

  it('V75 an expression the resolver cannot apply fails the statement, never runs unfiltered', async () => {
    const set = resolve({ policies: alicePolicies('org = {user.nodefinition}') });
    const got = await count(set);
    expect(got).not.toHaveProperty('rows');
    expect(
      validateExpression(
        'filter',
        "org = EXTRACT(year FROM now())::text OR query_to_xml('x', true, true, '') IS NOT NULL",
      ),
    ).toMatchObject({ ok: false });
  });

  it('V77 missing attribute: default literal; NULL default → zero rows; undefined attribute → error', async () => {
    const withDefault = resolve({
      user: { id: 'u', username: 'n', roleIds: [], attributes: {} },
      attributeDefinitions: [{ key: 'tenant', valueType: 'string', defaultValue: 'acme' }],
    });
    expect(await count(withDefault)).toEqual({ rows: ['["10000"]'], columns: ['count'] });
    expect(await count(withTenant(undefined))).toEqual({ rows: ['["0"]'], columns: ['count'] });
    const undefinedAttr = resolve({ attributeDefinitions: [] });
    expect(await count(undefinedAttr)).toMatchObject({ stage: 'proxy' });
  });

  it('V166 integer attributes keep 64-bit precision and refuse non-integers as SQL', async () => {
    const f = 'customer_id = {user.tenant}';
    const big = withTenant('12345678901234567890', 'integer', f);
    expect(await count(big)).toMatchObject({});
    const near = withTenant('9007199254740993', 'integer', f);
    expect(rewriteFor('SELECT 1 FROM orders', near)).toContain('9007199254740993');
    expect(await count(withTenant('42 OR 1=1', 'integer', f))).not.toMatchObject({ rows: ['["10000"]'] });
    expect(await count(withTenant('3', 'integer', f))).toEqual(
      await db.exec('SELECT count(*) FROM orders WHERE customer_id = 3'),
    );
  });

  it('V167 list attributes: empty list → zero rows; separators inside elements stay one element', async () => {
    const list = (orgs: string[]) =>
      resolve({
        policies: alicePolicies('org IN ({user.orgs})'),
        user: { id: 'u', username: 'l', roleIds: [], attributes: { orgs } },
      });
    expect(await count(list([]))).toEqual({ rows: ['["0"]'], columns: ['count'] });
    expect(await count(list(['globex,acme', '{initech}', '"acme"', 'acme\\']))).toEqual({
      rows: ['["0"]'],
      columns: ['count'],
    });
    expect(await count(list(['acme', 'acme']))).toEqual({ rows: ['["10000"]'], columns: ['count'] });
    const scalarUse = resolve({
      policies: alicePolicies('org = {user.orgs}'),
      user: { id: 'u', username: 'l', roleIds: [], attributes: { orgs: ['acme'] } },
    });
    expect(await count(scalarUse)).not.toHaveProperty('rows');
  });
});
