import { describe, expect, it } from 'vitest';
import { validateExpression, type ExpressionKind } from '../../src/policy/expression.js';

function error(kind: ExpressionKind, text: string): string {
  const r = validateExpression(kind, text);
  if (r.ok) throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
  return r.error;
}

const FILTER = 'Invalid filter expression: ';
const MASK = 'Invalid mask expression: ';

describe('validateExpression: rejected in both kinds, with the construct named', () => {
  const cases: Array<[string, string]> = [
    ['a IN (SELECT id FROM t)', 'subqueries are not supported'],
    ['a = (SELECT 1)', 'subqueries are not supported'],
    ['EXISTS (SELECT 1 FROM t)', 'EXISTS subqueries are not supported'],
    ['a = ANY (ARRAY[1, 2])', 'ANY/SOME (array) is not supported'],
    ["a = ALL ('{1}')", 'ALL (array) is not supported'],
    ["name ILIKE 'a%'", 'ILIKE is not supported'],
    ["name NOT ILIKE 'a%'", 'ILIKE is not supported'],
    ["name SIMILAR TO 'a%'", 'SIMILAR TO is not supported'],
    ["name LIKE 'a!%' ESCAPE '!'", 'LIKE … ESCAPE is not supported'],
    ['flag IS TRUE', 'IS [NOT] TRUE/FALSE/UNKNOWN is not supported'],
    ['flag IS NOT FALSE', 'IS [NOT] TRUE/FALSE/UNKNOWN is not supported'],
    ['flag IS UNKNOWN', 'IS [NOT] TRUE/FALSE/UNKNOWN is not supported'],
    ['a IS DISTINCT FROM b', 'IS DISTINCT FROM is not supported'],
    ['a IS NOT DISTINCT FROM b', 'IS NOT DISTINCT FROM is not supported'],
    ['a BETWEEN SYMMETRIC 1 AND 2', 'BETWEEN SYMMETRIC is not supported'],
    ["d > DATE '2024-01-01'", "typed literals (date '…') are not supported"],
    ["ts > TIMESTAMP '2024-01-01'", "typed literals (timestamp '…') are not supported"],
    ["ts > CAST('2024-01-02' AS timestamp) - INTERVAL '1 day'", 'INTERVAL is not supported'],
    ["d > CAST('1 day' AS interval)", 'INTERVAL is not supported'],
    ["(ts AT TIME ZONE 'UTC') > '2024-01-01'", 'AT TIME ZONE is not supported'],
    ["data->>'org' = '1'", "JSON operator '->>' is not supported"],
    ["data->'org' = '1'", "JSON operator '->' is not supported"],
    ['data @> \'{"a":1}\'', "JSON operator '@>' is not supported"],
    ["data ? 'k'", "JSON operator '?' is not supported"],
    ['data IS JSON', 'JSON expressions are not supported'],
    ['ARRAY[1, 2] = a', 'array constructor ARRAY[…] is not supported'],
    ['ROW(a, b) = ROW(1, 2)', 'row constructor ROW(…) is not supported'],
    ['arr[1] = 2', 'subscript or field selection is not supported'],
    ['(comp).field = 2', 'subscript or field selection is not supported'],
    ['t.* IS NOT NULL', "'*' column references are not supported"],
    ['s.t.col = 1', "column reference 's.t.col' is not supported"],
    ["name COLLATE ucs_basic = 'a'", 'COLLATE is not supported'],
    ["name ~ '^a'", "operator '~' is not supported"],
    ["name ~~ 'a%'", "operator '~~' is not supported"],
    ['a ^ 2 > 1', "operator '^' is not supported"],
    ['a & 1 = 1', "operator '&' is not supported"],
    ['~a = 1', "unary operator '~' is not supported"],
    ['+a = 1', "unary operator '+' is not supported"],
    ['a OPERATOR(pg_catalog.=) 1', 'OPERATOR(…) syntax is not supported'],
    ["a::interval > '1 day'", 'INTERVAL is not supported'],
    ['a::json IS NOT NULL', "cast to type 'json' is not supported"],
    ['a::regclass IS NOT NULL', "cast to type 'regclass' is not supported"],
    ["a::string = 'x'", "cast to type 'string' is not supported"],
    ["a::public.text = 'x'", "cast to type 'public.text' is not supported"],
    ['a::int[] IS NOT NULL', "cast to array or set type 'int4' is not supported"],
    ["B'101' = a", "bit-string literals (B'…', X'…') are not supported"],
    ["X'ff' = a", "bit-string literals (B'…', X'…') are not supported"],
    ['a = $1', 'parameter references ($n) are not allowed'],
    ['a = {user.x} AND b = $2', 'parameter references ($n) are not allowed'],
    [
      'CURRENT_USER = owner',
      'CURRENT_USER is not supported (it names the upstream database login); use {user.username}',
    ],
    ['SESSION_USER = owner', 'SESSION_USER is not supported'],
    ['owner = USER', 'USER is not supported'],
    ["CURRENT_SCHEMA = 'x'", 'CURRENT_SCHEMA is not supported'],
    ["SYSTEM_USER = 'x'", 'SYSTEM_USER is not supported'],
    ['a IS NORMALIZED', 'IS NORMALIZED is not supported'],
    ["POSITION('a' IN b) > 0", 'POSITION is not supported'],
    ["OVERLAY(a PLACING 'x' FROM 1) = 'x'", 'OVERLAY is not supported'],
    ['EXTRACT(year FROM d) = 2024', "EXTRACT is not supported; use date_part('field', value)"],
    ['GROUPING(a) = 1', 'GROUPING is not supported'],
  ];
  it.each(cases)('filter: %s', (text, detail) => {
    const e = error('filter', text);
    expect(e.startsWith(FILTER)).toBe(true);
    expect(e).toContain(detail);
  });
  it.each(cases)('mask: %s', (text, detail) => {
    const e = error('mask', text);
    expect(e.startsWith(MASK)).toBe(true);
    expect(e).toContain(detail);
  });
});

