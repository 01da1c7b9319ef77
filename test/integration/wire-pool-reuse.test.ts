/**
 * UpstreamPool against a real PostgreSQL: a clean connection is reset with
 * DISCARD ALL and handed out again (same backend), with every piece of
 * session state gone and `default_transaction_read_only` still on; dirty,
 * expired and dead connections are never handed out; a full pool makes
 * checkouts wait in FIFO order, then fail; aborted waiters leave the queue.
 */
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { controlQuery } from '../../src/wire/upstream-control.js';
import { PoolExhausted, UpstreamPool, type PoolOptions } from '../../src/wire/upstream-pool.js';
import type { UpstreamConnection, UpstreamSettings } from '../../src/wire/upstream.js';
import { serverUrl } from '../support/postgres.js';

function settings(): UpstreamSettings {
  const { host, port, user, password } = inject('postgres');
  return { host, port, database: 'postgres', username: user, password, sslmode: 'disable' };
}

const pools: UpstreamPool[] = [];
function pool(options: Partial<PoolOptions> = {}): UpstreamPool {
  const p = new UpstreamPool(settings(), { maxSize: 5, idleSecs: 60, ...options });
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

async function value(conn: UpstreamConnection, sql: string): Promise<string | null> {
  const r = await controlQuery(conn, sql);
  if (r.error) throw new Error(`${sql}: ${r.error.get('M')}`);
  return r.rows[0]?.[0] ?? null;
}

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('UpstreamPool reuse and reset', () => {
  it('hands the same backend out again with its session state discarded', async () => {
    const p = pool();
    const first = await p.acquire();
    const pid = await value(first, 'SELECT pg_backend_pid()');
    expect(await value(first, 'SHOW default_transaction_read_only')).toBe('on');
    for (const sql of [
      'SET default_transaction_read_only = off',
      'SET statement_timeout = 0',
      "SET work_mem = '1234kB'",
      "SET application_name = 'dirty'",
      'PREPARE leftover AS SELECT 1',
      'CREATE TEMP TABLE leftover_t (x int)',
      'SELECT pg_advisory_lock(4242)',
      'LISTEN leftover_channel',
      'BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT 1; COMMIT',
    ])
      expect((await controlQuery(first, sql)).error).toBeUndefined();
    const listeners = (c: UpstreamConnection) =>
      ['data', 'end', 'close', 'error', 'drain'].map((e) => c.socket.listenerCount(e));
    const before = listeners(first);
    p.release(first, true);
    await until(() => p.stats.idle === 1);

    const second = await p.acquire();
    expect(second).toBe(first);
    expect(second.reader.pending).toBe(0);
    // The pool's idle listeners are gone again: nothing piles up across checkouts.
    expect(listeners(second)).toEqual(before);
    expect(await value(second, 'SELECT pg_backend_pid()')).toBe(pid);
    expect(await value(second, 'SHOW default_transaction_read_only')).toBe('on');
    // The timeout caps are connection defaults too: DISCARD ALL brings them back.
    expect(await value(second, 'SHOW statement_timeout')).toBe('5min');
    expect(await value(second, 'SHOW idle_in_transaction_session_timeout')).toBe('5min');
    expect(await value(second, 'SHOW lock_timeout')).toBe('1min');
    expect(await value(second, 'SHOW work_mem')).not.toBe('1234kB');
    expect(await value(second, 'SHOW application_name')).toBe('rowgate');
    expect(second.parameters.get('application_name')).toBe('rowgate');
    expect(await value(second, 'SELECT count(*) FROM pg_prepared_statements')).toBe('0');
    expect(await value(second, 'SELECT count(*) FROM pg_cursors')).toBe('0');
    expect(await value(second, "SELECT to_regclass('pg_temp.leftover_t')")).toBeNull();
    expect(
      await value(
        second,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      ),
    ).toBe('0');
    expect(await value(second, 'SELECT count(*) FROM pg_listening_channels()')).toBe('0');
    // Still read-only after the reset: the startup option is the reset value.
    const write = await controlQuery(second, 'CREATE TEMP TABLE t2 (x int)');
    expect(write.error?.get('C')).toBe('25006');
    p.release(second, false);
    expect(p.stats).toMatchObject({ inUse: 0, idle: 0 });
  });

  it('closes a connection left inside a transaction, released dirty, or with idle 0', async () => {
    const p = pool();
    const a = await p.acquire();
    const pidA = await value(a, 'SELECT pg_backend_pid()');
    await controlQuery(a, 'BEGIN');
    p.release(a, true); // the reset's DISCARD ALL fails inside a transaction block
    await until(() => p.stats.resetting === 0);
    expect(p.stats.idle).toBe(0);
    expect(a.socket.writable).toBe(false);

    const b = await p.acquire();
    expect(await value(b, 'SELECT pg_backend_pid()')).not.toBe(pidA);
    p.release(b, false);
    expect(p.stats.idle).toBe(0);

    const never = pool({ idleSecs: 0 });
    const c = await never.acquire();
    never.release(c, true);
    expect(never.stats).toMatchObject({ idle: 0, resetting: 0 });
    expect(c.socket.writable).toBe(false);
  });

  it('drops idle connections after idleSecs', async () => {
    const p = pool({ idleSecs: 1 });
    p.release(await p.acquire(), true);
    await until(() => p.stats.idle === 1);
    await until(() => p.stats.idle === 0, 3000);
  });

  it('skips an idle connection whose backend was terminated', async () => {
    const p = pool();
    const conn = await p.acquire();
    const pid = await value(conn, 'SELECT pg_backend_pid()');
    p.release(conn, true);
    await until(() => p.stats.idle === 1);
    const admin = new pg.Client({ connectionString: serverUrl() });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [Number(pid)]);
    } finally {
      await admin.end();
    }
    await until(() => p.stats.idle === 0);
    const fresh = await p.acquire();
    expect(await value(fresh, 'SELECT pg_backend_pid()')).not.toBe(pid);
    p.release(fresh, false);
  });
});

