/**
 * Turns a catalog relation reference into its filtered subquery node.
 *
 * The builders produce SQL text; it is parsed here with the real parser, so
 * the tree has exactly the shape verify.ts expects after deparsing. Parsed
 * trees are kept per policy set (the cache lives in the CatalogIndex, which
 * rewrite.ts caches by fingerprint — a policy change yields a new index, so
 * metadata visibility changes on the next statement, like data visibility)
 * and cloned for every use, because the rewriter mutates trees in place.
 */
import type { Alias, Node, RangeVar, SelectStmt } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import type { SessionPolicySet } from '../../policy/session.js';
import { PgError, SQLSTATE } from '../errors.js';
import type { CatalogRelation } from './allowlist.js';
import { catalogSql } from './allowlist.js';
import { trustSubtree } from './trust.js';
import { parseVisibleSets, type VisibleSet } from './visible-sets.js';
import type { VisibleModel } from './visible.js';
import { buildVisibleModel } from './visible.js';

export interface CatalogCache {
  model(): VisibleModel;
  trees: Map<string, SelectStmt>;
  /**
   * The `xmin` every catalog row shows, and the floor of `txid_current()`
   * (system-columns.ts, identity.ts): the Unix second after this policy set
   * was first used here — a new policy set (visibility changed) gets a higher one.
   */
  stateNumber: number;
  /** The visible-set CTEs every statement reading the catalog carries (visible-sets.ts). */
  sets(): readonly VisibleSet[];
}

export function createCatalogCache(policy: SessionPolicySet): CatalogCache {
  let model: VisibleModel | null = null;
  let sets: VisibleSet[] | null = null;
  const getModel = (): VisibleModel => (model ??= buildVisibleModel(policy));
  return {
    model: getModel,
    sets: () => (sets ??= parseVisibleSets(getModel())),
    trees: new Map(),
    stateNumber: Math.floor(Date.now() / 1000) + 1,
  };
}

/** Parses one builder's SELECT (throws XX000 if a builder is broken: never a partial catalog). */
export function parseCatalogSelect(sql: string): SelectStmt {
  let stmt: Node | undefined;
  try {
    stmt = parseSync(sql).stmts?.[0]?.stmt;
  } catch {
    stmt = undefined;
  }
  if (!stmt || !('SelectStmt' in stmt)) {
    throw new PgError(SQLSTATE.internalError, 'internal error: catalog subquery does not parse');
  }
  return stmt.SelectStmt;
}

/**
 * The `(SELECT …) AS <alias>` node replacing `rv`, which names `rel`. The
 * user's alias (and column aliases) are kept; without one, the relation's
 * name is the reference name, as for a plain table.
 *
 * `nullable`: the reference is on the nullable side of an outer join. A
 * subquery with per-row overrides (a LATERAL function scan) there is
 * computed once, as a MATERIALIZED CTE: PostgreSQL cannot carry the outer
 * join's `ON x.oid = …` through the override to the catalog's index, and
 * underestimating the outer side it re-runs the whole scan, overrides and
 * all, per outer row (Npgsql's type query spent 0.7 s in 27 000 pg_class
 * overrides). A CTE is evaluated once and rescanned from memory.
 */
export function catalogSubquery(
  rel: CatalogRelation,
  rv: RangeVar,
  cache: CatalogCache,
  nullable = false,
): Node {
  const key = `${rel.schema}.${rel.name}${nullable ? '/nullable' : ''}`;
  let tree = cache.trees.get(key);
  if (!tree) {
    const sql = catalogSql(rel, cache.model());
    const materialize = nullable && sql.includes('LATERAL');
    tree = parseCatalogSelect(
      materialize ? `WITH _rg_once AS MATERIALIZED (${sql}) SELECT * FROM _rg_once` : sql,
    );
    cache.trees.set(key, tree);
  }
  const inner = structuredClone(tree);
  trustSubtree(inner);
  const alias: Alias = { aliasname: rv.alias?.aliasname ?? rel.name };
  if (rv.alias?.colnames?.length) alias.colnames = rv.alias.colnames;
  return { RangeSubselect: { subquery: { SelectStmt: inner }, alias } };
}
