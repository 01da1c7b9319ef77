/**
 * Graceful drain of the proxy (`close({ drainMs })`): new connections are
 * refused at once, an idle session gets FATAL 57P01 at once, a running
 * statement finishes — its rows reach the client and its audit record is
 * written — and its session ends right after its ReadyForQuery; a session
 * inside a transaction block may finish it; at the deadline whatever is
 * left is terminated with 57P01.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { listQueryAudit } from '../../src/store/repos/audit-log.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

/** Runs for a second or so upstream (pg_sleep is not on the function allowlist). */
const SLOW_SQL = 'SELECT count(*) AS n FROM generate_series(1, 15000000)';
const LONG_SQL = 'SELECT count(*) FROM generate_series(1, 2000000000)';

let demo: DemoStore;
beforeAll(async () => {
  demo = await openDemoStore();
});
afterAll(async () => {
  await demo?.admin.dispose();
});

interface Ended {
  code?: string;
  at: number;
}

async function session(port: number): Promise<{ c: pg.Client; ended: Promise<Ended> }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  const ended = new Promise<Ended>((resolve) => {
    c.on('error', (e: Error & { code?: string }) => resolve({ code: e.code, at: Date.now() }));
    c.on('end', () => resolve({ at: Date.now() }));
  });
  await c.connect();
  return { c, ended };
}

function settled<T>(p: Promise<T>): Promise<{ value?: T; error?: Error & { code?: string }; at: number }> {
  return p.then(
    (value) => ({ value, at: Date.now() }),
    (error: Error & { code?: string }) => ({ error, at: Date.now() }),
  );
}

function connectRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('graceful drain', () => {
  it('ends idle sessions at once, lets a running statement finish and audits it, refuses new connections', async () => {
    const audit = new QueryAuditQueue(demo.admin.store, { flushIntervalMs: 60_000 });
    const proxy = await demo.proxy({ audit, upstreamPoolSize: 10 });
    const idle = await session(proxy.port);
    const busy = await session(proxy.port);
    const query = settled(busy.c.query(SLOW_SQL));
    await new Promise((r) => setTimeout(r, 150));
    const drainAt = Date.now();
    const closing = settled(proxy.close({ drainMs: 20_000 }));

    const idleEnd = await idle.ended;
    expect(idleEnd.code).toBe('57P01');
    expect(idleEnd.at - drainAt).toBeLessThan(1500);
    expect(await connectRefused(proxy.port)).toBe('ECONNREFUSED');

    const result = await query;
    expect(result.at).toBeGreaterThan(drainAt + 100); // it really was running during the drain
    expect(result.error).toBeUndefined();
    expect(result.value?.rows).toEqual([{ n: '15000000' }]);
    const busyEnd = await busy.ended;
    expect(busyEnd.code).toBe('57P01');
    expect(busyEnd.at).toBeGreaterThanOrEqual(result.at - 5);
    const closed = await closing;
    expect(closed.error).toBeUndefined();
    expect(closed.at - drainAt).toBeLessThan(19_000); // well before the deadline: nothing waited for it
    expect(proxy.sessions).toBe(0);

    await audit.close(); // what rowgate.ts stop() does next
    const page = await listQueryAudit(demo.admin.store.db, {});
    expect(page.data.find((e) => e.original_query === SLOW_SQL)).toMatchObject({
      username: 'alice',
      status: 'success',
      rows_returned: 1,
    });
    await Promise.all([idle.c.end(), busy.c.end()].map((p) => p.catch(() => undefined)));
  });

  it('lets an open transaction end first, and terminates what is left at the deadline', async () => {
    const proxy = await demo.proxy({ upstreamPoolSize: 10 });
    const inTx = await session(proxy.port);
    await inTx.c.query('BEGIN');
    const stuck = await session(proxy.port);
    const long = settled(stuck.c.query(LONG_SQL));
    await new Promise((r) => setTimeout(r, 150));
    const drainAt = Date.now();
    const closing = settled(proxy.close({ drainMs: 4000 }));

    // Inside its transaction the session still works...
    await new Promise((r) => setTimeout(r, 200));
    expect((await inTx.c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // ...and ends right after the ReadyForQuery that closes the transaction.
    await inTx.c.query('COMMIT');
    const txEnd = await inTx.ended;
    expect(txEnd.code).toBe('57P01');
    expect(txEnd.at - drainAt).toBeLessThan(3900);

    const longEnd = await long;
    expect(longEnd.error?.code).toBe('57P01');
    expect(longEnd.at - drainAt).toBeGreaterThanOrEqual(3900);
    expect(longEnd.at - drainAt).toBeLessThan(7000);
    const closed = await closing;
    expect(closed.error).toBeUndefined();
    expect(closed.at - drainAt).toBeLessThan(12_000);
    await Promise.all([inTx.c.end(), stuck.c.end()].map((p) => p.catch(() => undefined)));
  });
});
