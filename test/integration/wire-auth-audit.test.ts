/**
 * Every refused connection attempt is one query-audit record (issue 4),
 * read back from the admin store: wrong password, unknown / inactive /
 * throttled user, unknown / not granted / inactive database, TLS required,
 * too many connections (total and per user), a protocol violation during
 * authentication — with the fields admission-audit.ts documents — while a
 * successful login and a client leaving mid-authentication write nothing,
 * and the per-address rate limit turns a flood into a bounded number of
 * records plus one summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import type { ProxyServerOptions } from '../../src/wire/server.js';
import {
  NIL_UUID,
  REFUSED_CONNECTION_MARKER,
  refusalAuditLimiter,
  refusalAuditsQueued,
} from '../../src/wire/admission-audit.js';
import { AuthThrottle } from '../../src/wire/auth-throttle.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { addDemoUser, authCode, errorFields, passwordBody, RawClient } from './wire-auth-support.js';

const APP = 'auth-audit-test';
let demo: DemoStore;
let dataDir: string;
const ids = { alice: '', retired: '', stranger: '', demo: '' };

beforeAll(async () => {
  demo = await openDemoStore();
  dataDir = mkdtempSync(join(tmpdir(), 'rowgate-wire-auth-audit-'));
  ids.retired = await addDemoUser(demo, 'retired', 'Retired-pass-1', { active: false });
  ids.stranger = await addDemoUser(demo, 'stranger', 'Stranger-pass-1', { grant: false });
  const db = demo.admin.store.db;
  ids.alice = (
    await db.selectFrom('proxy_user').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow()
  ).id;
  ids.demo = (
    await db
      .selectFrom('data_source')
      .select('id')
      .where('name', '=', DEMO_DATABASE)
      .executeTakeFirstOrThrow()
  ).id;
});

afterAll(async () => {
  await demo?.admin.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await demo.admin.store.db.deleteFrom('query_audit_log').execute();
});

/** Runs `work` against a proxy with its own audit queue; the refusal records it left, oldest first. */
async function refusals(
  options: Partial<ProxyServerOptions>,
  work: (port: number, queue: QueryAuditQueue) => Promise<void>,
) {
  const audit = new QueryAuditQueue(demo.admin.store, { flushIntervalMs: 60_000 });
  const server = await demo.proxy({ audit, ...options });
  try {
    await work(server.port, audit);
  } finally {
    await server.close();
  }
  // The ids are looked up after the refusal: wait for those lookups before the flush.
  await refusalAuditsQueued(audit);
  await audit.close();
  const rows = await demo.admin.store.db
    .selectFrom('query_audit_log')
    .selectAll()
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({ ...r, policies_applied: JSON.parse(r.policies_applied) as unknown }));
}

async function connect(
  port: number,
  user: string,
  password: string,
  options: { database?: string; ssl?: boolean } = {},
): Promise<pg.Client | { code?: string; message: string }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    password,
    database: options.database ?? DEMO_DATABASE,
    application_name: APP,
    ssl: options.ssl ? { rejectUnauthorized: false } : false,
  });
  try {
    await c.connect();
    return c;
  } catch (e) {
    await c.end().catch(() => undefined);
    return e as { code?: string; message: string };
  }
}

async function refused(port: number, user: string, password: string, database?: string): Promise<string> {
  const result = await connect(port, user, password, database === undefined ? {} : { database });
  if (result instanceof pg.Client) {
    await result.end();
    throw new Error(`${user} unexpectedly connected`);
  }
  return result.message;
}

/** The record of one refusal, as admission-audit.ts documents it. */
function expected(fields: { user: string; userId: string; database?: string; dsId: string; error: string }) {
  return {
    user_id: fields.userId,
    username: fields.user,
    data_source_id: fields.dsId,
    datasource_name: fields.database ?? DEMO_DATABASE,
    original_query: REFUSED_CONNECTION_MARKER,
    rewritten_query: null,
    policies_applied: [],
    execution_time_ms: null,
    client_info: APP,
    status: 'denied',
    error_message: fields.error,
    rows_returned: null,
  };
}

