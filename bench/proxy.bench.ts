/**
 * Proxy overhead: point-query latency and `pgbench -S` TPS, direct to
 * PostgreSQL vs through Rowgate, in the same run (issue 4 "Done when").
 *
 *   npx tsx bench/proxy.bench.ts              # N=5000 point queries, pgbench -T 15
 *   npx tsx bench/proxy.bench.ts 2000 5       # N, pgbench seconds
 *
 * Sets up, in temp dirs: an embedded PostgreSQL with `pgbench -i -s 10`, a
 * SQLite admin store seeded through the repository functions (two data
 * sources over the same database: `bench_open` without policies and
 * `bench_filter` with a row filter `aid > 0` on pgbench_accounts), and the
 * proxy in this process with a QueryAuditQueue (so the audit cost is paid).
 * Everything runs on 127.0.0.1 and is stopped at the end.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { QueryAuditQueue } from '../src/audit/query-audit-queue.js';
import { discoverWholeSchema } from '../src/catalog/discover.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../src/embedded/postgres.js';
import { createLogger } from '../src/log.js';
import { SecretCipher } from '../src/secrets/cipher.js';
import { auditedTransaction } from '../src/store/audited.js';
import { openStore, type Store } from '../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../src/store/ids.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { saveCatalog } from '../src/store/repos/catalog.js';
import { setUserAccess } from '../src/store/repos/datasource-access.js';
import { createDataSource } from '../src/store/repos/datasources.js';
import { createPolicy } from '../src/store/repos/policies.js';
import { assignPolicy } from '../src/store/repos/policy-assignments.js';
import { createUser } from '../src/store/repos/users.js';
import { startProxyServer, type ProxyServer } from '../src/wire/server.js';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const N = Number(process.argv[2] ?? 5000);
const PGBENCH_SECS = Number(process.argv[3] ?? 15);
const WARMUP = 500;
const DATABASE = 'bench';
const BENCH_USER = 'bencher';
const BENCH_PASSWORD = 'Bench1234!';
const SCALE = 10;
const ACCOUNTS = SCALE * 100_000;

interface Endpoint {
  label: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs a binary without blocking the event loop (the proxy lives in this process). */
function run(bin: string, args: string[], env: Record<string, string>): Promise<string> {
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

async function readCatalog(pgServer: RunningPostgres) {
  const client = new pg.Client({ connectionString: pgServer.url(DATABASE) });
  await client.connect();
  try {
    return await discoverWholeSchema(client, 'public');
  } finally {
    await client.end();
  }
}

async function seedStore(store: Store, cipher: SecretCipher, pgServer: RunningPostgres): Promise<void> {
  const catalog = await readCatalog(pgServer);
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
    for (const name of ['bench_open', 'bench_filter']) {
      const ds = await createDataSource(tx, cipher, {
        name,
        ds_type: 'postgres',
        config,
        access_mode: 'open',
        grantCreator: false,
      });
      await setUserAccess(tx, ds.id, [user.id]);
      await saveCatalog(tx, ds.id, catalog.selection, catalog.columns);
      if (name === 'bench_filter') {
        const policy = await createPolicy(tx, {
          name: 'bench-aid-filter',
          policy_type: 'row_filter',
          description: 'aid > 0 (keeps every row; shows the rewrite cost of a filter)',
          is_enabled: true,
          targets: [{ schemas: ['public'], tables: ['pgbench_accounts'] }],
          definition: { filter_expression: 'aid > 0' },
        });
        await assignPolicy(tx, { policy_id: policy.id, data_source_id: ds.id, user_id: null, priority: 0 });
      }
    }
  });
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

interface LatencyResult {
  p50: number;
  p99: number;
}

