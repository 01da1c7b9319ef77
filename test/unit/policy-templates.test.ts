import { loadModule, parseSync } from 'libpg-query';
import { deparse } from 'pgsql-deparser';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttributeDefinitionInput } from '../../src/policy/inputs.js';
import { prepareExpression, type PreparedExpr } from '../../src/policy/resolve-expr.js';
import type { ExprNode } from '../../src/policy/session.js';
import {
  integerConst,
  placeholderize,
  scalarConst,
  templateValue,
  type TemplateValue,
} from '../../src/policy/templates.js';

beforeAll(() => loadModule());

const DEFS: AttributeDefinitionInput[] = [
  { key: 'tenant', valueType: 'string', defaultValue: null },
  { key: 'region', valueType: 'string', defaultValue: 'eu' },
  { key: 'clearance', valueType: 'integer', defaultValue: '0' },
  { key: 'level', valueType: 'integer', defaultValue: null },
  { key: 'vip', valueType: 'boolean', defaultValue: null },
  { key: 'internal', valueType: 'boolean', defaultValue: 'true' },
  { key: 'depts', valueType: 'list', defaultValue: null },
  { key: 'orgs', valueType: 'list', defaultValue: '["acme","globex"]' },
  { key: 'username', valueType: 'string', defaultValue: null },
];

const USER = {
  id: '0196f0c2-0000-7000-8000-000000000001',
  username: 'alice',
  attributes: {
    tenant: 'acme',
    clearance: '3',
    vip: 'true',
    depts: ['eng', 'ops'],
    username: 'not-alice',
  } as Record<string, unknown>,
};

const value = (key: string, attributes: Record<string, unknown> = USER.attributes): TemplateValue =>
  templateValue(key, { ...USER, attributes }, DEFS);

/** Prepared expression → SQL text (compact deparse), or the error. */
async function sql(
  text: string,
  attributes: Record<string, unknown> = USER.attributes,
  kind: 'filter' | 'mask' = 'filter',
): Promise<string> {
  const prepared: PreparedExpr = prepareExpression(text, kind, (k) => value(k, attributes));
  if (prepared.kind === 'error') return `ERROR ${prepared.sqlstate}: ${prepared.message}`;
  if (prepared.kind !== 'expr') return prepared.kind;
  return deparse(prepared.expr, { pretty: false });
}

/** The tree a parser makes of `sql`, without positions: substituted trees must equal it. */
function reparsed(text: string): unknown {
  const tree = parseSync(`SELECT ${text}`) as {
    stmts: { stmt: { SelectStmt: { targetList: { ResTarget: { val: unknown } }[] } } }[];
  };
  return JSON.parse(
    JSON.stringify(tree.stmts[0]?.stmt.SelectStmt.targetList[0]?.ResTarget.val, (k, v: unknown) =>
      k === 'location' || k === 'rexpr_list_start' || k === 'rexpr_list_end' ? undefined : v,
    ),
  );
}

describe('placeholderize', () => {
  it.each([
    ['org = {user.tenant}', 'org =  $1 ', ['tenant']],
    ['{user.a} = {user.b} OR {user.a} IS NULL', ' $1  =  $2  OR  $1  IS NULL', ['a', 'b']],
    ["org = '{user.tenant}'", "org = '{user.tenant}'", []],
    ["x = 'it''s {user.a}' AND y = E'\\'{user.b}'", "x = 'it''s {user.a}' AND y = E'\\'{user.b}'", []],
    ['x = "{user.a}"', "x = '{user.a}'", []],
    ['x = "say ""hi"" it\'s"', "x = 'say \"hi\" it''s'", []],
    ['x = $$ {user.a} $$', 'x = $$ {user.a} $$', []],
    ['x = $t$ {user.a} $t$', 'x = $t$ {user.a} $t$', []],
    ['x = 1 -- {user.a}\n AND {user.b}', 'x = 1 -- {user.a}\n AND  $1 ', ['b']],
    ['x /* {user.a} /* nested */ */ = {user.b}', 'x /* {user.a} /* nested */ */ =  $1 ', ['b']],
    ['x{user.a}', 'x $1 ', ['a']],
    ['{user.bad-key}', '{user.bad-key}', []],
  ])('%j', (input, text, names) => {
    expect(placeholderize(input)).toEqual({ text, names });
  });

  it('refuses parameter references written by the author', () => {
    expect(placeholderize('x = $1')).toMatchObject({ message: 'parameter references ($n) are not allowed' });
    expect(placeholderize('x$1 = 2')).toEqual({ text: 'x$1 = 2', names: [] });
  });

  it.each(['E"\\\' OR b = 1 --"', 'B"101"', 'X"ff"', 'N"x"', 'U&"d0061"'])(
    'refuses a prefixed double-quoted string %s (the prefix would change its meaning)',
    (input) => {
      expect(placeholderize(`x = ${input}`)).toMatchObject({
        message: 'a double-quoted string cannot carry a prefix (E, B, X, N, U&)',
      });
    },
  );
});

