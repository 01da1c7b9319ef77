/**
 * Discovery jobs whose upstream fails (api-contract §8.1): refused, silent,
 * wrong credentials, missing database, TLS mismatch, query errors — each as
 * the documented job error, with nothing of the upstream's internals or the
 * stored password in it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getCatalog } from '../../src/store/repos/catalog.js';
import {
  collect,
  defaultSelection,
  openJobsFixture,
  silentServer,
  type JobsFixture,
} from './catalog-jobs-fixture.js';

describe('discovery jobs against an unreachable or failing upstream', () => {
  let f: JobsFixture;
  beforeEach(async () => {
    f = await openJobsFixture('sqlite', { timeouts: { connectMs: 500, statementMs: 10_000 } });
  });
  afterEach(async () => f.dispose());

  it('a refused connection fails the job with a Connection error naming only host and port', async () => {
    const closed = await silentServer();
    const port = closed.port;
    await closed.close();
    const id = await f.addDataSource('gone', { host: '127.0.0.1', port, password: 'hunter2-secret' });
    const { job_id } = await f.jobs.submit(id, { action: 'discover_schemas' });
    const stream = f.jobs.events(job_id);
    const view = await f.jobs.wait(job_id);
    expect(view).toEqual({
      job_id,
      action: 'discover_schemas',
      status: 'failed',
      result: null,
      error: `Connection error: connection refused (127.0.0.1:${port})`,
    });
    expect((await collect(stream)).at(-1)).toEqual({ type: 'error', message: view?.error });
  });

  it('an upstream that never answers times out', async () => {
    const hanging = await silentServer();
    try {
      const id = await f.addDataSource('silent', { host: '127.0.0.1', port: hanging.port });
      const view = await f.run({ action: 'sync_catalog' }, id);
      expect(view.error).toBe(`Connection error: timed out after 0.5 s (127.0.0.1:${hanging.port})`);
    } finally {
      await hanging.close();
    }
  });

  it('wrong credentials and a missing database give the server message and SQLSTATE, not the password', async () => {
    const badPassword = await f.addDataSource('badpw', { password: 'not-the-password-xyz' });
    const view = await f.run({ action: 'discover_schemas' }, badPassword);
    expect(view.error).toMatch(
      /^Connection error: password authentication failed for user ".+" \(SQLSTATE 28P01\)$/,
    );
    expect(view.error).not.toContain('not-the-password-xyz');
    const noDatabase = await f.addDataSource('nodb', { database: 'no_such_database_here' });
    expect((await f.run({ action: 'discover_schemas' }, noDatabase)).error).toBe(
      'Connection error: database "no_such_database_here" does not exist (SQLSTATE 3D000)',
    );
  });

  it('an upstream query error fails the job with Query error, the server message and SQLSTATE', async () => {
    const role = `limited_${Date.now().toString(36)}`;
    await f.upstream(`CREATE ROLE ${role} LOGIN PASSWORD 'limited-pw';
                      REVOKE USAGE ON SCHEMA pg_catalog FROM PUBLIC;`);
    try {
      const limited = await f.addDataSource('limited', { username: role, password: 'limited-pw' });
      const { job_id } = await f.jobs.submit(limited, { action: 'discover_schemas' });
      const stream = f.jobs.events(job_id);
      const view = await f.jobs.wait(job_id);
      expect(view?.error).toBe('Query error: permission denied for schema pg_catalog (SQLSTATE 42501)');
      expect((await collect(stream)).map((e) => e.type)).toEqual(['progress', 'progress', 'error']);
    } finally {
      await f.upstream(`GRANT USAGE ON SCHEMA pg_catalog TO PUBLIC; DROP ROLE ${role};`);
    }
  });

  it('sslmode require against a server without TLS fails; prefer falls back to plain', async () => {
    const required = await f.addDataSource('tls', { sslmode: 'require' });
    expect((await f.run({ action: 'discover_schemas' }, required)).error).toBe(
      'Connection error: the server does not support SSL, but sslmode is require',
    );
    const preferred = await f.addDataSource('pref', { sslmode: 'prefer' });
    expect((await f.run({ action: 'discover_schemas' }, preferred)).status).toBe('completed');
  });

  it('save_catalog still saves schemas and tables when the upstream is unreachable (§8.5 step 3)', async () => {
    const closed = await silentServer();
    const port = closed.port;
    await closed.close();
    const id = await f.addDataSource('offline', { host: '127.0.0.1', port });
    expect((await f.run(defaultSelection(), id)).status).toBe('completed');
    const catalog = await getCatalog(f.store.db, id);
    expect(catalog.schemas.flatMap((s) => s.tables.map((t) => [t.table_name, t.columns.length]))).toEqual([
      ['big_orders', 0],
      ['customers', 0],
      ['orders', 0],
      ['regions', 0],
    ]);
  });
});
