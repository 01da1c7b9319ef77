import { describe, expect, it } from 'vitest';
import { validateExpression, type ExpressionValidation } from '../../src/policy/expression.js';

function ok(r: ExpressionValidation) {
  if (!r.ok) throw new Error(`expected valid, got: ${r.error}`);
  return r;
}

describe('validateExpression: accepted in filters and masks', () => {
  const both = [
    // column references and literals
    'org_id = 42',
    't.org_id = 42',
    'amount > 1.5',
    "status = 'active'",
    "status = E'act\\'ive'",
    'status = $$active$$',
    'flag = true',
    'flag = false',
    'deleted_at IS NULL',
    'deleted_at IS NOT NULL',
    'x = NULL',
    // comparisons, boolean logic, unary minus
    'a = 1 AND b <> 2 OR NOT c',
    'a != 1',
    'a < 1 AND a > -5 AND a <= 3 AND a >= -2',
    'a = -b',
    '(a = 1 OR b = 2) AND (c = 3)',
    // arithmetic and concatenation (issue 3 extends the contract)
    'a + 1 > b * 2',
    'a - 1 < b / 2',
    'a % 2 = 0',
    "first_name || ' ' || last_name = 'Ada Lovelace'",
    // lists, ranges, patterns
    'a IN (1, 2, 3)',
    "a NOT IN ('x', 'y')",
    'a BETWEEN 1 AND 10',
    'a NOT BETWEEN 1 AND 10',
    "name LIKE 'A%'",
    "name NOT LIKE '%z'",
    // CASE and COALESCE
    "CASE WHEN a > 1 THEN 'x' ELSE 'y' END = 'x'",
    'CASE a WHEN 1 THEN true WHEN 2 THEN false END',
    "COALESCE(region, 'none') = 'EU'",
    // casts to safe types, both spellings
    "CAST(a AS text) = '1'",
    "a::varchar(10) = 'x'",
    "CAST(a AS character varying) = 'x'",
    "CAST(a AS char(3)) = 'abc'",
    'a::smallint = 1 AND a::integer = 1 AND a::bigint = 1 AND a::int = 1',
    'a::int2 = 1 AND a::int4 = 1 AND a::int8 = 1',
    'a::numeric(10, 2) = 1 AND a::decimal = 1',
    'a::real = 1 AND a::float = 1 AND a::float4 = 1 AND a::float8 = 1 AND CAST(a AS double precision) = 1',
    'a::boolean AND a::bool',
    "CAST(d AS date) = CAST('2024-01-01' AS date)",
    "'2024-01-01'::timestamp < ts AND ts < '2025-01-01'::timestamptz",
    "CAST(ts AS timestamp with time zone) > '2024-01-01'",
    "id::uuid = '00000000-0000-0000-0000-000000000000'",
    // clock values (documented extension)
    'valid_until >= CURRENT_DATE',
    'created_at < CURRENT_TIMESTAMP AND created_at < LOCALTIMESTAMP AND t < CURRENT_TIME',
    'created_at < CURRENT_TIMESTAMP(0)',
    // comments are stripped by the parser; the tree is what counts
    'a = 1 -- trailing comment',
    'a = /* inline */ 1',
  ];
  it.each(both)('filter: %s', (text) => {
    ok(validateExpression('filter', text));
  });
  it.each(both)('mask: %s', (text) => {
    ok(validateExpression('mask', text));
  });
});

describe('validateExpression: filter shortcuts (contract §6.3)', () => {
  it.each(['1=1', 'true', '1=0', 'false', '  1=1  ', '\ntrue\n', 'TRUE', '1 = 1'])('%j is valid', (text) => {
    const r = ok(validateExpression('filter', text));
    expect(r.columnsReferenced).toEqual([]);
    expect(r.templates).toEqual([]);
  });
});

