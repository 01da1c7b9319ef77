/**
 * Session answers of the virtual catalog against a real PostgreSQL (issue 6):
 * `pg_backend_pid()` is the session's virtual pid, `txid_current()` a virtual
 * transaction clock, catalog rows' `xmin` the policy set's state number
 * (catalog/system-columns.ts), and view definitions over filtered tables are
 * shown only without constants (visible.ts). Each value is compared with what
 * the upstream would have said, so a test fails if the real one comes through.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LruCache } from '../../src/sql/cache.js';
import { classifierGate, rewriteSync, type RewriteResult, type SessionState } from '../../src/sql/rewrite.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { filter, loadParser, policySet, table } from '../support/policy-fixtures.js';
import { createTestDatabase, describeEachUpstream, type Upstream } from '../support/postgres.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import type { ProxyServer } from '../../src/wire/server.js';

const SCHEMA = `
  CREATE TABLE orders (id int PRIMARY KEY, org text NOT NULL, amount numeric NOT NULL);
  INSERT INTO orders VALUES (1, 'acme', 10), (2, 'globex', 500);
  CREATE VIEW order_amounts AS SELECT id, amount FROM orders;
  CREATE VIEW zz_other_orders AS SELECT id, amount FROM orders WHERE org = 'globex';
  CREATE VIEW big_orders AS SELECT id FROM orders WHERE amount > 100;
`;

const ORDER_COLS: [string, string][] = [
  ['id', 'int4'],
  ['org', 'text'],
  ['amount', 'numeric'],
];
const views = () => [
  {
    ...table('public', 'order_amounts', [
      ['id', 'int4'],
      ['amount', 'numeric'],
    ]),
    tableType: 'VIEW',
  },
  {
    ...table('public', 'zz_other_orders', [
      ['id', 'int4'],
      ['amount', 'numeric'],
    ]),
    tableType: 'VIEW',
  },
  { ...table('public', 'big_orders', [['id', 'int4']]), tableType: 'VIEW' },
];
const tenant = (): SessionPolicySet =>
  policySet([table('public', 'orders', ORDER_COLS, [filter("org = 'acme'")]), ...views()]);
const open = (): SessionPolicySet => policySet([table('public', 'orders', ORDER_COLS), ...views()]);

const gate = classifierGate();
const session = (backendPid?: number): SessionState => ({ searchPath: ['public'], backendPid });

describeEachUpstream('virtual session answers', (upstream: Upstream) => {
  let client: pg.Client;

  beforeAll(async () => {
    await loadParser();
    const { url } = await createTestDatabase('sessvals', upstream);
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(SCHEMA);
  }, 60_000);
  afterAll(async () => {
    await client?.end();
  });

  const rewritten = (sql: string, set: SessionPolicySet, s = session(), cache?: LruCache<RewriteResult>) =>
    rewriteSync(sql, set, s, { gate, cache: cache ?? null }).statements[0]!.rewrittenSql ?? '';
  const run = async (sql: string, set: SessionPolicySet = tenant(), s = session()) => {
    const r = await client.query({ text: rewritten(sql, set, s), rowMode: 'array' });
    return { columns: r.fields.map((f) => f.name), rows: r.rows as unknown[][] };
  };
  const failure = async (sql: string, set: SessionPolicySet = tenant()) =>
    client.query(rewritten(sql, set)).then(
      () => 'succeeded',
      (e: { code?: string }) => e.code,
    );

  it('catalog rows show the state number as xmin, under PostgreSQL column names', async () => {
    const set = tenant();
    const got = await run("SELECT c.xmin, c.relname FROM pg_class c WHERE c.relname = 'orders'", set);
    expect(got.columns).toEqual(['xmin', 'relname']);
    const state = Number(got.rows[0]![0]);
    const real = await client.query<{ x: string }>(
      "SELECT xmin::text AS x FROM pg_class WHERE relname = 'orders'",
    );
    expect(state).not.toBe(Number(real.rows[0]!.x));
    expect(Math.abs(state - Date.now() / 1000)).toBeLessThan(120);
    for (const sql of [
      'SELECT xmin FROM pg_namespace LIMIT 1',
      "SELECT N.xmin AS state_number FROM pg_catalog.pg_namespace N WHERE nspname = 'public'",
      'SELECT a.xmin FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = $$orders$$ LIMIT 1',
      'SELECT (SELECT max(t.xmin) FROM pg_type t WHERE t.oid = c.reltype) FROM pg_class c WHERE relname = $$orders$$',
      'SELECT x.xmin FROM information_schema.tables x LIMIT 1',
    ]) {
      const r = await run(sql, set);
      expect(r.rows.length, sql).toBeGreaterThan(0);
      expect(Number(r.rows[0]![0]), sql).toBe(state);
    }
    // xmin is not part of SELECT *, as in PostgreSQL.
    const star = await run("SELECT * FROM pg_namespace WHERE nspname = 'public'", set);
    expect(star.columns).not.toContain('xmin');
  });

  it('the transaction counter cannot be read through xmin, age() or user tables', async () => {
    expect(await failure('SELECT age(xmin) FROM pg_class')).toBe('42883');
    expect(await failure('SELECT age(c.xmin) FROM pg_class c')).toBe('42883');
    expect(await failure('SELECT xmin FROM orders')).toBe('42703');
    expect(await failure('SELECT o.xmin FROM orders o')).toBe('42703');
    // Ambiguous as in PostgreSQL: two catalog relations in one FROM.
    expect(await failure('SELECT xmin FROM pg_class, pg_namespace LIMIT 1')).toBe('42703');
  });

  it('txid_current() is a clock never below the state number, and not the upstream counter', async () => {
    const set = tenant();
    const state = Number((await run('SELECT xmin FROM pg_class LIMIT 1', set)).rows[0]![0]);
    const got = await run('SELECT txid_current(), pg_catalog.txid_current()::varchar::bigint AS v', set);
    expect(got.columns).toEqual(['txid_current', 'v']);
    const clock = Number(got.rows[0]![0]);
    expect(clock).toBeGreaterThanOrEqual(state);
    expect(Math.abs(clock - Date.now() / 1000)).toBeLessThan(120);
    const real = await client.query<{ t: string }>('SELECT txid_current()::text AS t');
    expect(Math.abs(clock - Number(real.rows[0]!.t))).toBeGreaterThan(1_000_000);
    // A changed policy set (new visibility) gets a state number above every txid answered before it.
    await new Promise((r) => setTimeout(r, 1100));
    const changed = policySet(
      [table('public', 'orders', ORDER_COLS.slice(0, 2), [filter("org = 'acme'")])],
      `changed-${upstream}-${Date.now()}`,
    );
    const next = Number((await run('SELECT xmin FROM pg_class LIMIT 1', changed)).rows[0]![0]);
    expect(next).toBeGreaterThan(clock);
  });

  it("pg_backend_pid() answers the session's virtual pid, never a cached one or the upstream's", async () => {
    const cache = new LruCache<RewriteResult>(16);
    const sql = 'SELECT pg_backend_pid()';
    const a = await client.query({ text: rewritten(sql, tenant(), session(4242), cache), rowMode: 'array' });
    const b = await client.query({ text: rewritten(sql, tenant(), session(777), cache), rowMode: 'array' });
    expect(a.fields[0]!.name).toBe('pg_backend_pid');
    expect(a.rows[0]).toEqual([4242]);
    expect(b.rows[0]).toEqual([777]);
    expect((await run(sql)).rows[0]).toEqual([null]);
  });

  it('a user CTE cannot shadow the visible-object sets the catalog reads (reserved names)', async () => {
    const code = (sql: string): string | undefined => {
      try {
        rewritten(sql, tenant());
        return undefined;
      } catch (err) {
        return (err as { sqlstate?: string }).sqlstate;
      }
    };
    for (const sql of [
      'WITH _rgv_rel AS (SELECT oid, true AS f FROM pg_class) SELECT relname FROM pg_class',
      'SELECT (WITH _rgv_att AS (SELECT 1) SELECT count(*) FROM pg_attribute)',
      'WITH U&"\\005frgv_typ" AS (SELECT 1) SELECT typname FROM pg_type',
      'SELECT * FROM orders WHERE id IN (WITH _rgv_x AS (SELECT 1) SELECT oid::int FROM pg_class)',
    ])
      expect(code(sql), sql).toBe('42939');
    // The sets themselves are attached once, at the top, and read by every catalog subquery.
    const sql = rewritten('SELECT relname FROM pg_class WHERE relname = $$orders$$', tenant());
    expect(sql.match(/_rgv_rel AS MATERIALIZED/g)).toHaveLength(1);
    // Only the sets read, and those they read: pg_type needs types, which need columns and relations.
    const types = rewritten('SELECT typname FROM pg_type', tenant());
    expect(types.match(/_rgv_\w+ AS MATERIALIZED/g)?.sort()).toEqual([
      '_rgv_att AS MATERIALIZED',
      '_rgv_rel AS MATERIALIZED',
      '_rgv_typ AS MATERIALIZED',
    ]);
    expect(rewritten('SELECT amname FROM pg_am', tenant())).not.toContain('_rgv_');
    expect((await run('SELECT relname FROM pg_class WHERE relname = $$orders$$')).rows).toEqual([['orders']]);
  });

  it('view definitions over a filtered table are shown only without constants', async () => {
    const queries = [
      "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
      "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = 'public' ORDER BY 1",
      "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace ORDER BY 1",
    ];
    for (const sql of queries) {
      const filtered = await run(sql, tenant());
      const shown = filtered.rows.filter((r) => r[1] !== null).map((r) => r[0]);
      expect(shown, sql).toEqual(['order_amounts']);
      expect(JSON.stringify(filtered.rows), sql).not.toContain('globex');
      expect(JSON.stringify(filtered.rows), sql).not.toContain('100');
      const unfiltered = await run(sql, open());
      expect(
        unfiltered.rows.filter((r) => r[1] !== null).map((r) => r[0]),
        sql,
      ).toEqual(['big_orders', 'order_amounts', 'zz_other_orders']);
    }
  });
});

describe('virtual pid through the proxy', () => {
  let demo: DemoStore;
  let proxy: ProxyServer;
  beforeAll(async () => {
    demo = await openDemoStore();
    proxy = await demo.proxy();
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await demo?.admin.dispose();
  });

  it('equals the BackendKeyData pid, in the simple and the extended protocol, per session', async () => {
    const connect = async () => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: proxy.port,
        user: 'alice',
        password: 'Demo1234!',
        database: DEMO_DATABASE,
      });
      await c.connect();
      return c;
    };
    const [a, b] = [await connect(), await connect()];
    try {
      for (const c of [a, b]) {
        const pid = (c as unknown as { processID: number }).processID;
        expect((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p).toBe(pid);
        const ext = await c.query({ text: 'SELECT pg_backend_pid() AS p, $1::int AS x', values: [1] });
        expect(ext.rows[0].p).toBe(pid);
      }
      const pids = (await a.query('SELECT pg_backend_pid() AS p')).rows[0].p;
      expect(pids).not.toBe((await b.query('SELECT pg_backend_pid() AS p')).rows[0].p);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
