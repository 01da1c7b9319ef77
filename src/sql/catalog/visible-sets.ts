/**
 * The visible-object sets (visible.ts: rel, att, idx, con, typ, nsp, atd,
 * seq) as MATERIALIZED CTEs at the top of a statement that reads the virtual
 * catalog. Every filtered catalog subquery and guard reads them by name, so
 * each set is planned and computed once per statement instead of once per
 * reference: psql's `\d` queries went from 70–130 KB of SQL with up to 150
 * pg_class scans to one definition per set. Only the sets a statement reads
 * (and the sets those read) are attached.
 *
 * The CTE names are reserved: a user CTE of the same prefix anywhere in the
 * statement could shadow a set inside its scope (and widen what a catalog
 * subquery shows), so such a statement is refused (42939).
 */
import type { CommonTableExpr, Node, SelectStmt } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import { PgError, SQLSTATE } from '../errors.js';
import { forEachObject } from '../tree.js';
import { trustSubtree } from './trust.js';
import type { VisibleModel } from './visible.js';

const RESERVED_PREFIX = '_rgv_';

/** One parsed set CTE and every set it reads, directly or not (itself included). */
export interface VisibleSet {
  cte: CommonTableExpr;
  closure: ReadonlySet<string>;
}

/** The parsed CTE list of `model`, in dependency order (parsed once per policy set; callers clone). */
export function parseVisibleSets(model: VisibleModel): VisibleSet[] {
  const defs = model.ctes.map(([name, sql]) => `${name} AS MATERIALIZED (${sql})`).join(', ');
  const stmt = parseSync(`WITH ${defs} SELECT 1`).stmts?.[0]?.stmt;
  const ctes = stmt && 'SelectStmt' in stmt ? stmt.SelectStmt.withClause?.ctes : undefined;
  if (!ctes || ctes.length !== model.ctes.length)
    throw new PgError(SQLSTATE.internalError, 'internal error: visible sets do not parse');
  const closures = new Map<string, ReadonlySet<string>>();
  return ctes.map((node) => {
    const cte = 'CommonTableExpr' in node ? node.CommonTableExpr : ({} as CommonTableExpr);
    // Each set reads earlier ones only, so their closures are known already.
    const closure = new Set([cte.ctename ?? '']);
    for (const read of setsRead(cte.ctequery, false))
      for (const n of closures.get(read) ?? []) closure.add(n);
    closures.set(cte.ctename ?? '', closure);
    return { cte, closure };
  });
}

/** The SELECT whose WITH list is in scope for the whole statement `node` emits. */
function topSelect(node: Node): SelectStmt | null {
  if ('SelectStmt' in node) return node.SelectStmt;
  const holder = (node as Record<string, { query?: Node } | undefined>)[Object.keys(node)[0] ?? ''];
  const inner = holder?.query;
  return inner && typeof inner === 'object' ? topSelect(inner) : null;
}

/**
 * The set names `tree` reads; refuses a tree that defines a CTE with the
 * reserved prefix anywhere (iteratively: deep trees do not overflow).
 */
function setsRead(tree: unknown, refuseDefinitions: boolean): Set<string> {
  const names = new Set<string>();
  forEachObject(tree, (o) => {
    const cte = o.CommonTableExpr as CommonTableExpr | undefined;
    if (refuseDefinitions && cte?.ctename?.startsWith(RESERVED_PREFIX))
      throw new PgError('42939', `WITH query name "${cte.ctename}" is reserved`);
    const rv = o.RangeVar as { relname?: string; schemaname?: string } | undefined;
    if (rv?.relname?.startsWith(RESERVED_PREFIX) && !rv.schemaname) names.add(rv.relname);
  });
  return names;
}

/**
 * Prepends clones of `sets` to the WITH list of the statement `emit` emits,
 * marked trusted (catalog/trust.ts); returns them so the caller can account
 * for their relations. Throws XX000 when there is no SELECT to attach to
 * (fail closed: the catalog subqueries would not resolve).
 */
export function attachVisibleSets(emit: Node, sets: readonly VisibleSet[]): Node[] {
  const read = setsRead(emit, true);
  const top = topSelect(emit);
  if (!top) throw new PgError(SQLSTATE.internalError, 'internal error: no query to attach the catalog to');
  // Only the sets read, and those they read: an unused CTE still costs PostgreSQL parse analysis.
  const wanted = new Set<string>();
  for (const s of sets) if (read.has(s.cte.ctename ?? '')) for (const n of s.closure) wanted.add(n);
  const clones = sets.filter((s) => wanted.has(s.cte.ctename ?? '')).map((s) => structuredClone(s.cte));
  if (clones.length === 0) return [];
  for (const c of clones) if (c.ctequery) trustSubtree(c.ctequery);
  const nodes: Node[] = clones.map((c) => ({ CommonTableExpr: c }));
  top.withClause = {
    ...top.withClause,
    ctes: [...nodes, ...(top.withClause?.ctes ?? [])],
  };
  return nodes;
}
