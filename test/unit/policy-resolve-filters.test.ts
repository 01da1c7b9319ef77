import { deparse } from 'pgsql-deparser';
import { beforeAll, describe, expect, it } from 'vitest';
import type {
  AssignmentInput,
  CatalogSchemaInput,
  PolicyInput,
  PolicyInputs,
} from '../../src/policy/inputs.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { RowFilter, SecuredTable, SessionPolicySet } from '../../src/policy/session.js';
import type { TargetEntry } from '../../src/policy/targets.js';

const all = (priority = 100): AssignmentInput => ({ scope: 'all', userId: null, roleId: null, priority });
const toUser = (priority = 100): AssignmentInput => ({ scope: 'user', userId: 'u1', roleId: null, priority });
const toRole = (priority = 100): AssignmentInput => ({ scope: 'role', userId: null, roleId: 'r1', priority });

const CATALOG: CatalogSchemaInput[] = [
  {
    name: 'public',
    alias: null,
    tables: [
      {
        name: 'customers',
        tableType: 'TABLE',
        columns: ['id', 'name', 'ssn', 'org', 'region'].map((name, i) => ({
          name,
          udtName: 'text',
          ordinal: i + 1,
        })),
      },
      {
        name: 'orders',
        tableType: 'TABLE',
        columns: [
          { name: 'id', udtName: 'int4', ordinal: 1 },
          { name: 'org', udtName: 'text', ordinal: 2 },
          { name: 'status', udtName: 'text', ordinal: 3 },
          // Not selected: never visible, but filters may use it.
          { name: 'tenant_key', udtName: 'text', ordinal: 4, selected: false },
        ],
      },
    ],
  },
];

let n = 0;
function policy(
  name: string,
  type: string,
  targets: TargetEntry[],
  definition: unknown,
  assignments = [all()],
): PolicyInput {
  return { id: `p${n++}`, name, version: 1, policyType: type, targets, definition, assignments };
}
const filter = (name: string, expr: string, tables = ['*'], assignments = [all()]) =>
  policy(name, 'row_filter', [{ schemas: ['public'], tables }], { filter_expression: expr }, assignments);
const mask = (name: string, columns: string[], expr: string, assignments = [all()]) =>
  policy(
    name,
    'column_mask',
    [{ schemas: ['public'], tables: ['customers'], columns }],
    { mask_expression: expr },
    assignments,
  );

function resolve(policies: PolicyInput[], over: Partial<PolicyInputs> = {}): SessionPolicySet {
  return resolveSessionPolicySet({
    dataSource: { id: 'ds', name: 'shop', accessMode: 'open' },
    catalog: CATALOG,
    user: { id: 'u1', username: 'alice', roleIds: ['r1'], attributes: { tenant: 'acme', depts: ['a', 'b'] } },
    policies,
    attributeDefinitions: [
      { key: 'tenant', valueType: 'string', defaultValue: null },
      { key: 'depts', valueType: 'list', defaultValue: null },
    ],
    anchors: [],
    ...over,
  });
}

const table = (set: SessionPolicySet, name: string) =>
  set.tables.find((t) => t.name === name) as SecuredTable;

/** Filters as readable strings. */
async function filters(t: SecuredTable): Promise<string[]> {
  return Promise.all(
    t.rowFilters.map(async (f: RowFilter) => {
      switch (f.kind) {
        case 'expr':
          return `${f.policy.name}: ${await deparse(f.expr, { pretty: false })}`;
        case 'via':
          return `${f.policy.name}: via ${f.path.map((h) => `${h.childColumn}->${h.parentSchema}.${h.parentTable}.${h.parentColumn}`).join(' ')}: ${await deparse(f.expr, { pretty: false })}`;
        case 'false':
          return `${f.policy.name}: false (${f.reason})`;
        case 'error':
          return `${f.policy.name}: error ${f.sqlstate} ${f.message}`;
      }
    }),
  );
}

async function masks(t: SecuredTable): Promise<string[]> {
  const out: string[] = [];
  for (const c of t.columns) {
    if (c.mask)
      out.push(`${c.name} <- ${c.mask.policy.name}: ${await deparse(c.mask.expr, { pretty: false })}`);
  }
  return out;
}

beforeAll(loadPolicyParser);

