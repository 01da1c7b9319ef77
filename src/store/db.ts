/**
 * Opens the admin store: embedded SQLite (default) or PostgreSQL, chosen by
 * the URL scheme. Both engines are driven through the same Kysely instance
 * type, so nothing above this file knows which one runs.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type StoreEngine = 'sqlite' | 'postgres';

export interface StoreLocation {
  engine: StoreEngine;
  /** File path for SQLite (`:memory:` allowed), connection string for PostgreSQL. */
  target: string;
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly engine: StoreEngine;
  close(): Promise<void>;
}

/**
 * Parses an admin-store URL. Accepted: `sqlite://path[?mode=rwc]`, `sqlite:path`,
 * `sqlite::memory:`, `postgres://…`, `postgresql://…`. Throws on anything else.
 */
export function parseStoreUrl(url: string): StoreLocation {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    new URL(trimmed); // throws on a malformed URL
    return { engine: 'postgres', target: trimmed };
  }
  const sqlite = /^sqlite:(\/\/)?(.*)$/i.exec(trimmed);
  if (sqlite) {
    const path = (sqlite[2] ?? '').split('?')[0] ?? '';
    if (path === '') throw new Error('SQLite URL has no file path');
    return { engine: 'sqlite', target: decodeURIComponent(path) };
  }
  throw new Error('expected a sqlite:// or postgres:// URL');
}

export function openStore(location: StoreLocation): Store {
  return location.engine === 'sqlite' ? openSqlite(location.target) : openPostgres(location.target);
}

function openSqlite(file: string): Store {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), { recursive: true });
    // The store holds password hashes: owner-only. SQLite gives its -wal and
    // -shm files the mode of the database file, so creating it 0600 covers all three.
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
  }
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, engine: 'sqlite', close: () => db.destroy() };
}

function openPostgres(connectionString: string): Store {
  const pool = new pg.Pool({ connectionString, max: 10 });
  // An idle client that loses its server emits 'error' on the pool; without a
  // listener that would crash the process. The next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', close: () => db.destroy() };
}