describe('one record per refused attempt', () => {
  it('wrong password, unknown user, inactive user', async () => {
    const messages: string[] = [];
    const rows = await refusals({}, async (port) => {
      messages.push(await refused(port, 'alice', 'wrong'));
      messages.push(await refused(port, 'nobody', 'x'));
      messages.push(await refused(port, 'retired', 'Retired-pass-1'));
    });
    const failed = (u: string) => `password authentication failed for user "${u}"`;
    expect(messages).toEqual([failed('alice'), failed('nobody'), failed('retired')]);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject(
      expected({
        user: 'alice',
        userId: ids.alice,
        dsId: ids.demo,
        error: `${failed('alice')} (wrong password)`,
      }),
    );
    expect(rows[1]).toMatchObject(
      expected({
        user: 'nobody',
        userId: NIL_UUID,
        dsId: ids.demo,
        error: `${failed('nobody')} (unknown user)`,
      }),
    );
    expect(rows[2]).toMatchObject(
      expected({
        user: 'retired',
        userId: ids.retired,
        dsId: ids.demo,
        error: `${failed('retired')} (inactive user)`,
      }),
    );
  });

  it('a throttled attempt, even with the right password', async () => {
    const throttle = new AuthThrottle({ maxFailuresPerUser: 1 });
    const rows = await refusals({ throttle }, async (port) => {
      await refused(port, 'alice', 'wrong');
      expect(await refused(port, 'alice', 'Demo1234!')).toBe(
        'password authentication failed for user "alice"',
      );
    });
    expect(rows.map((r) => r.error_message)).toEqual([
      'password authentication failed for user "alice" (wrong password)',
      'password authentication failed for user "alice" (throttled: too many failed attempts)',
    ]);
  });

  it('unknown, not granted and inactive databases', async () => {
    const rows = await refusals({}, async (port) => {
      await refused(port, 'alice', 'Demo1234!', 'nope');
      await refused(port, 'stranger', 'Stranger-pass-1');
      await demo.admin.store.db
        .updateTable('data_source')
        .set({ is_active: 0 })
        .where('id', '=', ids.demo)
        .execute();
      try {
        await refused(port, 'alice', 'Demo1234!');
      } finally {
        await demo.admin.store.db
          .updateTable('data_source')
          .set({ is_active: 1 })
          .where('id', '=', ids.demo)
          .execute();
      }
    });
    const gone = (d: string) => `database "${d}" does not exist`;
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject(
      expected({
        user: 'alice',
        userId: ids.alice,
        database: 'nope',
        dsId: NIL_UUID,
        error: `${gone('nope')} (no such data source)`,
      }),
    );
    expect(rows[1]).toMatchObject(
      expected({
        user: 'stranger',
        userId: ids.stranger,
        dsId: ids.demo,
        error: `${gone(DEMO_DATABASE)} (data source not granted to this user)`,
      }),
    );
    expect(rows[2]?.error_message).toBe(`${gone(DEMO_DATABASE)} (data source inactive)`);
  });

  it('TLS required', async () => {
    const rows = await refusals({ tls: { dataDir, required: true } }, async (port) => {
      expect(await refused(port, 'alice', 'Demo1234!')).toBe('SSL connection is required');
      const ok = await connect(port, 'alice', 'Demo1234!', { ssl: true });
      expect(ok).toBeInstanceOf(pg.Client);
      await (ok as pg.Client).end();
    });
    expect(rows).toEqual([
      expect.objectContaining(
        expected({
          user: 'alice',
          userId: ids.alice,
          dsId: ids.demo,
          error: 'SSL connection is required (TLS required, plain connection)',
        }),
      ),
    ]);
  });

  it('too many connections, in total and per user', async () => {
    const total = await refusals({ maxConnections: 1 }, async (port) => {
      const held = (await connect(port, 'bob', 'Demo1234!')) as pg.Client;
      expect(await refused(port, 'nobody', 'x')).toBe('sorry, too many clients already');
      await held.end();
    });
    expect(total).toEqual([
      expect.objectContaining(
        expected({
          user: 'nobody',
          userId: NIL_UUID,
          dsId: ids.demo,
          error: 'sorry, too many clients already (ROWGATE_MAX_CONNECTIONS = 1 reached)',
        }),
      ),
    ]);
    await demo.admin.store.db.deleteFrom('query_audit_log').execute();
    const perUser = await refusals({ maxConnectionsPerUser: 1 }, async (port) => {
      const held = (await connect(port, 'alice', 'Demo1234!')) as pg.Client;
      expect(await refused(port, 'alice', 'Demo1234!')).toBe('too many connections for role "alice"');
      await held.end();
    });
    expect(perUser).toEqual([
      expect.objectContaining(
        expected({
          user: 'alice',
          userId: ids.alice,
          dsId: ids.demo,
          error: 'too many connections for role "alice" (ROWGATE_MAX_CONNECTIONS_PER_USER = 1 reached)',
        }),
      ),
    ]);
  });

  it('names clipped to 63 bytes, a protocol violation, and nothing for logins or departures', async () => {
    const long = 'u'.repeat(70);
    const rows = await refusals({}, async (port) => {
      expect(await refused(port, long, 'x', 'd'.repeat(80))).toBe(
        `password authentication failed for user "${'u'.repeat(63)}"`,
      );
      const raw = await RawClient.connect(port, { params: { user: 'bob', database: DEMO_DATABASE } });
      expect(authCode(await raw.message())).toBe(10);
      raw.send('Q', passwordBody('SELECT 1'));
      expect(errorFields(await raw.message())).toMatchObject({ C: '08P01' });
      raw.end();
      // Leaves when asked for a password (as psql does before prompting): not a refusal.
      const leaver = await RawClient.connect(port, { params: { user: 'bob', database: DEMO_DATABASE } });
      expect(authCode(await leaver.message())).toBe(10);
      leaver.end();
      const ok = (await connect(port, 'alice', 'Demo1234!')) as pg.Client;
      await ok.end();
    });
    expect(rows.map((r) => [r.username, r.datasource_name, r.error_message, r.client_info])).toEqual([
      [
        'u'.repeat(63),
        'd'.repeat(63),
        `password authentication failed for user "${'u'.repeat(63)}" (unknown user)`,
        APP,
      ],
      ['bob', DEMO_DATABASE, 'expected SASL response, got message type 81 (protocol violation)', null],
    ]);
  });
});

