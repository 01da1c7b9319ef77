/**
 * The start-up cap (limits.ts) against a slowloris flood: raw sockets that
 * never send a byte. With maxConnections = 2 the cap is 102 sockets in
 * start-up, and once half of it is taken an address holds at most 50. Past
 * either cap, new sockets are closed at once; other addresses still log in
 * while one address floods; authenticated sessions leave the start-up count;
 * once the idle sockets are gone, logins from the flooding address work again;
 * and a CancelRequest still gets through while the proxy is full.
 *
 * Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2… serve as other
 * client addresses.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_REQUEST_CODE } from '../../src/wire/frames.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { authCode, passwordBody, RawClient } from './wire-auth-support.js';

let demo: DemoStore;
let server: ProxyServer;
const idle: net.Socket[] = [];

beforeAll(async () => {
  demo = await openDemoStore();
});

afterAll(async () => {
  await demo?.admin.dispose();
});

afterEach(async () => {
  for (const s of idle.splice(0)) s.destroy();
  await server?.close();
});

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `n` sockets from `address` that send nothing; resolves with how many the proxy kept open. */
async function flood(n: number, address: string): Promise<number> {
  const sockets: { socket: net.Socket; closed: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress: address });
    const entry = { socket, closed: false };
    socket.on('close', () => (entry.closed = true)).on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', () => resolve()));
    sockets.push(entry);
    idle.push(socket);
  }
  await settle(300); // refused sockets are closed at once; kept ones wait for the 60 s auth timeout
  return sockets.filter((s) => !s.closed).length;
}

/** A complete cleartext login over the raw protocol from `address`: true when it got ReadyForQuery. */
async function login(address: string): Promise<boolean> {
  let c: RawClient;
  try {
    c = await RawClient.connect(server.port, {
      localAddress: address,
      params: { user: 'alice', database: DEMO_DATABASE },
    });
  } catch {
    return false;
  }
  try {
    if (authCode(await c.message(3_000)) !== 3) return false;
    c.send('p', passwordBody('Demo1234!'));
    for (;;) {
      const m = await c.message(3_000);
      if (m.type === 'Z') return true;
      if (m.type === 'E') return false;
    }
  } catch {
    return false;
  } finally {
    c.end();
  }
}

function pgClient(): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'bob',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
}

describe('start-up cap', () => {
  it('holds one address to half the start-up slots and everyone to the cap, then recovers', async () => {
    server = await demo.proxy({ maxConnections: 2, cleartextPassword: 'always' });
    // Two authenticated sessions: they must not count as "in start-up".
    const held = [pgClient(), pgClient()];
    for (const c of held) await c.connect();
    try {
      // 127.0.0.1 gets 51 (half of 102, plus the one that reached it), not one more.
      expect(await flood(60, '127.0.0.1')).toBe(51);
      // Another address still gets a readable answer while the first one floods (the 2 slots are taken).
      const other = await RawClient.connect(server.port, {
        localAddress: '127.0.0.4',
        params: { user: 'alice', database: DEMO_DATABASE },
      });
      const answer = await other.message();
      other.end();
      expect(answer.type).toBe('E');
      expect(answer.body.toString()).toContain('sorry, too many clients already');
      for (let i = 0; i < 100 && server.sessions > 2 + 51; i++) await settle(20);
      // A second address also stops at 50 once the table is half full; a third fills the rest.
      expect(await flood(60, '127.0.0.2')).toBe(50);
      expect(await flood(5, '127.0.0.3')).toBe(1);
      expect(await login('127.0.0.5')).toBe(false); // the cap holds for everyone
    } finally {
      for (const c of held) await c.end();
    }
    for (const s of idle.splice(0)) s.destroy();
    for (let i = 0; i < 100 && server.sessions > 0; i++) await settle(20);
    expect(server.sessions).toBe(0);
    expect(await login('127.0.0.1')).toBe(true);
    const c = pgClient();
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
  }, 30_000);

  it('lets a normal login in from another address while one address holds its share', async () => {
    server = await demo.proxy({ maxConnections: 200, cleartextPassword: 'always' });
    // Cap 400: 127.0.0.1 stops at 200 (half), far above the per-address 50; idle sockets take no
    // connection slot, so a client from elsewhere still logs in.
    expect(await flood(210, '127.0.0.1')).toBe(200);
    expect(await login('127.0.0.2')).toBe(true);
    expect(await login('127.0.0.1')).toBe(false);
  }, 30_000);

  it('still lets a CancelRequest through when the proxy is full', async () => {
    server = await demo.proxy({ maxConnections: 1 });
    const c = pgClient();
    await c.connect();
    try {
      const key = c as unknown as { processID: number; secretKey: number };
      const running = c.query('SELECT count(*) FROM generate_series(1, 500000000)').then(
        () => 'finished',
        (e: { code?: string }) => e.code,
      );
      await settle(300);
      const cancel = Buffer.alloc(16);
      cancel.writeInt32BE(16, 0);
      cancel.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      cancel.writeInt32BE(key.processID, 8);
      cancel.writeInt32BE(key.secretKey, 12);
      const socket = net.connect({ host: '127.0.0.1', port: server.port });
      socket.on('error', () => undefined);
      socket.write(cancel);
      expect(await running).toBe('57014');
      socket.destroy();
    } finally {
      await c.end();
    }
  }, 30_000);
});
