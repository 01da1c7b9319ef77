/**
 * Rewrite cost: median µs per statement over many runs, for a point select
 * and a 4-table join, through the production gate (classify.ts + function
 * allowlist):
 *   uncached          parse + classify + rewrite + deparse + verify (re-parse and compare)
 *   uncached, no verify   the same without the deparse gate
 *   exact-cache hit   the same text again (cache.ts)
 *   normalized hit    the same statement with a different literal each run (normalized.ts)
 * Run: npx tsx bench/rewrite.bench.ts [runs]
 */
import { LruCache } from '../src/sql/cache.js';
import type { NormalizedTemplate } from '../src/sql/normalized.js';
import type { RewriteResult } from '../src/sql/rewrite.js';
import { classifierGate, rewriteSync } from '../src/sql/rewrite.js';
import { alicePolicy, loadParser } from '../test/support/policy-fixtures.js';

const RUNS = Number(process.argv[2] ?? 2000);
const QUERIES: Record<string, (id: number) => string> = {
  'point select': (id) => `SELECT id, note FROM orders WHERE id = ${id}`,
  '4-table join': (id) =>
    'SELECT c.name, o.amount, p.amount, e.department FROM orders o JOIN customers c ON c.id = o.customer_id ' +
    `JOIN payments p ON p.order_id = o.id JOIN employees e ON e.id = c.id WHERE o.id = ${id} AND c.org = $1`,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(run: (i: number) => unknown): number {
  for (let i = 0; i < 200; i++) run(i); // warm-up (JIT, WASM)
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    run(1000 + i);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(times);
}

await loadParser();
const policy = alicePolicy();
const session = { searchPath: ['public'] };
const gate = classifierGate();
const fmt = (us: number): string => `${us.toFixed(us < 10 ? 2 : 1)} µs`;
for (const [name, sql] of Object.entries(QUERIES)) {
  const uncached = measure(() => rewriteSync(sql(42), policy, session, { gate }));
  const noVerify = measure(() => rewriteSync(sql(42), policy, session, { gate, verify: false }));
  const cache = new LruCache<RewriteResult>();
  const exact = measure(() => rewriteSync(sql(42), policy, session, { gate, cache }));
  const templates = new LruCache<NormalizedTemplate>();
  const normalized = measure((i) => rewriteSync(sql(i), policy, session, { gate, templates }));
  if (templates.hits < RUNS) throw new Error(`${name}: the normalized path was not taken`);
  console.log(
    `${name.padEnd(13)} uncached ${fmt(uncached)} | uncached, no verify ${fmt(noVerify)} | ` +
      `exact-cache hit ${fmt(exact)} | normalized hit ${fmt(normalized)}  (median of ${RUNS})`,
  );
}
