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
 *     (the allowlisted catalog relations of catalog/), then the session
 *     search path over the user's *visible* catalog. Anything not found is
 *     42P01 with the name as written — identical for hidden and nonexistent.
 *     Catalog relations become filtered subqueries over the real catalog, and
 *     catalog functions / reg* casts are first rewritten into guarded forms
 *     (catalog/calls.ts), so metadata shows exactly the visible objects.
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
 *  6. Identity calls (CURRENT_USER, current_database(), CURRENT_SCHEMA…)
 *     become constants of the Rowgate user's view (identity.ts) and the
 *     function allowlist runs again on the final tree, policy expressions
 *     included (secure.ts).
 *  7. Deparse (compact) and verify (verify.ts): re-parse the text and compare
 *     with the intended tree; check that no relation reference escaped step 4.
 *     Both failures are internal errors — the statement is never forwarded.
 *
 * Every classification kind has its upstream form (statements.ts): secured
 * queries, cursor / PREPARE / EXECUTE / COPY bodies, EXPLAIN behind its
 * policy, BEGIN forced READ ONLY, and `null` for SHOW / SET / RESET, which
 * the proxy answers or applies itself. SET search_path is validated against
 * the visible schemas and returned as the next session state; later
 * statements of the same input already resolve names with it.
 *
 * Caches (cache.ts, normalized.ts): an exact-text memo in front, then a
 * literal-normalized template for single point queries that differ only in
 * constants. A cache belongs to one gate configuration (one data source).
 * Statements touching the catalog are never templated (their rewrite
 * depends on literal values). Both caches and the catalog index are keyed by
 * the policy fingerprint, so a policy change changes metadata visibility on
 * the next statement, like data visibility.
 *
 * Errors are thrown as PgError (never returned): 42601 syntax, 42P01 unknown
 * relation, 0A000 cross-database reference, 25006 writes, 42883 functions
 * (from the gate), XX000 for anything internal. `PgError.audit` says how the
 * audit records the statement (`denied` for refusals by rule, else `error`).
 */
import type { Node } from '@pgsql/types';
import type { SessionPolicySet } from '../policy/session.js';
import { LruCache, rewriteCacheKey } from './cache.js';
import { touchesCatalog } from './catalog/calls.js';
import type { ClassifyOptions } from './classify.js';
import { classifyStatement } from './classify.js';
import { PgError, SQLSTATE } from './errors.js';
import { findForbiddenCalls, type FunctionCheckOptions } from './functions.js';
import type { NormalizedTemplate } from './normalized.js';
import { fromTemplate, prepareTemplate, type TemplateDraft } from './normalized.js';
import { ensureParser, parseStatements } from './parse.js';
import type { CatalogIndex } from './relations.js';
import { buildCatalogIndex, isColumnType } from './relations.js';
import type { SessionSettings } from './settings.js';
import type { GateVerdict, RewrittenStatement } from './statements.js';
import { rewriteStatement } from './statements.js';

export type { AuditStatus, GateVerdict, RewrittenStatement, SearchPathChange } from './statements.js';

export interface SessionState {
  /** Search path for name resolution (as written or as returned by a SET; `$user` allowed). */
  searchPath: string[];
  /** The session's settings (SET validation needs the current DateStyle etc.). */
  settings?: SessionSettings;
  /** The process id the client was given (BackendKeyData): what `pg_backend_pid()` answers. */
  backendPid?: number | null;
}

/**
 * Texts whose rewrite embeds a per-session value (the virtual pid) are never
 * memoized: the caches are shared by every session of a policy set. `u&`
 * because a Unicode-escaped identifier can spell the name without its letters.
 */
const SESSION_BOUND = /backend_pid|u&/i;

export interface RewriteResult {
  statements: RewrittenStatement[];
  /** Session state after the statements (search path changed by SET / RESET), for the caller to keep. */
  session: SessionState;
}

/**
 * The decisions other modules own, run on the user's statement before any
 * rewriting (so they see only what the user wrote, never policy expressions):
 * `classifyStatement` admits a statement (returning its classification, or
 * just a kind for test gates) or returns the refusal; `checkCalls` returns the
 * first function / type / operator off the allowlist (functions.ts).
 */
export interface StatementGate {
  /** `functions`: the allowlist options of this policy set (visible user types). */
  classifyStatement(
    stmt: Node,
    session: SessionState,
    functions?: FunctionCheckOptions,
  ): GateVerdict | PgError;
  checkCalls(stmt: Node): PgError | null;
  /** Options of the function allowlist, for the re-check of the rewritten tree. */
  functions?: FunctionCheckOptions;
}

