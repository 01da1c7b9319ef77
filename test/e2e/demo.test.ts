/**
 * `rowgate demo` end to end: a fresh directory, the real CLI, an embedded
 * upstream on a free port. Checks the upstream data, the seeded admin store,
 * the admin listener, a clean stop, and that a second start reuses both.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/postgres.js';
import { openStore, type Store } from '../../src/store/db.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { getDataSourceConnection, findDataSourceByName } from '../../src/store/repos/datasources.js';
import { listColumnAnchors } from '../../src/store/repos/column-anchors.js';
import { listAssignmentsForDataSource } from '../../src/store/repos/policy-assignments.js';
import { getUserByUsername } from '../../src/store/repos/users.js';
import { cleanEnv, spawnCli, stopChild, waitForOutput } from '../support/cli.js';

const BANNER = /Admin API\s+(http:\/\/\S+)[\s\S]*Upstream\s+psql "(postgres:\/\/\S+)"/;

describe('rowgate demo', () => {
  let dir: string;
  let upstreamPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rowgate-demo-'));
    chmodSync(dir, 0o755); // like a checkout: the upstream then lives in <dir>/data/demo-upstream
    upstreamPort = await freePort();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const env = () =>
    cleanEnv({
      ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_LOG_LEVEL: 'info',
    });

  it('starts an embedded upstream with the demo data and a seeded admin store', async () => {
    const started = Date.now();
    const child = spawnCli(['demo', '--upstream-port', String(upstreamPort)], dir, env());
    let upstreamUrl = '';
    try {
      const [, adminUrl, url] = await waitForOutput(child, BANNER, 60_000);
      upstreamUrl = url ?? '';
      expect(Date.now() - started).toBeLessThan(60_000);
      const health = await fetch(`${adminUrl}/health`);
      expect(health.status).toBe(200);

      const client = new pg.Client({ connectionString: upstreamUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ org: string; n: string }>(
          'SELECT org, count(*) AS n FROM customers GROUP BY org ORDER BY org',
        );
        expect(rows).toEqual([
          { org: 'acme', n: '10' },
          { org: 'globex', n: '10' },
          { org: 'stark', n: '10' },
        ]);
      } finally {
        await client.end();
      }
    } finally {
      expect(await stopChild(child)).toBe(0);
    }
    expect(existsSync(join(dir, 'data', 'demo-upstream', 'pgdata', 'PG_VERSION'))).toBe(true);
    // The upstream stopped with the demo.
    const late = new pg.Client({ connectionString: upstreamUrl, connectionTimeoutMillis: 2000 });
    await expect(late.connect()).rejects.toThrow();
  });

  it('left an admin store with the demo users, data source, policies and anchors', async () => {
    const store: Store = openStore({ engine: 'sqlite', target: join(dir, 'data', 'rowgate.db') });
    try {
      const alice = await getUserByUsername(store.db, 'alice');
      expect(alice?.attributes).toEqual({ tenant: 'acme' });
      expect((await getUserByUsername(store.db, 'admin'))?.is_admin).toBe(true);
      const ds = await findDataSourceByName(store.db, 'demo_ecommerce');
      expect(ds?.access_mode).toBe('open');
      const key = readFileSync(join(dir, 'data', 'encryption_key'), 'utf8').trim();
      const connection = await getDataSourceConnection(store.db, SecretCipher.fromHex(key), {
        id: ds?.id ?? '',
      });
      expect(connection).toMatchObject({
        port: upstreamPort,
        password: 'postgres',
        database: 'demo_ecommerce',
      });
      const assignments = await listAssignmentsForDataSource(store.db, ds?.id ?? '');
      expect(assignments.map((a) => a.policy_name).sort()).toEqual([
        'hide-credit-card',
        'hide-product-financials',
        'mask-ssn-partial',
        'tenant-isolation',
      ]);
      const anchors = await listColumnAnchors(store.db, ds?.id ?? '');
      expect(anchors.map((a) => `${a.child_table_name}.${a.resolved_column_name}`).sort()).toEqual([
        'order_items.org',
        'payments.org',
      ]);
      const audit = await store.db.selectFrom('admin_audit_log').select('action').execute();
      expect(audit.length).toBeGreaterThan(10);
    } finally {
      await store.close();
    }
  });

  it('restarts on the same data without seeding again', async () => {
    const child = spawnCli(['demo', '--upstream-port', String(upstreamPort)], dir, env());
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      await waitForOutput(child, BANNER, 60_000);
    } finally {
      expect(await stopChild(child)).toBe(0);
    }
    expect(stdout).not.toContain('seeded the admin store');
    const store = openStore({ engine: 'sqlite', target: join(dir, 'data', 'rowgate.db') });
    try {
      const users = await store.db.selectFrom('proxy_user').select('username').execute();
      expect(users).toHaveLength(4);
    } finally {
      await store.close();
    }
  });
});