/** N sequential point queries on one client; µs per round trip. */
async function pointLatency(ep: Endpoint, mode: 'extended' | 'simple'): Promise<LatencyResult> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ep.port,
    user: ep.user,
    password: ep.password,
    database: ep.database,
  });
  await client.connect();
  try {
    const samples: number[] = [];
    let seed = 12345;
    const nextAid = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return 1 + (seed % ACCOUNTS);
    };
    for (let i = 0; i < WARMUP + N; i++) {
      const aid = nextAid();
      const start = process.hrtime.bigint();
      const result =
        mode === 'extended'
          ? await client.query('SELECT abalance FROM pgbench_accounts WHERE aid = $1', [aid])
          : await client.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid}`);
      const elapsed = Number(process.hrtime.bigint() - start) / 1000;
      if (result.rowCount !== 1) throw new Error(`${ep.label}: aid ${aid} returned ${result.rowCount} rows`);
      if (i >= WARMUP) samples.push(elapsed);
    }
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
  } finally {
    await client.end();
  }
}

async function pgbenchTps(ep: Endpoint, mode: 'simple' | 'extended'): Promise<number> {
  const out = await run(
    'pgbench',
    [
      '-n',
      '-S',
      '-T',
      String(PGBENCH_SECS),
      '-c',
      '8',
      '-j',
      '2',
      '-M',
      mode,
      '-h',
      '127.0.0.1',
      '-p',
      String(ep.port),
      '-U',
      ep.user,
      ep.database,
    ],
    { PGPASSWORD: ep.password, PGSSLMODE: 'disable' },
  );
  const match =
    /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
  if (!match?.[1]) throw new Error(`cannot read TPS from pgbench output:\n${out}`);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (failed?.[1] && failed[1] !== '0')
    throw new Error(`pgbench ${ep.label}: ${failed[1]} failed transactions`);
  return Number(match[1]);
}

const fmt = (n: number) => n.toFixed(0);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-bench-'));
  // The embedded server runs as another OS user and must enter the directory.
  chmodSync(dir, 0o755);
  let pgServer: RunningPostgres | undefined;
  let store: Store | undefined;
  let proxy: ProxyServer | undefined;
  let audit: QueryAuditQueue | undefined;
  try {
    log('starting embedded PostgreSQL…');
    pgServer = await startEmbeddedPostgres({ dir: join(dir, 'pg'), persistent: false });
    const admin = new pg.Client({ connectionString: pgServer.url() });
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]
      ?.server_version;
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.end();
    log(`pgbench -i -s ${SCALE}…`);
    await run(
      'pgbench',
      [
        '-i',
        '-q',
        '-s',
        String(SCALE),
        '-h',
        '127.0.0.1',
        '-p',
        String(pgServer.port),
        '-U',
        pgServer.user,
        DATABASE,
      ],
      {
        PGPASSWORD: pgServer.password,
      },
    );

    store = openStore({ engine: 'sqlite', target: join(dir, 'admin.db') });
    await migrateToLatest(store);
    const cipher = SecretCipher.fromHex('5a'.repeat(32));
    await seedStore(store, cipher, pgServer);
    audit = new QueryAuditQueue(store);
    proxy = await startProxyServer({
      bind: { host: '127.0.0.1', port: 0 },
      store,
      cipher,
      logger: createLogger('silent'),
      audit,
      idleTimeoutSecs: 0,
    });

    const direct: Endpoint = {
      label: 'direct',
      port: pgServer.port,
      user: pgServer.user,
      password: pgServer.password,
      database: DATABASE,
    };
    const open: Endpoint = {
      label: 'rowgate (no policy)',
      port: proxy.port,
      user: BENCH_USER,
      password: BENCH_PASSWORD,
      database: 'bench_open',
    };
    const filtered: Endpoint = { ...open, label: 'rowgate (row filter aid > 0)', database: 'bench_filter' };
    const endpoints = [direct, open, filtered];

    const latency = new Map<string, LatencyResult>();
    for (const mode of ['extended', 'simple'] as const) {
      for (const ep of endpoints) {
        log(`latency ${mode} ${ep.label}…`);
        latency.set(`${mode}|${ep.label}`, await pointLatency(ep, mode));
      }
    }
    const tps = new Map<string, number>();
    for (const mode of ['simple', 'extended'] as const) {
      for (const ep of endpoints) {
        log(`pgbench -S -M ${mode} ${ep.label}…`);
        tps.set(`${mode}|${ep.label}`, await pgbenchTps(ep, mode));
      }
    }
    const stats = audit.stats;

    const lines: string[] = [];
    lines.push(
      `PostgreSQL ${version}, pgbench scale ${SCALE}, Node ${process.version}, N=${N} (+${WARMUP} warm-up)`,
    );
    lines.push('');
    lines.push('Point query, one node-postgres client, µs per round trip:');
    lines.push('');
    lines.push('| protocol | path | p50 µs | p99 µs | added p50 µs | added p99 µs |');
    lines.push('|---|---|---|---|---|---|');
    for (const mode of ['extended', 'simple'] as const) {
      const base = latency.get(`${mode}|${direct.label}`);
      for (const ep of endpoints) {
        const r = latency.get(`${mode}|${ep.label}`);
        if (!r || !base) continue;
        const added = ep === direct ? ['—', '—'] : [fmt(r.p50 - base.p50), fmt(r.p99 - base.p99)];
        lines.push(`| ${mode} | ${ep.label} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${added[0]} | ${added[1]} |`);
      }
    }
    lines.push('');
    lines.push(`\`pgbench -n -S -T ${PGBENCH_SECS} -c 8 -j 2\`:`);
    lines.push('');
    lines.push('| -M | path | TPS | vs direct |');
    lines.push('|---|---|---|---|');
    for (const mode of ['simple', 'extended'] as const) {
      const base = tps.get(`${mode}|${direct.label}`) ?? NaN;
      for (const ep of endpoints) {
        const t = tps.get(`${mode}|${ep.label}`) ?? NaN;
        lines.push(`| ${mode} | ${ep.label} | ${fmt(t)} | ${(t / base).toFixed(2)} |`);
      }
    }
    lines.push('');
    lines.push(`audit queue: ${JSON.stringify(stats)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await proxy?.close();
    await audit?.close();
    await store?.close();
    await pgServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
