/**
 * Executing half of the policy YAML import (./yaml-import.ts): performs one
 * planned entry (./yaml-import-plan.ts) through the same repository calls as
 * the REST API — createPolicy / updatePolicy with the API's shape validator,
 * unassignPolicy, assignPolicy — and tags any client-facing repository error
 * with the document field it concerns.
 *
 * Two effects have no API call: a priority change updates the assignment row
 * in place (audit action `update_assignment` with before/after priority,
 * version bump), and a description absent from the document clears a stored
 * one (PUT treats `description: null` as "unchanged", §4.10); the clearing
 * is recorded in the PUT's own audit row.
 */
import type { AuditedTx, AuditEntry } from '../store/audited.js';
import { BadRequestError, ConflictError, InvalidError, NotFoundError } from '../store/repo-errors.js';
import { createPolicy, updatePolicy } from '../store/repos/policies.js';
import { assignPolicy, unassignPolicy } from '../store/repos/policy-assignments.js';
import { bumpPolicyVersion } from '../store/repos/policy-versions.js';
import { nowTimestamp } from '../store/time.js';
import type { PolicyDocumentError } from './document.js';
import { validatePolicyShape } from './policy-shape.js';
import type { PolicyPlan, StoredAssignment } from './yaml-import-plan.js';

/**
 * Performs one plan: create or PUT, then unassign, re-prioritise, assign.
 * Returns the policy's id and final version; a repository refusal (possible
 * only when a concurrent change made the plan stale) becomes a StepError.
 */
export async function applyPlan(tx: AuditedTx, plan: PolicyPlan): Promise<{ id: string; version: number }> {
  const { entry } = plan;
  let id: string;
  if (!plan.stored) {
    const created = await step('', () =>
      createPolicy(
        tx,
        {
          name: entry.name,
          policy_type: entry.policy_type,
          description: entry.description,
          is_enabled: entry.is_enabled,
          targets: entry.targets,
          definition: entry.definition,
          decision_function_id: plan.decisionFunctionId,
        },
        { validateShape: validatePolicyShape },
      ),
    );
    id = created.id;
  } else {
    id = plan.stored.id;
    if (plan.patch || plan.clearDescription) await step('', () => updateFromPlan(tx, plan, id));
  }
  for (const row of plan.remove)
    await step('assignments', () => unassignPolicy(tx, row.data_source_id, row.id));
  for (const change of plan.reprioritize) {
    await step(`assignments[${change.index}]`, () => reprioritize(tx, id, change.stored, change.priority));
  }
  for (const a of plan.add) {
    await step(`assignments[${a.index}]`, () =>
      assignPolicy(tx, {
        policy_id: id,
        data_source_id: a.dataSourceId,
        scope: a.scope,
        user_id: a.userId,
        role_id: a.roleId,
        priority: a.priority,
      }),
    );
  }
  const { version } = await tx.db
    .selectFrom('policy')
    .select('version')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return { id, version };
}

/** The PUT, plus clearing a description the document dropped, recorded in the PUT's audit row. */
async function updateFromPlan(tx: AuditedTx, plan: PolicyPlan, id: string): Promise<void> {
  const stored = plan.stored!;
  const patch = plan.patch ?? { version: stored.version };
  if (!plan.clearDescription) {
    await updatePolicy(tx, id, patch, { validateShape: validatePolicyShape });
    return;
  }
  const recording: AuditedTx = {
    db: tx.db,
    actorId: tx.actorId,
    audit: (entry: AuditEntry) =>
      tx.audit(entry.action === 'update' ? withClearedDescription(entry, stored.description) : entry),
  };
  await updatePolicy(recording, id, patch, { validateShape: validatePolicyShape });
  await tx.db.updateTable('policy').set({ description: null }).where('id', '=', id).execute();
}

function withClearedDescription(entry: AuditEntry, before: string | null): AuditEntry {
  const changes = entry.changes as { before: Record<string, unknown>; after: Record<string, unknown> };
  return {
    ...entry,
    changes: {
      before: { ...changes.before, description: before },
      after: { ...changes.after, description: null },
    },
  };
}

/** A priority change keeps the assignment (same id), like an update would; bumps the version (§5.11). */
async function reprioritize(
  tx: AuditedTx,
  policyId: string,
  row: StoredAssignment,
  priority: number,
): Promise<void> {
  await tx.db
    .updateTable('policy_assignment')
    .set({ priority, updated_at: nowTimestamp() })
    .where('id', '=', row.id)
    .execute();
  await bumpPolicyVersion(tx, policyId);
  tx.audit({
    resourceType: 'policy',
    resourceId: policyId,
    action: 'update_assignment',
    changes: {
      assignment_id: row.id,
      datasource_id: row.data_source_id,
      scope: row.assignment_scope,
      user_id: row.user_id,
      role_id: row.role_id,
      before: { priority: row.priority },
      after: { priority },
    },
  });
}

/** Tags a client-facing repository error with the document field it concerns. */
class StepError extends Error {
  constructor(
    readonly field: string,
    original: Error,
  ) {
    super(original.message);
  }
}

async function step<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const clientError =
      error instanceof InvalidError ||
      error instanceof ConflictError ||
      error instanceof NotFoundError ||
      error instanceof BadRequestError;
    if (!clientError) throw error;
    let path = field;
    if (error instanceof InvalidError) {
      const inner = error.field === 'decision_function_id' ? 'decision_function' : error.field;
      path = field === '' ? inner : `${field}.${inner}`;
    }
    throw new StepError(path, error);
  }
}

/** The report entry for a StepError; anything else is not a client error and is rethrown. */
export function failureOf(plan: PolicyPlan, error: unknown): PolicyDocumentError {
  if (!(error instanceof StepError)) throw error;
  return { index: plan.index, name: plan.entry.name, field: error.field, error: error.message };
}
