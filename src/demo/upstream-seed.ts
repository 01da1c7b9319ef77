/**
 * Creates and fills the demo upstream database `demo_ecommerce` from
 * `buildDemoDataset()`. Everything happens in one transaction with
 * parameterized multi-row inserts, so a failed seed leaves nothing behind
 * and no value is ever spliced into SQL text.
 */
import pg from 'pg';
import { buildDemoDataset, DEMO_DATABASE, type DemoDataset } from './dataset.js';
import { seedFromString } from './prng.js';
import { DEMO_COLUMNS, DEMO_DDL, DEMO_TABLES, type DemoTable } from './upstream-schema.js';

export { buildDemoDataset, DEMO_DATABASE } from './dataset.js';
export type { DemoDataset } from './dataset.js';

export interface DemoSeedSummary {
  /** Rows inserted per table. */
  rows: Record<DemoTable, number>;
}

export interface SeedDemoUpstreamOptions {
  /** Drop the demo tables first (re-seed). Without it, existing tables make the seed fail. */
  dropExisting?: boolean;
}

export interface EnsureDemoDatabaseOptions {
  /** Database name; default `demo_ecommerce` (tests use unique names). */
  database?: string;
}

export interface EnsureDemoDatabaseResult {
  /** Connection URL of the demo database. */
  url: string;
  createdDatabase: boolean;
  /** False when the demo tables were already there (data left untouched). */
  seeded: boolean;
  summary: DemoSeedSummary | null;
}

// PostgreSQL caps a statement at 65535 bind parameters.
const MAX_PARAMS = 60_000;
// Serializes concurrent ensureDemoDatabase calls on one database.
const SEED_LOCK_KEY = seedFromString('rowgate:demo-seed');

async function insertRows(client: pg.ClientBase, table: DemoTable, rows: readonly object[]): Promise<void> {
  const columns = DEMO_COLUMNS[table] as readonly string[];
  const perStatement = Math.floor(MAX_PARAMS / columns.length);
  const columnList = columns.map((c) => pg.escapeIdentifier(c)).join(', ');
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement) as readonly Record<string, unknown>[];
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      const slots = columns.map((c) => {
        params.push(row[c]);
        return `$${params.length}`;
      });
      return `(${slots.join(', ')})`;
    });
    await client.query(
      `INSERT INTO public.${pg.escapeIdentifier(table)} (${columnList}) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
}

/** Creates the tables and inserts the data set; the caller owns the transaction. */
async function applySeed(client: pg.ClientBase, data: DemoDataset): Promise<DemoSeedSummary> {
  for (const statement of DEMO_DDL) await client.query(statement);
  const rows = {} as Record<DemoTable, number>;
  for (const table of DEMO_TABLES) {
    await insertRows(client, table, data[table]);
    rows[table] = data[table].length;
  }
  return { rows };
}

async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Creates the demo tables in `public` of the connected database and fills them. */
export async function seedDemoUpstream(
  client: pg.ClientBase,
  options: SeedDemoUpstreamOptions = {},
): Promise<DemoSeedSummary> {
  return inTransaction(client, async () => {
    if (options.dropExisting) {
      for (const table of [...DEMO_TABLES].reverse()) {
        await client.query(`DROP TABLE IF EXISTS public.${pg.escapeIdentifier(table)} CASCADE`);
      }
    }
    return applySeed(client, buildDemoDataset());
  });
}

/** `serverUrl` with its database replaced by `database`. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/**
 * Creates the demo database on the server behind `serverUrl` (any database
 * URL there, e.g. `.../postgres`) if missing, and seeds it unless the demo
 * tables already exist. Idempotent: a second call changes nothing.
 */
export async function ensureDemoDatabase(
  serverUrl: string,
  options: EnsureDemoDatabaseOptions = {},
): Promise<EnsureDemoDatabaseResult> {
  const database = options.database ?? DEMO_DATABASE;
  let createdDatabase = false;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const existing = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        createdDatabase = true;
      } catch (err) {
        // Another process created it between our check and CREATE: fine.
        const code = (err as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw err;
      }
    }
  } finally {
    await admin.end();
  }

  const url = databaseUrl(serverUrl, database);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const summary = await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
      const { rows } = await client.query<{ present: boolean }>(
        "SELECT to_regclass('public.organizations') IS NOT NULL AS present",
      );
      return rows[0]?.present ? null : applySeed(client, buildDemoDataset());
    });
    return { url, createdDatabase, seeded: summary !== null, summary };
  } finally {
    await client.end();
  }
}