describe('UpstreamPool limits', () => {
  it('makes checkouts wait in FIFO order, then fail with PoolExhausted', async () => {
    const p = pool({ maxSize: 1, acquireTimeoutMs: 2000 });
    const held = await p.acquire();
    const order: string[] = [];
    const first = p.acquire().then((c) => (order.push('first'), c));
    const second = p.acquire().then((c) => (order.push('second'), c));
    expect(p.stats.waiting).toBe(2);
    p.release(held, true);
    const c1 = await first;
    expect(order).toEqual(['first']);
    expect(c1).toBe(held); // reset, then handed straight to the oldest waiter
    p.release(c1, false); // closed: the second waiter may open a new one
    const c2 = await second;
    expect(order).toEqual(['first', 'second']);
    expect(c2).not.toBe(held);

    const started = Date.now();
    const third = p.acquire();
    await expect(third).rejects.toBeInstanceOf(PoolExhausted);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(p.stats.waiting).toBe(0);
    p.release(c2, false);
  });

  it('removes a waiter whose client left', async () => {
    const p = pool({ maxSize: 1, acquireTimeoutMs: 10_000 });
    const held = await p.acquire();
    const gone = new AbortController();
    const waiting = p.acquire(gone.signal);
    expect(p.stats.waiting).toBe(1);
    gone.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(p.stats.waiting).toBe(0);
    // The freed slot goes to the next real waiter, not the departed one.
    const next = p.acquire();
    p.release(held, false);
    p.release(await next, false);
  });

  it('falls back to plain TCP with sslmode=prefer on a server without TLS, and refuses with require', async () => {
    const prefer = new UpstreamPool({ ...settings(), sslmode: 'prefer' }, { maxSize: 1, idleSecs: 60 });
    const require = new UpstreamPool({ ...settings(), sslmode: 'require' }, { maxSize: 1, idleSecs: 60 });
    pools.push(prefer, require);
    const conn = await prefer.acquire();
    expect(await value(conn, 'SELECT 1')).toBe('1');
    prefer.release(conn, false);
    await expect(require.acquire()).rejects.toThrow('upstream server does not support SSL');
  });

  it('rejects a failed connection attempt and frees its slot', async () => {
    const p = new UpstreamPool({ ...settings(), password: 'wrong' }, { maxSize: 1, idleSecs: 60 });
    pools.push(p);
    await expect(p.acquire()).rejects.toMatchObject({ name: 'UpstreamConnectError' });
    expect(p.stats).toMatchObject({ opening: 0, inUse: 0 });
    await expect(p.acquire()).rejects.toMatchObject({ name: 'UpstreamConnectError' });
  });
});
