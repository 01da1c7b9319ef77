/**
 * Proxy overhead: point-query latency and `pgbench -S` TPS, direct to
 * PostgreSQL vs through Rowgate, in the same run (issue 4 "Done when").
 *
 *   npx tsx bench/proxy.bench.ts              # N=5000 point queries, pgbench -T 15
 *   npx tsx bench/proxy.bench.ts 2000 5       # N, pgbench seconds
 *
 * Sets up, in temp dirs (bench/support/bench-setup.ts): an embedded
 * PostgreSQL with `pgbench -i -s 10`, a SQLite admin store seeded through the
 * repository functions (two data sources over the same database:
 * `bench_open` without policies and `bench_filter` with a row filter
 * `aid > 0` on pgbench_accounts), and the proxy in this process with a
 * QueryAuditQueue (so the audit cost is paid). Everything runs on 127.0.0.1
 * and is stopped at the end.
 */
import pg from 'pg';
import {
  BENCH_PASSWORD,
  BENCH_USER,
  DATABASE,
  type Endpoint,
  log,
  percentile,
  run,
  startBenchEnvironment,
} from './support/bench-setup.js';

const N = Number(process.argv[2] ?? 5000);
const PGBENCH_SECS = Number(process.argv[3] ?? 15);
const WARMUP = 500;
const SCALE = 10;
const ACCOUNTS = SCALE * 100_000;

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
  const bench = await startBenchEnvironment();
  try {
    const { pgServer, version } = bench;
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
      { PGPASSWORD: pgServer.password },
    );
    await bench.seed([
      { name: 'bench_open' },
      {
        name: 'bench_filter',
        filter: {
          table: 'pgbench_accounts',
          expression: 'aid > 0',
          description: 'aid > 0 (keeps every row; shows the rewrite cost of a filter)',
        },
      },
    ]);
    const proxy = await bench.proxy();
    const audit = bench.audit;

    const direct = bench.direct;
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
    await bench.stop();
  }
}

await main();
