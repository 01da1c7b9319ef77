/**
 * Serialisation of the identity checks that read before they write (role
 * cycle/depth checks, the last-admin guard). Without it, two concurrent
 * transactions on a PostgreSQL store could each pass their check and together
 * break the invariant (A→B and B→A both added; the last two admins demoted).
 *
 * PostgreSQL: a transaction-scoped advisory lock, released at commit or
 * rollback. SQLite: nothing to do — Kysely's SQLite driver runs one
 * transaction at a time per process, and a second process writing from a
 * stale WAL snapshot gets SQLITE_BUSY instead of committing.
 */
import { PostgresIntrospector, sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/** Engine test through Kysely's public surface (the introspector class follows the dialect). */
export const isPostgres = (db: Kysely<Database>): boolean => db.introspection instanceof PostgresIntrospector;

export type IdentityLock = 'role_graph' | 'admins';

/** Call inside the transaction, before the reads the check depends on. */
export async function lockIdentity(db: Kysely<Database>, lock: IdentityLock): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`rowgate.identity.${lock}`}))`.execute(db);
}
