import { beforeAll, describe, expect, it } from 'vitest';
import type {
  AssignmentInput,
  CatalogSchemaInput,
  PolicyInput,
  PolicyInputs,
} from '../../src/policy/inputs.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import type { TargetEntry } from '../../src/policy/targets.js';

const USER = 'u-alice';
const ROLE = 'r-analysts';

/** `{schema: {table: [columns]}}`; every column selected, udt text. */
function catalog(
  spec: Record<string, Record<string, string[]>>,
  aliases: Record<string, string> = {},
): CatalogSchemaInput[] {
  return Object.entries(spec).map(([schema, tables]) => ({
    name: schema,
    alias: aliases[schema] ?? null,
    tables: Object.entries(tables).map(([table, columns]) => ({
      name: table,
      tableType: 'TABLE',
      columns: columns.map((name, i) => ({ name, udtName: 'text', ordinal: i + 1 })),
    })),
  }));
}

const all = (priority = 100): AssignmentInput => ({ scope: 'all', userId: null, roleId: null, priority });
const toUser = (priority = 100, userId = USER): AssignmentInput => ({
  scope: 'user',
  userId,
  roleId: null,
  priority,
});
const toRole = (priority = 100, roleId = ROLE): AssignmentInput => ({
  scope: 'role',
  userId: null,
  roleId,
  priority,
});

let n = 0;
function policy(
  name: string,
  policyType: string,
  targets: TargetEntry[],
  extra: {
    definition?: unknown;
    assignments?: AssignmentInput[];
    decisionFunctionId?: string;
    enabled?: boolean;
  } = {},
): PolicyInput {
  return {
    id: `p-${name}-${n++}`,
    name,
    version: 1,
    policyType,
    targets,
    definition: extra.definition ?? null,
    enabled: extra.enabled ?? true,
    decisionFunctionId: extra.decisionFunctionId ?? null,
    assignments: extra.assignments ?? [all()],
  };
}

const SHOP = catalog({
  public: {
    customers: ['id', 'name', 'ssn', 'org'],
    orders: ['id', 'org', 'total'],
    raw_events: ['id', 'payload'],
  },
  analytics: { daily: ['day', 'revenue'] },
});

function resolve(policies: PolicyInput[], over: Partial<PolicyInputs> = {}): SessionPolicySet {
  return resolveSessionPolicySet({
    dataSource: { id: 'ds-1', name: 'shop', accessMode: 'open' },
    catalog: SHOP,
    user: { id: USER, username: 'alice', roleIds: [ROLE], attributes: {} },
    policies,
    attributeDefinitions: [],
    anchors: [],
    ...over,
  });
}

/** `schema.table: col, col` per visible table (visible schema name). */
const shape = (set: SessionPolicySet) =>
  set.tables.map((t) => `${t.visibleSchema}.${t.name}: ${t.columns.map((c) => c.name).join(', ')}`);

const T = (schemas: string[], tables: string[], columns?: string[]): TargetEntry[] => [
  columns ? { schemas, tables, columns } : { schemas, tables },
];

beforeAll(loadPolicyParser);

