/**
 * The demo, end to end through the policy engine: the demo upstream and the
 * demo admin store are seeded exactly as `rowgate demo` does, each demo user's
 * session policy set is resolved from the store, and the rewritten SQL runs on
 * the real upstream. Proves that tenant isolation also reaches `order_items`
 * and `payments` through the seeded column anchors (which the documented demo
 * leaves leaking), that SSNs are masked and card numbers absent.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { loadPolicyInputs } from '../../src/policy/load.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { PgError } from '../../src/sql/errors.js';
import { classifierGate, rewrite } from '../../src/sql/rewrite.js';
import { getUserByUsername } from '../../src/store/repos/users.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const TENANT = { alice: 'acme', bob: 'globex', charlie: 'stark' } as const;
type DemoUser = keyof typeof TENANT;

let admin: TestStore;
let upstream: pg.Client;
const sets = new Map<DemoUser, SessionPolicySet>();

beforeAll(async () => {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('11'.repeat(32));
  const { dataSourceId } = await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  await loadPolicyParser();
  for (const name of Object.keys(TENANT) as DemoUser[]) {
    const demoUser = await getUserByUsername(admin.store.db, name);
    const inputs = await loadPolicyInputs(admin.store.db, dataSourceId, demoUser?.id ?? '');
    sets.set(name, resolveSessionPolicySet(inputs));
  }
  upstream = new pg.Client({ connectionString: serverUrl(DEMO_DATABASE) });
  await upstream.connect();
});

afterAll(async () => {
  await upstream?.end();
  await admin?.dispose();
});

/** Rewrites `sql` for the user and runs it on the upstream. */
async function runAs(user: DemoUser, sql: string): Promise<Record<string, unknown>[]> {
  const policy = sets.get(user);
  if (!policy) throw new Error(`no policy set for ${user}`);
  const result = await rewrite(sql, policy, { searchPath: ['public'] }, { gate: classifierGate() });
  const statement = result.statements[0];
  if (!statement?.rewrittenSql) throw new Error(`nothing to run for ${sql}`);
  return (await upstream.query(statement.rewrittenSql)).rows as Record<string, unknown>[];
}

describe.each(Object.keys(TENANT) as DemoUser[])('demo policies for %s', (user) => {
  const tenant = TENANT[user];

  it('sees only its own tenant in every tenant table', async () => {
    for (const table of ['customers', 'orders', 'products', 'support_tickets']) {
      const rows = await runAs(user, `SELECT DISTINCT org FROM ${table}`);
      expect(rows, table).toEqual([{ org: tenant }]);
    }
  });

  it('sees only its own tenant in order_items and payments, through the anchors', async () => {
    for (const table of ['order_items', 'payments']) {
      const mine = await runAs(user, `SELECT count(*)::int AS n FROM ${table}`);
      const truth = await upstream.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} t JOIN orders o ON o.id = t.order_id WHERE o.org = $1`,
        [tenant],
      );
      expect(truth.rows[0]?.n).toBeGreaterThan(0);
      expect(mine, table).toEqual(truth.rows);
      const foreign = await runAs(
        user,
        `SELECT count(*)::int AS n FROM ${table} t WHERE t.order_id IN
           (SELECT id FROM orders WHERE org <> '${tenant}')`,
      );
      expect(foreign, table).toEqual([{ n: 0 }]);
    }
  });

  it('sees masked SSNs, even when filtering or grouping on them', async () => {
    const rows = await runAs(user, 'SELECT ssn FROM customers');
    expect(rows).toHaveLength(10);
    for (const row of rows) expect(row.ssn).toMatch(/^\*\*\*-\*\*-\d{4}$/);
    // Raw SSNs of this tenant do start with digits: the predicate sees only the mask.
    const raw = await upstream.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM customers WHERE org = $1 AND ssn ~ '^[0-9]'",
      [tenant],
    );
    expect(raw.rows[0]?.n).toBe(10);
    const probe = await runAs(user, "SELECT count(*)::int AS n FROM customers WHERE ssn ~ '^[0-9]'");
    expect(probe).toEqual([{ n: 0 }]);
  });

  it('cannot name the denied card and product financial columns', async () => {
    for (const sql of ['SELECT credit_card FROM customers', 'SELECT cost_price FROM products']) {
      const error = await runAs(user, sql).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '42703' });
    }
    const star = await runAs(user, 'SELECT * FROM customers LIMIT 1');
    expect(Object.keys(star[0] ?? {})).not.toContain('credit_card');
  });

  it('cannot write', async () => {
    const error = await runAs(user, "UPDATE customers SET org = 'acme'").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgError);
    expect(error).toMatchObject({ sqlstate: '25006' });
  });
});