describe('row filters', () => {
  it('one entry per matching policy, AND-ed by the rewriter, in precedence order', async () => {
    const set = resolve([
      filter('tenant', 'org = {user.tenant}', ['*'], [all(20)]),
      filter('live', "status <> 'deleted'", ['orders'], [toRole(10)]),
      filter('depts', 'region IN ({user.depts})', ['customers']),
    ]);
    expect(await filters(table(set, 'orders'))).toEqual([
      "live: status <> 'deleted'",
      "tenant: org = 'acme'",
    ]);
    expect(await filters(table(set, 'customers'))).toEqual([
      "tenant: org = 'acme'",
      "depts: region IN ('a', 'b')",
    ]);
  });

  it('shortcuts: true / 1=1 add nothing, false / 1=0 keep no rows', async () => {
    const set = resolve([filter('t', 'true'), filter('one', '1=1'), filter('f', '1=0', ['orders'])]);
    expect(await filters(table(set, 'customers'))).toEqual([]);
    expect(await filters(table(set, 'orders'))).toEqual(['f: false (filter expression is always false)']);
  });

  it('qualified references are unqualified; unselected columns may be filtered on', async () => {
    const set = resolve([filter('k', "o.tenant_key = 'k1' AND public.orders.status = 'x'", ['orders'])]);
    expect(await filters(table(set, 'orders'))).toEqual(["k: tenant_key = 'k1' AND status = 'x'"]);
    expect(table(set, 'orders').columns.map((c) => c.name)).toEqual(['id', 'org', 'status']);
  });

  it('an undefined attribute makes statements on every matched table fail', async () => {
    const set = resolve([filter('bad', 'org = {user.nope}')]);
    expect(await filters(table(set, 'orders'))).toEqual(['bad: error 42704 attribute "nope" is not defined']);
    expect(await filters(table(set, 'customers'))).toEqual([
      'bad: error 42704 attribute "nope" is not defined',
    ]);
  });

  it('a filter with no expression or a broken one is an error, never no filter', async () => {
    const set = resolve([
      policy('none', 'row_filter', [{ schemas: ['*'], tables: ['orders'] }], null),
      filter('broken', 'org = = 1', ['orders']),
    ]);
    const out = await filters(table(set, 'orders'));
    // Equal priority and scope: ordered by name.
    expect(out[0]).toMatch(/^broken: error XX000 invalid row filter expression: syntax error/);
    expect(out[1]).toBe('none: error XX000 policy has no filter_expression');
  });

  it('a column on no table and without anchor → false with a reason', async () => {
    const set = resolve([filter('f', "ssn = 'x'", ['orders'])]);
    expect(await filters(table(set, 'orders'))).toEqual([
      'f: false (column "ssn" is not on public.orders and has no anchor)',
    ]);
  });

  it('filters of skipped (gated) policies are absent', async () => {
    const gated = { ...filter('g', '1=0'), decisionFunctionId: 'df' };
    const set = resolve([gated], { gate: () => 'skip' });
    expect(await filters(table(set, 'orders'))).toEqual([]);
  });
});

describe('column masks', () => {
  it('per column the lowest priority wins; other columns untouched', async () => {
    const set = resolve([
      mask('last4', ['ssn'], "'***-**-' || right(ssn, 4)", [all(50)]),
      mask('hide', ['ssn', 'name'], "'hidden'", [all(10)]),
      mask('upper', ['name'], 'upper(name)', [all(5)]),
    ]);
    expect(await masks(table(set, 'customers'))).toEqual([
      'name <- upper: upper(name)',
      "ssn <- hide: 'hidden'",
    ]);
    expect(table(set, 'orders').columns.every((c) => c.mask === null)).toBe(true);
  });

  it('ties: user beats role beats all, then name', async () => {
    const set = resolve([
      mask('a', ['ssn'], "'a'", [all(1)]),
      mask('b', ['ssn'], "'b'", [toRole(1)]),
      mask('c', ['ssn'], "'c'", [toUser(1)]),
      mask('y', ['name'], "'y'", [all(1)]),
      mask('x', ['name'], "'x'", [all(1)]),
    ]);
    expect(await masks(table(set, 'customers'))).toEqual(["name <- x: 'x'", "ssn <- c: 'c'"]);
  });

  it('a mask on a denied or not-allowed column is moot', async () => {
    const set = resolve([
      mask('m', ['ssn', 'name'], "'m'"),
      policy('deny', 'column_deny', [{ schemas: ['*'], tables: ['*'], columns: ['ssn'] }], null, [all(1000)]),
      policy(
        'allow',
        'column_allow',
        [{ schemas: ['*'], tables: ['customers'], columns: ['id', 'ssn', 'org'] }],
        null,
      ),
    ]);
    expect(table(set, 'customers').columns.map((c) => c.name)).toEqual(['id', 'org']);
    expect(await masks(table(set, 'customers'))).toEqual([]);
  });

  it('masks see templates and strip qualifiers; broken masks hide the value and fail the table', async () => {
    const set = resolve([
      mask('m1', ['name'], "CASE WHEN c.org = {user.tenant} THEN name ELSE 'x' END"),
      mask('m2', ['ssn'], '{user.nope}'),
      mask('m3', ['region'], 'upper(missing_col)'),
    ]);
    const t = table(set, 'customers');
    expect(await masks(t)).toEqual([
      "name <- m1: CASE WHEN org = 'acme' THEN name ELSE 'x' END",
      'ssn <- m2: NULL',
      'region <- m3: NULL',
    ]);
    expect(await filters(t)).toEqual([
      'm2: error 42704 attribute "nope" is not defined',
      'm3: error 42703 mask expression references column "missing_col", which is not on public.customers',
    ]);
  });
});
