/**
 * Policy mutations (api-contract §4.10, §5.7, §5.11); reads and the public
 * shape are in policy-read.ts, assignments in policy-assignments.ts.
 *
 * The store checks what it owns — name rule, policy type, that targets is a
 * non-empty array, the decision-function reference, uniqueness and the
 * optimistic-concurrency version — in the contract's order. Full target and
 * definition validation (patterns, expression grammar) belongs to the policy
 * module; it plugs in through `validateShape`, which runs at the contract's
 * step for it and may return a normalised shape to store.
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { ConflictError, InvalidError } from '../repo-errors.js';
import type { Database } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { fromFlag, jsonTextOrNull, parseJson, toFlag } from '../values.js';
import {
  getPolicy,
  getPolicySummary,
  POLICY_TYPES,
  requirePolicyRow,
  type Policy,
  type PolicyType,
} from './policy-read.js';
import { writePolicySnapshot } from './policy-versions.js';

export {
  getPolicy,
  getPolicySummary,
  listPolicies,
  loadEnabledPoliciesForDataSource,
  POLICY_NOT_FOUND,
  POLICY_TYPES,
  requirePolicyRow,
} from './policy-read.js';
export type { DecisionFunctionSummary, EnforcedPolicy, Policy, PolicyType } from './policy-read.js';

/** What the shape validator sees: the final type, targets and definition. */
export interface PolicyShape {
  policy_type: PolicyType;
  targets: unknown[];
  definition: unknown;
}
/** Throws InvalidError on a bad shape; may return a normalised shape to store. */
export type ShapeValidator = (shape: PolicyShape) => PolicyShape | void;

export interface NewPolicy {
  name: string;
  policy_type: string;
  description?: string | null;
  is_enabled?: boolean | null;
  targets: unknown;
  definition?: unknown;
  decision_function_id?: string | null;
}

/** PUT body. `null` = unchanged, except `decision_function_id` where `null` detaches (§1.3). */
export interface PolicyPatch {
  version: number;
  name?: string | null;
  policy_type?: string | null;
  description?: string | null;
  is_enabled?: boolean | null;
  targets?: unknown;
  definition?: unknown;
  decision_function_id?: string | null;
}

const NAME_TAKEN = 'Policy name already exists';
const EXPRESSION_TYPES: readonly string[] = ['row_filter', 'column_mask'];

