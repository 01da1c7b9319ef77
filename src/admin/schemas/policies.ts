/**
 * Wire form of policies (api-contract §3.3, §4.10): request bodies, the
 * `Policy` response schema (its assignments in the §3.4 form of
 * ./assignments.ts) and presenter, the validate-expression and
 * anchor-coverage shapes. Keys the contract omits when absent
 * (`decision_function_id`, `decision_function`, `assignments`) are optional
 * here, so the serialiser leaves them out.
 */
import { Type } from '@sinclair/typebox';
import type { Policy } from '../../store/repos/policies.js';
import { POLICY_TYPES, type TargetEntry } from '../../policy/targets.js';
import { toApiTimestamp } from '../../store/time.js';
import { PolicyAssignmentSchema, presentAssignment } from './assignments.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

/** Unknown value → 422 plain text, like BR's enum (§1.3). */
export const PolicyTypeSchema = Type.Union(
  POLICY_TYPES.map((t) => Type.Literal(t)),
  { description: POLICY_TYPES.join(' | ') },
);

const INT32 = { minimum: -2147483648, maximum: 2147483647 };

/** Entries are checked by the policy module (messages of §4.10 check 2), so they are open here. */
const TargetsBody = Type.Array(Type.Unknown(), {
  description: '[{"schemas": [pattern], "tables": [pattern], "columns": [pattern]?}] (§6.1)',
});

/** Any JSON: non-expression types store what was sent on create (quirk Q16). */
const DefinitionBody = Type.Unknown({
  description:
    '{"filter_expression": …} / {"mask_expression": …}; null = none (create) or unchanged (update)',
});

export const CreatePolicyBody = Type.Object({
  name: Type.String(),
  policy_type: PolicyTypeSchema,
  description: Type.Optional(Nullable(Type.String())),
  is_enabled: Type.Optional(Nullable(Type.Boolean())),
  targets: TargetsBody,
  definition: Type.Optional(DefinitionBody),
  decision_function_id: Type.Optional(Nullable(Uuid())),
});

/** `version` required; null = unchanged except `decision_function_id` (null detaches, §1.3). */
export const UpdatePolicyBody = Type.Object({
  version: Type.Integer({ ...INT32, description: 'the version last read (optimistic concurrency)' }),
  name: Type.Optional(Nullable(Type.String())),
  policy_type: Type.Optional(Nullable(PolicyTypeSchema)),
  description: Type.Optional(Nullable(Type.String())),
  is_enabled: Type.Optional(Nullable(Type.Boolean())),
  targets: Type.Optional(Nullable(TargetsBody)),
  definition: Type.Optional(DefinitionBody),
  decision_function_id: Type.Optional(Nullable(Uuid())),
});

export const PolicyListQuery = Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) });

export const ValidateExpressionBody = Type.Object({ expression: Type.String(), is_mask: Type.Boolean() });
export const ValidateExpressionResult = Type.Object({
  valid: Type.Boolean(),
  error: Type.Optional(Type.String()),
});

const TargetSchema = Type.Object({
  schemas: Type.Array(Type.String()),
  tables: Type.Array(Type.String()),
  columns: Type.Optional(Type.Array(Type.String())),
});

export const PolicySchema = Type.Object(
  {
    id: Uuid(),
    name: Type.String(),
    description: Nullable(Type.String()),
    policy_type: Type.String(),
    targets: Type.Array(TargetSchema),
    definition: Type.Unknown({ description: 'object or null' }),
    is_enabled: Type.Boolean(),
    version: Type.Integer(),
    decision_function_id: Type.Optional(Uuid('omitted when no function is attached')),
    decision_function: Type.Optional(
      Type.Object({
        id: Uuid(),
        name: Type.String(),
        is_enabled: Type.Boolean(),
        evaluate_context: Type.String(),
      }),
    ),
    assignment_count: Type.Integer(),
    created_by: Uuid(),
    updated_by: Uuid(),
    created_at: Timestamp,
    updated_at: Timestamp,
    assignments: Type.Optional(Type.Array(PolicyAssignmentSchema, { description: 'GET/PUT by id only' })),
  },
  { description: 'Policy (§3.3)' },
);

export function presentPolicy(policy: Policy) {
  const { assignments, ...rest } = policy;
  return {
    ...rest,
    // Stored targets were normalised by the shape validator on save.
    targets: policy.targets as TargetEntry[],
    created_at: toApiTimestamp(policy.created_at),
    updated_at: toApiTimestamp(policy.updated_at),
    ...(assignments ? { assignments: assignments.map(presentAssignment) } : {}),
  };
}

const VerdictSchema = Type.Object({
  kind: Type.String({
    description: 'on_table | anchor_walk | anchor_alias | missing_anchor | missing_column_on_alias_target',
  }),
  column: Type.String(),
  via_relationship_id: Type.Optional(Uuid()),
  via_child_column: Type.Optional(Type.String()),
  via_parent_column: Type.Optional(Type.String()),
  parent_schema: Type.Optional(Type.String()),
  parent_table: Type.Optional(Type.String()),
  actual_column_name: Type.Optional(Type.String()),
});

export const AnchorCoverageSchema = Type.Object({
  policy_id: Uuid(),
  policy_type: Type.String(),
  coverage: Type.Array(
    Type.Object({
      data_source_id: Uuid(),
      data_source_name: Type.String(),
      schema: Type.String({ description: 'effective name (alias if set)' }),
      schema_upstream: Type.String(),
      table: Type.String(),
      verdicts: Type.Array(VerdictSchema),
    }),
  ),
});