describe('validateExpression: functions in filters (contract §6.3)', () => {
  it.each([
    ["upper(name) = 'A'", 'upper'],
    ["lower(name) = 'a'", 'lower'],
    ['length(name) > 3', 'length'],
    ["substring(name, 1, 1) = 'A'", 'substring'],
    ["substring(name FROM 1 FOR 1) = 'A'", 'substring'],
    ["trim(name) = 'a'", 'trim'],
    ["nullif(a, '') IS NULL", 'nullif'],
    ['greatest(a, b) > 1', 'greatest'],
    ['least(a, b) > 1', 'least'],
    ['now() > ts', 'now'],
    ['count(*) > 1', 'count'],
    ['sum(a) OVER () > 1', 'sum'],
    ['pg_catalog.upper(name) = 1', 'pg_catalog.upper'],
    ['foo(a)', 'foo'],
  ])('%s', (text, name) => {
    expect(error('filter', text)).toBe(
      `${FILTER}Function '${name}' in filter expressions is not supported. For complex expressions, use column masks instead.`,
    );
  });
});

describe('validateExpression: functions in masks', () => {
  it.each([
    ['foo(a)', "Unknown function 'foo' in mask expression"],
    ['public.upper(a)', "Unknown function 'public.upper' in mask expression"],
    ['evil.pg_catalog.upper(a)', "Unknown function 'evil.pg_catalog.upper' in mask expression"],
    ['now()', "Unknown function 'now' in mask expression"],
    ['random()', "Unknown function 'random' in mask expression"],
    ["digest(a, 'sha256')", "Unknown function 'digest' in mask expression"],
    ["array_to_string(a, ',')", "Unknown function 'array_to_string' in mask expression"],
    ['count(a)', "aggregate or window function 'count' is not supported"],
    ["string_agg(a, ',')", "aggregate or window function 'string_agg' is not supported"],
    ['count(*)', "'*' function arguments (count(*)) are not supported"],
    ['sum(a) OVER ()', "window function 'sum' is not supported"],
    ['row_number() OVER (ORDER BY a)', "window function 'row_number' is not supported"],
    ['count(DISTINCT a)', "aggregate modifiers (DISTINCT, ORDER BY, FILTER, WITHIN GROUP) in 'count'"],
    ["string_agg(a, ',' ORDER BY a)", 'aggregate modifiers'],
    ['count(a) FILTER (WHERE a > 1)', 'aggregate modifiers'],
    ['percentile_cont(0.5) WITHIN GROUP (ORDER BY a)', 'aggregate modifiers'],
    ["concat(VARIADIC ARRAY['a'])", "VARIADIC arguments in 'concat' are not supported"],
    ['lpad(a, len => 3)', 'named function arguments (len => …) are not supported'],
    ['lpad(a, len := 3)', 'named function arguments (len => …) are not supported'],
    ["upper(a LIKE 'x' ESCAPE '!')", 'LIKE … ESCAPE is not supported'],
    ['upper(a) + count(b)', "aggregate or window function 'count'"],
  ])('%s', (text, detail) => {
    const e = error('mask', text);
    expect(e.startsWith(MASK)).toBe(true);
    expect(e).toContain(detail);
  });
});

describe('validateExpression: filters must be conditions', () => {
  it.each(['1', '1.5', 'a + 1', "a || 'x'", '-a', 'a = 1 AND a + 1'])('%s', (text) => {
    expect(error('filter', text)).toBe(
      `${FILTER}a filter must be a condition (e.g. col = value), not a value`,
    );
  });
  it('masks may be any value', () => {
    expect(validateExpression('mask', 'a + 1').ok).toBe(true);
    expect(validateExpression('mask', '0').ok).toBe(true);
  });
});

