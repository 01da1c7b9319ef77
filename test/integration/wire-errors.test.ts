/**
 * Upstream errors through the proxy (threat model V116, V118): real
 * PostgreSQL errors raised by the rewritten statement reach node-postgres
 * rebuilt by sanitize.ts — no internal alias, hidden column, position in the
 * rewritten text, internal query, object-name or source-location field, and
 * no value from another tenant's rows. Also the transaction state after an
 * error the proxy raises itself (25P02 until ROLLBACK, status 'E').
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

let admin: TestStore;
let proxy: ProxyServer;
/** Values of rows alice must never see (other tenants), read directly upstream. */
let foreign: string[] = [];

beforeAll(async () => {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('11'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    idleTimeoutSecs: 0,
  });
  const direct = new pg.Client({ connectionString: serverUrl(DEMO_DATABASE) });
  await direct.connect();
  const r = await direct.query<{ v: string }>(
    "SELECT v FROM customers, LATERAL (VALUES (first_name), (last_name), (email), (ssn), (credit_card)) AS t(v) WHERE org <> 'acme'",
  );
  foreign = r.rows.map((x) => x.v);
  await direct.end();
});

afterAll(async () => {
  await proxy?.close();
  await admin?.dispose();
});

type Fields = Record<string, unknown>;
/** Every ErrorResponse field node-postgres exposes. */
const FIELD_NAMES = [
  'severity',
  'code',
  'message',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
];

interface Alice extends pg.Client {
  /** Transaction status of the last ReadyForQuery, as libpq's PQtransactionStatus sees it. */
  status(): string;
  /** Resolves once `n` ReadyForQuery messages have arrived in total. */
  ready(n: number): Promise<void>;
  readyCount(): number;
}

async function alice(): Promise<Alice> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  let status = '?';
  let count = 0;
  let waiters: (() => void)[] = [];
  (c as unknown as { connection: pg.Connection }).connection.on('readyForQuery', (m: { status: string }) => {
    status = m.status;
    count++;
    for (const w of waiters) w();
  });
  await c.connect();
  const ready = async (n: number) => {
    while (count < n) await new Promise<void>((r) => waiters.push(r));
    waiters = [];
  };
  return Object.assign(c, { status: () => status, ready, readyCount: () => count });
}

/** The error `sql` raises, once its ReadyForQuery arrived too (node-postgres rejects before it). */
async function errorOf(c: Alice, sql: string): Promise<Fields> {
  const before = c.readyCount();
  const err = await c.query(sql).then(
    () => null,
    (e: unknown) => e as Fields,
  );
  if (!err) throw new Error(`no error for ${sql}`);
  await c.ready(before + 1);
  const out: Fields = {};
  for (const k of FIELD_NAMES) if (err[k] !== undefined) out[k] = err[k];
  return out;
}

/** No field may carry an internal alias, a hidden column or another tenant's value. */
function expectClean(f: Fields): void {
  const text = JSON.stringify(f);
  expect(text).not.toMatch(/_rg/i);
  expect(text).not.toMatch(/credit_card/);
  for (const v of foreign) expect(text).not.toContain(v);
  for (const k of [
    'position',
    'internalPosition',
    'internalQuery',
    'schema',
    'table',
    'column',
    'constraint',
    'file',
    'line',
    'routine',
  ])
    expect(f[k], k).toBeUndefined();
}