/**
 * The production gate: classify.ts (which also runs the function / type /
 * operator allowlist on the user's tree). The session's settings, when
 * given, replace `options.settings`.
 */
export function classifierGate(options: ClassifyOptions = {}): StatementGate {
  return {
    classifyStatement: (stmt, session, functions) => {
      const c = classifyStatement(stmt, {
        ...options,
        settings: session.settings ?? options.settings,
        functions: { ...options.functions, ...functions },
      });
      if (c.kind !== 'refused') return c;
      c.error.audit = c.audit;
      return c.error;
    },
    checkCalls: () => null,
    ...(options.functions ? { functions: options.functions } : {}),
  };
}

/** A gate with the function allowlist of functions.ts and the given classifier. */
export function gateWithAllowlist(classify: (stmt: Node) => GateVerdict | PgError): StatementGate {
  return { classifyStatement: classify, checkCalls: (stmt) => findForbiddenCalls(stmt) };
}

export interface RewriteOptions {
  gate: StatementGate;
  /** Re-parse and compare every rewritten statement (default on; see verify.ts). */
  verify?: boolean;
  /** Exact-text memo. */
  cache?: LruCache<RewriteResult> | null;
  /** Literal-normalized templates (normalized.ts); consulted after `cache`. */
  templates?: LruCache<NormalizedTemplate> | null;
  /** What RESET search_path restores (default `"$user", public`). */
  defaultSearchPath?: readonly string[];
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

const DEFAULT_SEARCH_PATH = ['$user', 'public'];

/** Synchronous core; the parser must be loaded (`ensureParser`). Throws PgError. */
export function rewriteSync(
  sqlText: string,
  policy: SessionPolicySet,
  session: SessionState,
  options: RewriteOptions,
): RewriteResult {
  const memo = SESSION_BOUND.test(sqlText) ? { ...options, cache: null, templates: null } : options;
  const key = memo.cache ? rewriteCacheKey(policy.fingerprint, session.searchPath, sqlText) : '';
  const hit = memo.cache?.get(key);
  if (hit) return { ...hit, session };
  const fast = memo.templates ? fromTemplate(sqlText, policy, session, memo.templates) : null;
  if (fast) {
    memo.cache?.set(key, fast);
    return fast;
  }
  const verify = options.verify !== false;
  const index = catalogIndex(policy);
  const parsed = parseStatements(sqlText);
  const functions: FunctionCheckOptions = {
    ...options.gate.functions,
    isVisibleType: (schema, name) => isColumnType(index, schema, name),
  };
  // Classify everything before resolving anything (and refuse the whole input on one refusal).
  const verdicts = parsed.map((p) => {
    const c = options.gate.classifyStatement(p.node, session, functions);
    if (c instanceof PgError) throw c;
    const refused = options.gate.checkCalls(p.node);
    if (refused) {
      refused.audit = 'denied';
      throw refused;
    }
    return c;
  });
  // Only a lone query can become a template; its literals are tagged before the rewrite.
  let draft: TemplateDraft | null = null;
  if (
    memo.templates &&
    parsed.length === 1 &&
    verdicts[0]!.kind === 'query' &&
    !touchesCatalog(parsed[0]!.node)
  ) {
    draft = prepareTemplate(sqlText, parsed[0]!, policy, session);
  }
  const prefix = freshPrefix(sqlText);
  let current = session;
  const statements = parsed.map((p, i): RewrittenStatement => {
    const r = rewriteStatement(p.node, verdicts[i]!, {
      index,
      searchPath: current.searchPath,
      sql: sqlText,
      prefix,
      verify,
      functions,
      policiesApplied: policy.policiesApplied,
      defaultSearchPath: options.defaultSearchPath ?? DEFAULT_SEARCH_PATH,
      backendPid: session.backendPid ?? null,
    });
    // SET search_path applies to the statements after it in the same input.
    if (r.searchPath) current = { ...current, searchPath: r.searchPath.searchPath };
    return { ...r, originalSql: p.originalSql };
  });
  const result: RewriteResult = { statements, session: current };
  if (draft && statements[0]) draft.finish(parsed[0]!.node, statements[0], memo.templates!);
  // SET / RESET depend on the current settings, not only on the text: never memoized.
  if (memo.cache && !statements.some((s) => s.kind === 'set' || s.kind === 'reset')) {
    memo.cache.set(key, result);
  }
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
