/**
 * Forward-only migrations, run at start-up. Kysely's migrator records applied
 * migrations in its version table (`kysely_migration`) and takes a lock, so
 * several replicas starting at once on a PostgreSQL store apply each once.
 */
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Store } from './db.js';
import * as initial from './migrations/001-initial.js';
import * as queryAuditRows from './migrations/002-query-audit-rows.js';

/** Every migration in order. Append only; never edit a released one. */
const MIGRATIONS: Record<string, Migration> = {
  '001-initial': initial,
  '002-query-audit-rows': queryAuditRows,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1) ?? '';

/** Applies pending migrations; returns the names applied now. */
export async function migrateToLatest(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of the migrations recorded as applied, in order. */
export async function appliedMigrations(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
}