describe('rate limit of refusal records', () => {
  it('records at most N per address per window, then one summary; other addresses are unaffected', async () => {
    const wrong = async (port: number, localAddress: string) => {
      const c = await RawClient.connect(port, {
        localAddress,
        params: { user: 'alice', database: DEMO_DATABASE },
      });
      expect(authCode(await c.message())).toBe(3);
      c.send('p', passwordBody('wrong'));
      expect(errorFields(await c.message()).C).toBe('28P01');
      c.end();
    };
    const throttle = new AuthThrottle({ maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 });
    const rows = await refusals({ throttle, cleartextPassword: 'always' }, async (port, queue) => {
      const limiter = refusalAuditLimiter(queue, { perAddress: 3 });
      for (let i = 0; i < 8; i++) await wrong(port, '127.0.0.1');
      await wrong(port, '127.0.0.2');
      await refusalAuditsQueued(queue);
      limiter.flush();
    });
    expect(rows).toHaveLength(5);
    expect(rows.slice(0, 4).every((r) => r.error_message?.endsWith('(wrong password)'))).toBe(true);
    const summary = rows[4]!;
    expect(summary).toMatchObject({
      user_id: NIL_UUID,
      data_source_id: NIL_UUID,
      username: '',
      original_query: REFUSED_CONNECTION_MARKER,
      status: 'denied',
    });
    expect(summary.error_message).toMatch(
      /^5 refused connection attempts from \S+ to \S+ not recorded one by one \(over 3 per client address or 600 in all per minute\); most from 127\.0\.0\.1 \(5\)$/,
    );
  });
});
