/**
 * Connection limits and the message-size limit: FATAL 53300 for a full
 * proxy (before authentication) and for a user at their limit (after it),
 * slots freed when sessions end, an oversized frame closing only its own
 * connection, and the two new configuration variables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { ConnectionLimits } from '../../src/wire/limits.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;

beforeAll(async () => {
  demo = await openDemoStore();
});

afterAll(async () => {
  await demo?.admin.dispose();
});

function client(server: ProxyServer, user = 'alice', password = 'Demo1234!'): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: server.port, user, password, database: DEMO_DATABASE });
}

async function refusal(c: pg.Client): Promise<{ code?: string; message: string }> {
  const error = await c.connect().then(
    () => null,
    (e: { code?: string; message: string }) => e,
  );
  await c.end().catch(() => undefined);
  if (!error) throw new Error('connection unexpectedly succeeded');
  return { code: error.code, message: error.message };
}

/** Waits until the server's session count drops to `n` (slots are freed as sessions end). */
async function sessionsDown(server: ProxyServer, n: number): Promise<void> {
  for (let i = 0; i < 100 && server.sessions > n; i++) await new Promise((r) => setTimeout(r, 20));
  expect(server.sessions).toBeLessThanOrEqual(n);
}

describe('connection limits', () => {
  it('refuses a user over the per-user limit with 53300 and frees the slot on disconnect', async () => {
    const server = await demo.proxy({ maxConnections: 0, maxConnectionsPerUser: 1 });
    try {
      const first = client(server);
      await first.connect();
      expect(await refusal(client(server))).toEqual({
        code: '53300',
        message: 'too many connections for role "alice"',
      });
      // Other users are not affected, and a wrong password is still just a wrong password.
      const bob = client(server, 'bob');
      await bob.connect();
      await bob.end();
      expect((await refusal(client(server, 'alice', 'wrong'))).code).toBe('28P01');
      await first.end();
      await sessionsDown(server, 0);
      const again = client(server);
      await again.connect();
      expect((await again.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await again.end();
    } finally {
      await server.close();
    }
  });

  it('refuses connections over the total limit with 53300 before authentication', async () => {
    const server = await demo.proxy({ maxConnections: 2, maxConnectionsPerUser: 0 });
    try {
      const held = [client(server), client(server, 'bob')];
      for (const c of held) await c.connect();
      const full = { code: '53300', message: 'sorry, too many clients already' };
      expect(await refusal(client(server, 'charlie'))).toEqual(full);
      // Before authentication: a stranger learns nothing but that the proxy is full.
      expect(await refusal(client(server, 'nobody', 'x'))).toEqual(full);
      await held[0]!.end();
      await sessionsDown(server, 1);
      const charlie = client(server, 'charlie');
      await charlie.connect();
      await charlie.end();
      await held[1]!.end();
    } finally {
      await server.close();
    }
  });

  it('counts and releases slots per connection', () => {
    const limits = new ConnectionLimits({ maxConnections: 1, maxConnectionsPerUser: 1 });
    const [a, b] = [{}, {}];
    limits.open(a);
    limits.open(b);
    expect(limits.admitted(a)).toBeUndefined();
    expect(limits.admitted(b)?.code).toBe('53300');
    expect(limits.claimUser(a, 'u1', 'ann')).toBeUndefined();
    limits.release(b);
    limits.release(b); // idempotent
    expect(limits.connections).toBe(1);
    expect(limits.claimUser({}, 'u1', 'ann')?.message).toBe('too many connections for role "ann"');
    limits.release(a);
    expect(limits.connections).toBe(0);
    expect(limits.claimUser({}, 'u1', 'ann')).toBeUndefined();
  });
});

describe('message size limit', () => {
  it('closes only the connection that sent an oversized message, with 08P01', async () => {
    const server = await demo.proxy({ maxMessageLength: 1024 });
    try {
      const bystander = client(server);
      await bystander.connect();
      const offender = client(server);
      await offender.connect();
      const errors: unknown[] = [];
      offender.on('error', (e) => errors.push(e));
      const big = `SELECT '${'x'.repeat(2000)}' AS big`;
      await expect(offender.query(big)).rejects.toMatchObject({ code: '08P01' });
      // Just under the limit still works on the other session.
      expect((await bystander.query(`SELECT '${'y'.repeat(900)}' AS ok`)).rows[0].ok).toHaveLength(900);
      await offender.end().catch(() => undefined);
      await bystander.end();
    } finally {
      await server.close();
    }
  });
});

describe('limit configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-limits-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (env: NodeJS.ProcessEnv) =>
    loadConfig(
      { ROWGATE_DATA_DIR: dir, ROWGATE_ENCRYPTION_KEY: 'a'.repeat(64), ROWGATE_JWT_SECRET: 'jwt', ...env },
      { cwd: dir },
    );

  it('defaults to 200 total and 50 per user; 0 means unlimited', () => {
    expect(load({})).toMatchObject({ maxConnections: 200, maxConnectionsPerUser: 50 });
    expect(load({ ROWGATE_MAX_CONNECTIONS: '0', ROWGATE_MAX_CONNECTIONS_PER_USER: ' 7 ' })).toMatchObject({
      maxConnections: 0,
      maxConnectionsPerUser: 7,
    });
  });

  it('rejects values that are not whole numbers', () => {
    expect(() => load({ ROWGATE_MAX_CONNECTIONS: '-1' })).toThrow(ConfigError);
    expect(() => load({ ROWGATE_MAX_CONNECTIONS_PER_USER: 'ten' })).toThrow(
      /ROWGATE_MAX_CONNECTIONS_PER_USER/,
    );
  });
});