describe('validateExpression: structure and syntax', () => {
  it.each([
    ['', 'expression is empty'],
    ['   \n ', 'expression is empty'],
    ['-- only a comment', 'expression is empty'],
    ['/* only a comment */', 'expression is empty'],
    ['a = ', 'syntax error at end of input'],
    ['a = = 1', 'syntax error at or near "="'],
    ["a = 'unterminated", 'unterminated quoted string'],
    ['a = 1 AS x', 'aliases (AS x) are not allowed'],
    ['a = 1 x', 'aliases (AS x) are not allowed'],
    ['a, b', 'write exactly one expression'],
    ['1 FROM pg_shadow', 'FROM is not allowed in an expression'],
    ['1 WHERE true', 'WHERE is not allowed in an expression'],
    ['1 ORDER BY 1', 'ORDER BY is not allowed in an expression'],
    ['1 LIMIT 1', 'LIMIT is not allowed in an expression'],
    ['1=1 GROUP BY 1', 'GROUP BY is not allowed in an expression'],
    ['1=1 FOR UPDATE', 'FOR UPDATE/SHARE is not allowed in an expression'],
    ['1=1 INTO x', 'INTO is not allowed in an expression'],
    ['DISTINCT a = 1', 'DISTINCT is not allowed in an expression'],
    ['1=1 UNION SELECT true', 'UNION/INTERSECT/EXCEPT is not allowed'],
    ['1=1;', "';' is not allowed"],
    ['x'.repeat(10_001), 'expression is longer than 10000 characters'],
    ['a = 1\0; DROP TABLE t', 'NUL characters are not allowed'],
    ['NOT '.repeat(300) + 'a', 'expression is nested too deeply'],
  ])('%j', (text, detail) => {
    const e = error('filter', text);
    expect(e.startsWith(FILTER)).toBe(true);
    expect(e).toContain(detail);
  });

  it('reports syntax errors with the parser message', () => {
    expect(error('filter', 'a = (1')).toBe(`${FILTER}syntax error at end of input`);
    expect(error('mask', 'upper(')).toBe(`${MASK}syntax error at end of input`);
  });
});

describe('validateExpression: injection attempts', () => {
  it.each([
    ['1=1; DROP TABLE t', 'multiple statements are not allowed'],
    ['1=1; SELECT pg_sleep(10)', 'multiple statements are not allowed'],
    ['true; COMMIT; DROP TABLE t; --', 'multiple statements are not allowed'],
    ['1=1) OR (1=1', 'syntax error at or near ")"'],
    ['1=1) UNION SELECT usename FROM pg_user --', 'syntax error at or near ")"'],
    ['1=1 -- ) OR (1=1', null],
    ['1=1 /* ; DROP TABLE t */', null],
    ['1=1 */ ; DROP TABLE t /*', 'syntax error'],
    ["1=1 /* ' */ OR name = '*/ x'", null],
    ['a = $$x$$; DROP TABLE t; SELECT $$y$$', 'multiple statements are not allowed'],
    ["a = $q$ ' $q$", null],
    ['pg_sleep(10) IS NULL', "Function 'pg_sleep'"],
    ["pg_read_file('/etc/passwd') = ''", "Function 'pg_read_file'"],
    ['(SELECT 1) = 1', 'subqueries are not supported'],
    ["current_setting('x') = 'y'", "Function 'current_setting'"],
    ["set_config('role', 'postgres', false) = 'x'", "Function 'set_config'"],
    ["lo_import('/etc/passwd') > 0", "Function 'lo_import'"],
    ["query_to_xml('select 1', true, true, '') IS NOT NULL", "Function 'query_to_xml'"],
    ["dblink('host=x', 'select 1') IS NULL", "Function 'dblink'"],
    ["a = 'x' || (SELECT string_agg(usename, ',') FROM pg_user)", 'subqueries are not supported'],
    ["a = '{user.x}' OR '1'='1'", null],
    ['a = "x\' OR 1=1 --"', null],
    // The template step turns E"…" into E'…', whose backslash escapes can end the string early;
    // validation sees the same tree as query time, so what escapes is still allowlist-checked.
    ['a = E"\\\' OR pg_sleep(1) IS NULL --"', 'a double-quoted string cannot carry a prefix'],
    ['a = {user.x}1', 'syntax error at or near "1"'],
    ['a = {user.x}{user.y}', 'syntax error at or near "{user.y}"'],
    ['a = ${user.x}', 'syntax error'],
    ['a{user.x} = 1', "unexpected 'a' before a template"],
    [
      'DATE {user.x} = d',
      "unexpected 'date' before a template; to convert a template write CAST({user.<key>} AS <type>)",
    ],
  ])('%j', (text, detail) => {
    const r = validateExpression('filter', text);
    if (detail === null) {
      // Harmless: comments and quotes are consumed by the parser; the tree is a single condition.
      expect(r.ok).toBe(true);
      return;
    }
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.startsWith(FILTER)).toBe(true);
      expect(r.error).toContain(detail);
    }
  });

  it.each([
    "pg_read_file('/etc/passwd')",
    "pg_catalog.pg_read_file('/etc/passwd')",
    "current_setting('rowgate.secret')",
    "set_config('role', 'postgres', false)",
    "lo_import('/etc/passwd')::text",
    "query_to_xml('select * from secrets', true, true, '')::text",
    'pg_sleep(10)::text',
    'txid_current()',
    'version()',
    'inet_server_addr()::text',
  ])('mask %s', (text) => {
    const e = error('mask', text);
    expect(e).toMatch(/^Invalid mask expression: Unknown function '[\w.]+' in mask expression$/);
  });
});
