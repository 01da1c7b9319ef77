/**
 * The test run's upstream servers (issue 3): PostgreSQL 18 from npm and
 * PostgreSQL 15 from Debian are both up, are the versions they claim to be,
 * and take per-test databases.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTestDatabase,
  describeEachUpstream,
  dropTestDatabase,
  serverUrl,
  UPSTREAM_MAJOR,
  type Upstream,
} from '../support/postgres.js';

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

describeEachUpstream('upstream server', (upstream: Upstream) => {
  const major = UPSTREAM_MAJOR[upstream];
  let database: { name: string; url: string } | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('upstream', upstream);
  });

  afterAll(async () => {
    if (database) await dropTestDatabase(database.name, upstream);
  });

  it(`runs PostgreSQL ${major}`, async () => {
    const versionNum = await withClient(serverUrl('postgres', upstream), async (client) => {
      const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
      return Number(rows[0]?.v);
    });
    expect(versionNum).toBeGreaterThanOrEqual(major * 10_000);
    expect(versionNum).toBeLessThan((major + 1) * 10_000);
  });

  it('creates a database that answers queries and is dropped afterwards', async () => {
    const { name, url } = database!;
    const rows = await withClient(url, async (client) => {
      await client.query('CREATE TABLE t (id int PRIMARY KEY, label text NOT NULL)');
      await client.query(`INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
      const result = await client.query<{ db: string; n: string; labels: string }>(
        `SELECT current_database() AS db, count(*) AS n, string_agg(label, ',' ORDER BY id) AS labels FROM t WHERE id >= 2`,
      );
      return result.rows;
    });
    expect(rows).toEqual([{ db: name, n: '2', labels: 'two,three' }]);

    // A second database to drop here, so dropping is checked too.
    const extra = await createTestDatabase('upstream_drop', upstream);
    await dropTestDatabase(extra.name, upstream);
    const remaining = await withClient(serverUrl('postgres', upstream), async (client) => {
      const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [extra.name]);
      return result.rowCount;
    });
    expect(remaining).toBe(0);
  });
});

it('starts a second embedded cluster in the same process (exit hooks are removed once)', async () => {
  const { startEmbeddedPostgres } = await import('../../src/embedded/postgres.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  for (let i = 0; i < 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'rowgate-second-pg-'));
    const server = await startEmbeddedPostgres({ dir, persistent: false });
    try {
      const url = server.url('postgres');
      expect(await withClient(url, async (c) => (await c.query('SELECT 1 AS one')).rows)).toEqual([
        { one: 1 },
      ]);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}, 120_000);
