/**
 * Securing one statement tree — steps 3–6 of rewrite.ts — and the final
 * re-check of what goes upstream.
 *
 * After the walk has replaced every relation by its secured subquery, the
 * tree holds user nodes and policy nodes (masks, filters, anchor walks). Before
 * deparsing, identity calls become constants (identity.ts) and the function
 * allowlist runs again on the final tree (threat model V158, F1): policy
 * expressions were validated when saved, and the user's calls by the gate, but
 * what is checked is what is sent. A refusal inside a secured subquery can
 * only come from a policy expression: that is an internal error (XX000) that
 * names nothing of the policy. Elsewhere it is the user's own call, refused
 * with the function error as PostgreSQL words it.
 *
 * Virtual catalog (catalog/): before the walk, catalog functions and reg*
 * casts are rewritten into guarded forms (catalog/calls.ts); the walk then
 * replaces catalog relations — the user's and those of the guards — by their
 * filtered subqueries. Those inner SELECTs are the rewriter's own: their
 * relations are accounted for, and the identity replacement and the
 * allowlist re-check skip them (catalog/trust.ts).
 */
import type { Node } from '@pgsql/types';
import type { SecuredTable } from '../policy/session.js';
import { rewriteCatalogCalls } from './catalog/calls.js';
import { attachVisibleSets } from './catalog/visible-sets.js';
import { deparseStatement } from './deparse.js';
import { denied, PgError, SQLSTATE } from './errors.js';
import { findForbiddenCalls, type FunctionCheckOptions } from './functions.js';
import { currentSchema, replaceIdentityCalls } from './identity.js';
import type { CatalogIndex } from './relations.js';
import type { WalkContext } from './scope.js';
import { walkNode, walkSelect } from './scope.js';
import { finishSecuredSubquery } from './secured-subquery.js';
import { forEachObject } from './tree.js';
import { assertNoStrayRelations, verifyDeparsed } from './verify.js';

export interface SecureOptions {
  index: CatalogIndex;
  searchPath: readonly string[];
  /** Whole input text (locations are byte offsets into it). */
  sql: string;
  /** Fresh-alias prefix that occurs nowhere in the input. */
  prefix: string;
  verify: boolean;
  functions?: FunctionCheckOptions;
  /** The session's virtual pid for `pg_backend_pid()` (identity.ts); null or absent: NULL. */
  backendPid?: number | null;
}

export interface Secured {
  rewrittenSql: string;
  tablesReferenced: string[];
}

/** Statements whose relation references the walker understands (others must contain none). */
function walkStatement(stmt: Node, ctx: WalkContext): void {
  const none = new Set<string>();
  if ('SelectStmt' in stmt) return walkSelect(stmt.SelectStmt, ctx, none, null);
  if ('CopyStmt' in stmt && stmt.CopyStmt.relation && !stmt.CopyStmt.is_from) {
    // COPY t [(cols)] TO … → COPY (SELECT cols|* FROM t) TO … (threat model V136).
    const c = stmt.CopyStmt;
    const cols = c.attlist?.length
      ? c.attlist.map((a) => ({ ResTarget: { val: { ColumnRef: { fields: [a] } } } }))
      : [{ ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }] } } } }];
    c.query = {
      SelectStmt: {
        targetList: cols,
        fromClause: [{ RangeVar: c.relation! }],
        limitOption: 'LIMIT_OPTION_DEFAULT',
        op: 'SETOP_NONE',
      },
    };
    delete c.relation;
    delete c.attlist;
  }
  walkNode(stmt, ctx, none, null);
}

/**
 * Our own RangeVars: the base scan (maybe under TABLESAMPLE) and the FK-walk
 * parents of via filters. An SDT's inner SELECT holds only nodes we built
 * (plus copied conjuncts, which contain no relations), so all of it is ours.
 */
function markOwn(node: unknown, accounted: Set<object>): void {
  forEachObject(node, (o) => {
    if (o.RangeVar && typeof o.RangeVar === 'object') accounted.add(o.RangeVar);
  });
}

/** The allowlist on the final tree; see the module comment for which error is raised. */
function recheckCalls(stmt: Node, policyParts: unknown[], functions: FunctionCheckOptions = {}): void {
  const options = { ...functions, rewritten: true };
  for (const part of policyParts) {
    const error = findForbiddenCalls(part, options);
    if (error) throw new PgError(SQLSTATE.internalError, 'internal error: policy expression not allowed');
  }
  const error = findForbiddenCalls(stmt, options);
  if (error) throw error.sqlstate === SQLSTATE.internalError ? error : denied(error);
}

/**
 * Rewrites `stmt` in place and returns the upstream text of `emit` (default:
 * the whole statement; EXPLAIN emits only its inner query, behind a prefix).
 */
export function secureStatement(stmt: Node, o: SecureOptions, emit: Node = stmt): Secured {
  let n = 0;
  const ctx: WalkContext = {
    index: o.index,
    searchPath: o.searchPath,
    sql: o.sql,
    nextAlias: () => `${o.prefix}${++n}`,
    sdts: [],
    accounted: new Set(),
    tables: new Map<string, SecuredTable>(),
    catalogSubqueries: [],
    stateColumns: 0,
  };
  rewriteCatalogCalls(stmt, { index: o.index, searchPath: o.searchPath, sql: o.sql, fresh: ctx.nextAlias });
  walkStatement(stmt, ctx);
  for (const node of ctx.catalogSubqueries) markOwn(node, ctx.accounted);
  if (ctx.catalogSubqueries.length > 0)
    for (const cte of attachVisibleSets(emit, o.index.catalog.sets())) markOwn(cte, ctx.accounted);
  for (const sdt of ctx.sdts) {
    finishSecuredSubquery(sdt);
    markOwn(sdt.inner, ctx.accounted);
  }
  assertNoStrayRelations(stmt, ctx.accounted);
  replaceIdentityCalls(stmt, {
    username: o.index.username,
    database: o.index.dataSourceName,
    schema: currentSchema(o.searchPath, o.index),
    backendPid: o.backendPid ?? null,
    stateNumber: o.index.catalog.stateNumber,
  });
  recheckCalls(
    stmt,
    ctx.sdts.map((s) => s.inner),
    o.functions,
  );
  const rewrittenSql = deparseStatement(emit);
  if (o.verify) verifyDeparsed(rewrittenSql, emit);
  return { rewrittenSql, tablesReferenced: [...ctx.tables.keys()] };
}
