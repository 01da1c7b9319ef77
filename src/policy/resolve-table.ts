/**
 * One table of the virtual catalog: is it visible to this user, with which
 * columns, masks and row filters. The order of the checks is the order of
 * precedence (design §9, api-contract §6.5):
 *
 *  1. unselected in the saved catalog → not visible;
 *  2. a `table_deny` match → not visible (deny wins over any allow);
 *  3. `column_deny` matches removed (again over any allow, scope or priority);
 *  4. `column_allow`: when any matches the table, only the allowed columns
 *     stay, in both access modes; in `policy_required` a table without a
 *     matching allow is not visible;
 *  5. no column left → not visible (a table with nothing to read is hidden,
 *     design §9);
 *  6. masks: per visible column, the first matching `column_mask` in
 *     precedence order; masks of removed columns are moot and never looked at;
 *  7. row filters: every matching `row_filter`, in precedence order, AND-ed by
 *     the rewriter.
 *
 * Only policies whose gate fired are passed in. A policy whose expression is
 * broken for this user (undefined attribute, unparsable text) adds a
 * `kind: 'error'` filter: statements on the table fail rather than run with
 * a policy silently missing.
 */
import { placeFilter } from './anchors.js';
import type { IndexedTable, CatalogIndex } from './catalog-index.js';
import type { AccessMode } from './inputs.js';
import type { EffectivePolicy } from './resolve-assignments.js';
import type { PreparedExpr } from './resolve-expr.js';
import type { PolicyRef, RowFilter, SecuredColumn, SecuredTable } from './session.js';
import { targetMatches } from './targets.js';
import { nullConst } from './templates.js';
import { SQLSTATE } from '../sql/errors.js';

export interface TableContext {
  index: CatalogIndex;
  accessMode: AccessMode;
  /** Effective policies that fire, in precedence order. */
  policies: readonly EffectivePolicy[];
  /** The policy's expression for this user, prepared once per resolution. */
  prepared(policy: EffectivePolicy): PreparedExpr;
}

const errorFilter = (policy: PolicyRef, e: { sqlstate: string; message: string }): RowFilter => ({
  kind: 'error',
  policy,
  sqlstate: e.sqlstate,
  message: e.message,
});

function rowFilter(ctx: TableContext, t: IndexedTable, policy: EffectivePolicy): RowFilter | undefined {
  const prepared = ctx.prepared(policy);
  switch (prepared.kind) {
    case 'always':
      return undefined;
    case 'never':
      return { kind: 'false', policy: policy.ref, reason: 'filter expression is always false' };
    case 'error':
      return errorFilter(policy.ref, prepared);
    case 'expr': {
      const placed = placeFilter(ctx.index, t.schema, t.table.name, prepared.expr, prepared.columns);
      switch (placed.kind) {
        case 'direct':
        case 'alias':
          return { kind: 'expr', policy: policy.ref, expr: placed.expr };
        case 'via':
          return { kind: 'via', policy: policy.ref, path: placed.path, expr: placed.expr };
        case 'unresolved':
          return { kind: 'false', policy: policy.ref, reason: placed.reason };
      }
    }
  }
}

/** The secured form of a catalog table, or undefined when the user may not see it. */
export function secureTable(ctx: TableContext, t: IndexedTable): SecuredTable | undefined {
  if (!t.selected) return undefined;
  const schema = t.schema;
  const table = t.table.name;
  const matching = ctx.policies.filter((p) => targetMatches(p.targets, schema, table));
  const ofType = (type: EffectivePolicy['type']) => matching.filter((p) => p.type === type);
  if (ofType('table_deny').length > 0) return undefined;

  const denies = ofType('column_deny');
  const allows = ofType('column_allow');
  if (allows.length === 0 && ctx.accessMode === 'policy_required') return undefined;
  const columnMatches = (p: EffectivePolicy, column: string) =>
    targetMatches(p.targets, schema, table, column);
  const visible = t.table.columns
    .filter((c) => c.selected !== false)
    .filter((c) => !denies.some((p) => columnMatches(p, c.name)))
    .filter((c) => allows.length === 0 || allows.some((p) => columnMatches(p, c.name)))
    .sort((a, b) => a.ordinal - b.ordinal || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (visible.length === 0) return undefined;

  const masks = ofType('column_mask');
  const failures = new Map<string, RowFilter>();
  const columns = visible.map((c): SecuredColumn => {
    const policy = masks.find((p) => columnMatches(p, c.name));
    if (!policy) return { name: c.name, udtName: c.udtName, mask: null };
    const prepared = ctx.prepared(policy);
    let expr = prepared.kind === 'expr' ? prepared.expr : undefined;
    if (prepared.kind === 'expr') {
      const unknown = [...prepared.columns].find((name) => !t.columnNames.has(name));
      if (unknown !== undefined) {
        expr = undefined;
        failures.set(
          policy.ref.policy_id,
          errorFilter(policy.ref, {
            sqlstate: SQLSTATE.undefinedColumn,
            message: `mask expression references column "${unknown}", which is not on ${schema}.${table}`,
          }),
        );
      }
    } else if (prepared.kind === 'error') {
      failures.set(policy.ref.policy_id, errorFilter(policy.ref, prepared));
    }
    // A broken mask still hides the value (NULL) should anything read the
    // column despite the table's error filter.
    return { name: c.name, udtName: c.udtName, mask: { policy: policy.ref, expr: expr ?? nullConst() } };
  });

  const rowFilters: RowFilter[] = [];
  for (const policy of ofType('row_filter')) {
    const filter = rowFilter(ctx, t, policy);
    if (filter) rowFilters.push(filter);
  }
  rowFilters.push(...failures.values());
  return {
    schema,
    visibleSchema: t.visibleSchema,
    name: table,
    tableType: t.table.tableType,
    columns,
    rowFilters,
  };
}
