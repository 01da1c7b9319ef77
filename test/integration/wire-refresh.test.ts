/**
 * Live policy refresh of open sessions: an admin change committed through the
 * repositories (the same audited transactions the REST API uses) changes what
 * an already-connected client sees on its very next statement, in both query
 * protocols; deactivating a user or withdrawing the data-source grant ends the
 * user's open sessions — even idle ones — while other users keep working.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { findDataSourceByName } from '../../src/store/repos/datasources.js';
import { updatePolicy } from '../../src/store/repos/policies.js';
import { getUserByUsername, updateUser } from '../../src/store/repos/users.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;
let server: ProxyServer;
const clients: pg.Client[] = [];

beforeAll(async () => {
  demo = await openDemoStore();
  server = await demo.proxy();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

afterAll(async () => {
  await server?.close();
  await demo?.admin.dispose();
});

async function connect(user: string): Promise<pg.Client & { ended: Promise<Error | undefined> }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user,
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  const ended = new Promise<Error | undefined>((resolve) => {
    c.on('error', (e) => resolve(e));
    c.on('end', () => resolve(undefined));
  });
  await c.connect();
  clients.push(c);
  return Object.assign(c, { ended });
}

const admin = (work: Parameters<typeof auditedTransaction>[2]) =>
  auditedTransaction(demo.admin.store, '00000000-0000-7000-8000-000000000001', work);

async function setPolicyEnabled(name: string, enabled: boolean): Promise<void> {
  await admin(async (tx) => {
    const p = await tx.db
      .selectFrom('policy')
      .select(['id', 'version'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    await updatePolicy(tx, p.id, { version: p.version, is_enabled: enabled });
  });
}

async function orgs(c: pg.Client, sql = 'SELECT DISTINCT org FROM customers ORDER BY 1'): Promise<string[]> {
  return (await c.query<{ org: string }>(sql)).rows.map((r) => r.org);
}

describe('live policy refresh', () => {
  it('a policy change applies to the next statement of an open session, simple and extended', async () => {
    const alice = await connect('alice');
    expect(await orgs(alice)).toEqual(['acme']);
    const prepared = {
      name: 'alice_orgs',
      text: 'SELECT DISTINCT org FROM customers WHERE $1::int = 1 ORDER BY 1',
    };
    expect((await alice.query(prepared, [1])).rows).toEqual([{ org: 'acme' }]);

    const t0 = performance.now();
    await setPolicyEnabled('tenant-isolation', false);
    try {
      const all = await orgs(alice);
      const delayMs = performance.now() - t0;
      expect(all.length).toBeGreaterThan(1);
      expect(all).toContain('acme');
      // The named statement was prepared under the old policies: it is re-prepared, not reused.
      expect((await alice.query(prepared, [1])).rows.length).toBe(all.length);
      expect(delayMs).toBeLessThan(2000);
    } finally {
      await setPolicyEnabled('tenant-isolation', true);
    }
    expect(await orgs(alice)).toEqual(['acme']);
    expect((await alice.query(prepared, [1])).rows).toEqual([{ org: 'acme' }]);
  });

  it('a newly enabled deny hides the column on the next statement and never shows it again', async () => {
    const alice = await connect('alice');
    expect((await alice.query('SELECT ssn FROM customers LIMIT 1')).rows[0].ssn).toMatch(
      /^\*\*\*-\*\*-\d{4}$/,
    );
    await setPolicyEnabled('mask-ssn-partial', false);
    try {
      // Without the mask alice would see raw SSNs: the refresh must take effect before this statement.
      const raw = await alice.query('SELECT ssn FROM customers LIMIT 1');
      expect(raw.rows[0].ssn).toMatch(/^\d{3}-\d{2}-\d{4}$/);
    } finally {
      await setPolicyEnabled('mask-ssn-partial', true);
    }
    const masked = await alice.query('SELECT ssn FROM customers');
    for (const row of masked.rows) expect(row.ssn).toMatch(/^\*\*\*-\*\*-\d{4}$/);
  });

  it('metadata follows on the next statement too, and catalog state numbers rise above the last txid', async () => {
    const alice = await connect('alice');
    const columns = async () =>
      (
        await alice.query<{ c: string }>(
          "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'customers' " +
            "UNION ALL SELECT attname FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attnum > 0",
        )
      ).rows.map((r) => r.c);
    const clock = async () =>
      Number((await alice.query<{ t: string }>('SELECT txid_current()::text AS t')).rows[0]!.t);
    const state = async () =>
      Number(
        (await alice.query<{ x: string }>("SELECT xmin::text AS x FROM pg_class WHERE relname = 'customers'"))
          .rows[0]!.x,
      );
    expect(await columns()).not.toContain('credit_card');
    const before = await clock();
    expect(await state()).toBeLessThanOrEqual(before);
    await new Promise((r) => setTimeout(r, 1100));
    await setPolicyEnabled('hide-credit-card', false);
    try {
      // The very next statement sees the column in both catalogs, and a client that compares
      // state numbers with its last txid (DataGrip) sees the table as changed.
      const shown = await columns();
      expect(shown.filter((c) => c === 'credit_card')).toHaveLength(2);
      expect(await state()).toBeGreaterThan(before);
    } finally {
      await setPolicyEnabled('hide-credit-card', true);
    }
    expect(await columns()).not.toContain('credit_card');
  });

  it('deactivating a user ends their idle sessions at once; other users are unaffected', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    const user = await getUserByUsername(demo.admin.store.db, 'alice');
    const t0 = performance.now();
    await admin((tx) => updateUser(tx, user!.id, { is_active: false }));
    try {
      const err = (await alice.ended) as (Error & { code?: string }) | undefined;
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(err?.code ?? err?.message).toMatch(/57P01|terminat|Connection terminated/);
      expect(await orgs(bob)).toEqual(['globex']);
      // And a new connection is refused like any wrong password.
      const again = new pg.Client({
        host: '127.0.0.1',
        port: server.port,
        user: 'alice',
        password: 'Demo1234!',
        database: DEMO_DATABASE,
      });
      await expect(again.connect()).rejects.toMatchObject({ code: '28P01' });
      await again.end().catch(() => undefined);
    } finally {
      await admin((tx) => updateUser(tx, user!.id, { is_active: true }));
    }
  });

  it('withdrawing the data-source grant ends that user’s sessions only', async () => {
    const db = demo.admin.store.db;
    const ds = await findDataSourceByName(db, DEMO_DATABASE);
    const alice = await connect('alice');
    const bob = await connect('bob');
    const users = await db
      .selectFrom('data_source_access')
      .select('user_id')
      .where('data_source_id', '=', ds!.id)
      .execute();
    const granted = users.map((u) => u.user_id).filter((id): id is string => id !== null);
    const aliceId = (await getUserByUsername(db, 'alice'))!.id;
    await admin((tx) =>
      setUserAccess(
        tx,
        ds!.id,
        granted.filter((id) => id !== aliceId),
      ),
    );
    try {
      const err = (await alice.ended) as (Error & { code?: string }) | undefined;
      expect(err).toBeDefined();
      expect(await orgs(bob)).toEqual(['globex']);
    } finally {
      await admin((tx) => setUserAccess(tx, ds!.id, granted));
    }
    const back = await connect('alice');
    expect(await orgs(back)).toEqual(['acme']);
  });
});
