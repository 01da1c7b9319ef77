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
 */
import type { RangeVar } from '@pgsql/types';
import type { SecuredTable, SessionPolicySet } from '../policy/session.js';
import { PgError, SQLSTATE } from './errors.js';

/** Lookup structure built once per policy set (cached by fingerprint in rewrite.ts). */
export interface CatalogIndex {
  /** `visibleSchema \u0000 name` → table. */
  byName: Map<string, SecuredTable>;
  dataSourceName: string;
  username: string;
  /** Schema names the user sees (for search_path validation and CURRENT_SCHEMA). */
  schemas: ReadonlySet<string>;
}

export function buildCatalogIndex(policy: SessionPolicySet): CatalogIndex {
  const byName = new Map<string, SecuredTable>();
  for (const t of policy.tables) byName.set(`${t.visibleSchema}\u0000${t.name}`, t);
  const schemas = new Set(policy.tables.map((t) => t.visibleSchema));
  return { byName, dataSourceName: policy.dataSource.name, username: policy.user.username, schemas };
}

/** Schemas whose relations are served by the (later) virtual-catalog issue; refused until then. */
const CATALOG_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

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

/**
 * Resolves a RangeVar that is not a CTE reference to a table of the virtual
 * catalog, or throws the error PostgreSQL would raise for a missing relation.
 * `position` is the 1-based character position for the error.
 */
export function resolveTable(
  rv: RangeVar,
  index: CatalogIndex,
  searchPath: readonly string[],
  position?: number,
): SecuredTable {
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
    if (CATALOG_SCHEMAS.has(rv.schemaname)) throw notFound(rv, position);
    const t = index.byName.get(`${rv.schemaname}\u0000${relname}`);
    if (!t) throw notFound(rv, position);
    return t;
  }
  // Every pg_catalog relation is named pg_*, and pg_catalog is searched
  // first: such a name can never reach a user table, so refuse it outright.
  if (relname.startsWith('pg_')) throw notFound(rv, position);
  for (const entry of searchPath) {
    const schema = entry === '$user' ? index.username : entry;
    if (CATALOG_SCHEMAS.has(schema) || schema.startsWith('pg_temp')) continue;
    const t = index.byName.get(`${schema}\u0000${relname}`);
    if (t) return t;
  }
  throw notFound(rv, position);
}
