/**
 * Definitions that call functions which are not built in, and types from
 * schemas without visible tables (visible.ts), against a real PostgreSQL.
 * A CHECK, default, expression index or view whose text calls a user
 * function would print that function's name: all stay hidden while their
 * function-free siblings are shown. A column whose enum lives in a schema
 * with no visible table makes that schema visible, as format_type shows it.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { loadParser, policySet, table } from '../support/policy-fixtures.js';
import { createTestDatabase, describeEachUpstream, type Upstream } from '../support/postgres.js';

const SCHEMA = `
  CREATE SCHEMA zz_fn_home;
  CREATE FUNCTION zz_fn_home.zz_secret_fn(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
  CREATE SCHEMA moods;
  CREATE TYPE moods.mood AS ENUM ('happy', 'sad');
  CREATE TABLE items (
    id int PRIMARY KEY,
    qty int NOT NULL DEFAULT zz_fn_home.zz_secret_fn(1) CHECK (zz_fn_home.zz_secret_fn(qty) > 0),
    price int NOT NULL DEFAULT 5 CONSTRAINT price_positive CHECK (price > 0),
    feeling moods.mood
  );
  CREATE INDEX items_fn_idx ON items (zz_fn_home.zz_secret_fn(qty));
  CREATE INDEX items_price_idx ON items (price);
  CREATE VIEW fn_view AS SELECT id, zz_fn_home.zz_secret_fn(qty) AS doubled FROM items;
  CREATE VIEW plain_view AS SELECT id, price FROM items;
`;

const set = (): SessionPolicySet =>
  policySet([
    table('public', 'items', [
      ['id', 'int4'],
      ['qty', 'int4'],
      ['price', 'int4'],
      ['feeling', 'mood'],
    ]),
    {
      ...table('public', 'fn_view', [
        ['id', 'int4'],
        ['doubled', 'int4'],
      ]),
      tableType: 'VIEW',
    },
    {
      ...table('public', 'plain_view', [
        ['id', 'int4'],
        ['price', 'int4'],
      ]),
      tableType: 'VIEW',
    },
  ]);

describeEachUpstream('catalog definitions calling user functions', (upstream: Upstream) => {
  let client: pg.Client;
  beforeAll(async () => {
    await loadParser();
    const { url } = await createTestDatabase('userfn', upstream);
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(SCHEMA);
  }, 60_000);
  afterAll(async () => {
    await client?.end();
  });

  const run = async (sql: string): Promise<string> => {
    const text = rewriteSync(sql, set(), { searchPath: ['public'] }, { gate: classifierGate() })
      .statements[0]!.rewrittenSql!;
    const r = await client.query({ text, rowMode: 'array' });
    return JSON.stringify(r.rows);
  };

  it('hides every definition that names the function, and shows the others', async () => {
    const checks: [sql: string, shown: string][] = [
      [
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'items'::regclass",
        'price_positive',
      ],
      [
        "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'items'::regclass",
        'price',
      ],
      ["SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'items'", 'items_price_idx'],
      ["SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'", 'plain_view'],
      [
        "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = 'public'",
        'price',
      ],
      ["SELECT column_name, column_default FROM information_schema.columns WHERE table_name = 'items'", '5'],
      ['SELECT constraint_name, check_clause FROM information_schema.check_constraints', 'price_positive'],
      ["SELECT pg_get_viewdef('fn_view'::regclass), pg_get_viewdef('plain_view'::regclass)", 'price'],
    ];
    for (const [sql, shown] of checks) {
      const out = await run(sql);
      expect(out, sql).toContain(shown);
      expect(out, sql).not.toContain('zz_secret_fn');
      expect(out, sql).not.toContain('zz_fn_home');
    }
    // The function's schema holds no visible table or type: it stays absent.
    expect(await run('SELECT nspname FROM pg_namespace')).not.toContain('zz_fn_home');
  });

  it("lists the schema of a visible column's type, consistently with format_type", async () => {
    const type = await run(
      "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'feeling'",
    );
    expect(type).toContain('moods.mood');
    expect(await run("SELECT nspname FROM pg_namespace WHERE nspname = 'moods'")).toBe('[["moods"]]');
    expect(await run('SELECT enumlabel FROM pg_enum ORDER BY enumsortorder')).toBe('[["happy"],["sad"]]');
  });
});
