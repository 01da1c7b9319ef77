/**
 * Runs a store test on both engines (design §6): `describe.each(STORE_ENGINES)`
 * and `openTestStore(engine)` give a fresh, migrated store per call — a
 * temporary SQLite file, or a new database on the run's PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store, type StoreEngine } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';

export const STORE_ENGINES: StoreEngine[] = ['sqlite', 'postgres'];

export interface TestStore {
  store: Store;
  /** Closes the store and deletes its file or database. */
  dispose(): Promise<void>;
}

export async function openTestStore(
  engine: StoreEngine,
  options: { migrate?: boolean } = {},
): Promise<TestStore> {
  let store: Store;
  let cleanup: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'rowgate-store-'));
    store = openStore({ engine, target: join(dir, 'admin.db') });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const database = await createTestDatabase('store');
    store = openStore({ engine, target: database.url });
    cleanup = () => dropTestDatabase(database.name);
  }
  if (options.migrate !== false) await migrateToLatest(store);
  return {
    store,
    dispose: async () => {
      await store.close();
      await cleanup();
    },
  };
}

/** Every admin audit row, oldest first, with `changes` parsed. */
export async function auditRows(store: Store) {
  const rows = await store.db.selectFrom('admin_audit_log').selectAll().orderBy('created_at').execute();
  return rows.map((r) => ({ ...r, changes: r.changes === null ? null : (JSON.parse(r.changes) as unknown) }));
}
