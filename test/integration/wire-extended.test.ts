/**
 * The extended query protocol through the proxy: node-postgres for
 * parameterized and named statements, and a raw protocol client (the
 * proxy's own upstream client, which speaks SCRAM) for what node-postgres
 * cannot send: row-limited Execute, pipelines, Describe, mid-pipeline errors.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryAuditQueue } from '../../src/audit/query-audit-queue.js';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { listQueryAudit } from '../../src/store/repos/audit-log.js';
import { BufferReader } from '../../src/wire/buffer.js';
import type { Frame } from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { connectUpstream, parseNoticeFields, type UpstreamConnection } from '../../src/wire/upstream.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

let admin: TestStore;
let proxy: ProxyServer;
let audit: QueryAuditQueue;

beforeAll(async () => {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('11'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  audit = new QueryAuditQueue(admin.store);
  proxy = await startProxyServer({
    bind: { host: '127.0.0.1', port: 0 },
    store: admin.store,
    cipher,
    logger: createLogger('silent'),
    audit,
    idleTimeoutSecs: 0,
  });
});

afterAll(async () => {
  await proxy?.close();
  await audit?.close();
  await admin?.dispose();
});

async function withAlice<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'alice',
    password: 'Demo1234!',
    database: DEMO_DATABASE,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A raw protocol client: sends message bytes, collects frames up to ReadyForQuery. */
class Raw {
  private waiting: (() => void) | undefined;
  private constructor(private readonly conn: UpstreamConnection) {
    conn.socket.on('data', (chunk: Buffer) => {
      conn.reader.push(chunk);
      this.waiting?.();
    });
    conn.socket.resume();
  }
  static async open(): Promise<Raw> {
    const conn = await connectUpstream({
      host: '127.0.0.1',
      port: proxy.port,
      database: DEMO_DATABASE,
      username: 'alice',
      password: 'Demo1234!',
      sslmode: 'disable',
    });
    return new Raw(conn);
  }
  /** Sends `messages` in one write, returns every frame up to and including ReadyForQuery. */
  async run(...messages: Buffer[]): Promise<Frame[]> {
    this.conn.socket.write(Buffer.concat(messages));
    const out: Frame[] = [];
    for (;;) {
      const f = this.conn.reader.next();
      if (f) {
        if (f.type === 'S' || f.type === 'N') continue;
        out.push(f);
        if (f.type === 'Z') return out;
        continue;
      }
      await new Promise<void>((r) => (this.waiting = r));
    }
  }
  close(): void {
    this.conn.socket.end(fe.terminate());
  }
}

const types = (frames: Frame[]) => frames.map((f) => f.type).join('');
const errorOf = (f: Frame) => Object.fromEntries(parseNoticeFields(f.body));
const cells = (f: Frame): (string | null)[] => {
  const r = new BufferReader(f.body);
  const n = r.int16();
  return Array.from({ length: n }, () => {
    const len = r.int32();
    return len < 0 ? null : r.bytes(len).toString('utf8');
  });
};

async function withRaw<T>(fn: (raw: Raw) => Promise<T>): Promise<T> {
  const raw = await Raw.open();
  try {
    return await fn(raw);
  } finally {
    raw.close();
  }
}

