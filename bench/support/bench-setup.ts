/**
 * Shared set-up of the data-plane benchmarks (proxy.bench.ts,
 * connect.bench.ts): an embedded PostgreSQL in a temp dir with a `bench`
 * database, a SQLite admin store seeded through the repository functions
 * (one user, data sources over that database, optionally a row filter),
 * a proxy in this process, and small statistics helpers.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { discoverWholeSchema } from '../../src/catalog/discover.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { openStore, type Store } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createPolicy } from '../../src/store/repos/policies.js';
import { assignPolicy } from '../../src/store/repos/policy-assignments.js';
import { createUser } from '../../src/store/repos/users.js';
import { startProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/wire/server.js';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const DATABASE = 'bench';
export const BENCH_USER = 'bencher';
export const BENCH_PASSWORD = 'Bench1234!';

export interface Endpoint {
  label: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A data source over the bench database; `filter` adds a row filter on `filterTable`. */
export interface BenchDataSource {
  name: string;
  filter?: { table: string; expression: string; description: string };
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs a PostgreSQL client binary without blocking the event loop (the proxy lives in this process). */
export function run(bin: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(PG_BIN, bin), args, { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${bin} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

export function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export interface BenchEnvironment {
  pgServer: RunningPostgres;
  /** `SHOW server_version` of the upstream. */
  version: string;
  store: Store;
  cipher: SecretCipher;
  audit: QueryAuditQueue;
  /** The upstream itself, as the `direct` endpoint. */
  direct: Endpoint;
  /** Seeds the admin store (after the bench database got its tables, so the catalog sees them). */
  seed(dataSources: BenchDataSource[]): Promise<void>;
  /** A proxy over the store, with the audit queue; options override the defaults. */
  proxy(options?: Partial<ProxyServerOptions>): Promise<ProxyServer>;
  /** Stops every proxy started here, the audit queue, the store and PostgreSQL; removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts the embedded PostgreSQL with an empty `bench` database and opens the admin store. */
export async function startBenchEnvironment(): Promise<BenchEnvironment> {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-bench-'));
  // The embedded server runs as another OS user and must enter the directory.
  chmodSync(dir, 0o755);
  const proxies: ProxyServer[] = [];
  let pgServer: RunningPostgres | undefined;
  let store: Store | undefined;
  let audit: QueryAuditQueue | undefined;
  const stop = async () => {
    for (const p of proxies) await p.close();
    await audit?.close();
    await store?.close();
    await pgServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    log('starting embedded PostgreSQL…');
    pgServer = await startEmbeddedPostgres({ dir: join(dir, 'pg'), persistent: false });
    const admin = new pg.Client({ connectionString: pgServer.url() });
    await admin.connect();
    const version =
      (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.end();
    store = openStore({ engine: 'sqlite', target: join(dir, 'admin.db') });
    await migrateToLatest(store);
    const cipher = SecretCipher.fromHex('5a'.repeat(32));
    audit = new QueryAuditQueue(store);
    const env = { pgServer, store, cipher, audit };
    return {
      ...env,
      version,
      direct: {
        label: 'direct',
        port: pgServer.port,
        user: pgServer.user,
        password: pgServer.password,
        database: DATABASE,
      },
      seed: (dataSources) => seedStore(env.store, cipher, env.pgServer, dataSources),
      proxy: async (options = {}) => {
        const proxy = await startProxyServer({
          bind: { host: '127.0.0.1', port: 0 },
          store: env.store,
          cipher,
          logger: createLogger('silent'),
          audit: env.audit,
          idleTimeoutSecs: 0,
          ...options,
        });
        proxies.push(proxy);
        return proxy;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function seedStore(
  store: Store,
  cipher: SecretCipher,
  pgServer: RunningPostgres,
  dataSources: BenchDataSource[],
): Promise<void> {
  const client = new pg.Client({ connectionString: pgServer.url(DATABASE) });
  await client.connect();
  const catalog = await discoverWholeSchema(client, 'public').finally(() => client.end());
  await auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) => {
    const user = await createUser(tx, { username: BENCH_USER, password: BENCH_PASSWORD });
    const config = {
      host: pgServer.host,
      port: pgServer.port,
      database: DATABASE,
      username: pgServer.user,
      password: pgServer.password,
      sslmode: 'disable',
    };
    for (const { name, filter } of dataSources) {
      const ds = await createDataSource(tx, cipher, {
        name,
        ds_type: 'postgres',
        config,
        access_mode: 'open',
        grantCreator: false,
      });
      await setUserAccess(tx, ds.id, [user.id]);
      await saveCatalog(tx, ds.id, catalog.selection, catalog.columns);
      if (!filter) continue;
      const policy = await createPolicy(tx, {
        name: `${name}-filter`,
        policy_type: 'row_filter',
        description: filter.description,
        is_enabled: true,
        targets: [{ schemas: ['public'], tables: [filter.table] }],
        definition: { filter_expression: filter.expression },
      });
      await assignPolicy(tx, { policy_id: policy.id, data_source_id: ds.id, user_id: null, priority: 0 });
    }
  });
}
