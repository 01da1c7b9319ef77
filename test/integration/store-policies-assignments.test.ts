import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { newId } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import { BadRequestError, createDataSource } from '../../src/store/repos/datasources.js';
import {
  assignPolicy,
  listAssignmentsForDataSource,
  unassignPolicy,
  type NewAssignment,
} from '../../src/store/repos/policy-assignments.js';
import {
  createPolicy,
  getPolicy,
  loadEnabledPoliciesForDataSource,
  updatePolicy,
} from '../../src/store/repos/policies.js';
import { listPolicyVersions } from '../../src/store/repos/policy-versions.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const TS = '2026-01-01T00:00:00.000000';
const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };

describe.each(STORE_ENGINES)('policy assignments on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  let dsId: string;
  let otherDsId: string;
  let policyId: string;
  let userId: string;
  let roleId: string;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const assign = (input: Partial<NewAssignment>) =>
    tx((x) => assignPolicy(x, { policy_id: policyId, data_source_id: dsId, ...input }));

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
    dsId = (await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
    otherDsId = (await tx((x) => createDataSource(x, cipher, { name: 'crm', ds_type: 'postgres', config })))
      .id;
    policyId = (
      await tx((x) =>
        createPolicy(x, {
          name: 'deny-ssn',
          policy_type: 'column_deny',
          targets: [{ schemas: ['*'], tables: ['*'], columns: ['ssn'] }],
        }),
      )
    ).id;
    userId = newId();
    await db
      .insertInto('proxy_user')
      .values({
        id: userId,
        username: 'alice',
        password_hash: 'placeholder-hash',
        scram_verifier: 'placeholder-verifier',
        password_changed_at: TS,
        created_at: TS,
        updated_at: TS,
      })
      .execute();
    roleId = newId();
    await db
      .insertInto('role')
      .values({ id: roleId, name: 'analysts', description: null, created_at: TS, updated_at: TS })
      .execute();
  });
  afterEach(async () => t.dispose());

  it('assigns with inferred scopes, names joined, priority order, version bump, snapshot and audit', async () => {
    const all = await assign({ priority: 50 });
    const user = await assign({ user_id: userId, priority: -1 });
    const role = await assign({ role_id: roleId });
    expect(all).toMatchObject({ assignment_scope: 'all', user_id: null, role_id: null, priority: 50 });
    expect(user).toMatchObject({
      policy_id: policyId,
      policy_name: 'deny-ssn',
      data_source_id: dsId,
      datasource_name: 'shop',
      user_id: userId,
      username: 'alice',
      role_id: null,
      role_name: null,
      assignment_scope: 'user',
      priority: -1,
    });
    expect(role).toMatchObject({
      assignment_scope: 'role',
      role_id: roleId,
      role_name: 'analysts',
      priority: 100,
    });

    const listed = await listAssignmentsForDataSource(db, dsId);
    expect(listed.map((a) => a.id)).toEqual([user.id, all.id, role.id]);
    expect(await listAssignmentsForDataSource(db, otherDsId)).toEqual([]);
    await expect(listAssignmentsForDataSource(db, newId())).rejects.toThrow('Data source not found');

    const policy = await getPolicy(db, policyId);
    expect(policy).toMatchObject({ version: 4, assignment_count: 3, updated_by: ADMIN });
    const versions = await listPolicyVersions(db, policyId);
    expect(versions.map((v) => v.change_type)).toEqual([
      'create',
      'assignment_change',
      'assignment_change',
      'assignment_change',
    ]);
    expect(versions[3]?.snapshot.assignments.map((a) => a.id)).toEqual([user.id, all.id, role.id]);

    const audit = await db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'assign')
      .orderBy('created_at')
      .execute();
    expect(audit.map((a) => [a.resource_type, a.resource_id])).toEqual([
      ['policy', policyId],
      ['policy', policyId],
      ['policy', policyId],
    ]);
    expect(JSON.parse(audit[1]?.changes ?? '')).toEqual({
      assignment_id: user.id,
      datasource_id: dsId,
      scope: 'user',
      user_id: userId,
      role_id: null,
      priority: -1,
    });
  });

  it.each([
    [{ scope: 'user' }, "scope 'user' requires user_id"],
    [{ scope: 'user', user_id: 'u', role_id: 'r' }, "scope 'user' must not have role_id"],
    [{ scope: 'role' }, "scope 'role' requires role_id"],
    [{ user_id: 'u', role_id: 'r' }, "scope 'role' must not have user_id"],
    [{ scope: 'all', user_id: 'u' }, "scope 'all' must not have user_id or role_id"],
    [{ scope: 'everyone' }, "scope must be 'user', 'role', or 'all'"],
  ])('rejects inconsistent scope %j with a 400-class error', async (input, message) => {
    const error = await assign(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toBe(message);
  });

  it('checks data source, policy, role and priority; refuses duplicates of every scope', async () => {
    await expect(
      tx((x) => assignPolicy(x, { policy_id: policyId, data_source_id: newId() })),
    ).rejects.toThrow(new NotFoundError('Data source not found'));
    await expect(assign({ policy_id: newId() })).rejects.toThrow(new NotFoundError('Policy not found'));
    await expect(assign({ role_id: newId() })).rejects.toThrow(new NotFoundError('Role not found'));
    await expect(assign({ priority: 2 ** 31 })).rejects.toThrow(InvalidError);

    await assign({});
    await expect(assign({})).rejects.toThrow(
      new ConflictError('This policy is already assigned to this datasource for all users'),
    );
    await assign({ user_id: userId });
    await expect(assign({ user_id: userId })).rejects.toThrow(
      new ConflictError('This policy assignment already exists'),
    );
    await assign({ role_id: roleId });
    await expect(assign({ role_id: roleId })).rejects.toThrow(
      new ConflictError('This policy assignment already exists'),
    );
    // Same user on another data source is a different assignment; unknown user ids are stored (Q9).
    await tx((x) => assignPolicy(x, { policy_id: policyId, data_source_id: otherDsId, user_id: userId }));
    const ghost = await assign({ user_id: newId() });
    expect(ghost.username).toBeNull();
    expect((await getPolicy(db, policyId)).version).toBe(6);
  });

  it('unassigns only through its own data source (Q11), bumping and auditing', async () => {
    const a = await assign({ role_id: roleId, priority: 7 });
    await expect(tx((x) => unassignPolicy(x, otherDsId, a.id))).rejects.toThrow(
      new NotFoundError('Assignment not found'),
    );
    await expect(tx((x) => unassignPolicy(x, newId(), a.id))).rejects.toThrow('Data source not found');
    const removed = await tx((x) => unassignPolicy(x, dsId, a.id));
    expect(removed.id).toBe(a.id);
    expect(await listAssignmentsForDataSource(db, dsId)).toEqual([]);
    const policy = await getPolicy(db, policyId);
    expect(policy).toMatchObject({ version: 3, assignment_count: 0 });
    const versions = await listPolicyVersions(db, policyId);
    expect(versions.at(-1)).toMatchObject({ version: 3, change_type: 'assignment_change' });
    expect(versions.at(-1)?.snapshot.assignments).toEqual([]);
    const audit = await db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'unassign')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ resource_type: 'policy', resource_id: policyId });
    expect(JSON.parse(audit.changes ?? '')).toEqual({
      assignment_id: a.id,
      datasource_id: dsId,
      scope: 'role',
      user_id: null,
      role_id: roleId,
    });
    await expect(tx((x) => unassignPolicy(x, dsId, a.id))).rejects.toThrow('Assignment not found');
  });

  it('loads enabled policies with their assignments for the policy engine', async () => {
    const a1 = await assign({ role_id: roleId, priority: 9 });
    const a2 = await assign({ user_id: userId, priority: 3 });
    const filter = await tx((x) =>
      createPolicy(x, {
        name: 'tenant',
        policy_type: 'row_filter',
        targets: [{ schemas: ['public'], tables: ['orders'] }],
        definition: { filter_expression: 'org = {user.tenant}' },
        is_enabled: false,
      }),
    );
    await tx((x) => assignPolicy(x, { policy_id: filter.id, data_source_id: dsId }));
    await tx((x) => assignPolicy(x, { policy_id: policyId, data_source_id: otherDsId }));

    const loaded = await loadEnabledPoliciesForDataSource(db, dsId);
    expect(loaded).toEqual([
      {
        id: policyId,
        name: 'deny-ssn',
        policy_type: 'column_deny',
        targets: [{ schemas: ['*'], tables: ['*'], columns: ['ssn'] }],
        definition: null,
        version: 4, // three assignments, one of them on the other data source
        decision_function_id: null,
        assignments: [
          { id: a2.id, assignment_scope: 'user', user_id: userId, role_id: null, priority: 3 },
          { id: a1.id, assignment_scope: 'role', user_id: null, role_id: roleId, priority: 9 },
        ],
      },
    ]);
    await tx((x) => updatePolicy(x, filter.id, { version: 2, is_enabled: true }));
    expect((await loadEnabledPoliciesForDataSource(db, dsId)).map((p) => p.name)).toEqual([
      'deny-ssn',
      'tenant',
    ]);
  });
});
