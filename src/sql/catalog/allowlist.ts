/**
 * The catalog relations a client may read, and how a name resolves to one.
 *
 * Only relations with a builder (pg-catalog.ts, info-schema*.ts) exist for the
 * user; every other pg_catalog / information_schema / pg_toast relation —
 * statistics (pg_stats, pg_statistic), activity (pg_stat_activity, pg_locks),
 * roles (pg_authid, pg_shadow), files and configuration (pg_hba_file_rules,
 * pg_file_settings), prepared statements and cursors, and the information_schema
 * views no builder serves (foreign servers and user mappings, routine/UDT
 * privileges, sql_features & co.) — is absent: 42P01 exactly as for a relation
 * that does not exist (threat model I2, V92–V113).
 *
 * Unqualified names: pg_catalog is searched first, as in PostgreSQL, so
 * `SELECT * FROM pg_class` works; information_schema only when the session's
 * search path names it (relations.ts walks the path).
 */
import type { VisibleModel } from './visible.js';
import { INFORMATION_SCHEMA_BUILDERS } from './info-schema.js';
import { PG_CATALOG_BUILDERS } from './pg-catalog.js';

export type CatalogSchema = 'pg_catalog' | 'information_schema';

export interface CatalogRelation {
  schema: CatalogSchema;
  name: string;
}

/** Schemas whose relations are catalog relations (served from the allowlist, or absent). */
export const CATALOG_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

const BUILDERS: Record<CatalogSchema, Record<string, (m: VisibleModel) => string>> = {
  pg_catalog: PG_CATALOG_BUILDERS,
  information_schema: INFORMATION_SCHEMA_BUILDERS,
};

/** The allowlisted relation `schema.name`, or null (absent for the user). */
export function catalogRelation(schema: string, name: string): CatalogRelation | null {
  if (schema !== 'pg_catalog' && schema !== 'information_schema') return null;
  return Object.hasOwn(BUILDERS[schema], name) ? { schema, name } : null;
}

/** The SELECT text serving `rel` for this visible-object model. */
export function catalogSql(rel: CatalogRelation, model: VisibleModel): string {
  return BUILDERS[rel.schema][rel.name]!(model);
}

/** Every allowlisted relation (tests iterate it). */
export function allCatalogRelations(): CatalogRelation[] {
  return (['pg_catalog', 'information_schema'] as const).flatMap((schema) =>
    Object.keys(BUILDERS[schema]).map((name) => ({ schema, name })),
  );
}
