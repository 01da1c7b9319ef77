/**
 * The data plane through a real client: the demo upstream and admin store
 * are seeded as `rowgate demo` does, the proxy listens on an ephemeral port,
 * and node-postgres connects as the demo users. Covers start-up and SCRAM,
 * uniform refusals, the rewriter's answers, the relay and robustness.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { listQueryAudit } from '../../src/store/repos/audit-log.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

let admin: TestStore;
let proxy: ProxyServer;
let audit: QueryAuditQueue;

beforeAll(async () => {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('11'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  // A data source nobody was granted: must answer like a nonexistent one.
  await auditedTransaction(admin.store, SYSTEM_ACTOR_ID, (tx) =>
    createDataSource(tx, cipher, {
      name: 'hidden_ds',
      ds_type: 'postgres',
      config: { host, port, database: DEMO_DATABASE, username: user, password, sslmode: 'disable' },
      access_mode: 'open',
      grantCreator: false,
    }),
  );
  audit = new QueryAuditQueue(admin.store);
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    audit,
    idleTimeoutSecs: 0,
  });
});

afterAll(async () => {
  await proxy?.close();
  await audit?.close();
  await admin?.dispose();
});

function client(user = 'alice', password = 'Demo1234!', database: string = DEMO_DATABASE): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: proxy.port, user, password, database });
}

async function withAlice<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = client();
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function connectError(c: pg.Client): Promise<{ code?: string; message: string }> {
  const error = (await c.connect().then(
    () => null,
    (e: unknown) => e,
  )) as { code?: string; message: string } | null;
  await c.end().catch(() => undefined);
  if (!error) throw new Error('connection unexpectedly succeeded');
  return error;
}

describe('proxy data plane (node-postgres, simple protocol)', () => {
  it('enforces the row filter, the mask and the column denial', async () => {
    await withAlice(async (c) => {
      expect((await c.query('SELECT DISTINCT org FROM orders')).rows).toEqual([{ org: 'acme' }]);
      const ssn = await c.query('SELECT ssn FROM customers');
      expect(ssn.rows.length).toBeGreaterThan(0);
      for (const row of ssn.rows) expect(row.ssn).toMatch(/^\*\*\*-\*\*-\d{4}$/);
      await expect(c.query('SELECT credit_card FROM customers')).rejects.toMatchObject({ code: '42703' });
      await expect(c.query("UPDATE customers SET org = 'acme'")).rejects.toMatchObject({ code: '25006' });
      // The session survives errors.
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });

  it('zeroes the table OID and column number of every result column (V146)', async () => {
    await withAlice(async (c) => {
      const r = await c.query('SELECT id, org, ssn FROM customers LIMIT 1');
      for (const f of r.fields) expect([f.name, f.tableID, f.columnID]).toEqual([f.name, 0, 0]);
    });
  });

  it('answers SHOW and SET itself, and runs multi-statement strings in one implicit transaction', async () => {
    await withAlice(async (c) => {
      expect((await c.query('SHOW search_path')).rows).toEqual([{ search_path: '"$user", public' }]);
      await c.query("SET application_name = 'wire-test'");
      expect((await c.query('SHOW application_name')).rows).toEqual([{ application_name: 'wire-test' }]);
      expect((await c.query('SHOW session_authorization')).rows).toEqual([
        { session_authorization: 'alice' },
      ]);
      await expect(c.query('SHOW work_mem')).rejects.toMatchObject({ code: '42501' });
      const multi = (await c.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[];
      expect(multi.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
      await c.query('BEGIN');
      await c.query('SELECT count(*) FROM orders');
      await c.query('COMMIT');
      expect((await c.query('-- only a comment')).rows ?? []).toEqual([]);
    });
  });

  it('reports the same 28P01 for a wrong password and an unknown user', async () => {
    const wrong = await connectError(client('alice', 'not-her-password'));
    const unknown = await connectError(client('mallory', 'Demo1234!'));
    expect(wrong).toMatchObject({
      code: '28P01',
      message: 'password authentication failed for user "alice"',
    });
    expect(unknown).toMatchObject({
      code: '28P01',
      message: 'password authentication failed for user "mallory"',
    });
  });

  it('reports the same 3D000 for an unknown data source and one without access', async () => {
    const missing = await connectError(client('alice', 'Demo1234!', 'no_such_db'));
    const hidden = await connectError(client('alice', 'Demo1234!', 'hidden_ds'));
    expect(missing).toMatchObject({ code: '3D000', message: 'database "no_such_db" does not exist' });
    expect(hidden).toMatchObject({ code: '3D000', message: 'database "hidden_ds" does not exist' });
  });

  it('serves the extended protocol too (wire-extended.test.ts has the details)', async () => {
    await withAlice(async (c) => {
      expect((await c.query('SELECT $1::int AS x', [1])).rows).toEqual([{ x: 1 }]);
      expect((await c.query('SELECT 2 AS y')).rows).toEqual([{ y: 2 }]);
    });
  });

  it('closes a connection that sends garbage, and keeps serving others', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(proxy.port, '127.0.0.1', () =>
        s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
      );
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
      s.resume();
    });
    expect(closed).toBe(true);
    await withAlice(async (c) => {
      expect((await c.query('SELECT DISTINCT org FROM customers')).rows).toEqual([{ org: 'acme' }]);
    });
  });

  it('writes one audit record per statement', async () => {
    await withAlice((c) => c.query('SELECT count(*) FROM products'));
    await audit.flush();
    const page = await listQueryAudit(admin.store.db, {});
    const entry = page.data.find((e) => e.original_query === 'SELECT count(*) FROM products');
    expect(entry).toMatchObject({ username: 'alice', status: 'success' });
  });
});
