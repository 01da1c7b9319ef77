/**
 * Relation name resolution against the user's virtual catalog.
 *
 * The proxy, not the upstream, decides which relation a name means (design
 * §2, threat model V78/V127/V160): the rewritten SQL always names upstream
 * relations fully qualified, so upstream's own search_path never matters.
 * Order for an unqualified name, as in PostgreSQL: CTE names in scope (the
 * caller checks those first), then pg_catalog, then the session search path —
 * over *visible* schemas and tables only, so a hidden table earlier in the
 * path can neither shadow a visible one nor be detected by a name lookup.
 * Catalog names resolve to the allowlisted catalog relations of the virtual
 * catalog (catalog/allowlist.ts); any other catalog relation is 42P01.
 */
import type { RangeVar } from '@pgsql/types';
import type { SecuredTable, SessionPolicySet } from '../policy/session.js';
import type { CatalogRelation } from './catalog/allowlist.js';
import { CATALOG_SCHEMAS, catalogRelation } from './catalog/allowlist.js';
import type { CatalogCache } from './catalog/subquery.js';
import { createCatalogCache } from './catalog/subquery.js';
import { PgError, SQLSTATE } from './errors.js';

/** Lookup structure built once per policy set (cached by fingerprint in rewrite.ts). */
export interface CatalogIndex {
  /** `visibleSchema \u0000 name` → table. */
  byName: Map<string, SecuredTable>;
  dataSourceName: string;
  username: string;
  /** Schema names the user sees (for search_path validation and CURRENT_SCHEMA). */
  schemas: ReadonlySet<string>;
  /** Visible-object model and parsed catalog subqueries of this policy set, built on first use. */
  catalog: CatalogCache;
  /**
   * Types of visible columns (element name, without a leading `_`) → the
   * schemas a qualified reference may name: the column's table schema when it
   * is not aliased (the rewritten SQL keeps type names as written).
   */
  columnTypes: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The function allowlist's hook for user types (functions.ts): a type (or its
 * array) that a visible column has reveals nothing new, so casts to it are
 * admitted — unqualified, or qualified with its unaliased schema.
 */
export function isColumnType(index: CatalogIndex, schema: string | undefined, name: string): boolean {
  const schemas = index.columnTypes.get(name) ?? index.columnTypes.get(name.replace(/^_/, ''));
  return schemas !== undefined && (schema === undefined || schemas.has(schema));
}

export function buildCatalogIndex(policy: SessionPolicySet): CatalogIndex {
  const byName = new Map<string, SecuredTable>();
  for (const t of policy.tables) byName.set(`${t.visibleSchema}\u0000${t.name}`, t);
  const schemas = new Set(policy.tables.map((t) => t.visibleSchema));
  const columnTypes = new Map<string, Set<string>>();
  for (const t of policy.tables)
    for (const c of t.columns) {
      if (c.udtName === null) continue;
      const name = c.udtName.replace(/^_/, '');
      const set = columnTypes.get(name) ?? new Set<string>();
      if (t.schema === t.visibleSchema) set.add(t.schema);
      columnTypes.set(name, set);
    }
  return {
    columnTypes,
    byName,
    dataSourceName: policy.dataSource.name,
    username: policy.user.username,
    schemas,
    catalog: createCatalogCache(policy),
  };
}

/** Name as the user wrote it, as PostgreSQL prints it in `relation "…" does not exist`. */
export function nameAsWritten(rv: RangeVar): string {
  return [rv.catalogname, rv.schemaname, rv.relname].filter((p) => p !== undefined && p !== '').join('.');
}

export class RelationNotFound extends PgError {}

function notFound(rv: RangeVar, position: number | undefined): PgError {
  const extra = position !== undefined ? { position } : {};
  return new RelationNotFound(
    SQLSTATE.undefinedTable,
    `relation "${nameAsWritten(rv)}" does not exist`,
    extra,
  );
}

export type ResolvedRelation =
  { kind: 'table'; table: SecuredTable } | { kind: 'catalog'; relation: CatalogRelation };

/**
 * Resolves a RangeVar that is not a CTE reference to a table of the virtual
 * catalog or an allowlisted catalog relation, or throws the error PostgreSQL
 * would raise for a missing relation. `position` is the 1-based character
 * position for the error.
 */
export function resolveRelation(
  rv: RangeVar,
  index: CatalogIndex,
  searchPath: readonly string[],
  position?: number,
): ResolvedRelation {
  const relname = rv.relname ?? '';
  if (rv.catalogname) {
    // The data source name plays the role of the database name (V79); any
    // other database is what PostgreSQL refuses before any lookup.
    if (rv.catalogname !== index.dataSourceName) {
      throw new PgError(
        SQLSTATE.featureNotSupported,
        `cross-database references are not implemented: "${rv.catalogname}.${rv.schemaname}.${relname}"`,
        position !== undefined ? { position } : {},
      );
    }
  }
  if (rv.schemaname) {
    if (CATALOG_SCHEMAS.has(rv.schemaname)) {
      const relation = catalogRelation(rv.schemaname, relname);
      if (!relation) throw notFound(rv, position);
      return { kind: 'catalog', relation };
    }
    const t = index.byName.get(`${rv.schemaname}\u0000${relname}`);
    if (!t) throw notFound(rv, position);
    return { kind: 'table', table: t };
  }
  // pg_catalog is searched first. Every pg_catalog relation is named pg_*:
  // such a name can never reach a user table, so one not served is absent.
  const builtin = catalogRelation('pg_catalog', relname);
  if (builtin) return { kind: 'catalog', relation: builtin };
  if (relname.startsWith('pg_')) throw notFound(rv, position);
  for (const entry of searchPath) {
    const schema = entry === '$user' ? index.username : entry;
    if (schema === 'information_schema') {
      const relation = catalogRelation(schema, relname);
      if (relation) return { kind: 'catalog', relation };
      continue;
    }
    if (CATALOG_SCHEMAS.has(schema) || schema.startsWith('pg_temp')) continue;
    const t = index.byName.get(`${schema}\u0000${relname}`);
    if (t) return { kind: 'table', table: t };
  }
  throw notFound(rv, position);
}

/** resolveRelation for callers that accept user tables only (a catalog relation is 42P01 there). */
export function resolveTable(
  rv: RangeVar,
  index: CatalogIndex,
  searchPath: readonly string[],
  position?: number,
): SecuredTable {
  const r = resolveRelation(rv, index, searchPath, position);
  if (r.kind !== 'table') throw notFound(rv, position);
  return r.table;
}