describe('templateValue', () => {
  it.each([
    ['username', { kind: 'string', value: 'alice' }],
    ['id', { kind: 'string', value: USER.id }],
    ['tenant', { kind: 'string', value: 'acme' }],
    ['region', { kind: 'string', value: 'eu' }],
    ['clearance', { kind: 'integer', value: 3n }],
    ['level', { kind: 'null', sqlType: 'bigint' }],
    ['vip', { kind: 'boolean', value: true }],
    ['internal', { kind: 'boolean', value: true }],
    ['depts', { kind: 'list', values: ['eng', 'ops'] }],
    ['orgs', { kind: 'list', values: ['acme', 'globex'] }],
    ['nope', { kind: 'undefined' }],
    ['roles', { kind: 'undefined' }],
  ])('%s', (key, expected) => {
    expect(value(key)).toEqual(expected);
  });

  it('types missing values by definition and keeps unparsable values as strings', () => {
    expect(value('tenant', {})).toEqual({ kind: 'null', sqlType: 'text' });
    expect(value('vip', {})).toEqual({ kind: 'null', sqlType: 'boolean' });
    expect(value('depts', {})).toEqual({ kind: 'list', values: [] });
    expect(value('clearance', { clearance: '42 OR 1=1' })).toEqual({ kind: 'string', value: '42 OR 1=1' });
    expect(value('vip', { vip: 'yes' })).toEqual({ kind: 'string', value: 'yes' });
    expect(value('clearance', { clearance: '12345678901234567890' })).toEqual({
      kind: 'string',
      value: '12345678901234567890',
    });
    expect(value('level', { level: '9223372036854775807' })).toEqual({
      kind: 'integer',
      value: 2n ** 63n - 1n,
    });
    expect(value('depts', { depts: 'solo' })).toEqual({ kind: 'list', values: ['solo'] });
    expect(value('tenant', { tenant: ['a'] })).toEqual({ kind: 'string', value: '["a"]' });
  });
});

describe('typed constants deparse and re-parse to themselves', () => {
  it.each([
    [{ kind: 'string', value: 'acme' }, "'acme'"],
    [{ kind: 'string', value: '' }, "''"],
    [{ kind: 'integer', value: 0n }, '0'],
    [{ kind: 'integer', value: -5n }, '-5'],
    [{ kind: 'integer', value: 2147483647n }, '2147483647'],
    [{ kind: 'integer', value: 2147483648n }, "CAST('2147483648' AS bigint)"],
    [{ kind: 'integer', value: -(2n ** 63n) }, "CAST('-9223372036854775808' AS bigint)"],
    [{ kind: 'boolean', value: true }, 'true'],
    [{ kind: 'boolean', value: false }, 'false'],
    [{ kind: 'null', sqlType: 'text' }, 'NULL::text'],
    [{ kind: 'null', sqlType: 'bigint' }, 'CAST(NULL AS bigint)'],
    [{ kind: 'null', sqlType: 'boolean' }, 'CAST(NULL AS boolean)'],
  ] as const)('%s', async (v, text) => {
    const node = scalarConst(v);
    expect(await deparse(node, { pretty: false })).toBe(text);
    expect(reparsed(text)).toEqual(node);
  });

  it('integerConst keeps 64-bit values exact (no JS number rounding)', async () => {
    expect(await deparse(integerConst(9007199254740993n), { pretty: false })).toBe(
      "CAST('9007199254740993' AS bigint)",
    );
  });
});

