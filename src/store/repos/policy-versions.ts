/**
 * Policy version bookkeeping (api-contract §1.11 POLICY-BUMP, §5.7, §5.11).
 *
 * Every change to a policy or its assignments writes a `policy_version`
 * snapshot of the policy as it is after the change, assignments included,
 * inside the mutating transaction. The version counter is the optimistic
 * concurrency token of `PUT /policies/{id}` and the key of compiled-plan
 * caches, so assignment changes bump it too.
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { newId } from '../ids.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { parseJson } from '../values.js';

export type PolicyChangeType = 'create' | 'update' | 'delete' | 'assignment_change';

/** The §5.7 snapshot document. */
export interface PolicySnapshot {
  name: string;
  policy_type: string;
  targets: unknown;
  definition: unknown;
  decision_function_id: string | null;
  assignments: {
    id: string;
    data_source_id: string;
    user_id: string | null;
    role_id: string | null;
    assignment_scope: string;
    priority: number;
  }[];
}

export interface PolicyVersion {
  id: string;
  policy_id: string;
  version: number;
  snapshot: PolicySnapshot;
  change_type: PolicyChangeType;
  changed_by: string;
  created_at: Timestamp;
}

/** Inserts a snapshot of the policy as currently stored (its current version). */
export async function writePolicySnapshot(
  tx: AuditedTx,
  policyId: string,
  changeType: PolicyChangeType,
): Promise<void> {
  const policy = await tx.db
    .selectFrom('policy')
    .select(['name', 'policy_type', 'targets', 'definition', 'decision_function_id', 'version'])
    .where('id', '=', policyId)
    .executeTakeFirstOrThrow();
  const assignments = await tx.db
    .selectFrom('policy_assignment')
    .select(['id', 'data_source_id', 'user_id', 'role_id', 'assignment_scope', 'priority'])
    .where('policy_id', '=', policyId)
    .orderBy('priority')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const snapshot: PolicySnapshot = {
    name: policy.name,
    policy_type: policy.policy_type,
    targets: parseJson<unknown>(policy.targets, []),
    definition: parseJson<unknown>(policy.definition, null),
    decision_function_id: policy.decision_function_id,
    assignments,
  };
  await tx.db
    .insertInto('policy_version')
    .values({
      id: newId(),
      policy_id: policyId,
      version: policy.version,
      snapshot: JSON.stringify(snapshot),
      change_type: changeType,
      changed_by: tx.actorId,
      created_at: nowTimestamp(),
    })
    .execute();
}

/**
 * POLICY-BUMP for assignment changes: version + 1, updated_by/at refreshed,
 * snapshot `assignment_change`. The increment is a single UPDATE, so it
 * composes with a concurrent PUT's compare-and-increment. Returns the new version.
 */
export async function bumpPolicyVersion(tx: AuditedTx, policyId: string): Promise<number> {
  await tx.db
    .updateTable('policy')
    .set((eb) => ({ version: eb('version', '+', 1), updated_by: tx.actorId, updated_at: nowTimestamp() }))
    .where('id', '=', policyId)
    .execute();
  await writePolicySnapshot(tx, policyId, 'assignment_change');
  const { version } = await tx.db
    .selectFrom('policy')
    .select('version')
    .where('id', '=', policyId)
    .executeTakeFirstOrThrow();
  return version;
}

/** The version history, oldest first (not exposed by BR's API; for YAML export, tests and support). */
export async function listPolicyVersions(db: Kysely<Database>, policyId: string): Promise<PolicyVersion[]> {
  const rows = await db
    .selectFrom('policy_version')
    .selectAll()
    .where('policy_id', '=', policyId)
    .orderBy('version')
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({
    ...r,
    snapshot: parseJson<PolicySnapshot>(r.snapshot, {} as PolicySnapshot),
    change_type: r.change_type as PolicyChangeType,
  }));
}
