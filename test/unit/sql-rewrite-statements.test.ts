/**
 * Every classification kind through `rewrite()` with the production gate
 * (classify.ts): what goes upstream, what the proxy answers itself (null),
 * the session state SET search_path returns, audit hints; identity calls
 * replaced by the Rowgate user's view (V79, V117); the allowlist re-checked on
 * the rewritten tree, policy expressions included (V158).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PgError } from '../../src/sql/errors.js';
import type { RewriteResult, SessionState } from '../../src/sql/rewrite.js';
import { classifierGate, rewrite, rewriteSync } from '../../src/sql/rewrite.js';
import { SessionSettings } from '../../src/sql/settings.js';
import {
  alicePolicy,
  allowAll,
  DEALS,
  EMPLOYEES as E,
  filter,
  loadParser,
  ORDERS as O,
  policySet,
  table,
} from '../support/policy-fixtures.js';

beforeAll(loadParser);

const gate = classifierGate();
const explainGate = classifierGate({ explain: { enabled: true } });
const session: SessionState = { searchPath: ['public'] };
const run = (sql: string, g = gate, s = session): RewriteResult =>
  rewriteSync(sql, alicePolicy(), s, { gate: g });
const upstream = (sql: string, g = gate): (string | null)[] =>
  run(sql, g).statements.map((s) => s.rewrittenSql);
const failure = (sql: string, g = gate): string => {
  try {
    run(sql, g);
  } catch (err) {
    if (err instanceof PgError) return `${err.audit} ${err.sqlstate}: ${err.message}`;
    throw err;
  }
  return 'no error';
};

describe('every statement kind', () => {
  it.each([
    ['query', 'SELECT * FROM employees', `SELECT * FROM ${E(1)}`, 'SELECT'],
    ['query', 'VALUES (1)', 'VALUES (1)', 'SELECT'],
    [
      'cursor',
      'DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT * FROM employees',
      `DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT * FROM ${E(1)}`,
      'DECLARE CURSOR',
    ],
    ['cursor', 'FETCH 10 FROM c', 'FETCH FORWARD 10 c', 'FETCH'],
    ['cursor', 'MOVE NEXT IN c', 'MOVE FORWARD 1 c', 'MOVE'],
    ['cursor', 'CLOSE c', 'CLOSE c', 'CLOSE CURSOR'],
    ['cursor', 'CLOSE ALL', 'CLOSE ALL', 'CLOSE CURSOR ALL'],
    [
      'prepare',
      'PREPARE q(int) AS SELECT * FROM employees WHERE id = $1',
      `PREPARE q (int) AS SELECT * FROM ${E(1)} WHERE id = $1`,
      'PREPARE',
    ],
    ['execute', 'EXECUTE q(1)', 'EXECUTE q (1)', 'EXECUTE'],
    [
      'execute',
      'EXECUTE q((SELECT max(id) FROM employees))',
      `EXECUTE q ((SELECT max(id) FROM ${E(1)}))`,
      'EXECUTE',
    ],
    ['deallocate', 'DEALLOCATE q', 'DEALLOCATE q', 'DEALLOCATE'],
    ['deallocate', 'DEALLOCATE ALL', 'DEALLOCATE ALL', 'DEALLOCATE ALL'],
    ['discard', 'DISCARD ALL', 'DISCARD ALL', 'DISCARD ALL'],
    ['copy-out', 'COPY employees TO STDOUT', `COPY (SELECT * FROM ${E(1)}) TO STDOUT`, 'COPY'],
    ['copy-out', 'COPY employees (id) TO STDOUT', `COPY (SELECT id FROM ${E(1)}) TO STDOUT`, 'COPY'],
    [
      'copy-out',
      'COPY (SELECT id FROM employees) TO STDOUT WITH (FORMAT csv)',
      `COPY (SELECT id FROM ${E(1)}) TO STDOUT WITH (FORMAT csv)`,
      'COPY',
    ],
    ['transaction', 'BEGIN', 'BEGIN READ ONLY', 'BEGIN'],
    [
      'transaction',
      'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, DEFERRABLE',
      'BEGIN READ ONLY ISOLATION LEVEL SERIALIZABLE DEFERRABLE',
      'START TRANSACTION',
    ],
    ['transaction', 'COMMIT AND CHAIN', 'COMMIT AND CHAIN', 'COMMIT'],
    ['transaction', 'ROLLBACK', 'ROLLBACK', 'ROLLBACK'],
    ['transaction', 'SAVEPOINT "A b"', 'SAVEPOINT "A b"', 'SAVEPOINT'],
    ['transaction', 'RELEASE a', 'RELEASE SAVEPOINT a', 'RELEASE'],
    ['transaction', 'ROLLBACK TO a', 'ROLLBACK TO SAVEPOINT a', 'ROLLBACK'],
    ['show', 'SHOW search_path', null, 'SHOW'],
    ['show', 'SHOW ALL', null, 'SHOW'],
    ['set', 'SET application_name = x', null, 'SET'],
    ['reset', 'RESET ALL', null, 'RESET'],
  ])('%s: %s', (kind, sql, expected, tag) => {
    const [s] = run(sql).statements;
    expect(s).toMatchObject({
      kind,
      commandTag: tag,
      originalSql: sql,
      rewrittenSql: expected,
      audit: 'success',
    });
    expect(s!.classification?.kind).toBe(kind);
  });

  it('EXPLAIN follows the data source policy (explain.ts): off by default', () => {
    expect(failure('EXPLAIN SELECT * FROM payroll')).toBe(
      'denied 42501: permission denied: EXPLAIN is disabled for this data source',
    );
    expect(upstream('EXPLAIN (COSTS OFF) SELECT * FROM employees', explainGate)).toEqual([
      `EXPLAIN (FORMAT TEXT, COSTS OFF) SELECT * FROM ${E(1)}`,
    ]);
    expect(failure('EXPLAIN ANALYZE SELECT 1', explainGate)).toBe(
      'denied 42501: permission denied: EXPLAIN option "analyze" is not allowed for this data source',
    );
  });

  it('policies applied: the reading statements carry them, session statements do not', () => {
    const r = run(
      'SELECT 1; DECLARE c CURSOR FOR SELECT 1; BEGIN; SET datestyle = ISO; SHOW datestyle; CLOSE c',
    );
    expect(r.statements.map((s) => s.policiesApplied.length)).toEqual([2, 2, 0, 0, 0, 0]);
  });

  it.each([
    ['DELETE FROM orders', 'denied 25006: cannot execute DELETE in a read-only transaction'],
    ['SELECT 1; DROP TABLE payroll', 'denied 25006: cannot execute DROP TABLE in a read-only transaction'],
    ['SET ROLE postgres', 'denied 25006: cannot execute SET ROLE in a read-only transaction'],
    ['SET work_mem = 1', 'denied 42501: permission denied to set parameter "work_mem"'],
    ['SHOW data_directory', 'denied 42501: permission denied to examine "data_directory"'],
    ['COPY orders FROM STDIN', 'denied 25006: cannot execute COPY FROM in a read-only transaction'],
    ['LISTEN x', 'denied 25006: cannot execute LISTEN in a read-only transaction'],
    [
      'BEGIN READ WRITE',
      'denied 25006: cannot set transaction read-write mode inside a read-only transaction',
    ],
    ['SET search_path = pg_temp', 'error 22023: invalid value for parameter "search_path": "pg_temp"'],
    ['SELECT * FROM payroll', 'error 42P01: relation "payroll" does not exist'],
    ['SELECT * FROM', 'error 42601: syntax error at end of input'],
  ])('refused with an audit status: %s', (sql, expected) => {
    expect(failure(sql)).toBe(expected);
  });
});

describe('SET / RESET search_path: validated, returned as session state', () => {
  it('keeps the names as written for SHOW, resolves with the visible ones only', () => {
    const r = run('SET search_path = sales, nope, "$user", sales_raw; SELECT * FROM deals');
    expect(r.statements[0]!.searchPath).toEqual({
      searchPath: ['sales'],
      show: 'sales, nope, "$user", sales_raw',
      isLocal: false,
    });
    // Later statements of the same input already use it.
    expect(r.statements[1]!.rewrittenSql).toBe(`SELECT * FROM ${DEALS(1)}`);
    expect(r.session).toEqual({ searchPath: ['sales'] });
  });

  it('the caller passes the returned state back; the hidden upstream schema never resolves', () => {
    const next = run('SET search_path TO sales_raw').session;
    expect(next.searchPath).toEqual([]);
    expect(() => run('SELECT * FROM deals', gate, next)).toThrow('relation "deals" does not exist');
  });

  it.each([
    ['SET LOCAL search_path TO public', { searchPath: ['public'], show: 'public', isLocal: true }],
    ['RESET search_path', { searchPath: ['public'], show: '"$user", public', isLocal: false }],
    ['SET search_path TO DEFAULT', { searchPath: ['public'], show: '"$user", public', isLocal: false }],
    ['RESET ALL', { searchPath: ['public'], show: '"$user", public', isLocal: false }],
    [
      'SET search_path = pg_catalog, public',
      { searchPath: ['pg_catalog', 'public'], show: 'pg_catalog, public', isLocal: false },
    ],
  ])('%s', (sql, change) => {
    expect(run(sql, gate, { searchPath: ['other'] }).statements[0]!.searchPath).toEqual(change);
  });

  it('$user is the Rowgate user when that schema is visible; RESET uses the configured default', () => {
    const p = policySet([table('alice', 't', [['id', 'int4']]), table('public', 'u', [['id', 'int4']])]);
    const r = rewriteSync('RESET search_path; SELECT * FROM t', p, session, {
      gate,
      defaultSearchPath: ['$user', 'public'],
    });
    expect(r.session.searchPath).toEqual(['alice', 'public']);
    expect(r.statements[1]!.rewrittenSql).toBe(
      'SELECT * FROM ( SELECT _rg_1.id FROM alice.t AS _rg_1 ) AS t',
    );
  });

  it('SET validation uses the session settings (DateStyle keeps the other half)', () => {
    const settings = new SessionSettings();
    settings.apply({
      kind: 'set',
      isLocal: false,
      assignments: [{ name: 'datestyle', value: 'German, DMY', upstream: true }],
    });
    const r = run('SET datestyle = ISO', gate, { searchPath: ['public'], settings });
    const c = r.statements[0]!.classification;
    expect(c?.kind === 'set' && c.assignments[0]?.value).toBe('ISO, DMY');
  });
});

describe('identity functions answer the Rowgate view (V79, V117)', () => {
  const cast = (v: string): string => `CAST(${v} AS name)`;
  it.each([
    ['SELECT current_user', `SELECT ${cast("'alice'")} AS "current_user"`],
    [
      'SELECT session_user, user',
      `SELECT ${cast("'alice'")} AS "session_user", ${cast("'alice'")} AS "user"`,
    ],
    ['SELECT current_role AS r', `SELECT ${cast("'alice'")} AS r`],
    ['SELECT upper(current_user)', `SELECT upper(${cast("'alice'")}) AS upper`],
    ['SELECT current_catalog', `SELECT ${cast("'ds'")} AS "current_catalog"`],
    ['SELECT current_database()', `SELECT ${cast("'ds'")} AS current_database`],
    ['SELECT pg_catalog.current_database()', `SELECT ${cast("'ds'")} AS current_database`],
    ['SELECT current_schema', `SELECT ${cast("'public'")} AS "current_schema"`],
    ['SELECT current_schema()', `SELECT ${cast("'public'")} AS "current_schema"`],
    [
      'SELECT id FROM orders WHERE note = current_user',
      `SELECT id FROM ${O(1)} WHERE note = ${cast("'alice'")}`,
    ],
    [
      'SELECT (SELECT session_user) FROM employees',
      `SELECT (SELECT ${cast("'alice'")} AS "session_user") AS "session_user" FROM ${E(1)}`,
    ],
  ])('%s', (sql, expected) => {
    expect(upstream(sql)).toEqual([expected]);
  });

  it('CURRENT_SCHEMA is the first visible schema of the search path, else NULL', () => {
    expect(upstream('SET search_path = nope, sales; SELECT current_schema')[1]).toBe(
      `SELECT ${cast("'sales'")} AS "current_schema"`,
    );
    expect(upstream('SET search_path = nope; SELECT current_schema')[1]).toBe(
      `SELECT ${cast('NULL')} AS "current_schema"`,
    );
  });

  it('the data source name is the catalog, not the upstream database', () => {
    const p = policySet([table('public', 't', [['id', 'int4']])], 'fp', 'demo_ecommerce');
    const r = rewriteSync('SELECT current_database(), current_user', p, session, { gate });
    expect(r.statements[0]!.rewrittenSql).toBe(
      `SELECT ${cast("'demo_ecommerce'")} AS current_database, ${cast("'alice'")} AS "current_user"`,
    );
  });

  it('still refused: system_user, the function forms of current_user (version() and current_schemas() are catalog functions)', () => {
    expect(failure('SELECT system_user')).toContain('42883');
    expect(failure('SELECT pg_catalog."current_user"()')).toContain('42883');
    expect(failure('SELECT current_database(1)')).toContain('42883');
  });
});

describe('the allowlist runs again on what goes upstream (V158)', () => {
  const masked = (mask: string) =>
    policySet([
      table(
        'public',
        't',
        [
          ['id', 'int4'],
          ['secret', 'text', mask],
        ],
        [filter('id > 0')],
      ),
    ]);
  it.each([
    "pg_read_file('/etc/passwd')",
    'version()',
    "current_setting('data_directory')",
    "query_to_xml('select 1', true, false, '')",
  ])('a policy mask calling %s fails closed without naming it', (mask) => {
    const err = (() => {
      try {
        rewriteSync('SELECT * FROM t', masked(mask), session, { gate });
      } catch (e) {
        return e as PgError;
      }
      return null;
    })();
    expect(err).toMatchObject({
      sqlstate: 'XX000',
      message: 'internal error: policy expression not allowed',
    });
  });

  it('a policy row filter is checked too', () => {
    const p = policySet([table('public', 't', [['id', 'int4']], [filter('pg_cancel_backend(1)')])]);
    expect(() => rewriteSync('SELECT 1 FROM t', p, session, { gate })).toThrow(
      'policy expression not allowed',
    );
  });

  it('a user call that a permissive gate let through is refused with its own error', async () => {
    await expect(
      rewrite("SELECT query_to_xml('x', true, false, '')", alicePolicy(), session, { gate: allowAll }),
    ).rejects.toMatchObject({
      sqlstate: '42883',
      message: 'function query_to_xml(unknown, boolean, boolean, unknown) does not exist',
      audit: 'denied',
    });
  });
});
