/**
 * The allowlists name real pg_catalog objects (no typos), the denied list
 * names real, dangerous ones (so the tests refusing them test something), and
 * our 42883/42704 texts are byte-identical to PostgreSQL's for a missing
 * function/type with the same literal arguments.
 */
import type { Node } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALLOWED_FUNCTIONS,
  ALLOWED_OPERATORS,
  ALLOWED_TABLESAMPLE_METHODS,
  ALLOWED_TYPES,
  CURRENT_SETTING_ALLOWED,
  DENIED_EXTENSION_FUNCTIONS,
  DENIED_FUNCTIONS,
  DENIED_TYPES,
} from '../../src/sql/function-list.js';
import { findForbiddenCalls } from '../../src/sql/functions.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';

let db: { name: string; url: string };
let client: pg.Client;

beforeAll(async () => {
  await loadModule();
  db = await createTestDatabase('fn');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  if (db) await dropTestDatabase(db.name);
});

async function catalogNames(sql: string): Promise<Set<string>> {
  const { rows } = await client.query<{ n: string }>(sql);
  return new Set(rows.map((r) => r.n));
}

const inCatalog = (table: string, nameColumn: string, nsColumn: string) =>
  catalogNames(
    `SELECT DISTINCT ${nameColumn} AS n FROM pg_catalog.${table} x
       JOIN pg_catalog.pg_namespace s ON s.oid = x.${nsColumn} WHERE s.nspname = 'pg_catalog'`,
  );

describe('allowlists match pg_catalog on the real server', () => {
  it('every allowlisted function exists in pg_proc (pg_catalog)', async () => {
    const procs = await inCatalog('pg_proc', 'proname', 'pronamespace');
    expect([...ALLOWED_FUNCTIONS].filter((n) => !procs.has(n))).toEqual([]);
  });

  it('every denied function exists too (except extension functions)', async () => {
    const procs = await inCatalog('pg_proc', 'proname', 'pronamespace');
    const denied = Object.keys(DENIED_FUNCTIONS).filter((n) => !DENIED_EXTENSION_FUNCTIONS.has(n));
    expect(denied.filter((n) => !procs.has(n))).toEqual([]);
    expect(denied.filter((n) => ALLOWED_FUNCTIONS.has(n))).toEqual([]);
  });

  it('every allowed and denied type exists in pg_type (pg_catalog)', async () => {
    const types = await inCatalog('pg_type', 'typname', 'typnamespace');
    expect([...ALLOWED_TYPES, ...DENIED_TYPES].filter((n) => !types.has(n))).toEqual([]);
    expect(DENIED_TYPES.filter((n) => ALLOWED_TYPES.has(n))).toEqual([]);
  });

  it('every allowed operator symbol exists in pg_operator (pg_catalog)', async () => {
    const ops = await inCatalog('pg_operator', 'oprname', 'oprnamespace');
    expect([...ALLOWED_OPERATORS].filter((n) => !ops.has(n))).toEqual([]);
  });

  it('TABLESAMPLE methods and current_setting names are real', async () => {
    // TABLESAMPLE methods are handler functions named after the method.
    const procs = await inCatalog('pg_proc', 'proname', 'pronamespace');
    expect([...ALLOWED_TABLESAMPLE_METHODS].filter((n) => !procs.has(n))).toEqual([]);
    const settings = await catalogNames(`SELECT lower(name) AS n FROM pg_catalog.pg_settings`);
    expect([...CURRENT_SETTING_ALLOWED].filter((n) => !settings.has(n))).toEqual([]);
  });

  it('no allowlisted function is a procedure, and none has an overload taking regclass/cursor/SQL-ish types', async () => {
    const { rows } = await client.query<{ proname: string; args: string }>(
      `SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace
        WHERE s.nspname = 'pg_catalog' AND p.proname = ANY($1)
          AND (p.prokind = 'p' OR p.proargtypes::oid[] && ARRAY['regclass', 'refcursor', 'regproc',
               'regprocedure', 'regtype', 'regnamespace', 'regrole', 'internal']::regtype[]::oid[])`,
      [[...ALLOWED_FUNCTIONS]],
    );
    expect(rows).toEqual([]);
  });
});

describe('error texts are PostgreSQL’s', () => {
  async function upstreamError(sql: string): Promise<{ code: string; message: string; hint?: string }> {
    try {
      await client.query(sql);
    } catch (e) {
      const { code, message, hint } = e as { code: string; message: string; hint?: string };
      return { code, message, ...(hint ? { hint } : {}) };
    }
    throw new Error(`expected an error: ${sql}`);
  }
  const ours = (sql: string) => {
    const e = findForbiddenCalls(parseSync(sql).stmts?.[0]?.stmt as Node);
    return e && { code: e.sqlstate, message: e.message, ...(e.extra.hint ? { hint: e.extra.hint } : {}) };
  };

  it.each([
    'SELECT rowgate_nosuch()',
    "SELECT rowgate_nosuch('a')",
    'SELECT rowgate_nosuch(1, 1.5, true, NULL, 10000000000)',
    "SELECT rowgate_nosuch('x'::text, 1::int8, '2024-01-01'::timestamptz, '{}'::int[])",
    'SELECT public.rowgate_nosuch(1)',
    'SELECT pg_catalog.rowgate_nosuch(1)',
    'SELECT 1::rowgate_nosuch',
    'SELECT 1::public.rowgate_nosuch',
    'SELECT 1::rowgate_nosuch[]',
    'SELECT 1 === 1',
    'SELECT 1 OPERATOR(public.+) 1',
  ])('%s', async (sql) => {
    expect(ours(sql)).toEqual(await upstreamError(sql));
  });
});
