import { deparse } from 'pgsql-deparser';
import { beforeAll, describe, expect, it } from 'vitest';
import { anchorCoverage, coverageVerdicts, MAX_ANCHOR_HOPS } from '../../src/policy/anchors.js';
import { indexCatalog } from '../../src/policy/catalog-index.js';
import type { AnchorInput, CatalogSchemaInput, PolicyInput } from '../../src/policy/inputs.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { RowFilter, SessionPolicySet } from '../../src/policy/session.js';

/**
 * A chain t0 → t1 → t2 → t3 → t4 (each t{i}.p = t{i+1}.id); only t4 has
 * `org`. Plus `payments` (org spelled `organisation`) and a 2-cycle c1 ⇄ c2.
 */
const tables: Record<string, string[]> = {
  t0: ['id', 'p'],
  t1: ['id', 'p'],
  t2: ['id', 'p'],
  t3: ['id', 'p'],
  t4: ['id', 'org'],
  payments: ['id', 'organisation', 'status'],
  c1: ['id', 'c2_id'],
  c2: ['id', 'c1_id'],
  lonely: ['id'],
};
const CATALOG: CatalogSchemaInput[] = [
  {
    name: 'public',
    alias: 'sales',
    tables: Object.entries(tables).map(([name, cols]) => ({
      name,
      tableType: 'TABLE',
      columns: cols.map((c, i) => ({ name: c, udtName: 'text', ordinal: i + 1 })),
    })),
  },
];

const fk = (table: string, childColumn: string, parentTable: string): AnchorInput => ({
  schema: 'public',
  table,
  column: 'org',
  relationship: { id: `rel-${table}`, childColumn, parentSchema: 'public', parentTable, parentColumn: 'id' },
});
const ANCHORS: AnchorInput[] = [
  fk('t0', 'p', 't1'),
  fk('t1', 'p', 't2'),
  fk('t2', 'p', 't3'),
  fk('t3', 'p', 't4'),
  { schema: 'public', table: 'payments', column: 'org', actualColumn: 'organisation' },
  fk('c1', 'c2_id', 'c2'),
  fk('c2', 'c1_id', 'c1'),
];

const tenantFilter: PolicyInput = {
  id: 'p1',
  name: 'tenant',
  version: 1,
  policyType: 'row_filter',
  targets: [{ schemas: ['public'], tables: ['*'] }],
  definition: { filter_expression: 'org = {user.tenant}' },
  assignments: [{ scope: 'all', userId: null, roleId: null, priority: 100 }],
};

function resolve(anchors: AnchorInput[] = ANCHORS, policies = [tenantFilter]): SessionPolicySet {
  return resolveSessionPolicySet({
    dataSource: { id: 'ds', name: 'shop', accessMode: 'open' },
    catalog: CATALOG,
    user: { id: 'u1', username: 'alice', roleIds: [], attributes: { tenant: 'acme' } },
    policies,
    attributeDefinitions: [{ key: 'tenant', valueType: 'string', defaultValue: null }],
    anchors,
  });
}

const filterOf = (set: SessionPolicySet, name: string): RowFilter | undefined =>
  set.tables.find((t) => t.name === name)?.rowFilters[0];

/** The deparsed expression of an `expr` or `via` filter. */
async function sqlOf(f: RowFilter | undefined): Promise<string> {
  if (f?.kind !== 'expr' && f?.kind !== 'via') throw new Error(`no expression: ${JSON.stringify(f)}`);
  return deparse(f.expr, { pretty: false });
}

beforeAll(loadPolicyParser);

