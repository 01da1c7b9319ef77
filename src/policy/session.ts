/**
 * The contract between policy resolution (`policy/`) and the SQL rewriter
 * (`sql/`): what one user may see on one data source.
 *
 * A `SessionPolicySet` is the user's virtual catalog — only the tables and
 * columns the user may query, with masks and row filters attached — plus the
 * policies that were effective, for the audit. Expressions are libpg-query
 * parse-tree nodes whose column references are unqualified upstream column
 * names of the table they belong to (the rewriter qualifies them), and whose
 * template variables are already typed constants: no attribute value is ever
 * parsed as SQL.
 */
import type { Node } from '@pgsql/types';

/** How a policy appears in the audit (`policies_applied`). */
export interface PolicyRef {
  policy_id: string;
  name: string;
  version: number;
}

/** A PostgreSQL expression as a parse-tree node (see the module comment). */
export type ExprNode = Node;

export interface SecuredColumn {
  /** Upstream column name (case-sensitive, unquoted form). */
  name: string;
  /** pg_type.typname of the upstream column, e.g. `int4`, `text`, `_text`. */
  udtName: string | null;
  /** Replaces the column's value for this user; computed inside the secured subquery. */
  mask: { policy: PolicyRef; expr: ExprNode } | null;
}

/** One step of an FK walk: from the current table's column to a parent table's column. */
export interface AnchorHop {
  childColumn: string;
  parentSchema: string;
  parentTable: string;
  parentColumn: string;
}

/** Row filters of one table; all of a table's filters are AND-ed. */
export type RowFilter =
  /** Evaluated on the table's own (raw, unmasked) columns. */
  | { kind: 'expr'; policy: PolicyRef; expr: ExprNode }
  /**
   * Evaluated on the last parent of an FK walk (1–3 hops, from column anchors):
   * a row is kept when the chain of parents exists and the expression holds there.
   */
  | { kind: 'via'; policy: PolicyRef; path: AnchorHop[]; expr: ExprNode }
  /** The filter could not be resolved for this table: keep no rows (never all rows). */
  | { kind: 'false'; policy: PolicyRef; reason: string }
  /**
   * A policy on this table is broken for this user (e.g. `{user.x}` names an
   * attribute with no definition, or a saved expression no longer parses):
   * every statement that references the table fails with this error instead
   * of running. The rewriter raises it as a PgError(sqlstate, message); the
   * audit records the statement as `error`. Added after the first version of
   * this contract: an additive union member, so exhaustive switches in the
   * rewriter must handle it.
   */
  | { kind: 'error'; policy: PolicyRef; sqlstate: string; message: string };

export interface SecuredTable {
  /** Upstream schema name: what the rewritten SQL names. */
  schema: string;
  /** The schema name clients see and write (the alias when one is set). */
  visibleSchema: string;
  name: string;
  /** `TABLE`, `VIEW`, `MATERIALIZED VIEW`, … as saved in the catalog. */
  tableType: string;
  /** Visible columns in ordinal order; denied or not-allowed columns are absent. */
  columns: SecuredColumn[];
  rowFilters: RowFilter[];
}

export interface SessionPolicySet {
  /** Stable hash of everything below: equal sets have equal fingerprints (cache key). */
  fingerprint: string;
  user: { id: string; username: string };
  dataSource: { id: string; name: string; accessMode: 'open' | 'policy_required' };
  /** The virtual catalog: every table this user may query, and nothing else. */
  tables: SecuredTable[];
  /** Every enabled policy effective for this user here, for the query audit. */
  policiesApplied: PolicyRef[];
}
