/**
 * Threat-model vectors: statement classification, EXPLAIN, COPY, settings,
 * multi-statement strings and parse/deparse differentials (V24, V67, V84,
 * V100, V121–V123, V134–V136, V138, V140, V141, V143, V144, V153, V155,
 * V158, V163). Refusals come from the production gate before any name is
 * resolved; what is admitted runs on PostgreSQL 18 without leaking.
 */
import type { Node } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyStatement } from '../../src/sql/classify.js';
import {
  loadParsers,
  openSecurityDb,
  proxyRefusal,
  resolve,
  rewriteFor,
  type SecurityDb,
} from './fixture.js';

let db: SecurityDb;
beforeAll(async () => {
  await loadParsers();
  db = await openSecurityDb('postgres', () => resolve());
});
afterAll(async () => db?.close());

const refused = (sql: string) => proxyRefusal(sql, resolve());
const readOnly = (tag: string) => ({
  code: '25006',
  message: `cannot execute ${tag} in a read-only transaction`,
});

describe('writes and utility statements are refused with 25006', () => {
  it.each([
    ['V24', "INSERT INTO customers VALUES (1, 'acme')", 'INSERT'],
    ['V24', 'DROP TABLE customers', 'DROP TABLE'],
    ['V24', 'UPDATE orders SET amount = 0', 'UPDATE'],
    ['V24', 'DELETE FROM salaries', 'DELETE'],
    ['V84', 'CREATE TEMP TABLE t (a int)', 'CREATE TABLE'],
    ['V134', "DO $$ BEGIN RAISE NOTICE '%', (SELECT string_agg(ssn, ',') FROM customers); END $$", 'DO'],
    ['V134', 'CALL public.archive_orders()', 'CALL'],
    [
      'V134',
      "CREATE FUNCTION f() RETURNS SETOF salaries LANGUAGE sql AS 'SELECT * FROM salaries'",
      'CREATE FUNCTION',
    ],
    ['V134', 'CREATE EXTENSION dblink', 'CREATE EXTENSION'],
    ['V134', "LOAD 'auto_explain'", 'LOAD'],
    ['V134', 'CREATE TEMP VIEW v AS SELECT * FROM salaries', 'CREATE VIEW'],
    ['V144', 'SELECT * INTO newtab FROM orders', 'SELECT INTO'],
    ['V144', 'CREATE TEMP TABLE t AS SELECT * FROM orders', 'CREATE TABLE AS'],
    ['V144', 'CREATE MATERIALIZED VIEW m AS SELECT * FROM orders', 'CREATE MATERIALIZED VIEW'],
    ['V143', 'SELECT * FROM orders FOR UPDATE', 'SELECT FOR UPDATE'],
    ['V143', 'SELECT * FROM orders o FOR SHARE OF o NOWAIT', 'SELECT FOR SHARE'],
    ['V143', 'SELECT * FROM orders FOR KEY SHARE', 'SELECT FOR KEY SHARE'],
    ['V143', 'SELECT * FROM (SELECT * FROM orders FOR NO KEY UPDATE) s', 'SELECT FOR NO KEY UPDATE'],
    ['V143', 'WITH x AS (SELECT * FROM orders FOR UPDATE SKIP LOCKED) SELECT * FROM x', 'SELECT FOR UPDATE'],
    ['V155', 'LOCK TABLE orders IN ACCESS SHARE MODE', 'LOCK TABLE'],
    ['V100', 'LISTEN orders_changed', 'LISTEN'],
    ['V100', "NOTIFY rowgate_invalidate, 'x'", 'NOTIFY'],
    ['V100', 'UNLISTEN *', 'UNLISTEN'],
    ['V141', "PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
    ['V138', 'CREATE TABLE x AS EXECUTE p', 'CREATE TABLE AS'],
  ])('%s statement refused with 25006: %s', (_id, sql, tag) => {
    expect(refused(sql)).toMatchObject(readOnly(tag));
  });

  it('V144 data-modifying CTEs and functions that write are refused', () => {
    expect(refused('WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d')).toMatchObject({
      code: '25006',
    });
    expect(refused('WITH d AS (INSERT INTO orders VALUES (1) RETURNING *) SELECT 1')).toMatchObject({
      code: '25006',
    });
    expect(refused("SELECT nextval('orders_id_seq')")).toMatchObject({ code: '42883' });
    expect(refused("SELECT setval('orders_id_seq', 1)")).toMatchObject({ code: '42883' });
  });

  it('V141 read-write transaction modes are refused; BEGIN is forced read-only', () => {
    for (const sql of [
      'BEGIN READ WRITE',
      'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE',
      'SET TRANSACTION READ WRITE',
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
      "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
    ]) {
      expect(refused(sql), sql).toMatchObject({ code: '25006' });
    }
  });

  it('V140 session settings that change policy evaluation are refused (25006 / 42501)', () => {
    for (const sql of [
      'SET ROLE postgres',
      'SET SESSION AUTHORIZATION postgres',
      'SET standard_conforming_strings = off',
      "SET client_encoding = 'SJIS'",
      'SET default_transaction_read_only = off',
      'SET client_min_messages = debug5',
      'SET debug_print_plan = on',
      'SET enable_seqscan = off',
      'SET LOCAL work_mem = 1000000',
    ]) {
      const got = refused(sql);
      expect(got, sql).not.toBeNull();
      expect(['25006', '42501', '22023', '3F000', '0A000'], sql).toContain(got?.code);
    }
  });

  it('V155 SET of lock / statement / idle timeouts to 0 (no limit) is clamped to the proxy cap', () => {
    for (const name of ['lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout']) {
      const c = classifyStatement(parseSync(`SET ${name} = 0`).stmts![0]!.stmt as Node);
      expect(c.kind, name).toBe('set');
      if (c.kind === 'set') for (const a of c.assignments) expect(a.value, name).not.toMatch(/^0/);
    }
  });
});

describe('EXPLAIN (off by default)', () => {
  it.each([
    ['V67', 'EXPLAIN SELECT * FROM orders'],
    ['V67', 'EXPLAIN SELECT * FROM salaries'],
    ['V67', 'EXPLAIN SELECT * FROM nosuch'],
    ['V121', 'EXPLAIN VERBOSE SELECT * FROM customers'],
    ['V122', "EXPLAIN SELECT * FROM customers WHERE name = 'Bob Smith'"],
    ['V123', 'EXPLAIN ANALYZE SELECT * FROM orders'],
    ['V123', 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) DELETE FROM orders'],
    ['V123', 'EXPLAIN (GENERIC_PLAN) SELECT * FROM orders WHERE id = $1'],
    ['V123', 'EXPLAIN EXECUTE p'],
  ])('%s %s gets one uniform error, decided before name resolution', (_id, sql) => {
    expect(refused(sql)).toMatchObject({
      code: '42501',
      message: 'permission denied: EXPLAIN is disabled for this data source',
    });
  });
});

describe('admitted statements stay secured', () => {
  it('V135 a multi-statement string with one refused statement is refused as a whole', () => {
    expect(refused('SELECT 1; DELETE FROM orders; SELECT 2')).toMatchObject(readOnly('DELETE'));
    expect(refused('SELECT * FROM orders; SET ROLE postgres')).toMatchObject({ code: '25006' });
    expect(refused('SELECT 1; SELECT * FROM salaries')).toMatchObject({ code: '42P01' });
    const ok = rewriteFor('SELECT 1;;; SELECT count(*) FROM orders', resolve());
    expect(ok).toMatch(/^SELECT 1; SELECT count\(\*\) FROM \( SELECT/);
  });

  it('V136 COPY of a protected table is secured; COPY FROM, files and programs are refused', async () => {
    expect(rewriteFor('COPY customers TO STDOUT', resolve())).toMatch(
      /^COPY \(SELECT \* FROM \( SELECT .* OFFSET 0 \) AS customers\) TO STDOUT/,
    );
    // The secured COPY query returns exactly what the oracle returns.
    const inner = rewriteFor('COPY customers (id, ssn) TO STDOUT', resolve()).match(
      /^COPY \((.*)\) TO STDOUT/,
    )![1]!;
    const got = await db.exec(inner);
    expect(db.leaks(got)).toEqual([]);
    expect(got).toEqual(await db.oracle('SELECT id, ssn FROM customers'));
    expect(refused('COPY customers (credit_card) TO STDOUT')).toBeNull(); // resolved upstream:
    const denied = await db.exec(rewriteFor('COPY customers (credit_card) TO STDOUT', resolve()));
    expect(denied).toMatchObject({ code: '42703' });
    expect(refused('COPY orders FROM STDIN')).toMatchObject(readOnly('COPY FROM'));
    expect(refused("COPY orders TO '/tmp/x'")).toMatchObject({ code: '42501' });
    expect(refused("COPY (SELECT 1) TO PROGRAM 'id'")).toMatchObject({ code: '42501' });
    expect(refused('COPY salaries TO STDOUT')).toMatchObject({ code: '42P01' });
  });

  it('V138 PREPARE and DECLARE bodies are rewritten like any query', () => {
    expect(rewriteFor('PREPARE p AS SELECT * FROM orders WHERE id > $1', resolve())).toMatch(
      /^PREPARE p AS SELECT \* FROM \( SELECT .* WHERE .*org = 'acme'.* OFFSET 0 \) AS orders WHERE id > \$1$/,
    );
    expect(rewriteFor('DECLARE c CURSOR WITH HOLD FOR SELECT * FROM customers', resolve())).toMatch(
      /OFFSET 0 \) AS customers$/,
    );
    expect(refused('PREPARE p AS SELECT * FROM salaries')).toMatchObject({ code: '42P01' });
    expect(refused('DECLARE c CURSOR FOR SELECT * FROM orders FOR UPDATE')).toMatchObject({ code: '25006' });
  });

  it('V153 deeply nested input is refused cleanly (54001), and the parser keeps working', async () => {
    const { rewrite } = await import('../../src/sql/rewrite.js');
    const { classifierGate } = await import('../../src/sql/rewrite.js');
    const run = (sql: string) =>
      rewrite(sql, resolve(), { searchPath: ['public'] }, { gate: classifierGate() }).then(
        () => 'ok',
        (e: { sqlstate?: string }) => e.sqlstate,
      );
    expect(await run(`SELECT ${Array(10000).fill('1').join('+')} FROM orders`)).toMatch(/^(54001|ok)$/);
    expect(await run(`${'SELECT ('.repeat(3000)}1${')'.repeat(3000)}`)).toMatch(/^(54001|42601|ok)$/);
    expect(await run('SELECT count(*) FROM orders')).toBe('ok');
  });

  it('V158 rewritten SQL round-trips and runs: precedence, quoting and literals keep their meaning', async () => {
    for (const [sql, want] of [
      ['SELECT 5 - (3 - 1) FROM orders WHERE id = 3', '[3]'],
      ['SELECT - (-1) FROM orders WHERE id = 3', '[1]'],
      ['SELECT NOT 1 = 2 FROM orders WHERE id = 3', '[true]'],
      ["SELECT 'a''b' || E'\\\\' FROM orders WHERE id = 3", '["a\'b\\\\"]'],
      ['SELECT -2147483648 FROM orders WHERE id = 3', '[-2147483648]'],
      [
        "SELECT 2 BETWEEN SYMMETRIC 3 AND 1, 'x' IS DISTINCT FROM NULL FROM orders WHERE id = 3",
        '[true,true]',
      ],
      ["SELECT 'ab' LIKE 'a!%' ESCAPE '!', 'ab' SIMILAR TO 'a_' FROM orders WHERE id = 3", '[false,true]'],
      ['SELECT ARRAY[]::int[] FROM orders WHERE id = 3', '[[]]'],
      ['SELECT count(*) FILTER (WHERE amount > 500) FROM orders', null],
    ] as const) {
      const got = await db.run(sql);
      expect(got, sql).toHaveProperty('rows');
      if (want !== null) expect('rows' in got && got.rows, sql).toEqual([want]);
      else expect(got).toEqual(await db.oracle(sql));
    }
  });

  it('V158 a construct the deparser cannot reproduce is refused (fail closed), never run altered', async () => {
    const sql = 'SELECT id FROM orders ORDER BY id USING > FETCH FIRST 1 ROW WITH TIES';
    const got = await db.run(sql);
    if ('rows' in got) expect(got).toEqual(await db.oracle(sql));
    else expect(got).toMatchObject({ stage: 'proxy' });
  });

  it('V163 text-level tricks are classified by the parser, never by keywords', () => {
    expect(rewriteFor('SELECT $$;DELETE FROM orders;$$', resolve())).toBe("SELECT ';DELETE FROM orders;'");
    expect(refused('SELECT 1 /* a /* b */ ; DROP TABLE x */')).toBeNull();
    expect(refused("SELECT E'\\';DROP TABLE x;--'")).toBeNull();
    expect(refused("SELECT 'a\\' OR 1=1 --'")).toBeNull();
    expect(refused('SELECT 1; DROP TABLE x --')).toMatchObject(readOnly('DROP TABLE'));
  });
});
