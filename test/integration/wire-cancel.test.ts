/**
 * Query cancellation: the proxy's key table, the CancelRequest it sends to
 * the upstream backend, a raw CancelRequest on the proxy port, and — once
 * sessions register their keys (client.ts) — node-postgres cancelling a
 * long query through the proxy with the BackendKeyData it received.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CancelRegistry, cancelRequest, type CancelKey, type CancelTarget } from '../../src/wire/cancel.js';
import { parseNoticeFields, connectUpstream, type UpstreamConnection } from '../../src/wire/upstream.js';
import * as fe from '../../src/wire/frontend.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

const LONG_QUERY = 'SELECT count(*) FROM generate_series(1, 500000000)';

let demo: DemoStore;
let proxy: ProxyServer;
const registry = new CancelRegistry();

beforeAll(async () => {
  demo = await openDemoStore();
  proxy = await demo.proxy({ cancel: registry });
});

afterAll(async () => {
  await proxy?.close();
  await demo?.admin.dispose();
});

async function upstreamSession(): Promise<{ conn: UpstreamConnection; target: CancelTarget }> {
  const { host, port, user, password } = inject('postgres');
  const settings = {
    host,
    port,
    database: 'postgres',
    username: user,
    password,
    sslmode: 'disable' as const,
  };
  const conn = await connectUpstream(settings);
  return { conn, target: { upstream: settings, backendKey: conn.backendKey } };
}

/** Runs a simple query on a raw upstream connection; resolves with its SQLSTATE (or 'ok'). */
function runQuery(conn: UpstreamConnection, sql: string): Promise<string> {
  return new Promise((resolve) => {
    let outcome = 'ok';
    const drain = (): void => {
      for (let f = conn.reader.next(); f; f = conn.reader.next()) {
        if (f.type === 'E') outcome = parseNoticeFields(f.body).get('C') ?? 'E';
        if (f.type === 'Z') {
          conn.socket.off('data', onData);
          resolve(outcome);
          return;
        }
      }
    };
    const onData = (chunk: Buffer): void => {
      conn.reader.push(chunk);
      drain();
    };
    conn.socket.on('data', onData);
    conn.socket.resume();
    conn.socket.write(fe.query(sql));
  });
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sendCancel(port: number, key: CancelKey): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(cancelRequest(key)));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume();
  });
}

describe('cancel key table', () => {
  it('keeps the upstream BackendKeyData of a session', async () => {
    const { conn } = await upstreamSession();
    expect(conn.backendKey?.processId).toBeGreaterThan(0);
    conn.socket.destroy();
  });

  it('issues unique process ids and random secrets, and forgets them with their owner', () => {
    const r = new CancelRegistry();
    const owner = {};
    const target: CancelTarget = {
      upstream: { host: '127.0.0.1', port: 1, sslmode: 'disable' },
      backendKey: undefined,
    };
    const keys = Array.from({ length: 200 }, () => r.register(owner, target));
    expect(new Set(keys.map((k) => k.processId)).size).toBe(200);
    expect(new Set(keys.map((k) => k.secretKey)).size).toBeGreaterThan(190);
    r.releaseOwner(owner);
    expect(r.size).toBe(0);
  });

  it('cancels the upstream query for the right key only', async () => {
    const { conn, target } = await upstreamSession();
    const r = new CancelRegistry();
    const key = r.register({}, target);
    const started = Date.now();
    const running = runQuery(conn, LONG_QUERY);
    await settle(200);
    expect(await r.cancel(key.processId, key.secretKey ^ 1)).toBe(false);
    expect(await r.cancel(key.processId + 1, key.secretKey)).toBe(false);
    expect(await r.cancel(key.processId, key.secretKey)).toBe(true);
    expect(await running).toBe('57014');
    expect(Date.now() - started).toBeLessThan(5000);
    conn.socket.destroy();
  });
});

describe('CancelRequest on the proxy port', () => {
  it('forwards a matching request to the upstream and closes without an answer', async () => {
    const { conn, target } = await upstreamSession();
    const key = registry.register({}, target);
    const running = runQuery(conn, LONG_QUERY);
    await settle(200);
    // A wrong secret is silently ignored: the query keeps running.
    await sendCancel(proxy.port, { processId: key.processId, secretKey: key.secretKey ^ 0x10 });
    const stillRunning = await Promise.race([running, settle(300).then(() => 'running')]);
    expect(stillRunning).toBe('running');
    await sendCancel(proxy.port, key);
    expect(await running).toBe('57014');
    conn.socket.destroy();
  });

  it('cancels a node-postgres query through the proxy with its BackendKeyData', async () => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'alice',
      password: 'Demo1234!',
      database: DEMO_DATABASE,
    });
    await c.connect();
    try {
      const key = c as unknown as { processID: number; secretKey: number };
      // The key the client got in BackendKeyData is the one the registry maps to its upstream.
      expect(registry.has(key.processID)).toBe(true);
      const started = Date.now();
      const running = c.query(LONG_QUERY).then(
        () => 'finished',
        (e: { code?: string }) => e.code,
      );
      await settle(300);
      await sendCancel(proxy.port, { processId: key.processID, secretKey: key.secretKey });
      expect(await running).toBe('57014');
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });
});
