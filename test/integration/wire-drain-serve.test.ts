/**
 * `rowgate serve` on SIGTERM: the proxy drains (a running statement
 * finishes and returns its rows, the session then gets FATAL 57P01; a
 * connection still in start-up does not hold the shutdown), the query audit
 * is flushed to the store, and the process exits 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { openStore } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { listQueryAudit } from '../../src/store/repos/audit-log.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createUser } from '../../src/store/repos/users.js';
import { cleanEnv, spawnCli, stopChild, waitForOutput } from '../support/cli.js';
import { serverUrl } from '../support/postgres.js';

const KEY = '77'.repeat(32);
const SLOW_SQL = 'SELECT count(*) AS n FROM generate_series(1, 15000000)';
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-drain-serve-'));
  await ensureDemoDatabase(serverUrl());
  const { host, port, user, password } = inject('postgres');
  const store = openStore({ engine: 'sqlite', target: join(dir, 'rowgate.db') });
  try {
    await migrateToLatest(store);
    await auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) => {
      const u = await createUser(tx, { username: 'drainer', password: 'Drain1234!' });
      const ds = await createDataSource(tx, SecretCipher.fromHex(KEY), {
        name: 'drain_ds',
        ds_type: 'postgres',
        config: { host, port, database: DEMO_DATABASE, username: user, password, sslmode: 'disable' },
        access_mode: 'open',
        grantCreator: false,
      });
      await setUserAccess(tx, ds.id, [u.id]);
    });
  } finally {
    await store.close();
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rowgate serve on SIGTERM', () => {
  it('finishes the running statement, flushes its audit record and exits 0', async () => {
    const child = spawnCli(
      ['serve'],
      dir,
      cleanEnv({
        ROWGATE_DATA_DIR: dir,
        ROWGATE_ENCRYPTION_KEY: KEY,
        ROWGATE_ADMIN_PASSWORD: 'pw',
        ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0',
        ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
        ROWGATE_SHUTDOWN_TIMEOUT_SECS: '60',
      }),
    );
    let exit: Promise<number | string | null> | undefined;
    try {
      const [, proxyPort] = await waitForOutput(child, /proxy on 127\.0\.0\.1:(\d+)\n/, 30_000);
      const port = Number(proxyPort);
      // A connection that never gets past start-up must not hold the shutdown.
      const lingering = net.connect(port, '127.0.0.1');
      lingering.on('error', () => undefined);
      lingering.resume(); // flowing, so the proxy's FIN is seen
      const lingeringClosed = new Promise<void>((r) => lingering.on('close', () => r()));

      const c = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'drainer',
        password: 'Drain1234!',
        database: 'drain_ds',
      });
      const ended = new Promise<string | undefined>((resolve) =>
        c.on('error', (e: Error & { code?: string }) => resolve(e.code)),
      );
      await c.connect();
      const query = c.query(SLOW_SQL);
      await new Promise((r) => setTimeout(r, 150));
      const sentAt = Date.now();
      exit = stopChild(child, 70_000);
      expect((await query).rows).toEqual([{ n: '15000000' }]);
      expect(await ended).toBe('57P01');
      await lingeringClosed;
      expect(await exit).toBe(0);
      expect(Date.now() - sentAt).toBeLessThan(45_000); // done before the 60 s deadline
      await c.end().catch(() => undefined);
    } finally {
      if (!exit) await stopChild(child).catch(() => undefined);
    }
    const store = openStore({ engine: 'sqlite', target: join(dir, 'rowgate.db') });
    try {
      const page = await listQueryAudit(store.db, {});
      expect(page.data.find((e) => e.original_query === SLOW_SQL)).toMatchObject({
        username: 'drainer',
        status: 'success',
        rows_returned: 1,
      });
    } finally {
      await store.close();
    }
  }, 150_000);
});
