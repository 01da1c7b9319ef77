/**
 * Rewrite cost: median µs per statement over many runs, uncached (with and
 * without the deparse gate) and cached, for a point select and a 4-table join.
 * Run: npx tsx bench/rewrite.bench.ts [runs]
 */
import { LruCache } from '../src/sql/cache.js';
import type { RewriteResult } from '../src/sql/rewrite.js';
import { rewriteSync } from '../src/sql/rewrite.js';
import { alicePolicy, allowAll, loadParser } from '../test/support/policy-fixtures.js';

const RUNS = Number(process.argv[2] ?? 2000);
const QUERIES = {
  'point select': 'SELECT id, note FROM orders WHERE id = 42',
  '4-table join':
    'SELECT c.name, o.amount, p.amount, e.department FROM orders o JOIN customers c ON c.id = o.customer_id ' +
    'JOIN payments p ON p.order_id = o.id JOIN employees e ON e.id = c.id WHERE o.id = 42 AND c.org = $1',
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(run: () => unknown): number {
  for (let i = 0; i < 200; i++) run(); // warm-up (JIT, WASM)
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(times);
}

await loadParser();
const policy = alicePolicy();
const session = { searchPath: ['public'] };
for (const [name, sql] of Object.entries(QUERIES)) {
  const uncached = measure(() => rewriteSync(sql, policy, session, { gate: allowAll }));
  const noVerify = measure(() => rewriteSync(sql, policy, session, { gate: allowAll, verify: false }));
  const cache = new LruCache<RewriteResult>();
  const cached = measure(() => rewriteSync(sql, policy, session, { gate: allowAll, cache }));
  console.log(
    `${name.padEnd(14)} uncached ${uncached.toFixed(1)} µs | uncached, no verify ${noVerify.toFixed(1)} µs | cached ${cached.toFixed(2)} µs  (median of ${RUNS})`,
  );
}
