/**
 * Two Rowgate replicas (issue 5): two `rowgate serve` processes share one
 * PostgreSQL admin store and one upstream. A policy created and assigned
 * through replica A's REST API changes what an open session on replica B
 * sees on its very next statement; deactivating the user through A ends the
 * session on B. The delay from A's answer to B's change is measured and
 * printed (README / note).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { openStore } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { ensureFirstAdmin } from '../../src/runtime/store.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { cleanEnv, spawnCli, stopChild, waitForOutput } from '../support/cli.js';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/postgres.js';

const KEY = '5a'.repeat(32);
const JWT = 'replica-test-secret';
const ADMIN_PASSWORD = 'Replica-admin-1';

interface Replica {
  child: ChildProcess;
  api: string;
  proxyPort: number;
}

let dir: string;
let adminDb: { name: string; url: string };
const replicas: Replica[] = [];

async function startReplica(name: string): Promise<Replica> {
  const child = spawnCli(
    ['serve'],
    dir,
    cleanEnv({
      ROWGATE_DATA_DIR: join(dir, name),
      ROWGATE_DATABASE_URL: adminDb.url,
      ROWGATE_ENCRYPTION_KEY: KEY,
      ROWGATE_JWT_SECRET: JWT,
      ROWGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_SHUTDOWN_TIMEOUT_SECS: '1',
    }),
  );
  const [, api, proxyPort] = await waitForOutput(
    child,
    /admin API on (http:\/\/127\.0\.0\.1:\d+); proxy on 127\.0\.0\.1:(\d+)\n/,
    60_000,
  );
  return { child, api: `${api}/api/v1`, proxyPort: Number(proxyPort) };
}

async function call(r: Replica, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${r.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function login(r: Replica): Promise<string> {
  const res = await fetch(`${r.api}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-replicas-'));
  await ensureDemoDatabase(serverUrl());
  adminDb = await createTestDatabase('replicas');
  // The shared admin store: migrated, first admin, demo users / data source / policies.
  const store = openStore({ engine: 'postgres', target: adminDb.url });
  try {
    await migrateToLatest(store);
    const config = loadConfig(
      cleanEnv({
        ROWGATE_DATA_DIR: join(dir, 'seed'),
        ROWGATE_DATABASE_URL: adminDb.url,
        ROWGATE_ENCRYPTION_KEY: KEY,
        ROWGATE_JWT_SECRET: JWT,
        ROWGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    );
    await ensureFirstAdmin(store, config, createLogger('silent'));
    const { host, port, user, password } = inject('postgres');
    await seedDemoAdminStore(store, SecretCipher.fromHex(KEY), { host, port, user, password });
  } finally {
    await store.close();
  }
  replicas.push(await startReplica('a'), await startReplica('b'));
}, 120_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => stopChild(r.child)));
  if (adminDb) await dropTestDatabase(adminDb.name);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('two replicas on one PostgreSQL admin store', () => {
  it('a policy created through A applies to the next statement of a session on B', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const alice = new pg.Client({
      host: '127.0.0.1',
      port: b.proxyPort,
      user: 'alice',
      password: 'Demo1234!',
      database: DEMO_DATABASE,
    });
    await alice.connect();
    try {
      expect((await alice.query('SELECT email FROM customers LIMIT 1')).rows).toHaveLength(1);
      const token = await login(a);
      const sources = await call(a, token, 'GET', '/datasources');
      expect(sources.status).toBe(200);
      const list = (Array.isArray(sources.body) ? sources.body : sources.body.data) as {
        id: string;
        name: string;
      }[];
      const ds = list.find((d) => d.name === DEMO_DATABASE)!;
      const created = await call(a, token, 'POST', '/policies', {
        name: 'replica-hide-email',
        policy_type: 'column_deny',
        targets: [{ schemas: ['public'], tables: ['customers'], columns: ['email'] }],
      });
      expect(created.status).toBe(201);
      const assigned = await call(a, token, 'POST', `/datasources/${ds.id}/policies`, {
        policy_id: created.body.id,
      });
      expect(assigned.status).toBe(201);
      const t0 = performance.now();
      // The very next statement on B must already be refused: no polling, no retry.
      await expect(alice.query('SELECT email FROM customers LIMIT 1')).rejects.toMatchObject({
        code: '42703',
      });
      const delayMs = performance.now() - t0;
      console.log(`replica propagation: B refused the hidden column ${delayMs.toFixed(1)} ms after A's 201`);
      const row = (await alice.query('SELECT * FROM customers LIMIT 1')).rows[0] as Record<string, unknown>;
      expect(Object.keys(row)).not.toContain('email');
    } finally {
      await alice.end().catch(() => undefined);
    }
  });

  it('deactivating the user through A ends their session on B', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const bob = new pg.Client({
      host: '127.0.0.1',
      port: b.proxyPort,
      user: 'bob',
      password: 'Demo1234!',
      database: DEMO_DATABASE,
    });
    const ended = new Promise<Error | undefined>((resolve) => {
      bob.on('error', (e) => resolve(e));
      bob.on('end', () => resolve(undefined));
    });
    await bob.connect();
    expect((await bob.query('SELECT DISTINCT org FROM customers')).rows).toEqual([{ org: 'globex' }]);
    const token = await login(a);
    const users = await call(a, token, 'GET', '/users?search=bob');
    const bobUser = (users.body.data as { id: string; username: string }[]).find(
      (u) => u.username === 'bob',
    )!;
    const t0 = performance.now();
    const updated = await call(a, token, 'PUT', `/users/${bobUser.id}`, { is_active: false });
    expect(updated.status).toBe(200);
    const err = (await ended) as (Error & { code?: string }) | undefined;
    console.log(
      `replica propagation: B ended the deactivated user's session ${(performance.now() - t0).toFixed(1)} ms after A's 200`,
    );
    expect(err?.code ?? err?.message).toMatch(/57P01|terminat/);
    await bob.end().catch(() => undefined);
  });
});