describe('virtual catalog', () => {
  it('open mode with no policies shows the saved catalog, ordered, with data source and user', () => {
    const set = resolve([]);
    expect(shape(set)).toEqual([
      'analytics.daily: day, revenue',
      'public.customers: id, name, ssn, org',
      'public.orders: id, org, total',
      'public.raw_events: id, payload',
    ]);
    expect(set.user).toEqual({ id: USER, username: 'alice' });
    expect(set.dataSource).toEqual({ id: 'ds-1', name: 'shop', accessMode: 'open' });
    expect(set.policiesApplied).toEqual([]);
    expect(set.tables[1]).toMatchObject({ schema: 'public', tableType: 'TABLE', rowFilters: [] });
    expect(set.tables[1]?.columns[0]).toEqual({ name: 'id', udtName: 'text', mask: null });
  });

  it('policy_required with no allow shows nothing', () => {
    expect(resolve([], { dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' } }).tables).toEqual(
      [],
    );
  });

  it('policy_required keeps only allowed tables and columns; entries are OR-ed', () => {
    const allow = policy('allow', 'column_allow', [
      { schemas: ['public'], tables: ['customers'], columns: ['id', 'name'] },
      { schemas: ['analytics'], tables: ['*'], columns: ['*'] },
    ]);
    const set = resolve([allow], { dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' } });
    expect(shape(set)).toEqual(['analytics.daily: day, revenue', 'public.customers: id, name']);
  });

  it('several allows union their columns', () => {
    const a = policy('a', 'column_allow', T(['public'], ['customers'], ['id']));
    const b = policy('b', 'column_allow', T(['public'], ['customers'], ['org']), {
      assignments: [toRole(5)],
    });
    const set = resolve([a, b], { dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' } });
    expect(shape(set)).toEqual(['public.customers: id, org']);
  });

  it('open mode: a column_allow still narrows the table it matches, other tables stay whole', () => {
    const allow = policy('allow', 'column_allow', T(['public'], ['customers'], ['id', 'name']));
    expect(shape(resolve([allow]))).toEqual([
      'analytics.daily: day, revenue',
      'public.customers: id, name',
      'public.orders: id, org, total',
      'public.raw_events: id, payload',
    ]);
  });

  it('table_deny hides matches, including by prefix glob (raw_*)', () => {
    const deny = policy('deny', 'table_deny', T(['*'], ['raw_*']));
    const denySchema = policy('deny-analytics', 'table_deny', T(['analytics'], ['*']));
    expect(shape(resolve([deny, denySchema]))).toEqual([
      'public.customers: id, name, ssn, org',
      'public.orders: id, org, total',
    ]);
  });

  it('column_deny removes matching columns, suffix globs (*_name) included', () => {
    const cat = catalog({ hr: { people: ['id', 'first_name', 'last_name', 'name_id'] } });
    const deny = policy('deny', 'column_deny', T(['hr'], ['people'], ['*_name']));
    expect(shape(resolve([deny], { catalog: cat }))).toEqual(['hr.people: id, name_id']);
  });

  it('deny wins over allow at any priority and scope', () => {
    const allow = policy('allow', 'column_allow', T(['*'], ['*'], ['*']), { assignments: [toUser(-1000)] });
    const deny = policy('deny', 'column_deny', T(['public'], ['customers'], ['ssn']), {
      assignments: [all(1000)],
    });
    const tdeny = policy('tdeny', 'table_deny', T(['public'], ['orders']), { assignments: [all(999)] });
    const set = resolve([allow, deny, tdeny], {
      dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' },
    });
    expect(shape(set)).toEqual([
      'analytics.daily: day, revenue',
      'public.customers: id, name, org',
      'public.raw_events: id, payload',
    ]);
  });

  it('a table left with no visible column is hidden (deny, or allow naming nothing present)', () => {
    const deny = policy('deny', 'column_deny', T(['analytics'], ['daily'], ['*']));
    const allow = policy('allow', 'column_allow', T(['public'], ['orders'], ['nope']));
    expect(shape(resolve([deny, allow]))).toEqual([
      'public.customers: id, name, ssn, org',
      'public.raw_events: id, payload',
    ]);
  });

  it('targets match the upstream schema name; visibleSchema is the alias', () => {
    const cat = catalog({ public: { orders: ['id', 'secret'] } }, { public: 'sales' });
    const byUpstream = policy('deny', 'column_deny', T(['public'], ['orders'], ['secret']));
    const byAlias = policy('deny-alias', 'table_deny', T(['sales'], ['*']));
    const set = resolve([byUpstream, byAlias], { catalog: cat });
    expect(set.tables).toEqual([
      {
        schema: 'public',
        visibleSchema: 'sales',
        name: 'orders',
        tableType: 'TABLE',
        columns: [{ name: 'id', udtName: 'text', mask: null }],
        rowFilters: [],
      },
    ]);
  });

  it('patterns are case-sensitive', () => {
    const deny = policy('deny', 'table_deny', T(['PUBLIC'], ['Orders']));
    expect(shape(resolve([deny]))).toHaveLength(4);
  });

  it('unselected schemas, tables and columns are never visible; columns follow ordinal order', () => {
    const cat: CatalogSchemaInput[] = [
      {
        name: 'public',
        alias: null,
        tables: [
          {
            name: 't',
            tableType: 'VIEW',
            columns: [
              { name: 'b', udtName: 'int4', ordinal: 2 },
              { name: 'a', udtName: 'int8', ordinal: 1 },
              { name: 'hidden', udtName: 'text', ordinal: 3, selected: false },
            ],
          },
          {
            name: 'off',
            tableType: 'TABLE',
            selected: false,
            columns: [{ name: 'x', udtName: null, ordinal: 1 }],
          },
        ],
      },
      {
        name: 'other',
        alias: null,
        selected: false,
        tables: [{ name: 'z', tableType: 'TABLE', columns: [{ name: 'x', udtName: null, ordinal: 1 }] }],
      },
    ];
    const set = resolve([], { catalog: cat });
    expect(
      set.tables.map((t) => [t.name, t.tableType, t.columns.map((c) => `${c.name}:${c.udtName}`)]),
    ).toEqual([['t', 'VIEW', ['a:int8', 'b:int4']]]);
  });
});

describe('effective assignments', () => {
  const deny = (assignments: AssignmentInput[]) =>
    policy('deny-ssn', 'column_deny', T(['public'], ['customers'], ['ssn']), { assignments });
  const ssnVisible = (set: SessionPolicySet) =>
    set.tables.find((t) => t.name === 'customers')?.columns.some((c) => c.name === 'ssn');

  it.each([
    ['user scope, this user', [toUser()], true],
    ['user scope, another user', [toUser(1, 'u-bob')], false],
    ['role scope, a role of the closure', [toRole()], true],
    ['role scope, a role outside the closure (e.g. inactive)', [toRole(1, 'r-inactive')], false],
    ['all scope', [all()], true],
    ['no assignment', [], false],
  ] as const)('%s → applies: %s', (_label, assignments, applies) => {
    expect(ssnVisible(resolve([deny([...assignments])]))).toBe(!applies);
    expect(resolve([deny([...assignments])]).policiesApplied).toHaveLength(applies ? 1 : 0);
  });

  it('a policy reached several ways is kept once, at its lowest priority', () => {
    const mask = (name: string, expr: string, assignments: AssignmentInput[]) =>
      policy(name, 'column_mask', T(['public'], ['customers'], ['ssn']), {
        definition: { mask_expression: expr },
        assignments,
      });
    // "twice" reaches the user via all(50) and role(5): effective priority 5, beating "ten".
    const twice = mask('twice', "'A'", [all(50), toRole(5)]);
    const ten = mask('ten', "'B'", [all(10)]);
    const set = resolve([ten, twice]);
    expect(set.policiesApplied.map((p) => p.name)).toEqual(['twice', 'ten']);
    expect(set.tables.find((t) => t.name === 'customers')?.columns[2]?.mask?.policy.name).toBe('twice');
  });

  it('ties at equal priority: user beats role beats all, then policy name', () => {
    const mask = (name: string, a: AssignmentInput) =>
      policy(name, 'column_mask', T(['public'], ['customers'], ['ssn']), {
        definition: { mask_expression: `'${name}'` },
        assignments: [a],
      });
    const winner = (...ps: PolicyInput[]) =>
      resolve(ps).tables.find((t) => t.name === 'customers')?.columns[2]?.mask?.policy.name;
    expect(winner(mask('a-all', all(7)), mask('b-role', toRole(7)), mask('c-user', toUser(7)))).toBe(
      'c-user',
    );
    expect(winner(mask('a-all', all(7)), mask('b-role', toRole(7)))).toBe('b-role');
    expect(winner(mask('b-all', all(7)), mask('a-all', all(7)))).toBe('a-all');
    expect(winner(mask('a-user', toUser(8)), mask('z-all', all(7)))).toBe('z-all');
  });

  it('disabled, unknown-type and duplicate policies are ignored', () => {
    const off = policy('off', 'table_deny', T(['*'], ['*']), { enabled: false });
    const weird = policy('weird', 'table_allow', T(['*'], ['*']));
    const dup = policy('dup', 'column_deny', T(['public'], ['customers'], ['ssn']));
    const set = resolve([off, weird, dup, dup]);
    expect(set.tables).toHaveLength(4);
    expect(set.policiesApplied.map((p) => p.name)).toEqual(['dup']);
  });

  it('damaged targets fail closed: a deny applies everywhere, an allow grants nothing', () => {
    const deny = policy('bad-deny', 'column_deny', [{ schemas: 'public' } as unknown as TargetEntry]);
    expect(resolve([deny]).tables).toEqual([]);
    const allow = policy('bad-allow', 'column_allow', [{ tables: ['*'] } as unknown as TargetEntry]);
    expect(
      resolve([allow], { dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' } }).tables,
    ).toEqual([]);
  });

  it('policiesApplied: column_allow first, then the rest, each by precedence; versions carried', () => {
    const ps = [
      policy('f', 'row_filter', T(['*'], ['*']), {
        definition: { filter_expression: 'true' },
        assignments: [all(1)],
      }),
      policy('allow-2', 'column_allow', T(['*'], ['*'], ['*']), { assignments: [all(20)] }),
      policy('deny', 'column_deny', T(['x'], ['x'], ['x']), { assignments: [toUser(3)] }),
      policy('allow-1', 'column_allow', T(['*'], ['*'], ['*']), { assignments: [toRole(10)] }),
      { ...policy('td', 'table_deny', T(['x'], ['x']), { assignments: [all(3)] }), version: 7 },
    ];
    expect(resolve(ps).policiesApplied.map((p) => `${p.name}@${p.version}`)).toEqual([
      'allow-1@1',
      'allow-2@1',
      'f@1',
      'deny@1',
      'td@7',
    ]);
  });
});

describe('gate hook', () => {
  it('is asked only about policies with a decision function; skip makes a policy contribute nothing', () => {
    const asked: string[] = [];
    const gated = policy('gated-deny', 'table_deny', T(['*'], ['*']), { decisionFunctionId: 'df-1' });
    const allow = policy('gated-allow', 'column_allow', T(['public'], ['orders'], ['*']), {
      decisionFunctionId: 'df-2',
    });
    const plain = policy('plain', 'column_deny', T(['public'], ['orders'], ['total']));
    const set = resolve([gated, allow, plain], {
      dataSource: { id: 'd', name: 'n', accessMode: 'policy_required' },
      gate: (p) => {
        asked.push(`${p.name}:${p.decisionFunctionId}`);
        return p.name === 'gated-deny' ? 'skip' : 'fire';
      },
    });
    expect(asked.sort()).toEqual(['gated-allow:df-2', 'gated-deny:df-1']);
    expect(shape(set)).toEqual(['public.orders: id, org']);
    // Skipped policies are still effective, hence audited.
    expect(set.policiesApplied.map((p) => p.name).sort()).toEqual(['gated-allow', 'gated-deny', 'plain']);
  });

  it('without a gate every policy fires', () => {
    const gated = policy('gated-deny', 'table_deny', T(['*'], ['*']), { decisionFunctionId: 'df-1' });
    expect(resolve([gated]).tables).toEqual([]);
  });
});
