/**
 * rewrite.ts — the secured-subquery rewriter: what upstream executes.
 *
 * Rowgate enforces row filters, column masks and column/table denial by
 * rewriting the parse tree before the statement reaches PostgreSQL (design
 * §2). The mechanism, in the order it is applied to each statement:
 *
 *  1. Parse the whole input with libpg-query (parse.ts). Statement
 *     boundaries come from the parser; each statement is handled on its own,
 *     but any error refuses the whole input (threat model V135).
 *  2. Gate: the statement classifier and the function allowlist (owned by
 *     classify.ts / functions.ts, injected through `StatementGate`) run before
 *     any name is resolved, so a refused statement kind answers the same for
 *     hidden and missing relations.
 *  3. Resolve every relation reference, scope by scope (scope.ts,
 *     relations.ts): CTE names shadow tables in their scope, then pg_catalog
 *     (refused until the virtual catalog exists), then the session search
 *     path over the user's *visible* catalog. Anything not found is 42P01
 *     with the name as written — identical for hidden and nonexistent.
 *  4. Replace each resolved table by a secured subquery (secured-subquery.ts)
 *     carrying the user's alias: visible columns only, masks computed inside,
 *     row filters in its WHERE on raw values, fully qualified upstream name
 *     under a fresh alias no user identifier can name. Everything above the
 *     subquery — WHERE, JOIN, GROUP BY, HAVING, window, whole-row references —
 *     sees only masked values and visible columns; system columns are absent.
 *  5. Fence (fence.ts): a filtered subquery ends in OFFSET 0 so user
 *     predicates cannot be evaluated before the filter; leakproof top-level
 *     conjuncts are copied inside so indexes still serve point queries.
 *     This runs after the level's FROM and WHERE have been walked, because it
 *     needs the level's complete list of range entries.
 *  6. Deparse (compact) and verify (verify.ts): re-parse the text and compare
 *     with the intended tree; check that no relation reference escaped step 4.
 *     Both failures are internal errors — the statement is never forwarded.
 *
 * Errors are thrown as PgError (never returned): 42601 syntax, 42P01 unknown
 * relation, 0A000 cross-database reference, 25006 writes, 42883 functions
 * (from the gate), XX000 for anything internal.
 */
import type { Node } from '@pgsql/types';
import type { PolicyRef, SecuredTable, SessionPolicySet } from '../policy/session.js';
import { LruCache, rewriteCacheKey } from './cache.js';
import type { ClassifyOptions } from './classify.js';
import { classifyStatement } from './classify.js';
import { deparseStatement } from './deparse.js';
import { findForbiddenCalls } from './functions.js';
import { PgError, SQLSTATE } from './errors.js';
import { ensureParser, parseStatements } from './parse.js';
import type { CatalogIndex } from './relations.js';
import { buildCatalogIndex } from './relations.js';
import { finishSecuredSubquery } from './secured-subquery.js';
import type { WalkContext } from './scope.js';
import { walkNode, walkSelect } from './scope.js';
import { assertNoStrayRelations, verifyDeparsed } from './verify.js';

export interface RewrittenStatement {
  /** Statement kind for the audit, e.g. `select`, `declare_cursor`, `set`. */
  kind: string;
  originalSql: string;
  rewrittenSql: string;
  /** Every enabled policy effective for the user (api contract §10.1). */
  policiesApplied: PolicyRef[];
  /** Upstream tables the statement reads, `schema.table`. */
  tablesReferenced: string[];
}

export interface RewriteResult {
  statements: RewrittenStatement[];
}

export interface SessionState {
  searchPath: string[];
}

/**
 * The decisions other modules own, run on the user's statement before any
 * rewriting (so they see only what the user wrote, never policy expressions):
 * `classifyStatement` admits a statement (returning its audit kind) or
 * returns the refusal; `checkCalls` returns the first function / type /
 * operator off the allowlist (functions.ts `findForbiddenCalls`).
 */
export interface StatementGate {
  classifyStatement(stmt: Node): { kind: string } | PgError;
  checkCalls(stmt: Node): PgError | null;
}

/**
 * The production gate: classify.ts (which also runs the function / type /
 * operator allowlist on the user's tree). The audit kind is its `kind`.
 */
export function classifierGate(options: ClassifyOptions = {}): StatementGate {
  return {
    classifyStatement: (stmt) => {
      const c = classifyStatement(stmt, options);
      return c.kind === 'refused' ? c.error : { kind: c.kind };
    },
    checkCalls: () => null,
  };
}

/** A gate with the function allowlist of functions.ts and the given classifier. */
export function gateWithAllowlist(classifyStatement: StatementGate['classifyStatement']): StatementGate {
  return { classifyStatement, checkCalls: (stmt) => findForbiddenCalls(stmt) };
}

export interface RewriteOptions {
  gate: StatementGate;
  /** Re-parse and compare every rewritten statement (default on; see verify.ts). */
  verify?: boolean;
  cache?: LruCache<RewriteResult> | null;
}

const indexes = new LruCache<CatalogIndex>(256);

