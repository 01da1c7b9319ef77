/**
 * Policy YAML import (api-contract §7.4) on both store engines: create and
 * update only when something differs, assignments made equal to the listed
 * set, names resolved, side effects equal to the API calls, dry run and
 * errors writing nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../src/store/repo-errors.js';
import { getPolicy } from '../../src/store/repos/policies.js';
import { listPolicyVersions } from '../../src/store/repos/policy-versions.js';
import { parsePolicyDocument } from '../../src/policy/document.js';
import { applyPlan, failureOf } from '../../src/policy/yaml-import-apply.js';
import { planImport } from '../../src/policy/yaml-import-plan.js';
import { importPolicies, PolicyDocumentRejected } from '../../src/policy/yaml-import.js';
import { newId } from '../../src/store/ids.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';
import {
  ADMIN,
  auditSince,
  inTx,
  seedNamedEntities,
  writeCounts,
  type Named,
} from './policy-yaml-fixture.js';

const BASE = `version: 1
policies:
  - name: tenant-isolation
    policy_type: row_filter
    description: Filter rows by tenant
    targets:
      - schemas: ["*"]
        tables: ["*"]
    definition:
      filter_expression: "org = {user.tenant}"
    decision_function: business-hours
    assignments:
      - datasource: prod
      - datasource: staging
        user: alice
        priority: 50
      - datasource: staging
        role: analysts
        priority: 7
  - name: mask-ssn
    policy_type: column_mask
    targets:
      - schemas: [public]
        tables: [customers]
        columns: [ssn]
    definition:
      mask_expression: "'***-**-' || RIGHT(ssn, 4)"
  - name: hide-cards
    policy_type: column_deny
    is_enabled: false
    targets:
      - schemas: [public]
        tables: [customers]
        columns: [credit_card]
    assignments: []
`;

/** BASE with one substring replaced (throws if it is not there, so a typo cannot pass silently). */
function edit(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`fixture does not contain ${from}`);
  return text.replace(from, to);
}

