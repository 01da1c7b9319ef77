/**
 * The idle timeout (ROWGATE_IDLE_TIMEOUT_SECS): a session that sends nothing
 * for that long gets FATAL 57P05 and is closed, its upstream connection goes
 * away with it; a session that keeps talking is never cut; 0 disables it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';

let demo: DemoStore;

beforeAll(async () => {
  demo = await openDemoStore();
});

afterAll(async () => {
  await demo?.admin.dispose();
});

interface Watched {
  client: pg.Client;
  /** Resolves with the error the connection ended with (undefined: ended without one). */
  ended: Promise<(Error & { code?: string }) | undefined>;
}

async function connect(server: ProxyServer): Promise<Watched> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  const ended = new Promise<(Error & { code?: string }) | undefined>((resolve) => {
    client.on('error', (e) => resolve(e));
    client.on('end', () => resolve(undefined));
  });
  await client.connect();
  return { client, ended };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle timeout', () => {
  it('ends an idle session with 57P05, keeps a busy one, and frees the upstream connection', async () => {
    const server = await demo.proxy({ idleTimeoutSecs: 1 });
    try {
      const idle = await connect(server);
      const busy = await connect(server);
      const started = performance.now();
      // The busy session speaks every 300 ms for 2.1 s: it must survive, the idle one must not.
      for (let i = 0; i < 7; i++) {
        expect((await busy.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await sleep(300);
      }
      const err = await idle.ended;
      expect(err?.message).toMatch(/idle-session timeout|Connection terminated/);
      expect(performance.now() - started).toBeGreaterThanOrEqual(900);
      await expect(idle.client.query('SELECT 1')).rejects.toThrow();
      expect(server.sessions).toBe(1);
      await busy.client.end();
    } finally {
      await server.close();
    }
  });

  it('reports FATAL 57P05 with PostgreSQL’s wording on the wire', async () => {
    const server = await demo.proxy({ idleTimeoutSecs: 1 });
    try {
      const { client, ended } = await connect(server);
      // node-postgres surfaces the server's FATAL as the connection error.
      const err = await ended;
      expect(err).toMatchObject({
        code: '57P05',
        severity: 'FATAL',
        message: 'terminating connection due to idle-session timeout',
      });
      await client.end().catch(() => undefined);
    } finally {
      await server.close();
    }
  });

  it('0 disables the timeout', async () => {
    const server = await demo.proxy({ idleTimeoutSecs: 0 });
    try {
      const { client } = await connect(server);
      await sleep(1500);
      expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      await client.end();
    } finally {
      await server.close();
    }
  });
});
