/**
 * node-postgres (`pg`, `pg-cursor`) through the proxy, as alice (tenant
 * acme): simple and extended queries, named statements reused across calls
 * (asyncpg-style), a cursor read in chunks (Execute with a row limit →
 * PortalSuspended), SET then SHOW through the extended protocol. Every
 * result is compared with what direct PostgreSQL returns for the filtered,
 * masked query, and the hidden column never appears.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;
let server: ProxyServer;
let alice: pg.Client;
let direct: pg.Client;

beforeAll(async () => {
  demo = await openDemoStore();
  server = await demo.proxy();
  alice = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  await alice.connect();
  direct = new pg.Client({ connectionString: serverUrl(DEMO_DATABASE) });
  await direct.connect();
});

afterAll(async () => {
  await alice?.end();
  await direct?.end();
  await server?.close();
  await demo?.admin.dispose();
});

/** What alice may see of customers, computed directly: acme rows, SSN masked. */
const EXPECTED_CUSTOMERS = `SELECT id::text, first_name, '***-**-' || right(ssn, 4) AS ssn
  FROM customers WHERE org = 'acme' ORDER BY id`;

describe('node-postgres through the proxy', () => {
  it('simple and parameterized queries return exactly the permitted, masked rows', async () => {
    const expected = (await direct.query(EXPECTED_CUSTOMERS)).rows;
    expect(expected.length).toBeGreaterThan(0);
    const simple = await alice.query('SELECT id::text, first_name, ssn FROM customers ORDER BY id');
    expect(simple.rows).toEqual(expected);
    const extended = await alice.query(
      'SELECT id::text, first_name, ssn FROM customers WHERE org = ANY($1) ORDER BY id',
      [['acme', 'globex', 'stark']],
    );
    expect(extended.rows).toEqual(expected);
    const all = await alice.query('SELECT * FROM customers LIMIT 1');
    expect(all.fields.map((f) => f.name)).not.toContain('credit_card');
    await expect(alice.query('SELECT credit_card FROM customers WHERE id = $1', [1])).rejects.toMatchObject({
      code: '42703',
    });
  });

  it('reuses a named prepared statement across calls, with different parameters', async () => {
    const byOrg = { name: 'orders_by_org', text: 'SELECT count(*)::int AS n FROM orders WHERE org = $1' };
    const acme = (await direct.query("SELECT count(*)::int AS n FROM orders WHERE org = 'acme'")).rows;
    for (let i = 0; i < 3; i++) {
      expect((await alice.query({ ...byOrg, values: ['acme'] })).rows).toEqual(acme);
      expect((await alice.query({ ...byOrg, values: ['globex'] })).rows).toEqual([{ n: 0 }]);
    }
  });

  it('reads a pg-cursor in chunks (row-limited Execute, PortalSuspended)', async () => {
    const expected = (await direct.query(EXPECTED_CUSTOMERS)).rows;
    const cursor = alice.query(
      new Cursor('SELECT id::text, first_name, ssn FROM customers WHERE first_name <> $1 ORDER BY id', ['']),
    );
    const rows: unknown[] = [];
    for (;;) {
      const chunk = await cursor.read(3);
      if (chunk.length === 0) break;
      expect(chunk.length).toBeLessThanOrEqual(3);
      rows.push(...chunk);
    }
    await cursor.close();
    expect(rows).toEqual(expected);
  });

  it('runs SET then SHOW through the extended protocol (named statements force it)', async () => {
    await alice.query({ name: 'set_tz', text: "SET TimeZone = 'Europe/Paris'", values: [] });
    const shown = await alice.query({ name: 'show_tz', text: 'SHOW TimeZone', values: [] });
    expect(shown.rows).toEqual([{ TimeZone: 'Europe/Paris' }]);
    expect(shown.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['TimeZone', 25]]);
    // The upstream got it too: its timestamps are rendered in that zone.
    const t = await alice.query("SELECT to_char('2024-01-01 12:00+00'::timestamptz, 'HH24') AS h", []);
    expect(t.rows).toEqual([{ h: '13' }]);
    await alice.query({ name: 'set_path', text: 'SET search_path = public', values: [] });
    expect((await alice.query({ name: 'show_path', text: 'SHOW search_path', values: [] })).rows).toEqual([
      { search_path: 'public' },
    ]);
    await expect(alice.query({ name: 'show_mem', text: 'SHOW work_mem', values: [] })).rejects.toMatchObject({
      code: '42501',
    });
    await alice.query('RESET TimeZone');
    expect(
      (await alice.query({ name: 'show_tz', text: 'SHOW TimeZone', values: [] })).rows[0].TimeZone,
    ).not.toBe('Europe/Paris');
  });
});
