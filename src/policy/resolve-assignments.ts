/**
 * Which policies apply to this user on this data source, and in what order
 * (api-contract §5.7): an assignment reaches the user by scope `user` (this
 * user), `role` (a role of the active closure) or `all`. A policy reached
 * several ways is kept once, at its lowest priority number; at equal
 * priority the more specific assignment wins (user, then role, then all).
 *
 * The resulting precedence — priority, then scope, then policy name, then id
 * (names are unique; the id only guards against bad input) — is the one
 * order used everywhere a choice or an order is needed: the mask of a
 * column, the order of AND-ed filters, the audit list.
 */
import type { AssignmentScope, PolicyInput, PolicyInputs } from './inputs.js';
import type { PolicyRef } from './session.js';
import { isPolicyType, validateTargets, type PolicyType, type TargetEntry } from './targets.js';

export interface EffectivePolicy {
  input: PolicyInput;
  ref: PolicyRef;
  type: PolicyType;
  targets: TargetEntry[];
  priority: number;
  scope: AssignmentScope;
  /** False when the gate said `skip`: the policy contributes nothing but is still audited. */
  fires: boolean;
}

const SCOPE_RANK: Record<AssignmentScope, number> = { user: 0, role: 1, all: 2 };

export function comparePrecedence(a: EffectivePolicy, b: EffectivePolicy): number {
  return (
    a.priority - b.priority ||
    SCOPE_RANK[a.scope] - SCOPE_RANK[b.scope] ||
    (a.ref.name < b.ref.name ? -1 : a.ref.name > b.ref.name ? 1 : 0) ||
    (a.ref.policy_id < b.ref.policy_id ? -1 : a.ref.policy_id > b.ref.policy_id ? 1 : 0)
  );
}

const MATCH_ALL: TargetEntry[] = [{ schemas: ['*'], tables: ['*'], columns: ['*'] }];

/**
 * Stored targets, re-validated. Targets are validated on save, so a bad shape
 * means a damaged store: a restricting policy then applies everywhere (fail
 * closed) and a column_allow grants nothing.
 */
function effectiveTargets(type: PolicyType, raw: unknown): TargetEntry[] {
  const checked = validateTargets(type, raw);
  if (checked.ok) return checked.targets;
  if (type === 'column_allow') return [];
  return type === 'row_filter' || type === 'table_deny' ? [{ schemas: ['*'], tables: ['*'] }] : MATCH_ALL;
}

/** The lowest-priority assignment reaching the user, or undefined. */
function bestAssignment(
  policy: PolicyInput,
  userId: string,
  roleIds: ReadonlySet<string>,
): { priority: number; scope: AssignmentScope } | undefined {
  let best: { priority: number; scope: AssignmentScope } | undefined;
  for (const a of policy.assignments) {
    const reaches =
      (a.scope === 'user' && a.userId === userId) ||
      (a.scope === 'role' && a.roleId !== null && roleIds.has(a.roleId)) ||
      a.scope === 'all';
    if (!reaches || !Number.isFinite(a.priority)) continue;
    if (
      !best ||
      a.priority < best.priority ||
      (a.priority === best.priority && SCOPE_RANK[a.scope] < SCOPE_RANK[best.scope])
    ) {
      best = { priority: a.priority, scope: a.scope };
    }
  }
  return best;
}

/** Effective enabled policies for the user, in precedence order, with the gate applied. */
export function effectivePolicies(inputs: PolicyInputs): EffectivePolicy[] {
  const roleIds = new Set(inputs.user.roleIds);
  const result: EffectivePolicy[] = [];
  const seen = new Set<string>();
  for (const policy of inputs.policies) {
    // Disabled policies are filtered by the loader; an unknown type is ignored
    // rather than guessed at. A policy listed twice is taken once.
    if (policy.enabled === false || !isPolicyType(policy.policyType) || seen.has(policy.id)) continue;
    const best = bestAssignment(policy, inputs.user.id, roleIds);
    if (!best) continue;
    seen.add(policy.id);
    const decisionFunctionId = policy.decisionFunctionId ?? null;
    const fires =
      decisionFunctionId === null || !inputs.gate
        ? true
        : inputs.gate({
            id: policy.id,
            name: policy.name,
            version: policy.version,
            policyType: policy.policyType,
            decisionFunctionId,
          }) === 'fire';
    result.push({
      input: policy,
      ref: { policy_id: policy.id, name: policy.name, version: policy.version },
      type: policy.policyType,
      targets: effectiveTargets(policy.policyType, policy.targets),
      ...best,
      fires,
    });
  }
  return result.sort(comparePrecedence);
}

/**
 * `policies_applied` (§10.1): every effective policy, permit types first
 * (column_allow), then the others, each group in precedence order.
 */
export function auditOrder(policies: readonly EffectivePolicy[]): PolicyRef[] {
  const sorted = [...policies].sort(comparePrecedence);
  const permits = sorted.filter((p) => p.type === 'column_allow');
  const others = sorted.filter((p) => p.type !== 'column_allow');
  return [...permits, ...others].map((p) => p.ref);
}
