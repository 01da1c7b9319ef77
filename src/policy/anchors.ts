/**
 * Row filters on tables that lack a filter column (api-contract §6.4).
 *
 * A filter is evaluated where all its columns are. On the matched table,
 * every missing column is looked up in the column anchors keyed (schema,
 * table, column):
 *  - all missing columns have same-table alias anchors → the expression is
 *    rewritten to the actual column names and stays on the table;
 *  - a missing column has an FK-walk anchor → the whole filter moves one hop
 *    up to the parent (`kind: 'via'`), where the same check repeats, at most
 *    MAX_ANCHOR_HOPS hops, never revisiting a table;
 *  - anything else (no anchor, a dangling relationship, an alias to a
 *    missing column, different relationships for different columns, too
 *    many hops, a cycle) → unresolved: the filter keeps no rows on that
 *    table. Zero rows, never all rows, and never an error (BR behaviour).
 *
 * The same walk, limited to the first hop and reported per column, answers
 * the anchor-coverage API (§4.10).
 */
import type { CatalogIndex } from './catalog-index.js';
import { columnsOf, parseExpression, renameColumns } from './resolve-expr.js';
import type { AnchorHop, ExprNode } from './session.js';
import { targetMatches, type TargetEntry } from './targets.js';

export const MAX_ANCHOR_HOPS = 3;

export type FilterPlacement =
  /** Every column is on the table. */
  | { kind: 'direct'; expr: ExprNode }
  /** Same table, columns renamed through alias anchors (`renames`: [anchored name, actual name]). */
  | { kind: 'alias'; expr: ExprNode; renames: [string, string][] }
  /** Evaluated on the last parent of `path`. */
  | { kind: 'via'; expr: ExprNode; path: AnchorHop[]; relationshipIds: string[] }
  | { kind: 'unresolved'; reason: string };

const qualified = (schema: string, table: string) => `${schema}.${table}`;

/** Where (and as what) a filter with these columns runs for the table `schema.table`. */
export function placeFilter(
  index: CatalogIndex,
  schema: string,
  table: string,
  expr: ExprNode,
  columns: ReadonlySet<string> = columnsOf(expr),
): FilterPlacement {
  const path: AnchorHop[] = [];
  const relationshipIds: string[] = [];
  const visited = new Set([qualified(schema, table)]);
  const unresolved = (reason: string): FilterPlacement => ({ kind: 'unresolved', reason });
  let at = { schema, table };
  for (;;) {
    const here = index.table(at.schema, at.table);
    const name = qualified(at.schema, at.table);
    if (!here) return unresolved(`table ${name} is not in the catalog`);
    const missing = [...columns].filter((c) => !here.columnNames.has(c)).sort();
    const done = (e: ExprNode): FilterPlacement =>
      path.length > 0 ? { kind: 'via', expr: e, path, relationshipIds } : { kind: 'direct', expr: e };
    if (missing.length === 0) return done(expr);

    const anchors = missing.map((column) => ({ column, anchor: index.anchor(at.schema, at.table, column) }));
    const bare = anchors.find((a) => !a.anchor);
    if (bare) return unresolved(`column "${bare.column}" is not on ${name} and has no anchor`);
    const walks = anchors.filter((a) => !a.anchor?.actualColumn);
    if (walks.length === 0) {
      const renames: [string, string][] = [];
      for (const { column, anchor } of anchors) {
        const actual = anchor?.actualColumn as string;
        if (!here.columnNames.has(actual)) {
          return unresolved(
            `alias anchor for column "${column}" on ${name} names missing column "${actual}"`,
          );
        }
        renames.push([column, actual]);
      }
      const renamed = renameColumns(expr, new Map(renames));
      return path.length > 0 ? done(renamed) : { kind: 'alias', expr: renamed, renames };
    }
    const dangling = walks.find((a) => !a.anchor?.relationship);
    if (dangling) return unresolved(`anchor for column "${dangling.column}" on ${name} has no relationship`);
    const relIds = new Set(walks.map((a) => a.anchor?.relationship?.id));
    if (relIds.size > 1) {
      return unresolved(`columns ${missing.join(', ')} of ${name} resolve through different relationships`);
    }
    const rel = walks[0]?.anchor?.relationship;
    if (!rel) return unresolved(`anchor on ${name} has no relationship`);
    if (!here.columnNames.has(rel.childColumn)) {
      return unresolved(`relationship column "${rel.childColumn}" is not on ${name}`);
    }
    if (path.length >= MAX_ANCHOR_HOPS) {
      return unresolved(
        `column(s) ${missing.join(', ')} need more than ${MAX_ANCHOR_HOPS} hops from ${qualified(schema, table)}`,
      );
    }
    const parent = qualified(rel.parentSchema, rel.parentTable);
    if (visited.has(parent))
      return unresolved(`anchor walk from ${qualified(schema, table)} cycles at ${parent}`);
    visited.add(parent);
    path.push({
      childColumn: rel.childColumn,
      parentSchema: rel.parentSchema,
      parentTable: rel.parentTable,
      parentColumn: rel.parentColumn,
    });
    relationshipIds.push(rel.id);
    at = { schema: rel.parentSchema, table: rel.parentTable };
  }
}

