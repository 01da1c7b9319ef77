/**
 * V73: timing hidden vs nonexistent relation names. Both are refused by the
 * rewriter from the session's virtual catalog, before anything reaches the
 * upstream, through the same code path; so their cost distributions must be
 * indistinguishable. The bound is generous (medians within a factor of 1.5)
 * because CI machines are noisy; a path that contacted the upstream for one
 * of them would differ by orders of magnitude.
 */
import { beforeAll, expect, it } from 'vitest';
import { PgError } from '../../src/sql/errors.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { alicePolicy, loadParser } from '../support/policy-fixtures.js';

beforeAll(loadParser);

function refusalMicros(sql: string): number {
  const policy = alicePolicy();
  const started = process.hrtime.bigint();
  try {
    rewriteSync(sql, policy, { searchPath: ['public'] }, { gate: classifierGate() });
  } catch (error) {
    if (!(error instanceof PgError) || error.sqlstate !== '42P01') throw error;
    return Number(process.hrtime.bigint() - started) / 1000;
  }
  throw new Error(`${sql} was not refused`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

it('V73 a hidden and a nonexistent table are refused in indistinguishable time, without the upstream', () => {
  // payroll exists upstream but is hidden from alice; payrolx exists nowhere.
  const hidden: number[] = [];
  const missing: number[] = [];
  for (let i = 0; i < 300; i++) refusalMicros('SELECT * FROM payroll'); // warm-up
  for (let i = 0; i < 2000; i++) {
    // Alternate, so drift in machine load hits both samples alike.
    hidden.push(refusalMicros(`SELECT * FROM payroll WHERE id = ${i}`));
    missing.push(refusalMicros(`SELECT * FROM payrolx WHERE id = ${i}`));
  }
  const ratio = median(hidden) / median(missing);
  expect(ratio).toBeGreaterThan(1 / 1.5);
  expect(ratio).toBeLessThan(1.5);
});