function catalogIndex(policy: SessionPolicySet): CatalogIndex {
  let idx = indexes.get(policy.fingerprint);
  if (!idx) {
    idx = buildCatalogIndex(policy);
    indexes.set(policy.fingerprint, idx);
  }
  return idx;
}

/** A prefix for fresh aliases that occurs nowhere in the input (case-insensitively). */
function freshPrefix(sql: string): string {
  const lower = sql.toLowerCase();
  // U&"..." identifiers can spell any name without its letters appearing in the text.
  if (lower.includes('u&')) return `_rg${Date.now().toString(36)}${Math.random().toString(36).slice(2)}_`;
  if (!lower.includes('_rg_')) return '_rg_';
  for (let i = 0; ; i++) if (!lower.includes(`_rg${i}_`)) return `_rg${i}_`;
}

/** Statements whose relation references the walker understands (others must contain none). */
function walkStatement(stmt: Node, ctx: WalkContext): void {
  const none = new Set<string>();
  if ('SelectStmt' in stmt) return walkSelect(stmt.SelectStmt, ctx, none, null);
  if ('CopyStmt' in stmt && stmt.CopyStmt.relation && !stmt.CopyStmt.is_from) {
    // COPY t [(cols)] TO … → COPY (SELECT cols|* FROM t) TO … (threat model V136).
    const c = stmt.CopyStmt;
    const relation = stmt.CopyStmt.relation;
    const cols = c.attlist?.length
      ? c.attlist.map((a) => ({ ResTarget: { val: { ColumnRef: { fields: [a] } } } }))
      : [{ ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }] } } } }];
    c.query = {
      SelectStmt: {
        targetList: cols,
        fromClause: [{ RangeVar: relation }],
        limitOption: 'LIMIT_OPTION_DEFAULT',
        op: 'SETOP_NONE',
      },
    };
    delete c.relation;
    delete c.attlist;
  }
  walkNode(stmt, ctx, none, null);
}

function rewriteOne(
  stmt: Node,
  sql: string,
  index: CatalogIndex,
  session: SessionState,
  verify: boolean,
  prefix: string,
) {
  let n = 0;
  const ctx: WalkContext = {
    index,
    searchPath: session.searchPath,
    sql,
    nextAlias: () => `${prefix}${++n}`,
    sdts: [],
    accounted: new Set(),
    tables: new Map<string, SecuredTable>(),
  };
  walkStatement(stmt, ctx);
  for (const sdt of ctx.sdts) {
    finishSecuredSubquery(sdt);
    markOwn(sdt.inner, ctx.accounted);
  }
  assertNoStrayRelations(stmt, ctx.accounted);
  const rewrittenSql = deparseStatement(stmt);
  if (verify) verifyDeparsed(rewrittenSql, stmt);
  return { rewrittenSql, tablesReferenced: [...ctx.tables.keys()] };
}

/**
 * Our own RangeVars: the base scan (maybe under TABLESAMPLE) and the FK-walk
 * parents of via filters. An SDT's inner SELECT holds only nodes we built
 * (plus copied conjuncts, which contain no relations), so all of it is ours.
 */
function markOwn(node: unknown, accounted: Set<object>): void {
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) stack.push(...(v as unknown[]));
    else if ('RangeVar' in v) accounted.add((v as { RangeVar: object }).RangeVar);
    else for (const x of Object.values(v)) stack.push(x);
  }
}

/** Synchronous core; the parser must be loaded (`ensureParser`). Throws PgError. */
export function rewriteSync(
  sqlText: string,
  policy: SessionPolicySet,
  session: SessionState,
  options: RewriteOptions,
): RewriteResult {
  const key = options.cache ? rewriteCacheKey(policy.fingerprint, session.searchPath, sqlText) : '';
  const hit = options.cache?.get(key);
  if (hit) return hit;
  const verify = options.verify !== false;
  const index = catalogIndex(policy);
  const parsed = parseStatements(sqlText);
  // Classify everything before resolving anything (and refuse the whole input on one refusal).
  const kinds = parsed.map((p) => {
    const c = options.gate.classifyStatement(p.node);
    if (c instanceof PgError) throw c;
    const refused = options.gate.checkCalls(p.node);
    if (refused) throw refused;
    return c.kind;
  });
  const prefix = freshPrefix(sqlText);
  const statements = parsed.map((p, i): RewrittenStatement => {
    const r = rewriteOne(p.node, sqlText, index, session, verify, prefix);
    return { kind: kinds[i]!, originalSql: p.originalSql, ...r, policiesApplied: policy.policiesApplied };
  });
  const result = { statements };
  options.cache?.set(key, result);
  return result;
}

/** Rewrites every statement of `sqlText` for this user; rejects with a PgError. */
export async function rewrite(
  sqlText: string,
  policy: SessionPolicySet,
  session: SessionState,
  options: RewriteOptions,
): Promise<RewriteResult> {
  await ensureParser();
  try {
    return rewriteSync(sqlText, policy, session, options);
  } catch (err) {
    if (err instanceof PgError) throw err;
    // Stack overflow on deeply nested input, or a bug: never a stack trace to the client.
    if (err instanceof RangeError) throw new PgError('54001', 'statement is too complex');
    throw new PgError(SQLSTATE.internalError, 'internal error');
  }
}