describe('substitution into expressions', () => {
  it.each([
    ['org = {user.tenant}', "org = 'acme'"],
    ['owner = {user.username} AND uid = {user.id}', `owner = 'alice' AND uid = '${USER.id}'`],
    ['level <= {user.clearance}', 'level <= 3'],
    ['region = {user.region}', "region = 'eu'"],
    ['{user.vip} OR public', 'true OR public'],
    ['dept IN ({user.depts})', "dept IN ('eng', 'ops')"],
    ["dept NOT IN ({user.depts}, 'hr')", "dept NOT IN ('eng', 'ops', 'hr')"],
    ['org IN ({user.orgs})', "org IN ('acme', 'globex')"],
    ["org = '{user.tenant}'", "org = '{user.tenant}'"],
    ['t.org = {user.tenant}', "org = 'acme'"],
    ['s.t.org = {user.tenant} AND {user.tenant} = "acme"', "org = 'acme' AND 'acme' = 'acme'"],
    ["CASE WHEN {user.vip} THEN ssn ELSE 'x' END", "CASE WHEN true THEN ssn ELSE 'x' END"],
  ])('%s → %s', async (text, expected) => {
    expect(await sql(text)).toBe(expected);
  });

  it('missing values: default, else typed NULL; an empty or missing list is IN (NULL)', async () => {
    expect(await sql('org = {user.tenant}', {})).toBe('org = NULL::text');
    expect(await sql('level <= {user.clearance}', {})).toBe('level <= 0');
    expect(await sql('level <= {user.level}', {})).toBe('level <= CAST(NULL AS bigint)');
    expect(await sql('{user.vip}', {})).toBe('CAST(NULL AS boolean)');
    expect(await sql('dept IN ({user.depts})', {})).toBe('dept IN (NULL)');
    expect(await sql('dept IN ({user.depts})', { depts: [] })).toBe('dept IN (NULL)');
    expect(await sql('internal = {user.internal}', {})).toBe('internal = true');
  });

  it('an attribute value is one string constant, never SQL', async () => {
    const attack = { tenant: "x' OR '1'='1" };
    expect(await sql('org = {user.tenant}', attack)).toBe("org = 'x'' OR ''1''=''1'");
    const drop = { tenant: "acme'; DROP TABLE orders; --" };
    expect(await sql('org = {user.tenant}', drop)).toBe("org = 'acme''; DROP TABLE orders; --'");
    expect(await sql('dept IN ({user.depts})', { depts: ["a', 'b", 'c'] })).toBe("dept IN ('a'', ''b', 'c')");
    expect(await sql('level <= {user.clearance}', { clearance: '1 OR 1=1' })).toBe("level <= '1 OR 1=1'");
  });

  it('the substituted tree equals what the parser makes of its deparsed text', async () => {
    const prepared = prepareExpression(
      'dept IN ({user.depts}) AND org = {user.tenant} AND n > {user.level}',
      'filter',
      (k) => value(k, { depts: ['a'], tenant: 'x', level: '99999999999' }),
    );
    expect(prepared.kind).toBe('expr');
    const expr = (prepared as { expr: ExprNode }).expr;
    const text = await deparse(expr, { pretty: false });
    expect(text).toBe("dept IN ('a') AND org = 'x' AND n > CAST('99999999999' AS bigint)");
    expect(reparsed(text)).toEqual(expr);
  });

  it('built-ins win over same-named attributes', async () => {
    expect(await sql('owner = {user.username}')).toBe("owner = 'alice'");
  });

  it('errors: undefined attribute, list outside IN, bad text, forbidden constructs', async () => {
    expect(await sql('org = {user.nope}')).toBe('ERROR 42704: attribute "nope" is not defined');
    expect(await sql('x = {user.roles}')).toBe('ERROR 42704: attribute "roles" is not defined');
    expect(await sql('dept = {user.depts}')).toBe(
      'ERROR 42601: list attribute "depts" can only be used as an element of IN (...)',
    );
    expect(await sql('org = ')).toMatch(/^ERROR XX000: invalid row filter expression: syntax error/);
    expect(await sql('1 FROM secrets')).toBe(
      'ERROR XX000: invalid row filter expression: not a single expression',
    );
    expect(await sql('1; DROP TABLE t')).toBe(
      'ERROR XX000: invalid row filter expression: not a single expression',
    );
    expect(await sql('x = 1 UNION SELECT 2')).toBe(
      'ERROR XX000: invalid row filter expression: not a single expression',
    );
    expect(await sql('org IN (SELECT org FROM t)')).toBe(
      'ERROR XX000: invalid row filter expression: SubLink is not allowed in policy expressions',
    );
    expect(await sql('x = $1')).toBe(
      'ERROR XX000: invalid row filter expression: parameter references ($n) are not allowed',
    );
    expect(await sql('t.*', {}, 'mask')).toBe(
      'ERROR XX000: invalid mask expression: A_Star is not allowed in policy expressions',
    );
    expect(await sql('1 AS x', {}, 'mask')).toBe(
      'ERROR XX000: invalid mask expression: not a single expression',
    );
    expect(await sql('  ')).toBe('ERROR XX000: policy has no filter_expression');
    expect(prepareExpression(undefined, 'mask', () => ({ kind: 'undefined' }))).toMatchObject({
      kind: 'error',
      message: 'policy has no mask_expression',
    });
  });

  it('filter shortcuts; masks have none', async () => {
    expect(await sql(' 1=1 ')).toBe('always');
    expect(await sql('TRUE')).toBe('always');
    expect(await sql('1=0')).toBe('never');
    expect(await sql('false')).toBe('never');
    expect(await sql('constructor')).toBe('constructor');
    expect(await sql('true', {}, 'mask')).toBe('true');
  });
});