describe('validateExpression: mask functions', () => {
  const accepted = [
    "left(ssn, 3) || '-**-****'",
    "'***-**-' || right(ssn, 4)",
    'substr(ssn, 1, 3)',
    'substring(ssn, 1, 5)',
    'substring(ssn FROM 1 FOR 3)',
    "substring(email FROM '@.*$')",
    "split_part(email, '@', 2)",
    "concat('***', right(phone, 4))",
    "concat_ws('-', a, b)",
    'upper(name)',
    'lower(name)',
    'initcap(name)',
    'length(name)',
    'char_length(name) + octet_length(name)',
    'btrim(name)',
    "ltrim(name, ' ')",
    'rtrim(name)',
    'trim(name)',
    "TRIM(BOTH ' ' FROM name)",
    'TRIM(LEADING FROM name)',
    "trim(trailing 'x' from name)",
    "replace(name, 'a', '*')",
    "translate(ssn, '0123456789', 'XXXXXXXXXX')",
    "regexp_replace(email, '^[^@]+', '***')",
    "lpad(right(card, 4), 16, '*')",
    "rpad(left(name, 1), 8, '*')",
    "repeat('*', length(name))",
    'reverse(name)',
    'round(salary, -3)',
    'round(salary / 1000) * 1000',
    'trunc(salary)',
    'floor(salary / 10000) * 10000',
    'ceil(age / 10.0) * 10',
    'ceiling(x)',
    'abs(x)',
    'mod(x, 10)',
    'sign(x)',
    'md5(email)',
    "encode(sha256(ssn::bytea), 'hex')",
    "encode(sha224(convert_to(ssn, 'UTF8')), 'hex')",
    'sha384(b) = sha512(b)',
    "decode(hex, 'hex')",
    'to_hex(id)',
    "to_char(birth_date, 'YYYY')",
    "to_date(s, 'YYYY-MM-DD')",
    "to_number(s, '999')",
    'to_timestamp(epoch)',
    "date_trunc('month', created_at)",
    "date_part('year', birth_date)",
    'make_date(2000, 1, 1)',
    "nullif(name, '')",
    'greatest(a, 0)',
    'least(a, 100)',
    'pg_catalog.upper(name)',
    "CASE WHEN {user.role} = 'admin' THEN ssn ELSE '***' END",
    'CASE WHEN salary > 100000 THEN round(salary, -4) ELSE salary END',
  ];
  it.each(accepted)('%s', (text) => {
    ok(validateExpression('mask', text));
  });
});

describe('validateExpression: templates', () => {
  it('reports distinct keys in order of first use', () => {
    const r = ok(
      validateExpression('filter', 'org = {user.org} AND (owner = {user.username} OR org = {user.org})'),
    );
    expect(r.templates).toEqual(['org', 'username']);
    expect(r.placeholders).toEqual(['org', 'username']);
  });

  it.each([
    ['inside an IN list', 'dept IN ({user.depts})'],
    ['among literals in an IN list', "dept IN ('hq', {user.depts}, 'x')"],
    ['inside NOT IN', 'dept NOT IN ({user.depts})'],
    ['inside a CAST', 'org_id = CAST({user.org} AS bigint)'],
    ['with ::', 'org_id = {user.org}::int8'],
    ['in a concatenation', "email = {user.username} || '@example.com'"],
    ['as the left operand', '{user.level} >= level'],
    ['in BETWEEN bounds', 'level BETWEEN {user.min} AND {user.max}'],
    ['in COALESCE', "region = COALESCE({user.region}, 'EU')"],
    ['in arithmetic', 'quota > {user.used} + 1'],
    ['negated', 'a = -{user.n}'],
    ['as a whole boolean', '{user.is_admin}'],
    ['without spaces', 'org={user.org}'],
    ['after non-ASCII text', "name = 'café ☕' AND org = {user.org}"],
  ])('placeholder %s', (_label, text) => {
    const r = ok(validateExpression('filter', text));
    expect(r.templates.length).toBeGreaterThan(0);
  });

  it('accepts templates in mask function arguments', () => {
    const r = ok(validateExpression('mask', "concat(left(ssn, 3), {user.suffix}, '-', {user.id})"));
    expect(r.templates).toEqual(['suffix', 'id']);
    expect(r.columnsReferenced).toEqual(['ssn']);
  });

  it('unknown template keys validate fine (they fail only at query time)', () => {
    const r = ok(validateExpression('filter', 'x = {user.never_defined_anywhere}'));
    expect(r.templates).toEqual(['never_defined_anywhere']);
  });

  it('turns templates into ParamRef nodes numbered by distinct key (as query-time resolution does)', () => {
    const r = ok(validateExpression('filter', 'a = {user.x} AND b IN ({user.y}) AND c = {user.x}'));
    const json = JSON.stringify(r.expr);
    expect(json).toContain('"ParamRef":{"number":1');
    expect(json).toContain('"ParamRef":{"number":2');
    expect(json).not.toContain('"number":3');
    expect(r.placeholders).toEqual(['x', 'y']);
  });

  it.each([
    ["a = '{user.x}'", 'single quotes'],
    ["a = 'pre {user.x} post'", 'inside a longer string'],
    ['a = "{user.x}"', 'double quotes (a string literal too)'],
    ['a = $$ {user.x} $$', 'dollar quotes'],
    ['a = 1 -- {user.x}', 'a line comment'],
    ['a = 1 /* {user.x} */', 'a block comment'],
  ])('a template inside %s is plain text, not a variable (BR behaviour)', (text) => {
    const r = ok(validateExpression('filter', text));
    expect(r.templates).toEqual([]);
    expect(r.placeholders).toEqual([]);
  });

  it('shows the template, not the placeholder, in syntax errors', () => {
    const r = validateExpression('filter', 'a = 1 {user.x}');
    expect(r).toEqual({ ok: false, error: 'Invalid filter expression: syntax error at or near "{user.x}"' });
  });
});

