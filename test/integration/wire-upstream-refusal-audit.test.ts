/**
 * Connections refused after authentication — the data source's upstream
 * refuses the proxy, or its pool is full — are audited like the refusals
 * before it (admission-audit.ts): one `denied` row with the user's and the
 * data source's ids, the client's message, and the internal reason that the
 * client is not told.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { REFUSED_CONNECTION_MARKER, refusalAuditsQueued } from '../../src/wire/admission-audit.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;
const ids = { alice: '', broken: '' };

beforeAll(async () => {
  demo = await openDemoStore();
  const { host, port, user } = inject('postgres');
  const db = demo.admin.store.db;
  ids.alice = (
    await db.selectFrom('proxy_user').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow()
  ).id;
  await auditedTransaction(demo.admin.store, SYSTEM_ACTOR_ID, async (tx) => {
    const ds = await createDataSource(tx, demo.cipher, {
      name: 'broken_upstream',
      ds_type: 'postgres',
      config: {
        host,
        port,
        database: DEMO_DATABASE,
        username: user,
        password: 'not-the-password',
        sslmode: 'disable',
      },
      access_mode: 'open',
      grantCreator: false,
    });
    await setUserAccess(tx, ds.id, [ids.alice]);
    ids.broken = ds.id;
  });
});

afterAll(async () => {
  await demo?.admin.dispose();
});

describe('refusals after authentication', () => {
  it('audits an upstream that refuses the proxy, with the reason the client is not told', async () => {
    const audit = new QueryAuditQueue(demo.admin.store, { flushIntervalMs: 60_000 });
    const server = await demo.proxy({ audit });
    try {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: server.port,
        user: 'alice',
        password: 'Demo1234!',
        database: 'broken_upstream',
        application_name: 'refusal-audit-test',
      });
      const err = (await client.connect().then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: string; message?: string } | undefined;
      await client.end().catch(() => undefined);
      expect(err).toMatchObject({ code: '08006', message: 'could not connect to the upstream server' });
    } finally {
      await server.close();
    }
    await refusalAuditsQueued(audit);
    await audit.close();
    const rows = await demo.admin.store.db
      .selectFrom('query_audit_log')
      .selectAll()
      .where('client_info', '=', 'refusal-audit-test')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: ids.alice,
      username: 'alice',
      data_source_id: ids.broken,
      datasource_name: 'broken_upstream',
      original_query: REFUSED_CONNECTION_MARKER,
      status: 'denied',
      execution_time_ms: null,
    });
    // The admin sees why; the client saw only the generic text.
    expect(rows[0]!.error_message).toMatch(
      /^could not connect to the upstream server \(upstream: .*password authentication failed/,
    );
    expect(rows[0]!.error_message).not.toContain('not-the-password');
  });
});
