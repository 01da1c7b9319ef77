/**
 * One admitted statement → what goes upstream, by classification kind
 * (classify.ts). The session layer gets, per statement, the upstream text or
 * `null` when the proxy answers or applies the statement itself:
 *
 *  query, DECLARE CURSOR, PREPARE, EXECUTE   secured (bodies and parameter sub-selects)
 *  COPY (q) TO STDOUT, COPY t TO STDOUT      secured; the table form becomes `COPY (SELECT …)` (V136)
 *  EXPLAIN                                   only when the data source allows it (explain.ts);
 *                                            `EXPLAIN (FORMAT …, COSTS …) <secured query>`
 *  BEGIN / START / COMMIT / …                transactionSql(): BEGIN is always READ ONLY
 *  FETCH / MOVE / CLOSE / DEALLOCATE / DISCARD  deparsed as written (no relations)
 *  SHOW                                      null: the proxy answers from its own settings (V140)
 *  SET / RESET                               null: the session layer applies the classification;
 *                                            search_path is validated against the visible schemas
 *                                            and returned as the next session state (never sent up)
 */
import type { Node } from '@pgsql/types';
import type { PolicyRef } from '../policy/session.js';
import type { Classification } from './classify.js';
import { commandTag, transactionSql } from './classify.js';
import { explainPrefix } from './explain.js';
import type { PgError } from './errors.js';
import type { SecureOptions } from './secure.js';
import { secureStatement } from './secure.js';
import { splitIdentifiers, validateSearchPath } from './settings.js';

export type AuditStatus = 'success' | 'denied' | 'error';

/** A new search path set by SET / RESET: the caller keeps it as session state. */
export interface SearchPathChange {
  /** Names resolution uses (visible schemas, `$user` resolved), in order: the next `SessionState.searchPath`. */
  searchPath: string[];
  /** What SHOW search_path prints (names as written). */
  show: string;
  /** SET LOCAL: reverts at transaction end (the session layer's job). */
  isLocal: boolean;
}

export interface RewrittenStatement {
  /** Classification kind (query, cursor, set, …) or, with a test gate, the gate's kind. */
  kind: string;
  /** PostgreSQL's command tag, e.g. `SELECT`, `DECLARE CURSOR`. */
  commandTag: string;
  originalSql: string;
  /** What to send upstream; null when the proxy answers (SHOW) or applies (SET/RESET) it itself. */
  rewrittenSql: string | null;
  /** Every enabled policy effective for the user (api contract §10.1); [] for session statements. */
  policiesApplied: PolicyRef[];
  /** Upstream tables the statement reads, `schema.table`. */
  tablesReferenced: string[];
  /** Audit hint for a statement that passed the rewriter (errors carry PgError.audit). */
  audit: AuditStatus;
  /** The classifier's verdict (SET assignments, cursor names, …) when the classifier was the gate. */
  classification?: Classification;
  searchPath?: SearchPathChange;
}

/** What a gate returns for an admitted statement: a full classification, or only a kind (test gates). */
export type GateVerdict = Classification | { kind: string; commandTag?: undefined };

export interface StatementOptions extends SecureOptions {
  policiesApplied: PolicyRef[];
  defaultSearchPath: readonly string[];
}

type Out = Omit<RewrittenStatement, 'originalSql'>;

function searchPathChange(names: readonly string[], isLocal: boolean, o: StatementOptions): SearchPathChange {
  const r = validateSearchPath(names, o.index.schemas, o.index.username);
  // classifySet already refused pg_temp / pg_toast names; the default path has none.
  if ('sqlstate' in r) throw r as PgError;
  return { searchPath: r.effective, show: r.value, isLocal };
}

function sessionStatement(c: Classification, o: StatementOptions): Out {
  const base = { kind: c.kind, commandTag: c.commandTag, classification: c };
  const out: Out = {
    ...base,
    rewrittenSql: null,
    policiesApplied: [],
    tablesReferenced: [],
    audit: 'success',
  };
  if (c.kind === 'set') {
    const a = c.assignments.find((x) => x.name === 'search_path');
    if (a) out.searchPath = searchPathChange(splitIdentifiers(a.value), c.isLocal, o);
  } else if (c.kind === 'reset' && (c.name === 'search_path' || c.name === 'all')) {
    out.searchPath = searchPathChange(o.defaultSearchPath, c.isLocal, o);
  }
  return out;
}

/** Rewrites one admitted statement (`stmt` is mutated). */
export function rewriteStatement(stmt: Node, verdict: GateVerdict, o: StatementOptions): Out {
  const reads = (emit?: Node, prefix = ''): Out => {
    const s = secureStatement(stmt, o, emit);
    return {
      kind: verdict.kind,
      commandTag: verdict.commandTag ?? commandTag(stmt),
      rewrittenSql: prefix + s.rewrittenSql,
      policiesApplied: o.policiesApplied,
      tablesReferenced: s.tablesReferenced,
      audit: 'success',
      ...(verdict.commandTag !== undefined ? { classification: verdict } : {}),
    };
  };
  if (verdict.commandTag === undefined) return reads(); // a test gate: secure the statement as it is
  const c = verdict;
  switch (c.kind) {
    case 'query':
    case 'prepare':
    case 'execute':
      return reads();
    case 'cursor':
      return c.action === 'declare' ? reads() : { ...reads(), policiesApplied: [] };
    case 'copy-out': {
      if ('CopyStmt' in stmt && c.relation) {
        // COPY t TO STDOUT ≡ COPY (SELECT cols|* FROM t) TO STDOUT: the classifier built that query.
        delete stmt.CopyStmt.relation;
        delete stmt.CopyStmt.attlist;
        stmt.CopyStmt.query = { SelectStmt: c.query };
      }
      return reads();
    }
    case 'explain': {
      const inner = 'ExplainStmt' in stmt ? stmt.ExplainStmt.query : undefined;
      return reads(inner, explainPrefix(c.options));
    }
    case 'transaction': {
      // Rebuilt from the classification, never deparsed: BEGIN becomes BEGIN READ ONLY.
      const sql = transactionSql(c);
      return { ...sessionStatement(c, o), rewrittenSql: sql };
    }
    case 'deallocate':
    case 'discard':
      return { ...reads(), policiesApplied: [] };
    case 'show':
    case 'set':
    case 'reset':
      return sessionStatement(c, o);
    case 'refused':
      throw c.error;
  }
}
