/**
 * postgres.js (v3) through the proxy, as alice (tenant acme): tagged
 * templates (extended protocol, named statements, pipelining), transactions
 * with `sql.begin`, concurrent queries on one connection, `.describe()`,
 * `.cursor()`, `unsafe()` with several statements, SET / SHOW, and a
 * prepared statement reused after a policy change. Results are compared
 * with direct PostgreSQL; the hidden column never appears.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { updatePolicy } from '../../src/store/repos/policies.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;
let server: ProxyServer;
let sql: postgres.Sql;
let direct: postgres.Sql;

beforeAll(async () => {
  demo = await openDemoStore();
  server = await demo.proxy();
  // One connection: pipelining and statement reuse happen on it.
  sql = postgres({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
    max: 1,
    // Its type discovery reads pg_catalog.pg_type, outside the virtual catalog (see the report).
    fetch_types: false,
    onnotice: () => undefined,
  });
  direct = postgres(serverUrl(DEMO_DATABASE), { max: 1, onnotice: () => undefined });
});

afterAll(async () => {
  await sql?.end();
  await direct?.end();
  await server?.close();
  await demo?.admin.dispose();
});

const acmeCustomers = () =>
  direct`SELECT id, first_name, '***-**-' || right(ssn, 4) AS ssn FROM customers WHERE org = 'acme' ORDER BY id`;

async function setPolicyEnabled(name: string, enabled: boolean): Promise<void> {
  await auditedTransaction(demo.admin.store, '00000000-0000-7000-8000-000000000001', async (tx) => {
    const p = await tx.db
      .selectFrom('policy')
      .select(['id', 'version'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    await updatePolicy(tx, p.id, { version: p.version, is_enabled: enabled });
  });
}

describe('postgres.js through the proxy', () => {
  it('tagged templates return the permitted, masked rows and never the hidden column', async () => {
    const expected = [...(await acmeCustomers())];
    const got =
      await sql`SELECT id, first_name, ssn FROM customers WHERE org IN (${'acme'}, ${'globex'}) ORDER BY id`;
    expect([...got]).toEqual(expected);
    const all = await sql`SELECT * FROM customers WHERE id = ${expected[0]!.id}`;
    expect(all.columns.map((c) => c.name)).not.toContain('credit_card');
    await expect(sql`SELECT credit_card FROM customers`).rejects.toMatchObject({ code: '42703' });
  });

  it('pipelines concurrent queries on one connection, each answered in order', async () => {
    const orgs = ['acme', 'globex', 'stark', 'acme', 'globex', 'stark'];
    const counts = await Promise.all(
      orgs.map((org) => sql`SELECT count(*)::int AS n, ${org}::text AS org FROM orders WHERE org = ${org}`),
    );
    const acme = (await direct`SELECT count(*)::int AS n FROM orders WHERE org = 'acme'`)[0]!.n;
    expect(counts.map((r) => [r[0]!.org, r[0]!.n])).toEqual(
      orgs.map((org) => [org, org === 'acme' ? acme : 0]),
    );
  });

  it('runs sql.begin transactions (committed, and rolled back with their SETs)', async () => {
    const n = await sql.begin(async (tx) => {
      await tx`SET LOCAL TimeZone = 'Asia/Tokyo'`;
      const [tz] = await tx`SHOW TimeZone`;
      expect(tz).toEqual({ TimeZone: 'Asia/Tokyo' });
      const [row] = await tx`SELECT count(*)::int AS n FROM customers`;
      return row!.n as number;
    });
    expect(n).toBe((await acmeCustomers()).length);
    expect((await sql`SHOW TimeZone`)[0]!.TimeZone).not.toBe('Asia/Tokyo');
    await expect(
      sql.begin(async (tx) => {
        await tx`SET TimeZone = 'Europe/Paris'`;
        await tx`SELECT 1 / 0`;
      }),
    ).rejects.toMatchObject({ code: '22012' });
    expect((await sql`SHOW TimeZone`)[0]!.TimeZone).not.toBe('Europe/Paris');
    // Writes stay refused inside a transaction too.
    await expect(sql.begin((tx) => tx`DELETE FROM orders`)).rejects.toMatchObject({ code: '25006' });
  });

  it('describes a statement without running it', async () => {
    const d =
      await sql`SELECT id, ssn FROM customers WHERE org = ${'acme'} AND first_name <> ${''}`.describe();
    expect(d.columns.map((c) => c.name)).toEqual(['id', 'ssn']);
    expect(d.types.length).toBe(2);
    const show = await sql`SHOW search_path`.describe();
    expect(show.columns.map((c) => c.name)).toEqual(['search_path']);
  });

  it('reads a cursor in chunks', async () => {
    const expected = [...(await acmeCustomers())];
    const rows: unknown[] = [];
    for await (const chunk of sql`SELECT id, first_name, ssn FROM customers ORDER BY id`.cursor(2)) {
      expect(chunk.length).toBeLessThanOrEqual(2);
      rows.push(...chunk);
    }
    expect(rows).toEqual(expected);
  });

  it('runs unsafe() with several statements (simple protocol) under the policies', async () => {
    const results = (await sql.unsafe(
      "SET TimeZone = 'UTC'; SELECT DISTINCT org FROM orders; SHOW TimeZone",
    )) as unknown as postgres.RowList<postgres.Row[]>[];
    expect(results[1]!.map((r) => r.org)).toEqual(['acme']);
    expect([...results[2]!]).toEqual([{ TimeZone: 'UTC' }]);
  });

  it('re-prepares a reused statement after a policy change, never running the old rewrite', async () => {
    const q = () => sql`SELECT DISTINCT org FROM customers WHERE first_name <> ${''} ORDER BY 1`;
    expect((await q()).map((r) => r.org)).toEqual(['acme']);
    expect((await q()).map((r) => r.org)).toEqual(['acme']);
    await setPolicyEnabled('tenant-isolation', false);
    try {
      expect((await q()).length).toBeGreaterThan(1);
    } finally {
      await setPolicyEnabled('tenant-isolation', true);
    }
    expect((await q()).map((r) => r.org)).toEqual(['acme']);
    await setPolicyEnabled('mask-ssn-partial', false);
    try {
      const raw = await sql`SELECT ssn FROM customers WHERE first_name <> ${''} LIMIT 1`;
      expect(raw[0]!.ssn).toMatch(/^\d{3}-\d{2}-\d{4}$/);
    } finally {
      await setPolicyEnabled('mask-ssn-partial', true);
    }
    const masked = await sql`SELECT ssn FROM customers WHERE first_name <> ${''} LIMIT 1`;
    expect(masked[0]!.ssn).toMatch(/^\*\*\*-\*\*-\d{4}$/);
  });
});
