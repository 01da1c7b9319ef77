/**
 * Threat-model vectors: mask bypass and column deny bypass (V5, V6, V11, V13,
 * V15, V27, V28, V30–V32, V38, V63–V72, V116, V124–V126, V147). alice's
 * `customers.ssn` is masked as `'***-**-' || right(ssn, 4)` (the raw value
 * starts with a canary), `credit_card` is denied everywhere, `employees.salary`
 * is masked to 0 and `employees.ssn` denied. Run on PostgreSQL 18 and 15.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachUpstream } from '../support/postgres.js';
import {
  alicePolicies,
  loadParsers,
  openSecurityDb,
  policy,
  resolve,
  rewriteFor,
  type Outcome,
  type Refusal,
  type SecurityDb,
} from './fixture.js';

/** The outcome with every spelling of `name` replaced by `nosuch` (for hidden-equals-absent comparisons). */
function renamed(o: Outcome, name: string): Outcome {
  return JSON.parse(JSON.stringify(o).replaceAll(name, 'nosuch')) as Outcome;
}

describeEachUpstream('mask and column-deny vectors', (upstream) => {
  let db: SecurityDb;
  beforeAll(async () => {
    await loadParsers();
    db = await openSecurityDb(upstream, () => resolve());
  });
  afterAll(async () => db?.close());

  async function sameAsOracle(sql: string): Promise<Outcome> {
    const got = await db.run(sql);
    expect(got).toHaveProperty('rows');
    expect(db.leaks(got)).toEqual([]);
    expect(got).toEqual(await db.oracle(sql));
    return got;
  }

  /** A denied column answers exactly like a column that exists nowhere (42703). */
  async function deniedLikeMissing(sql: string, column = 'credit_card'): Promise<void> {
    const denied = await db.run(sql);
    const missing = await db.run(sql.replaceAll(column, 'nosuch'));
    expect(denied).toMatchObject({ code: '42703' });
    // Same code and message; PostgreSQL's fuzzy-match hint depends on the spelling typed, so it is
    // compared only for what it names: never the denied (or any hidden) column.
    const { hint: _h1, ...d } = renamed(denied, column) as Refusal;
    const { hint: _h2, ...m } = missing as Refusal;
    expect(d).toEqual(m);
    expect(`${(denied as Refusal).hint ?? ''}`).not.toMatch(/credit_card|"\w+\.(ssn|ctid|xmin)"/);
    expect(db.leaks(denied)).toEqual([]);
  }

  it('V5 expressions over a masked column compute from the masked value only', async () => {
    for (const sql of [
      "SELECT ssn || '' FROM customers",
      'SELECT upper(ssn), lower(ssn), substr(ssn, 1, 8), reverse(ssn) FROM customers',
      'SELECT salary * 1, salary + 1 FROM employees',
      "SELECT encode(convert_to(ssn, 'UTF8'), 'hex'), encode(convert_to(ssn, 'UTF8'), 'base64') FROM customers",
    ]) {
      await sameAsOracle(sql);
    }
  });

  it('V6 SELECT * omits denied columns from the result and its row description', async () => {
    const got = await sameAsOracle('SELECT * FROM customers');
    expect('columns' in got && got.columns).toEqual([
      'id',
      'org',
      'name',
      'email',
      'ssn',
      'phone',
      'referrer_id',
    ]);
    const emp = await sameAsOracle('SELECT * FROM employees');
    expect('columns' in emp && emp.columns).toEqual(['id', 'department', 'salary', 'manager_id']);
  });

  it('V11 a denied column in a mixed projection is 42703, exactly as a nonexistent one', async () => {
    await deniedLikeMissing('SELECT id, credit_card, name FROM customers');
  });

  it('V13 every visible row is masked, also under an extra filter; deny wins over mask', async () => {
    const got = await sameAsOracle('SELECT ssn FROM customers WHERE id < 30');
    if ('rows' in got) for (const r of got.rows) expect(JSON.parse(r)[0]).toMatch(/^\*\*\*-\*\*-\d{4}$/);
    const both = resolve({
      policies: [
        ...alicePolicies(),
        policy(
          'mask-cc',
          'column_mask',
          [{ schemas: ['public'], tables: ['customers'], columns: ['credit_card'] }],
          {
            mask_expression: "'REDACTED'",
          },
        ),
      ],
    });
    const denied = await db.run('SELECT credit_card FROM customers', both);
    expect(denied).toMatchObject({ code: '42703', message: 'column "credit_card" does not exist' });
  });

  it('V15 selecting only denied columns is 42703 like a missing column, never 42501 or empty rows', async () => {
    await deniedLikeMissing('SELECT credit_card FROM customers');
    await deniedLikeMissing('SELECT ssn, credit_card FROM employees e, customers c', 'credit_card');
    await deniedLikeMissing('SELECT ssn FROM employees', 'ssn');
  });

  it('V27 deny is matched per (table, column): employees.ssn is absent, customers.ssn stays (masked)', async () => {
    const got = await sameAsOracle('SELECT * FROM employees e JOIN customers c ON c.id = e.id');
    expect('columns' in got && got.columns.filter((c) => c === 'ssn')).toEqual(['ssn']);
  });

  it('V28 an aliased reference to a denied column is 42703; to a masked column gives the mask', async () => {
    await deniedLikeMissing('SELECT c.credit_card FROM customers AS c');
    await sameAsOracle('SELECT c.ssn FROM customers AS c');
  });

  it('V30 a CTE over a protected table exposes no denied column and only masked values', async () => {
    await deniedLikeMissing('WITH t AS (SELECT * FROM customers) SELECT credit_card FROM t');
    await sameAsOracle('WITH t AS (SELECT * FROM customers) SELECT ssn FROM t');
  });

  it('V31 a derived table over a protected table exposes no denied column and only masked values', async () => {
    await deniedLikeMissing('SELECT sub.credit_card FROM (SELECT * FROM customers) AS sub');
    await sameAsOracle('SELECT sub.ssn FROM (SELECT * FROM customers) AS sub');
  });

  it('V32 a row filter on a masked column sees the raw value, the output stays masked', async () => {
    const set = resolve({
      policies: [
        ...alicePolicies(),
        policy('not-3', 'row_filter', [{ schemas: ['public'], tables: ['customers'] }], {
          filter_expression: "right(ssn, 4) <> '0003'",
        }),
      ],
    });
    const got = await db.run('SELECT id, ssn FROM customers WHERE id <= 9', set);
    expect(got).toEqual({ rows: ['[6,"***-**-0006"]', '[9,"***-**-0009"]'], columns: ['id', 'ssn'] });
  });

  it('V38 a deny from one role beats an allow from another (zero-trust mode)', async () => {
    const roleA = [{ scope: 'role' as const, userId: null, roleId: 'r-a', priority: 50 }];
    const roleB = [{ scope: 'role' as const, userId: null, roleId: 'r-b', priority: 1 }];
    const set = resolve({
      dataSource: { id: 'ds-1', name: 'shop', accessMode: 'policy_required' },
      user: { id: 'u', username: 'alice', roleIds: ['r-a', 'r-b'], attributes: { tenant: 'acme' } },
      policies: [
        policy(
          'allow-all',
          'column_allow',
          [{ schemas: ['public'], tables: ['customers'], columns: ['*'] }],
          null,
          {
            assignments: roleB,
          },
        ),
        policy(
          'deny-cc',
          'column_deny',
          [{ schemas: ['public'], tables: ['customers'], columns: ['credit_card'] }],
          null,
          {
            assignments: roleA,
          },
        ),
      ],
    });
    await expect(db.run('SELECT credit_card FROM customers', set)).resolves.toMatchObject({ code: '42703' });
  });

  it('V63 predicates on a masked column match masked values only (no probing of raw values)', async () => {
    const { rows } = await db.client.query<{ ssn: string }>('SELECT ssn FROM customers WHERE id = 3');
    const raw = rows[0]!.ssn;
    for (const sql of [
      `SELECT id FROM customers WHERE ssn = '${raw}'`,
      `SELECT id FROM customers WHERE ssn IN ('${raw}', 'x')`,
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM customers c WHERE c.ssn = '${raw}')`,
      `SELECT c.id FROM customers c JOIN (VALUES ('${raw}')) v(s) ON c.ssn = v.s`,
      `SELECT id FROM customers WHERE ssn LIKE 'CNRY%'`,
    ]) {
      expect(await db.run(sql)).toMatchObject({ rows: [] });
    }
    // Pushed down or not, the plan compares the mask expression, never the raw column.
    const plan = await db.exec(
      `EXPLAIN (VERBOSE, COSTS OFF) ${rewriteFor(`SELECT id FROM customers WHERE ssn = 'x'`, resolve())}`,
    );
    expect('rows' in plan && plan.rows.join('\n')).toMatch(/right\(.*ssn, 4\)\) = 'x'|= 'x'::text/);
  });

  it('V64 a denied column is 42703 in WHERE, ORDER BY, GROUP BY, JOIN USING and EXISTS', async () => {
    for (const sql of [
      "SELECT id FROM customers WHERE credit_card = '4111'",
      'SELECT id FROM customers ORDER BY credit_card',
      'SELECT count(*) FROM customers GROUP BY credit_card',
      'SELECT 1 FROM customers a JOIN customers b USING (credit_card)',
      "SELECT 1 WHERE EXISTS (SELECT 1 FROM customers c WHERE c.credit_card LIKE '4%')",
    ]) {
      await deniedLikeMissing(sql);
    }
  });

  it('V65 aggregates over masked columns see masked values only', async () => {
    await sameAsOracle('SELECT count(DISTINCT ssn), min(ssn), max(ssn) FROM customers');
    await sameAsOracle('SELECT department, min(salary), max(salary) FROM employees GROUP BY department');
  });

  it('V66 aggregates over a denied column are 42703', async () => {
    await deniedLikeMissing('SELECT count(DISTINCT credit_card), max(credit_card) FROM customers');
  });

  it('V68 HAVING sees masked values (constant mask: no group), denied column in HAVING is 42703', async () => {
    const got = await sameAsOracle(
      'SELECT department FROM employees GROUP BY department HAVING max(salary) > 100000',
    );
    expect('rows' in got && got.rows).toEqual([]);
    await deniedLikeMissing('SELECT org FROM customers GROUP BY org HAVING max(credit_card) > $$4$$');
  });

  it('V69 string_agg of a masked column concatenates masked values; no raw value in the SQL sent', async () => {
    await sameAsOracle("SELECT string_agg(ssn, ',' ORDER BY id) FROM customers");
    const sent = rewriteFor("SELECT string_agg(ssn, ',') FROM customers", resolve());
    expect(sent).toMatch(/'\*\*\*-\*\*-' \|\| "right"\(\w+\.ssn, 4\) AS ssn/);
    expect(sent).not.toMatch(/string_agg\(\w+\.ssn/);
  });

  it('V70 string_agg of a denied column is 42703', async () => {
    await deniedLikeMissing("SELECT string_agg(credit_card, ',') FROM customers");
  });

  it('V71 a denied column is 42703 at any expression depth', async () => {
    for (const sql of [
      "SELECT CASE WHEN credit_card IS NOT NULL THEN 'y' END FROM customers",
      "SELECT CASE WHEN credit_card LIKE '4%' THEN 1 ELSE 0 END FROM customers",
      "SELECT coalesce(credit_card, 'none') FROM customers",
      'SELECT length(credit_card) FROM customers',
      'SELECT (SELECT max(length(x.credit_card)) FROM customers x) FROM customers',
    ]) {
      await deniedLikeMissing(sql);
    }
  });

  it('V72 window ordering uses masked values; a denied column in OVER is 42703', async () => {
    await sameAsOracle('SELECT id, row_number() OVER (ORDER BY salary, id) FROM employees');
    await sameAsOracle('SELECT id, rank() OVER (ORDER BY ssn) FROM customers');
    await deniedLikeMissing('SELECT id, row_number() OVER (ORDER BY credit_card) FROM customers');
  });

  it('V116 error hints never name a denied column', async () => {
    const got = await db.run('SELECT credit_car FROM customers');
    expect(got).toMatchObject({ code: '42703' });
    expect(JSON.stringify(got)).not.toContain('credit_card');
    const typo = await db.run('SELECT c.credit_cards FROM customers c');
    expect(JSON.stringify(typo)).not.toContain('credit_card"');
  });

  it('V124 whole-row references contain only visible, masked columns', async () => {
    for (const sql of [
      'SELECT c FROM customers c WHERE id < 20',
      'SELECT customers FROM customers WHERE id < 20',
      'SELECT row_to_json(c) FROM customers c WHERE id < 20',
      'SELECT to_jsonb(c.*) FROM customers c WHERE id < 20',
      'SELECT json_agg(c ORDER BY c.id) FROM customers c',
      'SELECT c::text FROM customers c WHERE id < 20',
      'SELECT ROW(c.*) FROM customers c WHERE id < 20',
      'SELECT (c).* FROM customers c WHERE id < 20',
    ]) {
      await sameAsOracle(sql);
    }
    const fn = await db.run('SELECT credit_card(c) FROM customers c');
    const missing = await db.run('SELECT nosuch(c) FROM customers c');
    expect(fn).toMatchObject({ code: '42883' });
    expect(renamed(fn, 'credit_card')).toEqual(missing);
  });

  it('V125 row types of protected and hidden tables are not types (42704)', async () => {
    for (const sql of [
      "SELECT * FROM json_populate_record(NULL::customers, '{}')",
      `SELECT * FROM json_populate_recordset(NULL::salaries, '[{"id":1}]')`,
      'SELECT (NULL::customers).credit_card',
      'SELECT pg_typeof(NULL::salaries)',
      "SELECT '(1,acme)'::customers",
    ]) {
      const got = await db.run(sql);
      expect(got, sql).toMatchObject({ code: '42704' });
      expect(JSON.stringify(got)).not.toMatch(/credit_card"|ssn|employee/);
    }
    const hidden = await db.run('SELECT NULL::salaries');
    const missing = await db.run('SELECT NULL::nosuch');
    expect(renamed(hidden, 'salaries')).toEqual(missing);
  });

  it('V126 system columns are 42703 like nonexistent columns', async () => {
    for (const col of ['ctid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid']) {
      await deniedLikeMissing(`SELECT ${col} FROM orders`, col);
      await deniedLikeMissing(`SELECT o.id FROM orders o ORDER BY o.${col}`, col);
    }
    await deniedLikeMissing("SELECT id FROM orders WHERE ctid = '(0,2)'", 'ctid');
  });

  it('V147 a parameter compared with a denied column fails with 42703 before any value is bound', async () => {
    const sent = rewriteFor('SELECT * FROM customers WHERE credit_card = $1', resolve());
    const parsed = await db.client.query({ name: `p${Date.now()}`, text: sent, values: ['x'] }).then(
      () => ({ code: 'ok' }),
      (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
    );
    expect(parsed).toEqual({ code: '42703', message: 'column "credit_card" does not exist' });
    const masked = rewriteFor('SELECT id FROM customers WHERE ssn = $1', resolve());
    const r = await db.client.query({ text: masked, values: ['***-**-0003'] });
    expect(r.rows).toEqual([{ id: 3 }]);
  });
});
