/**
 * The policy shape validator of the management plane (api-contract §4.10
 * checks 2–3, §6.1–§6.3): targets for the final policy type, the definition
 * for row_filter / column_mask, and the save-time expression grammar. It
 * plugs into `createPolicy` / `updatePolicy` as `validateShape`, so the REST
 * routes and the policy YAML import apply exactly the same rules.
 */
import { InvalidError } from '../store/repo-errors.js';
import type { PolicyShape, ShapeValidator } from '../store/repos/policies.js';
import { validateExpression, type ExpressionKind } from './expression.js';
import { validateTargets } from './targets.js';

const EXPRESSIONS: Partial<Record<string, { key: string; kind: ExpressionKind }>> = {
  row_filter: { key: 'filter_expression', kind: 'filter' },
  column_mask: { key: 'mask_expression', kind: 'mask' },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws InvalidError naming the first problem (field = path inside the
 * policy, e.g. `targets[0].tables`, `definition.filter_expression`).
 * Returns the shape with targets normalised to `schemas`/`tables`/`columns`.
 */
export const validatePolicyShape: ShapeValidator = (shape: PolicyShape): PolicyShape => {
  const checked = validateTargets(shape.policy_type, shape.targets);
  if (!checked.ok) {
    const [first] = checked.issues;
    throw new InvalidError(first?.path ?? 'targets', first?.message ?? "'targets' is invalid");
  }
  const expression = EXPRESSIONS[shape.policy_type];
  if (expression) {
    const { key, kind } = expression;
    const type = shape.policy_type;
    if (!isPlainObject(shape.definition)) {
      throw new InvalidError('definition', `${type} policy requires a 'definition' with '${key}'`);
    }
    const text = shape.definition[key];
    if (text === undefined) {
      throw new InvalidError(`definition.${key}`, `${type}: missing required field '${key}'`);
    }
    if (typeof text !== 'string') {
      throw new InvalidError(`definition.${key}`, `${type}: '${key}' must be a string`);
    }
    const result = validateExpression(kind, text);
    if (!result.ok) throw new InvalidError(`definition.${key}`, result.error);
  }
  return { policy_type: shape.policy_type, targets: checked.targets, definition: shape.definition };
};
