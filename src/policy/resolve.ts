/**
 * Policy resolution: from one user's inputs on one data source
 * (`PolicyInputs`, gathered by policy/load.ts) to the session policy set the
 * rewriter enforces (policy/session.ts). Pure and synchronous; the only
 * precondition is the WASM parser, loaded once with `loadPolicyParser()`.
 *
 * Steps, each in its own module:
 *  1. effective policies — assignments by scope and active roles, one
 *     priority per policy, the gate (resolve-assignments.ts);
 *  2. expressions — each filter/mask parsed once with placeholders and given
 *     this user's typed template values (resolve-expr.ts, templates.ts);
 *  3. the virtual catalog — per saved table: deny, allow, masks, filters
 *     (resolve-table.ts), with anchors for filter columns the table lacks
 *     (anchors.ts);
 *  4. the fingerprint over the result (fingerprint.ts).
 *
 * The session layer calls this at connect time and again whenever the change
 * bus reports a change that concerns the session (policy, assignment,
 * catalog, anchor, role, attribute); an equal fingerprint means nothing the
 * user sees changed.
 */
import { indexCatalog } from './catalog-index.js';
import type { PolicyInputs } from './inputs.js';
import { auditOrder, effectivePolicies, type EffectivePolicy } from './resolve-assignments.js';
import { prepareExpression, type PreparedExpr } from './resolve-expr.js';
import { secureTable } from './resolve-table.js';
import type { SecuredTable, SessionPolicySet } from './session.js';
import { fingerprintOf } from './fingerprint.js';
import { templateValue, type TemplateValue } from './templates.js';

export { loadPolicyParser } from './resolve-expr.js';

function definitionField(definition: unknown, field: string): unknown {
  return typeof definition === 'object' && definition !== null
    ? (definition as Record<string, unknown>)[field]
    : undefined;
}

export function resolveSessionPolicySet(inputs: PolicyInputs): SessionPolicySet {
  const index = indexCatalog(inputs.catalog, inputs.anchors);
  const effective = effectivePolicies(inputs);

  const values = new Map<string, TemplateValue>();
  const valueOf = (key: string): TemplateValue => {
    let value = values.get(key);
    if (!value) values.set(key, (value = templateValue(key, inputs.user, inputs.attributeDefinitions)));
    return value;
  };
  const prepared = new Map<string, PreparedExpr>();
  const prepare = (policy: EffectivePolicy): PreparedExpr => {
    let result = prepared.get(policy.ref.policy_id);
    if (!result) {
      const isFilter = policy.type === 'row_filter';
      const text = definitionField(
        policy.input.definition,
        isFilter ? 'filter_expression' : 'mask_expression',
      );
      result = prepareExpression(text, isFilter ? 'filter' : 'mask', valueOf);
      prepared.set(policy.ref.policy_id, result);
    }
    return result;
  };

  const ctx = {
    index,
    accessMode: inputs.dataSource.accessMode,
    policies: effective.filter((p) => p.fires),
    prepared: prepare,
  };
  const tables = index.tables
    .map((t) => secureTable(ctx, t))
    .filter((t): t is SecuredTable => t !== undefined);

  const set: Omit<SessionPolicySet, 'fingerprint'> = {
    user: { id: inputs.user.id, username: inputs.user.username },
    dataSource: {
      id: inputs.dataSource.id,
      name: inputs.dataSource.name,
      accessMode: inputs.dataSource.accessMode,
    },
    tables,
    policiesApplied: auditOrder(effective),
  };
  return { fingerprint: fingerprintOf(set), ...set };
}