describe('extended query protocol through the proxy', () => {
  it('runs node-postgres parameterized queries under the policies (filter, mask)', async () => {
    await withAlice(async (c) => {
      const other = await c.query('SELECT org, ssn FROM customers WHERE org = $1', ['globex']);
      expect(other.rows).toEqual([]);
      const own = await c.query('SELECT org, ssn FROM customers WHERE org = $1', ['acme']);
      expect(own.rows.length).toBeGreaterThan(0);
      for (const row of own.rows) {
        expect(row.org).toBe('acme');
        expect(row.ssn).toMatch(/^\*\*\*-\*\*-\d{4}$/);
      }
      for (const f of own.fields) expect([f.tableID, f.columnID]).toEqual([0, 0]);
      await expect(
        c.query('SELECT credit_card FROM customers WHERE org = $1', ['acme']),
      ).rejects.toMatchObject({ code: '42703' });
      // A parameter is a value, never SQL: the injection attempt is a string that matches nothing.
      const injected = await c.query('SELECT count(*)::int AS n FROM orders WHERE org = $1', [
        "x' OR 1=1 --",
      ]);
      expect(injected.rows).toEqual([{ n: 0 }]);
    });
  });

  it('reuses a named prepared statement', async () => {
    await withAlice(async (c) => {
      const q = { name: 'q1', text: 'SELECT count(*)::int AS n FROM orders WHERE org = $1' };
      const first = await c.query({ ...q, values: ['acme'] });
      const second = await c.query({ ...q, values: ['acme'] });
      const third = await c.query({ ...q, values: ['globex'] });
      expect(first.rows[0].n).toBeGreaterThan(0);
      expect(second.rows).toEqual(first.rows);
      expect(third.rows).toEqual([{ n: 0 }]);
    });
  });

  it('refuses what cannot be prepared, and the session carries on', async () => {
    await withAlice(async (c) => {
      await expect(c.query('SELECT $1::int; SELECT 2', [1])).rejects.toMatchObject({
        code: '42601',
        message: 'cannot insert multiple commands into a prepared statement',
      });
      await expect(c.query('UPDATE orders SET status = $1', ['x'])).rejects.toMatchObject({
        code: '25006',
      });
      // SHOW through Parse/Bind/Execute is answered by the proxy (wire-settings-extended.test.ts).
      expect((await c.query({ name: 's', text: 'SHOW search_path' })).rows).toEqual([
        { search_path: '"$user", public' },
      ]);
      await expect(c.query('SET work_mem = $1', ['1MB'])).rejects.toMatchObject({ code: '42601' });
      expect((await c.query('SELECT $1::int AS x', [7])).rows).toEqual([{ x: 7 }]);
    });
  });

  it('relays PortalSuspended for an Execute with a row limit', async () => {
    await withRaw(async (raw) => {
      const frames = await raw.run(
        fe.parse('', 'SELECT n FROM generate_series(1, 5) AS n WHERE n <= $1'),
        fe.bind('', '', ['3']),
        fe.execute('', 2),
        fe.execute('', 2),
        fe.sync(),
      );
      expect(types(frames)).toBe('12DDsDCZ');
      expect(frames.filter((f) => f.type === 'D').map(cells)).toEqual([['1'], ['2'], ['3']]);
    });
  });

  it('answers a pipeline in order, with Describe giving real parameter types', async () => {
    await withRaw(async (raw) => {
      const frames = await raw.run(
        fe.parse('a', 'SELECT $1::int AS x'),
        fe.bind('pa', 'a', ['41']),
        fe.execute('pa'),
        fe.parse('d1', 'SELECT id, org FROM orders WHERE total_amount > $1 AND customer_id = $2'),
        fe.describe('S', 'd1'),
        fe.bind('', 'd1', ['0', '00000000-0000-0000-0000-000000000000']),
        fe.describe('P', ''),
        fe.execute(''),
        fe.sync(),
      );
      expect(types(frames)).toBe('12DC1tT2TCZ');
      expect(cells(frames[2]!)).toEqual(['41']);
      const params = new BufferReader(frames[5]!.body);
      const count = params.int16();
      expect(Array.from({ length: count }, () => params.int32())).toEqual([1700, 2950]); // numeric, uuid
      const desc = new BufferReader(frames[6]!.body);
      expect(desc.int16()).toBe(2);
      expect(desc.cstring()).toBe('id');
      expect([desc.int32(), desc.int16()]).toEqual([0, 0]); // origins zeroed (V146)
    });
  });

  it('answers a refusal mid-pipeline with exactly one error, then ReadyForQuery', async () => {
    await withRaw(async (raw) => {
      const frames = await raw.run(
        fe.parse('', 'SELECT 1 AS one'),
        fe.bind('', ''),
        fe.execute(''),
        fe.parse('', 'UPDATE orders SET status = $1'),
        fe.bind('', '', ['x']),
        fe.execute(''),
        fe.parse('', 'SELECT 2'),
        fe.bind('', ''),
        fe.execute(''),
        fe.sync(),
      );
      expect(types(frames)).toBe('12DCEZ');
      expect(errorOf(frames[4]!)).toMatchObject({ C: '25006' });
      expect(frames[5]!.body[0]).toBe('I'.charCodeAt(0));
      // In a transaction block the refusal aborts it, exactly as PostgreSQL would.
      expect(types(await raw.run(fe.query('BEGIN')))).toBe('CZ');
      const failed = await raw.run(fe.parse('', 'DELETE FROM orders'), fe.sync());
      expect(types(failed)).toBe('EZ');
      expect(failed[1]!.body[0]).toBe('E'.charCodeAt(0));
      expect(types(await raw.run(fe.query('ROLLBACK')))).toBe('CZ');
      const after = await raw.run(fe.parse('', 'SELECT 3'), fe.bind('', ''), fe.execute(''), fe.sync());
      expect(types(after)).toBe('12DCZ');
    });
  });

  it('stops at an upstream error mid-pipeline and recovers at Sync', async () => {
    await withRaw(async (raw) => {
      const frames = await raw.run(
        // Not a constant expression: the division fails at Execute, not at Bind (plan-time folding).
        fe.parse('z', 'SELECT 1 / (n - $1::int) AS q FROM generate_series(1, 1) AS n'),
        fe.bind('', 'z', ['1']),
        fe.execute(''),
        fe.bind('', 'z', ['0']),
        fe.execute(''),
        fe.sync(),
      );
      expect(types(frames)).toBe('12EZ');
      expect(errorOf(frames[2]!)).toMatchObject({ C: '22012' });
      const again = await raw.run(fe.bind('', 'z', ['0']), fe.execute(''), fe.sync());
      expect(types(again)).toBe('2DCZ');
    });
  });

  it('settles an unsynced pipeline before a simple query', async () => {
    await withRaw(async (raw) => {
      const frames = await raw.run(
        fe.parse('', 'SELECT 5 AS five'),
        fe.bind('', ''),
        fe.execute(''),
        fe.query('SELECT 6 AS six'),
      );
      expect(types(frames)).toBe('12DCTDCZ');
    });
  });

  it('writes one audit record per Execute', async () => {
    const text = 'SELECT count(*) FROM products WHERE price > $1';
    await withAlice(async (c) => {
      await c.query(text, [0]);
      await c.query(text, [1]);
    });
    await audit.flush();
    const page = await listQueryAudit(admin.store.db, {});
    const entries = page.data.filter((e) => e.original_query === text);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ username: 'alice', status: 'success' });
  });
});
