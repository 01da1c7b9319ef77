import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { newId } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createDecisionFunction } from '../../src/store/repos/decision-functions.js';
import { assignPolicy } from '../../src/store/repos/policy-assignments.js';
import {
  createPolicy,
  deletePolicy,
  getPolicy,
  listPolicies,
  updatePolicy,
  type NewPolicy,
} from '../../src/store/repos/policies.js';
import { listPolicyVersions } from '../../src/store/repos/policy-versions.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const TARGETS = [{ schemas: ['public'], tables: ['orders'] }];
const rowFilter = (name: string, extra: Partial<NewPolicy> = {}): NewPolicy => ({
  name,
  policy_type: 'row_filter',
  targets: TARGETS,
  definition: { filter_expression: 'org = {user.tenant}' },
  ...extra,
});

describe.each(STORE_ENGINES)('policies on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const audits = (action: string) =>
    db.selectFrom('admin_audit_log').selectAll().where('action', '=', action).orderBy('created_at').execute();

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
  });
  afterEach(async () => t.dispose());

  it('creates version 1 with a create snapshot and audits without the definition', async () => {
    const p = await tx((x) => createPolicy(x, rowFilter('tenant-isolation', { description: 'per tenant' })));
    expect(p).toMatchObject({
      name: 'tenant-isolation',
      description: 'per tenant',
      policy_type: 'row_filter',
      targets: TARGETS,
      definition: { filter_expression: 'org = {user.tenant}' },
      is_enabled: true,
      version: 1,
      assignment_count: 0,
      created_by: ADMIN,
      updated_by: ADMIN,
    });
    expect(p).not.toHaveProperty('assignments');
    expect(p).not.toHaveProperty('decision_function_id');
    expect(p).not.toHaveProperty('decision_function');
    const versions = await listPolicyVersions(db, p.id);
    expect(versions).toMatchObject([{ version: 1, change_type: 'create', changed_by: ADMIN }]);
    expect(versions[0]?.snapshot).toEqual({
      name: 'tenant-isolation',
      policy_type: 'row_filter',
      targets: TARGETS,
      definition: { filter_expression: 'org = {user.tenant}' },
      decision_function_id: null,
      assignments: [],
    });
    const [audit] = await audits('create');
    expect(audit).toMatchObject({ resource_type: 'policy', resource_id: p.id });
    expect(JSON.parse(audit?.changes ?? '')).toEqual({
      after: {
        name: 'tenant-isolation',
        description: 'per tenant',
        policy_type: 'row_filter',
        targets: TARGETS,
        is_enabled: true,
        decision_function_id: null,
      },
    });
  });

  it.each([
    [{ name: ' padded' }, 'name', 'Policy name must not have leading or trailing whitespace'],
    [{ name: '' }, 'name', 'Policy name must be between 1 and 100 characters'],
    [{ name: 'x'.repeat(101) }, 'name', 'Policy name must be between 1 and 100 characters'],
    [{ name: 'semi;colon' }, 'name', 'Policy name contains invalid characters'],
    [{ policy_type: 'row_mask' }, 'policy_type', undefined],
    [{ targets: [] }, 'targets', "'targets' must not be empty"],
    [{ targets: { schemas: ['*'] } }, 'targets', undefined],
    [
      { decision_function_id: newId() },
      'decision_function_id',
      'decision_function_id references a non-existent decision function',
    ],
  ])('rejects %j', async (override, field, message) => {
    const error = await tx((x) => createPolicy(x, rowFilter('p', override as Partial<NewPolicy>))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidError);
    expect((error as InvalidError).field).toBe(field);
    if (message) expect((error as InvalidError).message).toBe(message);
    expect(await db.selectFrom('policy').select('id').execute()).toHaveLength(0);
  });

  it('accepts the allowed name characters, 409 on a duplicate name, runs and stores the shape hook', async () => {
    await tx((x) => createPolicy(x, rowFilter(`a-b_c.d:e (f) 'g' "h"`)));
    await expect(tx((x) => createPolicy(x, rowFilter(`a-b_c.d:e (f) 'g' "h"`)))).rejects.toThrow(
      new ConflictError('Policy name already exists'),
    );
    const seen: unknown[] = [];
    const normalised = await tx((x) =>
      createPolicy(x, rowFilter('hooked', { targets: [{ schemas: ['s'], tables: ['t'], junk: 1 }] }), {
        validateShape: (shape) => {
          seen.push(shape);
          return { ...shape, targets: [{ schemas: ['s'], tables: ['t'] }] };
        },
      }),
    );
    expect(seen).toEqual([
      {
        policy_type: 'row_filter',
        targets: [{ schemas: ['s'], tables: ['t'], junk: 1 }],
        definition: { filter_expression: 'org = {user.tenant}' },
      },
    ]);
    expect(normalised.targets).toEqual([{ schemas: ['s'], tables: ['t'] }]);
    const refused = tx((x) =>
      createPolicy(x, rowFilter('refused'), {
        validateShape: () => {
          throw new InvalidError('definition', 'row_filter: missing required field');
        },
      }),
    );
    await expect(refused).rejects.toThrow('row_filter: missing required field');
  });

  it('keeps a definition on create for non-expression types (Q16) and nulls it on update', async () => {
    const p = await tx((x) =>
      createPolicy(x, { name: 'deny', policy_type: 'table_deny', targets: TARGETS, definition: { x: 1 } }),
    );
    expect(p.definition).toEqual({ x: 1 });
    const updated = await tx((x) => updatePolicy(x, p.id, { version: 1 }));
    expect(updated).toMatchObject({ definition: null, version: 2, assignments: [] });
  });

  it('updates with optimistic concurrency, bumps on every PUT and snapshots with assignments', async () => {
    const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };
    const ds = await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }));
    const p = await tx((x) => createPolicy(x, rowFilter('p1')));
    await tx((x) => assignPolicy(x, { policy_id: p.id, data_source_id: ds.id, priority: 5 })); // → v2

    await expect(tx((x) => updatePolicy(x, p.id, { version: 1, name: 'p2' }))).rejects.toThrow(
      new ConflictError('Policy version conflict: expected 2, got 1'),
    );
    await expect(tx((x) => updatePolicy(x, newId(), { version: 1 }))).rejects.toThrow(
      new NotFoundError('Policy not found'),
    );
    // Name rule is checked before the version (§4.10 order).
    await expect(tx((x) => updatePolicy(x, p.id, { version: 1, name: ' bad' }))).rejects.toThrow(
      InvalidError,
    );

    const updated = await tx((x) =>
      updatePolicy(x, p.id, {
        version: 2,
        name: 'p2',
        description: null,
        is_enabled: false,
        targets: [{ schemas: ['*'], tables: ['orders'] }],
        definition: { filter_expression: '1=1' },
      }),
    );
    expect(updated).toMatchObject({
      name: 'p2',
      description: null,
      is_enabled: false,
      version: 3,
      definition: { filter_expression: '1=1' },
      assignment_count: 1,
    });
    expect(updated.assignments).toHaveLength(1);
    const [audit] = await audits('update');
    expect(JSON.parse(audit?.changes ?? '')).toEqual({
      before: { name: 'p1', is_enabled: true, targets: TARGETS, version: 2 },
      after: {
        name: 'p2',
        is_enabled: false,
        targets: [{ schemas: ['*'], tables: ['orders'] }],
        version: 3,
        definition_changed: true,
      },
    });
    expect(JSON.stringify(audit)).not.toContain('1=1');

    expect((await tx((x) => updatePolicy(x, p.id, { version: 3 }))).version).toBe(4); // Q15
    const versions = await listPolicyVersions(db, p.id);
    expect(versions.map((v) => [v.version, v.change_type])).toEqual([
      [1, 'create'],
      [2, 'assignment_change'],
      [3, 'update'],
      [4, 'update'],
    ]);
    expect(versions[2]?.snapshot.assignments).toEqual([
      {
        id: updated.assignments?.[0]?.id,
        data_source_id: ds.id,
        user_id: null,
        role_id: null,
        assignment_scope: 'all',
        priority: 5,
      },
    ]);
  });

  it('changing to a type with a stale definition goes through the shape hook with the stored definition', async () => {
    const p = await tx((x) => createPolicy(x, rowFilter('p1')));
    const seen: unknown[] = [];
    await tx((x) =>
      updatePolicy(
        x,
        p.id,
        { version: 1, policy_type: 'column_mask' },
        { validateShape: (s) => void seen.push(s) },
      ),
    );
    expect(seen).toEqual([
      {
        policy_type: 'column_mask',
        targets: TARGETS,
        definition: { filter_expression: 'org = {user.tenant}' },
      },
    ]);
  });

  it('attaches, summarises and detaches a decision function (tri-state)', async () => {
    const fn = await tx((x) =>
      createDecisionFunction(x, cipher, {
        name: 'gate',
        decision_fn: 'function evaluate() { return { fire: true }; }',
        evaluate_context: 'session',
      }),
    );
    const p = await tx((x) => createPolicy(x, rowFilter('p1', { decision_function_id: fn.id })));
    expect(p.decision_function_id).toBe(fn.id);
    expect(p.decision_function).toEqual({
      id: fn.id,
      name: 'gate',
      is_enabled: true,
      evaluate_context: 'session',
    });
    const kept = await tx((x) => updatePolicy(x, p.id, { version: 1, decision_function_id: undefined }));
    expect(kept.decision_function_id).toBe(fn.id);
    const detached = await tx((x) => updatePolicy(x, p.id, { version: 2, decision_function_id: null }));
    expect(detached).not.toHaveProperty('decision_function_id');
    expect(detached).not.toHaveProperty('decision_function');
    const updates = await audits('update');
    expect(JSON.parse(updates[1]?.changes ?? '')).toEqual({
      before: { decision_function_id: fn.id, version: 2 },
      after: { decision_function_id: null, version: 3 },
    });
  });

  it('lists with pagination, counts and search; gets with assignments', async () => {
    for (const name of ['alpha', 'beta', 'Gamma']) await tx((x) => createPolicy(x, rowFilter(name)));
    const page = await listPolicies(db, { page: -3, pageSize: 2 });
    expect(page).toMatchObject({ total: 3, page: 1, page_size: 2 });
    expect(page.data.map((p) => p.name)).toEqual(['alpha', 'beta']);
    expect(page.data[0]).not.toHaveProperty('assignments');
    expect(page.data[0]?.assignment_count).toBe(0);
    expect(await listPolicies(db, { pageSize: 0 })).toEqual({ data: [], total: 3, page: 1, page_size: 0 });
    expect(await listPolicies(db, { pageSize: 101 })).toMatchObject({ page_size: 100 });
    const search = await listPolicies(db, { search: 'gAm' });
    expect(search.data.map((p) => p.name)).toEqual(['Gamma']);
    expect(search.total).toBe(1);
    const one = await getPolicy(db, page.data[0]?.id as string);
    expect(one.assignments).toEqual([]);
    await expect(getPolicy(db, newId())).rejects.toThrow('Policy not found');
  });

  it('deletes with a before audit; history goes by cascade', async () => {
    const p = await tx((x) => createPolicy(x, rowFilter('doomed', { is_enabled: false })));
    const deleted = await tx((x) => deletePolicy(x, p.id));
    expect(deleted.assignments).toEqual([]);
    await expect(getPolicy(db, p.id)).rejects.toThrow(NotFoundError);
    expect(await listPolicyVersions(db, p.id)).toEqual([]);
    const [audit] = await audits('delete');
    expect(JSON.parse(audit?.changes ?? '')).toEqual({
      before: {
        name: 'doomed',
        description: null,
        policy_type: 'row_filter',
        is_enabled: false,
        version: 1,
        decision_function_id: null,
      },
    });
    await expect(tx((x) => deletePolicy(x, p.id))).rejects.toThrow(NotFoundError);
  });
});