describe('validateExpression: columnsReferenced and options.columns', () => {
  it('lists distinct columns, qualifier stripped', () => {
    const r = ok(validateExpression('filter', "t.org = 1 AND org = 2 AND region IS NULL AND Region = 'x'"));
    expect(r.columnsReferenced).toEqual(['org', 'region']);
  });

  it('folds unquoted identifiers to lower case like PostgreSQL', () => {
    expect(ok(validateExpression('filter', 'ORG = 1')).columnsReferenced).toEqual(['org']);
    expect(ok(validateExpression('filter', 'Org = 1', { columns: ['org'] })).columnsReferenced).toEqual([
      'org',
    ]);
  });

  it('compares with the table columns exactly: Org folds to org, which is not "Org"', () => {
    expect(validateExpression('filter', 'Org = 1', { columns: ['Org'] })).toEqual({
      ok: false,
      error: 'Invalid filter expression: column "org" does not exist on the target table',
    });
  });

  it('"Org" is a string literal (contract §6.3, BR), not a quoted identifier', () => {
    const r = ok(validateExpression('filter', 'org = "Org"', { columns: ['org'] }));
    expect(r.columnsReferenced).toEqual(['org']);
    expect(JSON.stringify(r.expr)).toContain('"sval":"Org"');
    // A lone "Org" is a constant, so as a filter it is not a column condition but a string.
    expect(ok(validateExpression('mask', '"Org"')).columnsReferenced).toEqual([]);
  });

  it('a quote inside "…" stays inside the string', () => {
    const r = ok(validateExpression('filter', 'a = "x\' OR 1=1 --"'));
    expect(r.columnsReferenced).toEqual(['a']);
    expect(JSON.stringify(r.expr)).toContain('"sval":"x\' OR 1=1 --"');
  });

  it('status = "active" compares with the string active', () => {
    const r = ok(validateExpression('filter', 'status = "active"', { columns: ['status'] }));
    expect(r.columnsReferenced).toEqual(['status']);
  });

  it('accepts known columns', () => {
    ok(
      validateExpression('mask', "CASE WHEN org = 1 THEN ssn ELSE '***' END", {
        columns: ['org', 'ssn', 'x'],
      }),
    );
  });

  it('rejects unknown columns when the table columns are given', () => {
    expect(validateExpression('filter', 'tenant = 1', { columns: ['org'] })).toEqual({
      ok: false,
      error: 'Invalid filter expression: column "tenant" does not exist on the target table',
    });
    expect(validateExpression('mask', 'upper(nam)', { columns: ['name'] })).toEqual({
      ok: false,
      error: 'Invalid mask expression: column "nam" does not exist on the target table',
    });
  });

  it('templates are not columns', () => {
    expect(
      ok(validateExpression('filter', 'org = {user.org}', { columns: ['org'] })).columnsReferenced,
    ).toEqual(['org']);
  });
});