describe('anchors in resolution', () => {
  it('a table that has the column filters directly', async () => {
    const f = filterOf(resolve(), 't4');
    expect(f?.kind).toBe('expr');
    expect(await sqlOf(f)).toBe("org = 'acme'");
  });

  it('alias anchor renames the column on the same table', async () => {
    const f = filterOf(resolve(), 'payments');
    expect(f?.kind).toBe('expr');
    expect(await sqlOf(f)).toBe("organisation = 'acme'");
  });

  it('FK anchor: one hop and three hops give the path', async () => {
    const one = filterOf(resolve(), 't3');
    expect(one).toMatchObject({
      kind: 'via',
      policy: { name: 'tenant' },
      path: [{ childColumn: 'p', parentSchema: 'public', parentTable: 't4', parentColumn: 'id' }],
    });
    expect(await sqlOf(one)).toBe("org = 'acme'");
    const three = filterOf(resolve(), 't1');
    expect(three?.kind === 'via' && three.path.map((h) => h.parentTable)).toEqual(['t2', 't3', 't4']);
  });

  it(`more than ${MAX_ANCHOR_HOPS} hops → false`, () => {
    expect(filterOf(resolve(), 't0')).toEqual({
      kind: 'false',
      policy: { policy_id: 'p1', name: 'tenant', version: 1 },
      reason: 'column(s) org need more than 3 hops from public.t0',
    });
  });

  it('a cycle → false', () => {
    expect(filterOf(resolve(), 'c1')).toMatchObject({
      kind: 'false',
      reason: 'anchor walk from public.c1 cycles at public.c1',
    });
  });

  it('no anchor, alias to a missing column, dangling relationship → false', () => {
    expect(filterOf(resolve(), 'lonely')).toMatchObject({
      kind: 'false',
      reason: 'column "org" is not on public.lonely and has no anchor',
    });
    const badAlias: AnchorInput = { schema: 'public', table: 'lonely', column: 'org', actualColumn: 'nope' };
    expect(filterOf(resolve([badAlias]), 'lonely')).toMatchObject({
      kind: 'false',
      reason: 'alias anchor for column "org" on public.lonely names missing column "nope"',
    });
    const dangling: AnchorInput = {
      schema: 'public',
      table: 'lonely',
      column: 'org',
      relationshipMissing: true,
    };
    expect(filterOf(resolve([dangling]), 'lonely')).toMatchObject({
      kind: 'false',
      reason: 'anchor for column "org" on public.lonely has no relationship',
    });
  });

  it('a parent may itself resolve by alias', async () => {
    const toPayments: AnchorInput = {
      schema: 'public',
      table: 'lonely',
      column: 'org',
      relationship: {
        id: 'r',
        childColumn: 'id',
        parentSchema: 'public',
        parentTable: 'payments',
        parentColumn: 'id',
      },
    };
    const f = filterOf(resolve([...ANCHORS, toPayments]), 'lonely');
    expect(f).toMatchObject({ kind: 'via', path: [{ parentTable: 'payments' }] });
    expect(await sqlOf(f)).toBe("organisation = 'acme'");
  });

  it('the parent may be an unselected table', () => {
    const catalog = structuredClone(CATALOG);
    const t4 = catalog[0]?.tables.find((t) => t.name === 't4');
    if (t4) t4.selected = false;
    const set = resolveSessionPolicySet({
      dataSource: { id: 'ds', name: 'shop', accessMode: 'open' },
      catalog,
      user: { id: 'u1', username: 'alice', roleIds: [], attributes: { tenant: 'acme' } },
      policies: [tenantFilter],
      attributeDefinitions: [{ key: 'tenant', valueType: 'string', defaultValue: null }],
      anchors: ANCHORS,
    });
    expect(set.tables.some((t) => t.name === 't4')).toBe(false);
    expect(filterOf(set, 't3')?.kind).toBe('via');
  });
});

describe('anchor coverage report', () => {
  const index = indexCatalog(CATALOG, ANCHORS);

  it('per column verdicts, first hop only, effective parent schema name', () => {
    expect(coverageVerdicts(index, 'public', 't0', ['org', 'id'])).toEqual([
      { kind: 'on_table', column: 'id' },
      {
        kind: 'anchor_walk',
        column: 'org',
        via_relationship_id: 'rel-t0',
        via_child_column: 'p',
        via_parent_column: 'id',
        parent_schema: 'sales',
        parent_table: 't1',
      },
    ]);
    expect(coverageVerdicts(index, 'public', 'payments', ['org'])).toEqual([
      { kind: 'anchor_alias', column: 'org', actual_column_name: 'organisation' },
    ]);
    expect(coverageVerdicts(index, 'public', 'lonely', ['org'])).toEqual([
      { kind: 'missing_anchor', column: 'org' },
    ]);
    const bad = indexCatalog(CATALOG, [
      { schema: 'public', table: 'lonely', column: 'org', actualColumn: 'x' },
    ]);
    expect(coverageVerdicts(bad, 'public', 'lonely', ['org'])).toEqual([
      { kind: 'missing_column_on_alias_target', column: 'org', actual_column_name: 'x' },
    ]);
  });

  it('per table: verdicts plus the full runtime resolution', () => {
    const result = anchorCoverage(
      index,
      [{ schemas: ['public'], tables: ['t*', 'payments'] }],
      'org = {user.tenant}',
    );
    if (!result.ok) throw new Error(result.error);
    expect(result.coverage.map((c) => [c.schema, c.schemaUpstream, c.table, c.resolution])).toEqual([
      ['sales', 'public', 'payments', { kind: 'alias' }],
      [
        'sales',
        'public',
        't0',
        { kind: 'unresolved', reason: 'column(s) org need more than 3 hops from public.t0' },
      ],
      ['sales', 'public', 't1', { kind: 'via', path: expect.any(Array) }],
      ['sales', 'public', 't2', { kind: 'via', path: expect.any(Array) }],
      ['sales', 'public', 't3', { kind: 'via', path: expect.any(Array) }],
      ['sales', 'public', 't4', { kind: 'direct' }],
    ]);
  });

  it('no columns → empty; unparsable → error', () => {
    expect(anchorCoverage(index, [{ schemas: ['*'], tables: ['*'] }], '1=1')).toEqual({
      ok: true,
      coverage: [],
    });
    expect(anchorCoverage(index, [{ schemas: ['*'], tables: ['*'] }], 'org = =')).toMatchObject({
      ok: false,
    });
  });
});
