/**
 * Planning half of the policy YAML import (api-contract §7.4): for each valid
 * document entry, resolve its names, validate it with the API's shape rules
 * (./policy-shape.ts) and work out what differs from the stored policy — the
 * update to send, the assignments to add, remove or re-prioritise. Reads
 * only; ./yaml-import.ts executes the plan through the repositories.
 *
 * "Differs" compares what the export writes, so an export imported back is
 * all `unchanged`: targets in their normalised form, definitions only for
 * row_filter / column_mask (other types' stray stored definitions are not
 * part of the document), assignments by data source + scope + user/role.
 */
import type { Kysely } from 'kysely';
import { InvalidError } from '../store/repo-errors.js';
import type { PolicyPatch } from '../store/repos/policies.js';
import type { Database, PolicyRow } from '../store/schema.js';
import { fromFlag, parseJson } from '../store/values.js';
import type { AssignmentScope, PolicyDocumentEntry, PolicyDocumentError } from './document.js';
import { validatePolicyShape } from './policy-shape.js';
import { loadNameDirectory, type NameDirectory } from './yaml-names.js';

export interface PlannedAssignment {
  /** Position in the entry's `assignments` (for error paths). */
  index: number;
  dataSourceId: string;
  scope: AssignmentScope;
  userId: string | null;
  roleId: string | null;
  priority: number;
}

export interface StoredAssignment {
  id: string;
  data_source_id: string;
  assignment_scope: string;
  user_id: string | null;
  role_id: string | null;
  priority: number;
}

export interface PolicyPlan {
  /** Position in the document's `policies`. */
  index: number;
  entry: PolicyDocumentEntry;
  decisionFunctionId: string | null;
  /** The policy of that name, if one exists. */
  stored: PolicyRow | undefined;
  /** PUT body for a stored policy whose fields differ (version = stored version); null = none. */
  patch: PolicyPatch | null;
  /** PUT cannot clear a description (`null` = unchanged, §4.10); the importer does it after the PUT. */
  clearDescription: boolean;
  add: PlannedAssignment[];
  remove: StoredAssignment[];
  reprioritize: { stored: StoredAssignment; index: number; priority: number }[];
}

export type PlannedAction = 'created' | 'updated' | 'unchanged';

export function plannedAction(plan: PolicyPlan): PlannedAction {
  if (!plan.stored) return 'created';
  return plan.patch || plan.clearDescription || assignmentChanges(plan) > 0 ? 'updated' : 'unchanged';
}

const assignmentChanges = (plan: PolicyPlan): number =>
  plan.add.length + plan.remove.length + plan.reprioritize.length;

/** The version the policy ends with: +1 for the PUT and +1 per assignment change (§5.11). */
export function plannedVersion(plan: PolicyPlan): number {
  if (!plan.stored) return 1 + assignmentChanges(plan);
  return plan.stored.version + (plan.patch || plan.clearDescription ? 1 : 0) + assignmentChanges(plan);
}

/** Plans every entry; errors carry the entry's document index and the field path. */
export async function planImport(
  db: Kysely<Database>,
  entries: readonly { index: number; entry: PolicyDocumentEntry }[],
): Promise<{ plans: PolicyPlan[]; errors: PolicyDocumentError[] }> {
  const names = await loadNameDirectory(db);
  const stored = new Map<string, PolicyRow>();
  const storedAssignments = new Map<string, StoredAssignment[]>();
  const wanted = entries.map((e) => e.entry.name);
  if (wanted.length > 0) {
    for (const row of await db.selectFrom('policy').selectAll().where('name', 'in', wanted).execute()) {
      stored.set(row.name, row);
      storedAssignments.set(row.id, []);
    }
  }
  if (storedAssignments.size > 0) {
    const rows = await db
      .selectFrom('policy_assignment')
      .select(['id', 'policy_id', 'data_source_id', 'assignment_scope', 'user_id', 'role_id', 'priority'])
      .where('policy_id', 'in', [...storedAssignments.keys()])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    for (const { policy_id, ...row } of rows) storedAssignments.get(policy_id)?.push(row);
  }

  const plans: PolicyPlan[] = [];
  const errors: PolicyDocumentError[] = [];
  for (const { index, entry } of entries) {
    const report = (field: string, error: string) => errors.push({ index, name: entry.name, field, error });
    try {
      validatePolicyShape({
        policy_type: entry.policy_type,
        targets: entry.targets,
        definition: entry.definition,
      });
    } catch (error) {
      if (!(error instanceof InvalidError)) throw error;
      report(error.field, error.message);
    }
    const policy = stored.get(entry.name);
    // An unresolved name is reported and otherwise planned as "unchanged", so that the
    // report of a failed import describes only changes that are known.
    let decisionFunctionId: string | null = null;
    if (entry.decision_function !== null) {
      decisionFunctionId = names.decisionFunctions.get(entry.decision_function) ?? null;
      if (decisionFunctionId === null) {
        report('decision_function', `Decision function '${entry.decision_function}' not found`);
        decisionFunctionId = policy?.decision_function_id ?? null;
      }
    }
    const wantedAssignments = resolveAssignments(entry, names, report);
    const plan: PolicyPlan = {
      index,
      entry,
      decisionFunctionId,
      stored: policy,
      patch: policy ? policyPatch(policy, entry, decisionFunctionId) : null,
      clearDescription: policy !== undefined && entry.description === null && policy.description !== null,
      add: [],
      remove: [],
      reprioritize: [],
    };
    if (wantedAssignments)
      diffAssignments(plan, wantedAssignments, policy ? storedAssignments.get(policy.id) : []);
    plans.push(plan);
  }
  return { plans, errors };
}

