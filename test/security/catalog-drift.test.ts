/**
 * Vectors where the upstream and the proxy's catalog snapshot disagree, at
 * the level the rewriter controls: partitions (V131), reg* columns (V85) and
 * drift after the snapshot was saved (V171). The snapshot itself is refreshed
 * by catalog sync (management-plane issue); here the guarantee is that the
 * rewriter only ever emits what the snapshot names, so drift fails closed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { PgError } from '../../src/sql/errors.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { arrowTypeFor } from '../../src/store/repos/catalog.js';
import { filter, loadParser, policySet, table } from '../support/policy-fixtures.js';
import {
  createTestDatabase,
  describeEachUpstream,
  dropTestDatabase,
  type Upstream,
} from '../support/postgres.js';

const SCHEMA = `
  CREATE TABLE events (id int, org text, secret text, at date) PARTITION BY LIST (org);
  CREATE TABLE events_acme PARTITION OF events FOR VALUES IN ('acme');
  CREATE TABLE events_globex PARTITION OF events FOR VALUES IN ('globex');
  INSERT INTO events VALUES (1, 'acme', 'a-secret', '2026-01-01'), (2, 'globex', 'CANARY-GLOBEX', '2026-01-02');
  CREATE TABLE customers (id int PRIMARY KEY, org text, name text, ssn text);
  INSERT INTO customers VALUES (1, 'acme', 'Ann', '111-22-3333'), (2, 'globex', 'CANARY-NAME', '999-88-7777');
  CREATE TABLE refs (id int, target regclass);
  INSERT INTO refs VALUES (1, 'customers'::regclass);
`;

/** The snapshot alice's session was resolved from: the parent `events` only, no partitions. */
function alice(): SessionPolicySet {
  return policySet([
    table('public', 'events', ['id', 'org', ['at', 'date']], [filter("org = 'acme'")]),
    table(
      'public',
      'customers',
      ['id', 'org', 'name', ['ssn', 'text', "'***-**-' || right(ssn, 4)"]],
      [filter("org = 'acme'")],
    ),
    // `refs.target` is regclass: discovery gives it no arrow type, so the catalog never exposes it.
    table('public', 'refs', ['id']),
  ]);
}

const rewriteFor = (sql: string) =>
  rewriteSync(sql, alice(), { searchPath: ['public'] }, { gate: classifierGate() })
    .statements.map((s) => s.rewrittenSql)
    .join('; ');

function proxyError(sql: string): PgError {
  try {
    rewriteFor(sql);
  } catch (error) {
    if (error instanceof PgError) return error;
    throw error;
  }
  throw new Error(`rewrite of ${sql} did not fail`);
}

beforeAll(loadParser);

describeEachUpstream('catalog snapshot vectors', (upstream: Upstream) => {
  let client: pg.Client;
  let database: string;
  beforeAll(async () => {
    const created = await createTestDatabase('drift', upstream);
    database = created.name;
    client = new pg.Client({ connectionString: created.url });
    await client.connect();
    await client.query(SCHEMA);
  });
  afterAll(async () => {
    await client?.end();
    await dropTestDatabase(database, upstream);
  });

  const run = async (sql: string) => (await client.query(rewriteFor(sql))).rows as Record<string, unknown>[];

  it('V131 a partition queried directly is not in the snapshot: 42P01 like a missing table', () => {
    for (const name of ['events_globex', 'events_acme', 'public.events_globex']) {
      const error = proxyError(`SELECT * FROM ${name}`);
      expect(error.sqlstate).toBe('42P01');
      expect(error.message).toBe(`relation "${name}" does not exist`);
    }
  });

  it('V131 the parent filter applies to every partition, with and without ONLY', async () => {
    expect(await run('SELECT id, org FROM events ORDER BY id')).toEqual([{ id: 1, org: 'acme' }]);
    // ONLY on a partitioned parent scans no partition: still nothing of globex.
    expect(await run('SELECT id FROM ONLY events')).toEqual([]);
    const rewritten = rewriteFor('SELECT * FROM events');
    expect(rewritten).not.toContain('events_globex');
    expect(JSON.stringify(await run('SELECT * FROM events'))).not.toContain('CANARY');
  });

  it('V85 a reg* column is never exposed: no arrow type, absent from the snapshot, 42703 upstream', async () => {
    expect(arrowTypeFor('regclass')).toBeNull();
    expect(arrowTypeFor('regproc')).toBeNull();
    expect(await run('SELECT * FROM refs')).toEqual([{ id: 1 }]);
    await expect(run('SELECT target FROM refs')).rejects.toMatchObject({ code: '42703' });
  });

  describe('V171 drift after the snapshot', () => {
    beforeAll(async () => {
      await client.query("ALTER TABLE customers ADD COLUMN ssn_plain text DEFAULT 'CANARY-PLAIN'");
    });

    it('V171 a column added upstream stays invisible until the catalog is synced', async () => {
      const rows = await run('SELECT * FROM customers');
      expect(rows).toEqual([{ id: 1, org: 'acme', name: 'Ann', ssn: '***-**-3333' }]);
      await expect(run('SELECT ssn_plain FROM customers')).rejects.toMatchObject({ code: '42703' });
    });

    it('V171 a table renamed upstream fails closed instead of reaching another relation', async () => {
      await client.query('ALTER TABLE customers RENAME TO customers_old');
      try {
        const error = (await run('SELECT name FROM customers').catch((e: unknown) => e)) as { code?: string };
        expect(error.code).toBe('42P01');
      } finally {
        await client.query('ALTER TABLE customers_old RENAME TO customers');
      }
    });

    it('V171 a type change that breaks a mask is an error, never the raw value', async () => {
      await client.query('ALTER TABLE customers ALTER COLUMN ssn TYPE bytea USING ssn::bytea');
      const outcome = await run('SELECT ssn FROM customers').then(
        (rows) => JSON.stringify(rows),
        (e: { message: string }) => e.message,
      );
      expect(outcome).not.toMatch(/111-22-3333|999-88-7777|CANARY/);
    });
  });
});