describe('upstream errors through the proxy', () => {
  let c: Awaited<ReturnType<typeof alice>>;
  beforeAll(async () => (c = await alice()));
  afterAll(() => c?.end());

  it('strips positions, source locations and object names from a 42703, keeping the visible hint', async () => {
    const f = await errorOf(c, 'SELECT ssm FROM customers');
    expect(f).toEqual({
      severity: 'ERROR',
      code: '42703',
      message: 'column "ssm" does not exist',
      hint: 'Perhaps you meant to reference the column "customers.ssn".',
    });
    // The hidden column answers exactly like a missing one (no hint naming it).
    const denied = await errorOf(c, "SELECT * FROM customers c WHERE c.credit_card = 'x'");
    const missing = await errorOf(c, "SELECT * FROM customers c WHERE c.credit_cart = 'x'");
    expect(denied).toEqual({ ...missing, message: 'column c.credit_card does not exist' });
    expectClean(missing);
    // System columns are absent from the secured subquery; the hint only offers visible ones.
    expectClean(await errorOf(c, 'SELECT ctid FROM customers'));
  });

  it('keeps ambiguous-column, grouping, operator and set-operation errors in PostgreSQL wording', async () => {
    const cases: [string, string, string][] = [
      ['SELECT id FROM customers, orders', '42702', 'column reference "id" is ambiguous'],
      [
        'SELECT id FROM customers GROUP BY first_name',
        '42803',
        'column "customers.id" must appear in the GROUP BY clause or be used in an aggregate function',
      ],
      ['SELECT 1 FROM customers WHERE id = 1', '42883', 'operator does not exist: uuid = integer'],
      [
        'SELECT first_name FROM customers UNION SELECT 1',
        '42804',
        'UNION types text and integer cannot be matched',
      ],
      ['SELECT * FROM customers ORDER BY 99', '42P10', 'ORDER BY position 99 is not in select list'],
      [
        'SELECT (SELECT id FROM orders) FROM customers',
        '21000',
        'more than one row returned by a subquery used as an expression',
      ],
    ];
    for (const [sql, code, message] of cases) {
      const f = await errorOf(c, sql);
      expect(f, sql).toMatchObject({ code, message });
      expectClean(f);
    }
  });

  it('keeps data exceptions, whose values come from rows the user may see', async () => {
    expect(await errorOf(c, 'SELECT 1/0')).toEqual({
      severity: 'ERROR',
      code: '22012',
      message: 'division by zero',
    });
    const masked = await errorOf(c, 'SELECT ssn::int FROM customers');
    expect(masked.message).toMatch(/^invalid input syntax for type integer: "\*\*\*-\*\*-\d{4}"$/);
    const json = await errorOf(c, 'SELECT first_name::json FROM customers');
    expect(json).toMatchObject({ code: '22P02', detail: expect.stringMatching(/^Token ".+" is invalid\.$/) });
    expect(json.where).toMatch(/^JSON data, line 1: /);
    for (const f of [masked, json]) expectClean(f);
  });

  it("never evaluates a failing cast on another tenant's row (the fence)", async () => {
    // Every other tenant's email fails the cast; the row filter runs first, so there is no error.
    const none = await c.query(
      "SELECT count(*)::int AS n FROM customers WHERE org <> 'acme' AND email::int > 0",
    );
    expect(none.rows).toEqual([{ n: 0 }]);
    const sorted = await c.query(
      "SELECT 1 FROM customers ORDER BY CASE WHEN org <> 'acme' THEN email::int END",
    );
    expect(sorted.rows.length).toBeGreaterThan(0);
    // Where the cast does fail, it quotes one of alice's own rows.
    const own = await errorOf(c, 'SELECT * FROM customers WHERE email::int = 1');
    expect(own.message).toMatch(/@acme\./);
    expectClean(own);
  });
});

describe('an error the proxy raises inside a transaction block', () => {
  it('fails the transaction like PostgreSQL: 25P02 until ROLLBACK, status E, then I', async () => {
    const c = await alice();
    try {
      await c.query('BEGIN');
      expect(c.status()).toBe('T');
      expect(await errorOf(c, "UPDATE customers SET org = 'acme'")).toMatchObject({ code: '25006' });
      expect(c.status()).toBe('E');
      expect(await errorOf(c, 'SELECT 1')).toEqual({
        severity: 'ERROR',
        code: '25P02',
        message: 'current transaction is aborted, commands ignored until end of transaction block',
      });
      expect(c.status()).toBe('E');
      const rollback = await c.query('ROLLBACK');
      expect([rollback.command, c.status()]).toEqual(['ROLLBACK', 'I']);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

      // COMMIT of a failed transaction rolls back, as PostgreSQL reports it.
      await c.query('BEGIN');
      expect(await errorOf(c, 'SHOW work_mem')).toMatchObject({ code: '42501' });
      expect(c.status()).toBe('E');
      const commit = await c.query('COMMIT');
      expect([commit.command, c.status()]).toEqual(['ROLLBACK', 'I']);

      // A savepoint taken before the error restores the transaction.
      await c.query('BEGIN');
      await c.query('SAVEPOINT s');
      expect(await errorOf(c, 'DELETE FROM orders')).toMatchObject({ code: '25006' });
      await c.query('ROLLBACK TO SAVEPOINT s');
      expect(c.status()).toBe('T');
      expect(
        (await c.query("SELECT count(*)::int AS n FROM orders WHERE org = 'acme'")).rows[0].n,
      ).toBeGreaterThan(0);
      await c.query('COMMIT');
      expect(c.status()).toBe('I');

      // Outside a transaction block nothing is aborted.
      expect(await errorOf(c, 'DELETE FROM orders')).toMatchObject({ code: '25006' });
      expect(c.status()).toBe('I');
    } finally {
      await c.end();
    }
  });
});