/**
 * The entry's assignments with ids; null when the key is absent (leave them
 * alone) or a name did not resolve (reported; the import will not write).
 */
function resolveAssignments(
  entry: PolicyDocumentEntry,
  names: NameDirectory,
  report: (field: string, error: string) => void,
): PlannedAssignment[] | null {
  if (entry.assignments === null) return null;
  const resolved: PlannedAssignment[] = [];
  let complete = true;
  entry.assignments.forEach((a, index) => {
    const at = `assignments[${index}]`;
    const lookup = (map: ReadonlyMap<string, string>, name: string | null, field: string, what: string) => {
      if (name === null) return null;
      const id = map.get(name);
      if (id === undefined) report(`${at}.${field}`, `${what} '${name}' not found`);
      return id;
    };
    const dataSourceId = lookup(names.dataSources, a.datasource, 'datasource', 'Data source');
    const userId = lookup(names.users, a.user, 'user', 'User');
    const roleId = lookup(names.roles, a.role, 'role', 'Role');
    if (dataSourceId == null || userId === undefined || roleId === undefined) {
      complete = false;
      return;
    }
    resolved.push({ index, dataSourceId, scope: a.scope, userId, roleId, priority: a.priority });
  });
  return complete ? resolved : null;
}

function policyPatch(
  stored: PolicyRow,
  entry: PolicyDocumentEntry,
  decisionFunctionId: string | null,
): PolicyPatch | null {
  const patch: PolicyPatch = { version: stored.version };
  let changed = false;
  const typeChanged = entry.policy_type !== stored.policy_type;
  if (typeChanged) {
    patch.policy_type = entry.policy_type;
    changed = true;
  }
  if (entry.description !== null && entry.description !== stored.description) {
    patch.description = entry.description;
    changed = true;
  }
  if (entry.is_enabled !== fromFlag(stored.is_enabled)) {
    patch.is_enabled = entry.is_enabled;
    changed = true;
  }
  if (
    canonical(normalizeTargets(entry.targets)) !== canonical(normalizeTargets(parseJson(stored.targets, [])))
  ) {
    patch.targets = entry.targets;
    changed = true;
  }
  // For expression types a changed type always sends the definition: the stored one belongs to the old type.
  if (
    entry.definition !== null &&
    (typeChanged || canonical(entry.definition) !== canonical(parseJson(stored.definition, null)))
  ) {
    patch.definition = entry.definition;
    changed = true;
  }
  if (decisionFunctionId !== stored.decision_function_id) {
    patch.decision_function_id = decisionFunctionId;
    changed = true;
  }
  return changed ? patch : null;
}

const assignmentKey = (dataSourceId: string, scope: string, principal: string | null): string =>
  JSON.stringify([dataSourceId, scope, principal]);

function diffAssignments(
  plan: PolicyPlan,
  wanted: readonly PlannedAssignment[],
  stored: readonly StoredAssignment[] = [],
): void {
  const existing = new Map<string, StoredAssignment>();
  for (const row of stored) {
    const key = assignmentKey(row.data_source_id, row.assignment_scope, row.user_id ?? row.role_id);
    // A duplicate row (possible in data from before the role-scope fix) is surplus: remove it.
    if (existing.has(key)) plan.remove.push(row);
    else existing.set(key, row);
  }
  for (const want of wanted) {
    const key = assignmentKey(want.dataSourceId, want.scope, want.userId ?? want.roleId);
    const row = existing.get(key);
    if (!row) plan.add.push(want);
    else {
      existing.delete(key);
      if (row.priority !== want.priority)
        plan.reprioritize.push({ stored: row, index: want.index, priority: want.priority });
    }
  }
  plan.remove.push(...existing.values());
}

/** Only the keys a target keeps (§6.1); `columns: null` is absent. */
function normalizeTargets(targets: unknown): unknown {
  if (!Array.isArray(targets)) return targets;
  return targets.map((t: Record<string, unknown>) =>
    t.columns == null
      ? { schemas: t.schemas, tables: t.tables }
      : { schemas: t.schemas, tables: t.tables, columns: t.columns },
  );
}

/** JSON with object keys sorted, for comparing values regardless of key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
