/**
 * Everything policy resolution needs to know about one (user, data source)
 * pair, as plain data: `resolveSessionPolicySet(inputs)` is a pure function
 * of this object. `policy/load.ts` gathers it from the admin store; tests
 * build it by hand.
 *
 * Names are upstream names everywhere (schemas, tables, columns), exactly as
 * discovery stored them; a schema alias is carried next to its schema only
 * because the virtual catalog shows it to clients.
 */
import type { PolicyType } from './targets.js';

export type AccessMode = 'open' | 'policy_required';
export type AssignmentScope = 'user' | 'role' | 'all';

export interface CatalogColumnInput {
  name: string;
  /** pg_type.typname (`int4`, `text`, …); null when discovery did not record it. */
  udtName: string | null;
  ordinal: number;
  /**
   * Default true. An unselected column (or one with an unsupported type) is
   * never visible, but row filters and anchors may still reference it: the
   * filter runs upstream, on the raw table.
   */
  selected?: boolean;
}

export interface CatalogTableInput {
  name: string;
  /** `TABLE`, `VIEW`, … as saved. */
  tableType: string;
  /** Default true. Unselected tables are never visible but FK anchors may walk through them. */
  selected?: boolean;
  columns: CatalogColumnInput[];
}

export interface CatalogSchemaInput {
  /** Upstream name: what targets match and what rewritten SQL names. */
  name: string;
  /** Shown to clients instead of `name` when set. */
  alias: string | null;
  /** Default true. */
  selected?: boolean;
  tables: CatalogTableInput[];
}

export interface AssignmentInput {
  scope: AssignmentScope;
  userId: string | null;
  roleId: string | null;
  /** Lower wins. */
  priority: number;
}

export interface PolicyInput {
  id: string;
  name: string;
  version: number;
  /** A PolicyType; any other string is ignored (defensive: the store validates on save). */
  policyType: PolicyType | string;
  /** Stored `targets` JSON (validated again here, see resolve-assignments.ts). */
  targets: unknown;
  /** Stored `definition` JSON (`filter_expression` / `mask_expression`). */
  definition: unknown;
  /** Default true; a disabled policy is ignored even if the caller passes it. */
  enabled?: boolean;
  decisionFunctionId?: string | null;
  /** Every assignment of the policy on this data source (any scope, any user or role). */
  assignments: AssignmentInput[];
}

export interface AttributeDefinitionInput {
  key: string;
  /** `string` | `integer` | `boolean` | `list`; anything else is treated as `string`. */
  valueType: string;
  /** Text form, as stored (a JSON array text for `list`). */
  defaultValue: string | null;
}

/** The FK step of an anchor: from a column of the anchored table to a parent's column. */
export interface AnchorRelationshipInput {
  id: string;
  childColumn: string;
  parentSchema: string;
  parentTable: string;
  parentColumn: string;
}

/**
 * A column anchor keyed (schema, table, column): how a row filter naming
 * `column` resolves on a table that lacks it (api-contract §6.4). Exactly one
 * of `actualColumn` (same-table alias) or `relationship` (FK walk) is set;
 * `relationshipMissing` marks an anchor whose relationship is gone.
 */
export interface AnchorInput {
  schema: string;
  table: string;
  column: string;
  actualColumn?: string | null;
  relationship?: AnchorRelationshipInput | null;
  relationshipMissing?: boolean;
}

/** What a gate sees of a policy. */
export interface GatedPolicy {
  id: string;
  name: string;
  version: number;
  policyType: string;
  decisionFunctionId: string | null;
}

/**
 * Decision-function hook, visibility time: called once per effective policy
 * that has a decision function; `skip` makes the policy contribute nothing
 * (a skipped column_allow grants nothing, a skipped deny hides nothing). A
 * policy without a function always fires. With no gate, every policy fires.
 *
 * Query-time gates (functions whose context is the statement) fit the same
 * hook: resolution is pure and cheap, so the rewriter evaluates those
 * functions per statement and calls `resolveSessionPolicySet` again with a
 * gate answering from the statement's results, memoized by the decision
 * vector. The resulting set has its own fingerprint, so the rewrite cache
 * stays correct. Skipped policies stay in `policiesApplied` (the audit lists
 * every effective policy, with its decision).
 */
export type PolicyGate = (policy: GatedPolicy) => 'fire' | 'skip';

export interface PolicyInputs {
  dataSource: { id: string; name: string; accessMode: AccessMode };
  /** The saved catalog, selected and unselected parts (see the `selected` flags). */
  catalog: CatalogSchemaInput[];
  user: {
    id: string;
    username: string;
    /** The active role closure (api-contract §5.3): inactive roles are already left out. */
    roleIds: readonly string[];
    /** As stored: scalars as strings, lists as string arrays (§5.9). */
    attributes: Readonly<Record<string, unknown>>;
  };
  /** Enabled policies assigned on this data source (to anyone). */
  policies: PolicyInput[];
  /** `user` attribute definitions. */
  attributeDefinitions: AttributeDefinitionInput[];
  anchors: AnchorInput[];
  gate?: PolicyGate;
}
