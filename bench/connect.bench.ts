/**
 * Connection cost: connect + `SELECT 1` + disconnect, N times, one
 * node-postgres client at a time, over three paths in the same run:
 *
 *   direct            PostgreSQL itself (SCRAM-SHA-256)
 *   rowgate pooled    the proxy with ROWGATE_UPSTREAM_POOL_IDLE_SECS=60: the
 *                     upstream connection is reset (DISCARD ALL) and reused
 *   rowgate no reuse  the same with idle 0: a new upstream connection
 *                     (start-up + SCRAM to PostgreSQL) for every session
 *
 *   npx tsx bench/connect.bench.ts          # N=1000 per path
 *   npx tsx bench/connect.bench.ts 300      # N
 *
 * The paths are interleaved (one connection of each per round), so the
 * machine's noise falls on all three alike. Set-up is bench/support/bench-setup.ts.
 */
import pg from 'pg';
import {
  BENCH_PASSWORD,
  BENCH_USER,
  type Endpoint,
  log,
  percentile,
  startBenchEnvironment,
} from './support/bench-setup.js';

const N = Number(process.argv[2] ?? 1000);
const WARMUP = 50;

/** One connect + SELECT 1 + end, in µs. */
async function connectOnce(ep: Endpoint): Promise<number> {
  const start = process.hrtime.bigint();
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ep.port,
    user: ep.user,
    password: ep.password,
    database: ep.database,
  });
  await client.connect();
  const r = await client.query('SELECT 1 AS one');
  await client.end();
  if (r.rows[0]?.one !== 1) throw new Error(`${ep.label}: unexpected answer`);
  return Number(process.hrtime.bigint() - start) / 1000;
}

async function main(): Promise<void> {
  const bench = await startBenchEnvironment();
  try {
    await bench.seed([{ name: 'bench_open' }]);
    const pooled = await bench.proxy({ upstreamPoolSize: 100, upstreamPoolIdleSecs: 60 });
    const unpooled = await bench.proxy({ upstreamPoolSize: 100, upstreamPoolIdleSecs: 0 });
    const proxied = { user: BENCH_USER, password: BENCH_PASSWORD, database: 'bench_open' };
    const endpoints: Endpoint[] = [
      bench.direct,
      { label: 'rowgate pooled (idle 60)', port: pooled.port, ...proxied },
      { label: 'rowgate no reuse (idle 0)', port: unpooled.port, ...proxied },
    ];
    const samples = new Map(endpoints.map((ep) => [ep.label, [] as number[]]));
    log(`${WARMUP} warm-up + ${N} rounds of connect + SELECT 1 + disconnect per path…`);
    for (let i = 0; i < WARMUP + N; i++) {
      for (const ep of endpoints) {
        const us = await connectOnce(ep);
        if (i >= WARMUP) samples.get(ep.label)!.push(us);
      }
    }
    const poolStats = pooled.pools.all().map((p) => p.stats);

    const lines: string[] = [];
    lines.push(`PostgreSQL ${bench.version}, Node ${process.version}, N=${N} (+${WARMUP} warm-up) per path`);
    lines.push('');
    lines.push('| path | median µs | p90 µs | p99 µs | median vs direct |');
    lines.push('|---|---|---|---|---|');
    const median = (label: string) => percentile(samples.get(label)!, 50);
    for (const ep of endpoints) {
      const s = samples.get(ep.label)!.sort((a, b) => a - b);
      const [p50, p90, p99] = [50, 90, 99].map((p) => percentile(s, p).toFixed(0));
      const ratio = (median(ep.label) / median(bench.direct.label)).toFixed(2);
      lines.push(`| ${ep.label} | ${p50} | ${p90} | ${p99} | ${ratio} |`);
    }
    const [, withPool, withoutPool] = endpoints.map((ep) => median(ep.label));
    lines.push('');
    lines.push(`pooled vs no reuse (median): ${(withPool! / withoutPool!).toFixed(2)}`);
    lines.push(`pooled proxy's pool at the end: ${JSON.stringify(poolStats)}`);
    lines.push(`audit queue: ${JSON.stringify(bench.audit.stats)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await bench.stop();
  }
}

await main();
