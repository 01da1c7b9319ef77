/**
 * The upstream pool behind the proxy: a session that ends cleanly gives its
 * connection back (reset, so the next user — another tenant — finds no
 * prepared statement and sees only their own rows), also when it was left
 * skipping to Sync after an extended-protocol error; a session that ends
 * inside a transaction does not; a client that leaves in the middle of a
 * result ends its session and the upstream connection (nothing hangs on a
 * paused relay); cancel keys follow the checked-out connection; a full
 * pool answers FATAL 53300 after the wait, naming no upstream detail, and a
 * client that leaves while waiting leaves the queue.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelRequest, type CancelKey } from '../../src/wire/cancel.js';
import * as fe from '../../src/wire/frontend.js';
import { ScramClient } from '../../src/wire/scram-client.js';
import type { ProxyServer } from '../../src/wire/server.js';
import type { UpstreamPool } from '../../src/wire/upstream-pool.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { RawClient, errorFields, rawSession } from './wire-pool-raw.js';

const PASSWORD = 'Demo1234!';
let demo: DemoStore;

beforeAll(async () => {
  demo = await openDemoStore();
});
afterAll(async () => {
  await demo?.admin.dispose();
});

function client(proxy: ProxyServer, user = 'alice'): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password: PASSWORD,
    database: DEMO_DATABASE,
  });
  c.on('error', () => undefined);
  return c;
}

function onlyPool(proxy: ProxyServer): UpstreamPool {
  const all = proxy.pools.all();
  expect(all).toHaveLength(1);
  return all[0]!;
}

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('session pooling through the proxy', () => {
  let proxy: ProxyServer;
  beforeAll(async () => {
    proxy = await demo.proxy({ upstreamPoolSize: 5, upstreamPoolIdleSecs: 60 });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('reuses a cleanly returned connection for another user, with nothing of the first session left', async () => {
    const alice = client(proxy, 'alice');
    await alice.connect();
    const named = { name: 'orgs', text: 'SELECT DISTINCT org FROM orders' };
    expect((await alice.query(named)).rows).toEqual([{ org: 'acme' }]);
    await alice.query("SET application_name = 'alice-app'");
    const conn = onlyPool(proxy).checkedOut()[0];
    expect(conn).toBeDefined();
    await alice.end();
    await until(() => onlyPool(proxy).stats.idle === 1);
    // Idle, the socket carries the pool's listeners only (plus Node's own 'end' handler and the
    // connection's lifelong error guard): the relay detached everything it added.
    const events = ['data', 'end', 'close', 'error', 'drain', 'readable'] as const;
    const listeners = () => events.map((e) => conn!.socket.listenerCount(e));
    expect(listeners()).toEqual([1, 2, 1, 1, 0, 0]);
    expect(conn!.reader.pending).toBe(0);

    const bob = client(proxy, 'bob');
    await bob.connect();
    const pool = onlyPool(proxy);
    expect(pool.stats).toMatchObject({ inUse: 1, idle: 0 });
    expect(pool.checkedOut()[0]).toBe(conn);
    // Same statement name, other text: the upstream would say 42P05 had the reset not dropped it.
    const bobNamed = { name: 'orgs', text: 'SELECT DISTINCT org FROM customers' };
    expect((await bob.query(bobNamed)).rows).toEqual([{ org: 'globex' }]);
    expect((await bob.query('SHOW application_name')).rows).toEqual([{ application_name: '' }]);
    await bob.end();
    await until(() => onlyPool(proxy).stats.idle === 1);
    expect(listeners()).toEqual([1, 2, 1, 1, 0, 0]); // nothing piles up across sessions
  });

  it('keeps a connection when the client vanishes while idle, closes it when a transaction was open', async () => {
    const vanishing = client(proxy);
    await vanishing.connect();
    await vanishing.query('SELECT 1');
    (vanishing as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
    await until(() => proxy.sessions === 0);
    await until(() => onlyPool(proxy).stats.resetting === 0);
    expect(onlyPool(proxy).stats).toMatchObject({ inUse: 0, idle: 1 });

    const inTx = client(proxy);
    await inTx.connect();
    const conn = onlyPool(proxy).checkedOut()[0]!;
    await inTx.query('BEGIN');
    await inTx.query('SELECT count(*) FROM orders');
    await inTx.end();
    await until(() => proxy.sessions === 0);
    await until(() => conn.socket.destroyed);
    const stats = proxy.pools.all()[0]?.stats ?? { idle: 0, inUse: 0 };
    expect(stats).toMatchObject({ idle: 0, inUse: 0 });
  });

  it('resets a connection left skipping to Sync after an extended-protocol error', async () => {
    await until(() => proxy.pools.all().every((p) => p.stats.resetting === 0));
    const raw = await rawSession(proxy.port, 'alice', PASSWORD, DEMO_DATABASE);
    const conn = onlyPool(proxy).checkedOut()[0]!;
    raw.write(Buffer.concat([fe.parse('', 'SELECT 1/0'), fe.bind('', ''), fe.execute(''), fe.flush()]));
    const frames = await raw.until('E');
    expect(errorFields(frames.at(-1)!).get('C')).toBe('22012');
    raw.end(); // Terminate with no Sync: upstream is still skipping messages until one arrives
    await until(() => proxy.sessions === 0);
    await until(() => onlyPool(proxy).stats.resetting === 0 && onlyPool(proxy).stats.idle >= 1);
    const next = client(proxy);
    await next.connect();
    try {
      expect(onlyPool(proxy).checkedOut()).toContain(conn);
      expect((await next.query('SELECT count(*)::int AS n FROM (SELECT 1) s')).rows).toEqual([{ n: 1 }]);
    } finally {
      await next.end();
    }
  });

  it('ends the session and closes the upstream when the client leaves in the middle of a result', async () => {
    const raw = await rawSession(proxy.port, 'alice', PASSWORD, DEMO_DATABASE);
    raw.socket.pause(); // never reads: the proxy's relay stops reading the upstream
    raw.write(fe.query("SELECT g, repeat('x', 100) FROM generate_series(1, 3000000) g"));
    const conn = onlyPool(proxy).checkedOut()[0]!;
    await until(() => conn.socket.isPaused());
    raw.destroy();
    // A paused result for a client that is gone must not hold the session (or the backend) forever.
    await until(() => proxy.sessions === 0);
    await until(() => conn.socket.destroyed);
    expect(proxy.pools.all().map((p) => p.stats.inUse)).not.toContain(1);
  });

  it('cancels through the key of the connection checked out now', async () => {
    const warm = client(proxy);
    await warm.connect();
    await warm.end();
    await until(() => onlyPool(proxy).stats.idle === 1);
    const c = client(proxy);
    await c.connect();
    try {
      const key = c as unknown as { processID: number; secretKey: number };
      const running = c.query('SELECT count(*) FROM generate_series(1, 500000000)').then(
        () => null,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 300));
      await sendCancel(proxy.port, { processId: key.processID, secretKey: key.secretKey });
      expect(await running).toMatchObject({ code: '57014' });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });
});

function sendCancel(port: number, key: CancelKey): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(cancelRequest(key)));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume();
  });
}

describe('a full upstream pool', () => {
  let proxy: ProxyServer;
  beforeAll(async () => {
    proxy = await demo.proxy({
      upstreamPoolSize: 1,
      upstreamPoolIdleSecs: 60,
      upstreamAcquireTimeoutMs: 700,
    });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('answers FATAL 53300 after the wait, without upstream details', async () => {
    const holder = client(proxy);
    await holder.connect();
    try {
      const started = Date.now();
      const err = (await rawSession(proxy.port, 'bob', PASSWORD, DEMO_DATABASE).then(
        () => null,
        (e: unknown) => e,
      )) as { code?: string; message: string } | null;
      expect(Date.now() - started).toBeGreaterThanOrEqual(650);
      expect(err).toMatchObject({
        code: '53300',
        message: `too many connections for database "${DEMO_DATABASE}"`,
      });
      const { host, port, user } = inject('postgres');
      for (const secret of [host, String(port), user]) expect(err?.message).not.toContain(secret);
      // The holder is unaffected.
      expect((await holder.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await holder.end();
    }
  });

  it('drops a waiter whose client left, and serves the next one', async () => {
    const proxy = await demo.proxy({ upstreamPoolSize: 1, upstreamAcquireTimeoutMs: 5000 });
    const holder = client(proxy);
    await holder.connect();
    const leaving = new RawClient(proxy.port);
    const pending = rawSession(proxy.port, 'charlie', PASSWORD, DEMO_DATABASE);
    try {
      // A raw client that authenticates, then goes away while queued.
      leaving.write(fe.startupMessage({ user: 'bob', database: DEMO_DATABASE }));
      const scram = new ScramClient(PASSWORD);
      for (;;) {
        const f = await leaving.frame();
        const code = f.type === 'R' ? f.body.readInt32BE(0) : -1;
        if (code === 10) leaving.write(fe.saslInitialResponse('SCRAM-SHA-256', scram.first()));
        else if (code === 11) leaving.write(fe.saslResponse(scram.final(f.body.subarray(4).toString())));
        else if (code === 0) break;
        else if (f.type === 'E') throw new Error(errorFields(f).get('M'));
      }
      await until(() => onlyPool(proxy).stats.waiting === 2);
      leaving.destroy();
      await until(() => onlyPool(proxy).stats.waiting === 1, 500);
    } finally {
      await holder.end();
    }
    try {
      // The remaining waiter got the freed connection.
      const raw = await pending;
      raw.write(fe.query('SELECT 1'));
      const frames = await raw.until('Z');
      expect(frames.map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
      raw.end();
    } finally {
      await proxy.close();
    }
  });
});