/** One column of a filter on one table, first hop only (§4.10 anchor-coverage `verdicts`). */
export type CoverageVerdict =
  | { kind: 'on_table'; column: string }
  | {
      kind: 'anchor_walk';
      column: string;
      via_relationship_id: string;
      via_child_column: string;
      via_parent_column: string;
      /** Effective (alias) name. */
      parent_schema: string;
      parent_table: string;
    }
  | { kind: 'anchor_alias'; column: string; actual_column_name: string }
  | { kind: 'missing_anchor'; column: string }
  | { kind: 'missing_column_on_alias_target'; column: string; actual_column_name: string };

export function coverageVerdicts(
  index: CatalogIndex,
  schema: string,
  table: string,
  columns: Iterable<string>,
): CoverageVerdict[] {
  const here = index.table(schema, table);
  return [...new Set(columns)].sort().map((column): CoverageVerdict => {
    if (here?.columnNames.has(column)) return { kind: 'on_table', column };
    const anchor = index.anchor(schema, table, column);
    if (anchor?.actualColumn) {
      const actual = anchor.actualColumn;
      return here?.columnNames.has(actual)
        ? { kind: 'anchor_alias', column, actual_column_name: actual }
        : { kind: 'missing_column_on_alias_target', column, actual_column_name: actual };
    }
    const rel = anchor?.relationship;
    if (!rel) return { kind: 'missing_anchor', column };
    return {
      kind: 'anchor_walk',
      column,
      via_relationship_id: rel.id,
      via_child_column: rel.childColumn,
      via_parent_column: rel.parentColumn,
      parent_schema: index.visibleSchema(rel.parentSchema),
      parent_table: rel.parentTable,
    };
  });
}

export interface TableCoverage {
  /** Effective (alias) schema name. */
  schema: string;
  schemaUpstream: string;
  table: string;
  verdicts: CoverageVerdict[];
  /** The full runtime walk (all hops): what queries on the table will actually do. */
  resolution:
    | { kind: 'direct' | 'alias' }
    | { kind: 'via'; path: AnchorHop[] }
    | { kind: 'unresolved'; reason: string };
}

/**
 * Anchor coverage of a row filter on one data source: one entry per stored
 * table (selected or not) its targets match, in (effective schema, table)
 * order. The API adds the data source's id and name to each entry.
 * `error` when the expression does not parse; `[]` when it names no column.
 */
export function anchorCoverage(
  index: CatalogIndex,
  targets: readonly TargetEntry[],
  filterExpression: string,
): { ok: true; coverage: TableCoverage[] } | { ok: false; error: string } {
  const parsed = parseExpression(filterExpression, 'filter');
  if ('sqlstate' in parsed) return { ok: false, error: parsed.message };
  const columns = columnsOf(parsed.tree);
  if (columns.size === 0) return { ok: true, coverage: [] };
  const byShownName = (a: { visibleSchema: string; table: { name: string } }, b: typeof a) =>
    a.visibleSchema < b.visibleSchema
      ? -1
      : a.visibleSchema > b.visibleSchema
        ? 1
        : a.table.name < b.table.name
          ? -1
          : 1;
  // §4.10 orders entries by the effective schema name, then the table.
  const coverage = index.tables
    .filter((t) => targetMatches(targets, t.schema, t.table.name))
    .sort(byShownName)
    .map((t): TableCoverage => {
      const placed = placeFilter(index, t.schema, t.table.name, parsed.tree, columns);
      return {
        schema: t.visibleSchema,
        schemaUpstream: t.schema,
        table: t.table.name,
        verdicts: coverageVerdicts(index, t.schema, t.table.name, columns),
        resolution:
          placed.kind === 'unresolved'
            ? placed
            : placed.kind === 'via'
              ? { kind: 'via', path: placed.path }
              : { kind: placed.kind },
      };
    });
  return { ok: true, coverage };
}
