/**
 * Opening the configured admin store for any command: connect, run pending
 * migrations, and create the first admin when the user table is empty.
 */
import { requireAdminPassword, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { SecretCipher } from '../secrets/cipher.js';
import { auditedTransaction } from '../store/audited.js';
import { openStore, type Store } from '../store/db.js';
import { SYSTEM_ACTOR_ID } from '../store/ids.js';
import { migrateToLatest } from '../store/migrate.js';
import { countUsers, createUser } from '../store/repos/users.js';

export interface OpenedStore {
  store: Store;
  cipher: SecretCipher;
}

export async function openMigratedStore(config: Config, logger?: Logger): Promise<OpenedStore> {
  const store = openStore(config.store);
  try {
    const applied = await migrateToLatest(store);
    if (applied.length > 0) logger?.info({ applied, engine: store.engine }, 'admin store migrated');
  } catch (error) {
    await store.close();
    throw new Error(`admin store (${describeStore(config)}): ${(error as Error).message}`);
  }
  return { store, cipher: SecretCipher.fromHex(config.encryptionKeyHex) };
}

/**
 * First start: with no users at all, create the admin named by
 * ROWGATE_ADMIN_USER from ROWGATE_ADMIN_PASSWORD (required then, ignored later).
 * The password rule of the API is not applied, as in BetweenRows.
 */
export async function ensureFirstAdmin(store: Store, config: Config, logger?: Logger): Promise<boolean> {
  if ((await countUsers(store.db)) > 0) return false;
  const password = requireAdminPassword(config);
  await auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
    createUser(tx, { username: config.adminUser, password, is_admin: true }),
  );
  logger?.info({ username: config.adminUser }, 'created the first admin user');
  return true;
}

export function describeStore(config: Config): string {
  if (config.store.engine === 'sqlite') return `sqlite ${config.store.target}`;
  const url = new URL(config.store.target);
  return `postgres ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