/** The name rule shared by policies and decision functions (its messages say "Policy name"). */
export function validatePolicyName(name: string): void {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) {
    throw new InvalidError('name', 'Policy name must be between 1 and 100 characters');
  }
  if (trimmed !== name)
    throw new InvalidError('name', 'Policy name must not have leading or trailing whitespace');
  if (!/^[A-Za-z0-9 _\-.:()'"]+$/.test(name))
    throw new InvalidError('name', 'Policy name contains invalid characters');
}

function checkShape(
  shape: { policy_type: string; targets: unknown; definition: unknown },
  validate: ShapeValidator | undefined,
): PolicyShape {
  if (!(POLICY_TYPES as readonly string[]).includes(shape.policy_type)) {
    throw new InvalidError('policy_type', `policy_type must be one of ${POLICY_TYPES.join(', ')}`);
  }
  if (!Array.isArray(shape.targets)) throw new InvalidError('targets', "'targets' must be an array");
  if (shape.targets.length === 0) throw new InvalidError('targets', "'targets' must not be empty");
  const checked = shape as PolicyShape;
  return validate?.(checked) ?? checked;
}

async function checkDecisionFunction(db: Kysely<Database>, id: string | null | undefined): Promise<void> {
  if (id === null || id === undefined) return;
  const found = await db.selectFrom('decision_function').select('id').where('id', '=', id).executeTakeFirst();
  if (!found) {
    throw new InvalidError(
      'decision_function_id',
      'decision_function_id references a non-existent decision function',
    );
  }
}

function rethrowUnique(error: unknown): never {
  if (isUniqueViolation(error)) throw new ConflictError(NAME_TAKEN);
  throw error;
}

/** 201 shape: version 1, no `assignments`; snapshot `create`. */
export async function createPolicy(
  tx: AuditedTx,
  input: NewPolicy,
  options: { validateShape?: ShapeValidator } = {},
): Promise<Policy> {
  validatePolicyName(input.name);
  const shape = checkShape(
    { policy_type: input.policy_type, targets: input.targets, definition: input.definition ?? null },
    options.validateShape,
  );
  await checkDecisionFunction(tx.db, input.decision_function_id);
  const now = nowTimestamp();
  const id = newId();
  await tx.db
    .insertInto('policy')
    .values({
      id,
      name: input.name,
      description: input.description ?? null,
      policy_type: shape.policy_type,
      targets: JSON.stringify(shape.targets),
      // Non-expression types keep a sent definition on create (quirk Q16, replicated).
      definition: jsonTextOrNull(shape.definition),
      is_enabled: toFlag(input.is_enabled ?? true),
      version: 1,
      decision_function_id: input.decision_function_id ?? null,
      created_by: tx.actorId,
      updated_by: tx.actorId,
      created_at: now,
      updated_at: now,
    })
    .execute()
    .catch(rethrowUnique);
  await writePolicySnapshot(tx, id, 'create');
  const created = await getPolicySummary(tx.db, id);
  tx.audit({
    resourceType: 'policy',
    resourceId: id,
    action: 'create',
    changes: {
      after: {
        name: created.name,
        description: created.description,
        policy_type: created.policy_type,
        targets: created.targets,
        is_enabled: created.is_enabled,
        decision_function_id: created.decision_function_id ?? null,
      },
    },
  });
  return created;
}

/**
 * PUT: checks 404 → name → version → shape → decision function → unique.
 * Every successful call bumps the version by one (quirk Q15, replicated);
 * the compare-and-increment is one `UPDATE … WHERE version = ?`, so a
 * concurrent writer that got there first makes this one a 409.
 */
export async function updatePolicy(
  tx: AuditedTx,
  id: string,
  patch: PolicyPatch,
  options: { validateShape?: ShapeValidator } = {},
): Promise<Policy> {
  const stored = await requirePolicyRow(tx.db, id);
  if (patch.name != null) validatePolicyName(patch.name);
  const conflict = (current: number) =>
    new ConflictError(`Policy version conflict: expected ${current}, got ${patch.version}`);
  if (patch.version !== stored.version) throw conflict(stored.version);

  const storedTargets = parseJson<unknown>(stored.targets, []);
  const storedDefinition = parseJson<unknown>(stored.definition, null);
  const definitionSent = patch.definition !== undefined && patch.definition !== null;
  const shape = checkShape(
    {
      policy_type: patch.policy_type ?? stored.policy_type,
      targets: patch.targets ?? storedTargets,
      definition: definitionSent ? patch.definition : storedDefinition,
    },
    options.validateShape,
  );
  await checkDecisionFunction(tx.db, patch.decision_function_id);
  const expression = EXPRESSION_TYPES.includes(shape.policy_type);

  const result = await tx.db
    .updateTable('policy')
    .set({
      name: patch.name ?? stored.name,
      description: patch.description ?? stored.description,
      policy_type: shape.policy_type,
      targets: JSON.stringify(shape.targets),
      // Non-expression types never keep a definition once updated (§4.10 effects).
      definition: expression ? jsonTextOrNull(shape.definition) : null,
      is_enabled: patch.is_enabled == null ? stored.is_enabled : toFlag(patch.is_enabled),
      decision_function_id:
        patch.decision_function_id === undefined ? stored.decision_function_id : patch.decision_function_id,
      version: stored.version + 1,
      updated_by: tx.actorId,
      updated_at: nowTimestamp(),
    })
    .where('id', '=', id)
    .where('version', '=', patch.version)
    .executeTakeFirst()
    .catch(rethrowUnique);
  if (Number(result.numUpdatedRows) === 0) {
    throw conflict((await requirePolicyRow(tx.db, id)).version);
  }
  await writePolicySnapshot(tx, id, 'update');

  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const record = (key: string, old: unknown, next: unknown) => {
    before[key] = old;
    after[key] = next;
  };
  if (patch.name != null) record('name', stored.name, patch.name);
  if (patch.policy_type != null) record('policy_type', stored.policy_type, patch.policy_type);
  if (patch.description != null) record('description', stored.description, patch.description);
  if (patch.is_enabled != null) record('is_enabled', fromFlag(stored.is_enabled), patch.is_enabled);
  // Quirk Q5: BR logs before.targets as JSON text; we log arrays on both sides.
  if (patch.targets != null) record('targets', storedTargets, shape.targets);
  if (patch.decision_function_id !== undefined) {
    record('decision_function_id', stored.decision_function_id, patch.decision_function_id);
  }
  record('version', stored.version, stored.version + 1);
  if (definitionSent && expression) after.definition_changed = true;
  tx.audit({ resourceType: 'policy', resourceId: id, action: 'update', changes: { before, after } });
  return getPolicy(tx.db, id);
}

/**
 * Deletes the policy; assignments and version history go by cascade. The
 * `delete` snapshot is written first as BR does (the cascade removes it).
 * Returns the policy with its former assignments, for invalidation.
 */
export async function deletePolicy(tx: AuditedTx, id: string): Promise<Policy> {
  const policy = await getPolicy(tx.db, id);
  await writePolicySnapshot(tx, id, 'delete');
  await tx.db.deleteFrom('policy').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'policy',
    resourceId: id,
    action: 'delete',
    changes: {
      before: {
        name: policy.name,
        description: policy.description,
        policy_type: policy.policy_type,
        is_enabled: policy.is_enabled,
        version: policy.version,
        decision_function_id: policy.decision_function_id ?? null,
      },
    },
  });
  return policy;
}