describe.each(STORE_ENGINES)('policy YAML import on %s', (engine) => {
  let t: TestStore;
  let named: Named;
  const run = (text: string, dryRun = false) => importPolicies(t.store, ADMIN, text, { dryRun });
  const policyId = async (name: string) =>
    (await t.store.db.selectFrom('policy').select('id').where('name', '=', name).executeTakeFirstOrThrow())
      .id;

  beforeEach(async () => {
    t = await openTestStore(engine);
    named = await seedNamedEntities(t.store);
  });
  afterEach(async () => t.dispose());

  it('creates policies and assignments with the side effects of the API calls', async () => {
    const before = (await writeCounts(t.store)).admin_audit_log!;
    const report = await run(BASE);
    expect(report.errors).toEqual([]);
    expect(report.dry_run).toBe(false);
    expect(report.summary).toEqual({
      created: 3,
      updated: 0,
      unchanged: 0,
      assignments_added: 3,
      assignments_removed: 0,
    });
    const ids = await Promise.all(['tenant-isolation', 'mask-ssn', 'hide-cards'].map(policyId));
    expect(report.policies).toEqual([
      { name: 'tenant-isolation', action: 'created', id: ids[0], version: 4 },
      { name: 'mask-ssn', action: 'created', id: ids[1], version: 1 },
      { name: 'hide-cards', action: 'created', id: ids[2], version: 1 },
    ]);

    const tenant = await getPolicy(t.store.db, ids[0]!);
    expect(tenant).toMatchObject({
      description: 'Filter rows by tenant',
      definition: { filter_expression: 'org = {user.tenant}' },
      decision_function_id: named.businessHours,
      is_enabled: true,
      version: 4,
    });
    const scopes = tenant.assignments!.map((a) => [
      a.datasource_name,
      a.assignment_scope,
      a.user_id,
      a.role_id,
      a.priority,
    ]);
    expect(scopes.sort()).toEqual(
      [
        ['prod', 'all', null, null, 100],
        ['staging', 'role', null, named.analysts, 7],
        ['staging', 'user', named.alice, null, 50],
      ].sort(),
    );
    expect((await getPolicy(t.store.db, ids[2]!)).is_enabled).toBe(false);
    const versions = await listPolicyVersions(t.store.db, ids[0]!);
    expect(versions.map((v) => [v.version, v.change_type])).toEqual([
      [1, 'create'],
      [2, 'assignment_change'],
      [3, 'assignment_change'],
      [4, 'assignment_change'],
    ]);
    expect(versions[0]!.snapshot.assignments).toEqual([]);

    const audit = await auditSince(t.store, before);
    expect(audit.map((a) => [a.action, a.resource_id])).toEqual([
      ['create', ids[0]],
      ['assign', ids[0]],
      ['assign', ids[0]],
      ['assign', ids[0]],
      ['create', ids[1]],
      ['create', ids[2]],
    ]);
    expect(audit.every((a) => a.actor_id === ADMIN && a.resource_type === 'policy')).toBe(true);
    expect(audit[0]!.changes).toEqual({
      after: {
        name: 'tenant-isolation',
        description: 'Filter rows by tenant',
        policy_type: 'row_filter',
        targets: [{ schemas: ['*'], tables: ['*'] }],
        is_enabled: true,
        decision_function_id: named.businessHours,
      },
    });
    expect(audit[2]!.changes).toMatchObject({ scope: 'user', user_id: named.alice, priority: 50 });
  });

  it('re-importing the same document changes nothing: no version bump, no audit row', async () => {
    await run(BASE);
    const counts = await writeCounts(t.store);
    const versions = await t.store.db
      .selectFrom('policy')
      .select(['name', 'version', 'updated_at'])
      .execute();
    for (const dryRun of [true, false]) {
      const report = await run(BASE, dryRun);
      expect(report.dry_run).toBe(dryRun);
      expect(report.summary).toEqual({
        created: 0,
        updated: 0,
        unchanged: 3,
        assignments_added: 0,
        assignments_removed: 0,
      });
      expect(report.policies.map((p) => [p.name, p.action, p.version])).toEqual([
        ['tenant-isolation', 'unchanged', undefined],
        ['mask-ssn', 'unchanged', undefined],
        ['hide-cards', 'unchanged', undefined],
      ]);
      expect(report.policies.every((p) => typeof p.id === 'string')).toBe(true);
    }
    expect(await writeCounts(t.store)).toEqual(counts);
    expect(await t.store.db.selectFrom('policy').select(['name', 'version', 'updated_at']).execute()).toEqual(
      versions,
    );
  });

  it('updates changed fields with one PUT and reconciles assignments', async () => {
    await run(BASE);
    const tenant = await policyId('tenant-isolation');
    const before = (await writeCounts(t.store)).admin_audit_log!;
    const changed = edit(
      `      - datasource: staging
        user: alice
        priority: 50
      - datasource: staging
        role: analysts
        priority: 7`,
      `      - datasource: staging
        role: analysts
        priority: 8
      - datasource: prod
        user: bob`,
      edit('org = {user.tenant}', 'org = {user.tenant} AND deleted IS NULL'),
    );
    const report = await run(changed);
    expect(report.errors).toEqual([]);
    expect(report.summary).toEqual({
      created: 0,
      updated: 1,
      unchanged: 2,
      assignments_added: 1,
      assignments_removed: 1,
    });
    // 4 → PUT 5 → unassign alice 6 → priority 7 → assign bob 8
    expect(report.policies[0]).toEqual({
      name: 'tenant-isolation',
      action: 'updated',
      id: tenant,
      version: 8,
    });
    const audit = await auditSince(t.store, before);
    expect(audit.map((a) => a.action)).toEqual(['update', 'unassign', 'update_assignment', 'assign']);
    expect(audit[0]!.changes).toEqual({
      before: { version: 4 },
      after: { version: 5, definition_changed: true },
    });
    expect(audit[1]!.changes).toMatchObject({
      scope: 'user',
      user_id: named.alice,
      datasource_id: named.staging,
    });
    expect(audit[2]!.changes).toMatchObject({
      scope: 'role',
      role_id: named.analysts,
      before: { priority: 7 },
      after: { priority: 8 },
    });
    expect(audit[3]!.changes).toMatchObject({ scope: 'user', user_id: named.bob, datasource_id: named.prod });
    const policy = await getPolicy(t.store.db, tenant);
    expect(policy.definition).toEqual({ filter_expression: 'org = {user.tenant} AND deleted IS NULL' });
    expect(policy.assignments!.map((a) => [a.username ?? a.role_name ?? 'all', a.priority]).sort()).toEqual(
      [
        ['all', 100],
        ['analysts', 8],
        ['bob', 100],
      ].sort(),
    );
    const last = (await listPolicyVersions(t.store.db, tenant)).at(-1)!;
    expect(last).toMatchObject({ version: 8, change_type: 'assignment_change' });
  });

  it('records every changed field, clears a dropped description and detaches a dropped function', async () => {
    await run(BASE);
    const tenant = await policyId('tenant-isolation');
    const before = (await writeCounts(t.store)).admin_audit_log!;
    let changed = edit('    description: Filter rows by tenant\n', '');
    changed = edit('    decision_function: business-hours\n', '    is_enabled: false\n', changed);
    changed = edit(
      '      - schemas: ["*"]\n        tables: ["*"]',
      '      - schemas: [sales]\n        tables: ["*"]',
      changed,
    );
    const report = await run(changed);
    expect(report.policies[0]).toMatchObject({ action: 'updated', version: 5 });
    const [update, ...rest] = await auditSince(t.store, before);
    expect(rest).toEqual([]);
    expect(update!.changes).toEqual({
      before: {
        is_enabled: true,
        targets: [{ schemas: ['*'], tables: ['*'] }],
        decision_function_id: named.businessHours,
        version: 4,
        description: 'Filter rows by tenant',
      },
      after: {
        is_enabled: false,
        targets: [{ schemas: ['sales'], tables: ['*'] }],
        decision_function_id: null,
        version: 5,
        description: null,
      },
    });
    const policy = await getPolicy(t.store.db, tenant);
    expect(policy).toMatchObject({
      description: null,
      is_enabled: false,
      targets: [{ schemas: ['sales'], tables: ['*'] }],
    });
    expect(policy).not.toHaveProperty('decision_function_id');
  });

  it('leaves assignments alone without the key and removes them all with []', async () => {
    await run(BASE);
    const tenant = await policyId('tenant-isolation');
    const keyless = edit(
      `    assignments:
      - datasource: prod
      - datasource: staging
        user: alice
        priority: 50
      - datasource: staging
        role: analysts
        priority: 7
`,
      '',
    );
    expect((await run(keyless)).summary).toMatchObject({ unchanged: 3, assignments_removed: 0 });
    expect((await getPolicy(t.store.db, tenant)).assignments).toHaveLength(3);

    const emptied = edit('  - name: mask-ssn', '    assignments: []\n  - name: mask-ssn', keyless);
    const report = await run(emptied);
    expect(report.summary).toMatchObject({ updated: 1, unchanged: 2, assignments_removed: 3 });
    expect(report.policies[0]).toMatchObject({ action: 'updated', version: 7 });
    expect((await getPolicy(t.store.db, tenant)).assignments).toEqual([]);
  });

  it('changes the policy type with the definition of the new type', async () => {
    await run(BASE);
    const toMask = edit(
      `    policy_type: row_filter
    description: Filter rows by tenant
    targets:
      - schemas: ["*"]
        tables: ["*"]
    definition:
      filter_expression: "org = {user.tenant}"`,
      `    policy_type: column_mask
    description: Filter rows by tenant
    targets:
      - schemas: ["*"]
        tables: ["*"]
        columns: [org]
    definition:
      mask_expression: "'x'"`,
    );
    const report = await run(toMask);
    expect(report.errors).toEqual([]);
    const policy = await getPolicy(t.store.db, await policyId('tenant-isolation'));
    expect(policy).toMatchObject({
      policy_type: 'column_mask',
      definition: { mask_expression: "'x'" },
      version: 5,
    });
  });

  it('reports every unresolved name and invalid expression with its field, writing nothing', async () => {
    await run(BASE);
    const counts = await writeCounts(t.store);
    let broken = edit('      - datasource: prod\n', '      - datasource: production\n');
    broken = edit('        user: alice', '        user: Alice', broken);
    broken = edit('        role: analysts', '        role: analyst', broken);
    broken = edit('decision_function: business-hours', 'decision_function: office-hours', broken);
    broken = edit(`"'***-**-' || RIGHT(ssn, 4)"`, `"(SELECT ssn FROM secrets)"`, broken);
    broken = edit('    is_enabled: false', '    is_enabled: false\n    colour: red', broken);
    broken += `  - name: new-one
    policy_type: table_deny
    targets:
      - schemas: [public]
        tables: [audit]
    assignments:
      - datasource: prod
`;
    for (const dryRun of [false, true]) {
      const report = await run(broken, dryRun);
      expect(report.dry_run).toBe(dryRun);
      expect(report.errors).toEqual([
        {
          index: 0,
          name: 'tenant-isolation',
          field: 'decision_function',
          error: "Decision function 'office-hours' not found",
        },
        {
          index: 0,
          name: 'tenant-isolation',
          field: 'assignments[0].datasource',
          error: "Data source 'production' not found",
        },
        { index: 0, name: 'tenant-isolation', field: 'assignments[1].user', error: "User 'Alice' not found" },
        {
          index: 0,
          name: 'tenant-isolation',
          field: 'assignments[2].role',
          error: "Role 'analyst' not found",
        },
        {
          index: 1,
          name: 'mask-ssn',
          field: 'definition.mask_expression',
          error: expect.stringMatching(/^Invalid mask expression: /) as string,
        },
        { index: 2, name: 'hide-cards', field: 'colour', error: "Unknown key 'colour'" },
      ]);
      // What would have happened for the entries that could be planned.
      expect(report.policies.map((p) => [p.name, p.action, p.id === null])).toEqual([
        ['tenant-isolation', 'unchanged', false],
        ['mask-ssn', 'updated', false],
        ['new-one', 'created', true],
      ]);
      expect(report.policies[2]!.version).toBe(2);
    }
    expect(await writeCounts(t.store)).toEqual(counts);
  });

  it('is atomic: a valid entry before an invalid one is not written', async () => {
    const text = `version: 1
policies:
  - name: good
    policy_type: table_deny
    targets: [{schemas: [public], tables: [t]}]
    assignments: [{datasource: prod}]
  - name: bad
    policy_type: row_filter
    targets: [{schemas: [public], tables: [t]}]
    definition: {filter_expression: "lower(name) = 'x'"}
`;
    const counts = await writeCounts(t.store);
    const report = await run(text);
    expect(report.errors).toEqual([
      {
        index: 1,
        name: 'bad',
        field: 'definition.filter_expression',
        error: expect.stringMatching(/^Invalid filter expression: /) as string,
      },
    ]);
    expect(report.policies).toEqual([
      { name: 'good', action: 'created', id: null, version: 2 },
      { name: 'bad', action: 'created', id: null, version: 1 },
    ]);
    expect(await writeCounts(t.store)).toEqual(counts);
  });

  it('dry run reports what would happen, with versions, and writes nothing', async () => {
    const counts = await writeCounts(t.store);
    const report = await run(BASE, true);
    expect(report).toEqual({
      dry_run: true,
      summary: { created: 3, updated: 0, unchanged: 0, assignments_added: 3, assignments_removed: 0 },
      policies: [
        { name: 'tenant-isolation', action: 'created', id: null, version: 4 },
        { name: 'mask-ssn', action: 'created', id: null, version: 1 },
        { name: 'hide-cards', action: 'created', id: null, version: 1 },
      ],
      errors: [],
    });
    expect(await writeCounts(t.store)).toEqual(counts);

    await run(BASE);
    const after = await writeCounts(t.store);
    const update = await run(edit('priority: 50', 'priority: 51'), true);
    expect(update.policies[0]).toMatchObject({ action: 'updated', version: 5 });
    expect(await writeCounts(t.store)).toEqual(after);
  });

  it.each([
    ['not YAML', 'version: 1\npolicies: [', /^Invalid YAML: /],
    ['not a mapping', '- 1\n- 2', /^Policy document must be a YAML mapping$/],
    ['wrong version', 'version: 2\npolicies: []', /^Unsupported policy document version 2/],
    ['no version', 'policies: []', /^Missing 'version'/],
    ['no policies', 'version: 1', /^Missing 'policies'$/],
  ])('rejects a document that is %s as a 400-class error', async (_, text, message) => {
    for (const dryRun of [false, true]) {
      const error = await run(text, dryRun).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PolicyDocumentRejected);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('accepts an empty policy list as a no-op', async () => {
    const report = await run('version: 1\npolicies: []\n');
    expect(report).toEqual({
      dry_run: false,
      summary: { created: 0, updated: 0, unchanged: 0, assignments_added: 0, assignments_removed: 0 },
      policies: [],
      errors: [],
    });
  });
});

describe.each(STORE_ENGINES)('policy YAML import with a stale plan on %s', (engine) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(engine);
    await seedNamedEntities(t.store);
  });
  afterEach(async () => t.dispose());

  it('turns a repository refusal into an error on the entry field (concurrent change)', async () => {
    await importPolicies(t.store, ADMIN, BASE);
    const [plan] = (
      await planImport(t.store.db, [{ index: 4, entry: parsedEntry(edit('priority: 7', 'priority: 9')) }])
    ).plans;
    // Another admin changes the policy between planning and applying: the PUT's version no longer matches.
    plan!.patch = { version: 1, is_enabled: false };
    const failure = await inTx(t.store, (tx) => applyPlan(tx, plan!)).then(
      () => undefined,
      (error: unknown) => failureOf(plan!, error),
    );
    expect(failure).toEqual({
      index: 4,
      name: 'tenant-isolation',
      field: '',
      error: 'Policy version conflict: expected 4, got 1',
    });
    const [stale] = (await planImport(t.store.db, [{ index: 0, entry: parsedEntry(BASE) }])).plans;
    stale!.add = [{ index: 3, dataSourceId: newId(), scope: 'all', userId: null, roleId: null, priority: 1 }];
    const missing = await inTx(t.store, (tx) => applyPlan(tx, stale!)).then(
      () => undefined,
      (error: unknown) => failureOf(stale!, error),
    );
    expect(missing).toMatchObject({ field: 'assignments[3]', error: 'Data source not found' });
  });
});

function parsedEntry(text: string) {
  const parsed = parsePolicyDocument(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.document.policies[0]!;
}
