import type { Node, VariableSetStmt } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgError } from '../../src/sql/errors.js';
import {
  classifySet,
  defaultSettings,
  formatMs,
  isKnownParameter,
  quoteIdent,
  SessionSettings,
  splitIdentifiers,
  upstreamSetSql,
  validateSearchPath,
  type SetClassification,
} from '../../src/sql/settings.js';

beforeAll(async () => {
  await loadModule();
});

const setStmt = (sql: string): VariableSetStmt => {
  const stmt = parseSync(sql).stmts?.[0]?.stmt as Node;
  if (!('VariableSetStmt' in stmt)) throw new Error(`not a SET: ${sql}`);
  return stmt.VariableSetStmt;
};
const run = (sql: string, settings = new SessionSettings()) => classifySet(setStmt(sql), settings);
/** The single value a SET produces, or the error as { sqlstate, message }. */
const value = (sql: string, settings?: SessionSettings) => {
  const r = run(sql, settings);
  if (r instanceof PgError) return { sqlstate: r.sqlstate, message: r.message, ...r.extra };
  return r.kind === 'set' ? r.assignments.map((a) => a.value).join(' | ') : `reset ${r.name}`;
};

describe('SET of allowlisted parameters', () => {
  it.each([
    ["SET application_name = 'psql'", 'psql'],
    ["SET application_name = E'a\\nb\\u00e9'", 'a\\x0ab\\xc3\\xa9'],
    [`SET application_name = '${'x'.repeat(80)}'`, 'x'.repeat(63)],
    ["SET DateStyle = 'ISO, DMY'", 'ISO, DMY'],
    ['SET datestyle = iso, mdy', 'ISO, MDY'],
    ["SET DateStyle = 'SQL'", 'SQL, MDY'],
    ["SET DateStyle = 'euro'", 'ISO, DMY'],
    ['SET DateStyle = German', 'German, DMY'],
    ["SET IntervalStyle = 'iso_8601'", 'iso_8601'],
    ["SET TimeZone = 'Europe/Paris'", 'Europe/Paris'],
    ["SET TIME ZONE 'UTC'", 'UTC'],
    ['SET TIME ZONE -7', '<-07>+07'],
    ['SET TIME ZONE 5.5', '<+05:30>-05:30'],
    ['SET SESSION timezone TO DEFAULT', 'reset timezone'],
    ['SET TIME ZONE LOCAL', 'reset timezone'],
    ['SET extra_float_digits = 3', '3'],
    ['SET extra_float_digits = -15', '-15'],
    ['SET extra_float_digits = 1.5', '2'],
    ["SET client_encoding = 'UTF8'", 'UTF8'],
    ["SET NAMES 'utf-8'", 'UTF8'],
    ["SET client_encoding = 'unicode'", 'UTF8'],
    ["SET bytea_output = 'escape'", 'escape'],
    ['SET standard_conforming_strings = on', 'on'],
    ["SET client_min_messages TO 'warning'", 'warning'],
    ['SET xmloption = document', 'document'],
    ['SET XML OPTION CONTENT', 'content'],
    ['SET statement_timeout = 60000', '1min'],
    ["SET statement_timeout = '1.5s'", '1500ms'],
    ["SET statement_timeout = '2 min'", '2min'],
    ["SET lock_timeout = '10s'", '10s'],
    ["SET idle_in_transaction_session_timeout = '1min'", '1min'],
    ["SET search_path = a, 'B c', '$user'", 'a, "B c", "$user"'],
    ["SET SCHEMA 'reporting'", 'reporting'],
    ['SET default_transaction_isolation = serializable', 'serializable'],
    ['SET default_transaction_read_only = on', 'on'],
    ['SET default_transaction_deferrable = true', 'on'],
    ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'repeatable read'],
    ['SET TRANSACTION READ ONLY', 'on'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE', 'serializable | on | on'],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED', 'read committed'],
  ])('%s → %s', (sql, expected) => {
    expect(value(sql)).toEqual(expected);
  });

  it('keeps the LOCAL flag and names the lower-case key', () => {
    const r = run("SET LOCAL TimeZone = 'UTC'") as SetClassification;
    expect(r).toEqual({
      kind: 'set',
      isLocal: true,
      assignments: [{ name: 'timezone', value: 'UTC', upstream: true }],
    });
    expect((run('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE') as SetClassification).isLocal).toBe(true);
    expect(run('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY')).toMatchObject({
      isLocal: false,
      assignments: [{ name: 'default_transaction_read_only', value: 'on', upstream: false }],
    });
  });

  it('marks proxy-only parameters as not applied upstream', () => {
    for (const sql of [
      'SET search_path = a',
      "SET client_encoding = 'UTF8'",
      'SET standard_conforming_strings = on',
    ])
      expect((run(sql) as SetClassification).assignments[0]?.upstream, sql).toBe(false);
  });

  it('clamps timeouts to the configured cap (0 = "no timeout" included)', () => {
    for (const sql of ['SET statement_timeout = 0', "SET statement_timeout = '1h'"]) {
      expect((run(sql) as SetClassification).assignments[0]).toEqual({
        name: 'statement_timeout',
        value: '5min',
        upstream: true,
        clamped: true,
      });
    }
    expect(value('SET lock_timeout = 0')).toBe('1min');
    expect(value('SET idle_in_transaction_session_timeout = 0')).toBe('5min');
    const custom = classifySet(setStmt("SET statement_timeout = '30s'"), new SessionSettings(), {
      maxStatementTimeoutMs: 10_000,
      maxLockTimeoutMs: 1000,
      maxIdleInTransactionSessionTimeoutMs: 1000,
    }) as SetClassification;
    expect(custom.assignments[0]).toMatchObject({ value: '10s', clamped: true });
  });

  it('DateStyle keeps the unspecified half from the current value', () => {
    const s = new SessionSettings();
    s.apply(run("SET DateStyle = 'SQL, DMY'") as SetClassification);
    expect(value("SET DateStyle = 'ISO'", s)).toBe('ISO, DMY');
    expect(value('SET DateStyle = ymd', s)).toBe('SQL, YMD');
  });
});

describe('SET refusals and invalid values', () => {
  it.each([
    ['SET work_mem = $$64GB$$', '42501', 'permission denied to set parameter "work_mem"'],
    ['SET nosuch = 1', '42501', 'permission denied to set parameter "nosuch"'],
    ["SET app.tenant = 'acme'", '42501', 'permission denied to set parameter "app.tenant"'],
    ['SET jit = off', '42501', 'permission denied to set parameter "jit"'],
    ['SET enable_seqscan = off', '42501', 'permission denied to set parameter "enable_seqscan"'],
    ['SET debug_print_plan = on', '42501', 'permission denied to set parameter "debug_print_plan"'],
    [
      'SET auto_explain.log_min_duration = 0',
      '42501',
      'permission denied to set parameter "auto_explain.log_min_duration"',
    ],
    ['SET row_security = off', '42501', 'permission denied to set parameter "row_security"'],
    ['RESET work_mem', '42501', 'permission denied to set parameter "work_mem"'],
    ['SET ROLE postgres', '25006', 'cannot execute SET ROLE in a read-only transaction'],
    ['SET ROLE NONE', '25006', 'cannot execute SET ROLE in a read-only transaction'],
    ["SET role = 'postgres'", '25006', 'cannot execute SET ROLE in a read-only transaction'],
    [
      'SET SESSION AUTHORIZATION postgres',
      '25006',
      'cannot execute SET SESSION AUTHORIZATION in a read-only transaction',
    ],
    [
      'SET SESSION AUTHORIZATION DEFAULT',
      '25006',
      'cannot execute SET SESSION AUTHORIZATION in a read-only transaction',
    ],
    ['RESET ROLE', '25006', 'cannot execute RESET ROLE in a read-only transaction'],
    [
      'RESET SESSION AUTHORIZATION',
      '25006',
      'cannot execute RESET SESSION AUTHORIZATION in a read-only transaction',
    ],
    [
      "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
      '25006',
      'cannot execute SET TRANSACTION SNAPSHOT in a read-only transaction',
    ],
    [
      'SET TRANSACTION READ WRITE',
      '25006',
      'cannot set transaction read-write mode inside a read-only transaction',
    ],
    [
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
      '25006',
      'cannot set transaction read-write mode inside a read-only transaction',
    ],
    [
      'SET default_transaction_read_only = off',
      '25006',
      'cannot set transaction read-write mode inside a read-only transaction',
    ],
    [
      'SET transaction_read_only = false',
      '25006',
      'cannot set transaction read-write mode inside a read-only transaction',
    ],
    ["SET server_version = '1'", '55P02', 'parameter "server_version" cannot be changed'],
    ['SET is_superuser = on', '55P02', 'parameter "is_superuser" cannot be changed'],
    [
      'SET extra_float_digits = 5',
      '22023',
      '5 is outside the valid range for parameter "extra_float_digits" (-15 .. 3)',
    ],
    ["SET extra_float_digits = 'x'", '22023', 'invalid value for parameter "extra_float_digits": "x"'],
    ['SET extra_float_digits = 1, 2', '22023', 'SET extra_float_digits takes only one argument'],
    ["SET statement_timeout = 'abc'", '22023', 'invalid value for parameter "statement_timeout": "abc"'],
    [
      'SET statement_timeout = -5',
      '22023',
      '-5 ms is outside the valid range for parameter "statement_timeout" (0 ms .. 2147483647 ms)',
    ],
    ["SET IntervalStyle = 'x'", '22023', 'invalid value for parameter "IntervalStyle": "x"'],
    ["SET DateStyle = 'foo'", '22023', 'invalid value for parameter "DateStyle": "foo"'],
    ["SET DateStyle = 'ISO, SQL'", '22023', 'invalid value for parameter "DateStyle": "ISO, SQL"'],
    ["SET bytea_output = 'x'", '22023', 'invalid value for parameter "bytea_output": "x"'],
    ["SET client_encoding = 'SJIS'", '22023', 'invalid value for parameter "client_encoding": "SJIS"'],
    [
      'SET standard_conforming_strings = off',
      '22023',
      'invalid value for parameter "standard_conforming_strings": "off"',
    ],
    [
      'SET standard_conforming_strings = maybe',
      '22023',
      'parameter "standard_conforming_strings" requires a Boolean value',
    ],
    [
      'SET client_min_messages = debug5',
      '22023',
      'invalid value for parameter "client_min_messages": "debug5"',
    ],
    ["SET TimeZone = 'x; DROP'", '22023', 'invalid value for parameter "TimeZone": "x; DROP"'],
    [
      'SET search_path = pg_temp, public',
      '22023',
      'invalid value for parameter "search_path": "pg_temp, public"',
    ],
    ["SET search_path = 'pg_temp_3'", '22023', 'invalid value for parameter "search_path": "pg_temp_3"'],
    ['SET search_path = pg_toast', '22023', 'invalid value for parameter "search_path": "pg_toast"'],
    [
      "SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE",
      '0A000',
      'SET timezone with this value form is not supported',
    ],
  ])('%s → %s %s', (sql, sqlstate, message) => {
    expect(value(sql)).toMatchObject({ sqlstate, message });
  });

  it('adds PostgreSQL-style details and hints', () => {
    expect(value("SET DateStyle = 'foo'")).toMatchObject({ detail: 'Unrecognized key word: "foo".' });
    expect(value("SET DateStyle = 'ISO, SQL'")).toMatchObject({
      detail: 'Conflicting "DateStyle" specifications.',
    });
    expect(value("SET IntervalStyle = 'x'")).toMatchObject({
      hint: 'Available values: postgres, postgres_verbose, sql_standard, iso_8601.',
    });
    expect(value("SET statement_timeout = '1x'")).toMatchObject({
      hint: 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".',
    });
    expect(value("SET client_encoding = 'LATIN1'")).toMatchObject({ hint: 'Rowgate supports only UTF8.' });
  });

  it('RESET and SET … TO DEFAULT of allowed parameters', () => {
    expect(run('RESET ALL')).toEqual({ kind: 'reset', name: 'all', isLocal: false });
    expect(run('RESET TimeZone')).toEqual({ kind: 'reset', name: 'timezone', isLocal: false });
    expect(run('SET LOCAL statement_timeout TO DEFAULT')).toEqual({
      kind: 'reset',
      name: 'statement_timeout',
      isLocal: true,
    });
    expect(value('RESET server_version')).toMatchObject({ sqlstate: '55P02' });
  });
});

describe('validateSearchPath', () => {
  it('keeps names as written for SHOW and only visible schemas for resolution', () => {
    expect(
      validateSearchPath(['sales', 'hidden', 'Mixed Case', 'public'], ['sales', 'public', 'Mixed Case']),
    ).toEqual({
      value: 'sales, hidden, "Mixed Case", public',
      schemas: ['sales', 'hidden', 'Mixed Case', 'public'],
      effective: ['sales', 'Mixed Case', 'public'],
    });
  });
  it('keeps pg_catalog / information_schema and resolves $user to a visible schema named like the user', () => {
    expect(validateSearchPath(['$user', 'pg_catalog', 'x'], ['alice', 'x'], 'alice')).toMatchObject({
      effective: ['alice', 'pg_catalog', 'x'],
    });
    expect(validateSearchPath(['$user', 'information_schema'], ['x'], 'bob')).toMatchObject({
      effective: ['information_schema'],
    });
  });
  it('refuses temporary and TOAST schemas', () => {
    const e = validateSearchPath(['public', 'pg_temp']) as PgError;
    expect([e.sqlstate, e.message, e.extra.detail]).toEqual([
      '22023',
      'invalid value for parameter "search_path": "public, pg_temp"',
      'Temporary and TOAST schemas cannot be used in search_path.',
    ]);
    expect(validateSearchPath(['PG_TOAST_TEMP_1'])).toBeInstanceOf(PgError);
  });
  it('treats each value as one exact name, like PostgreSQL (a comma inside a string is part of the name)', () => {
    expect(validateSearchPath(['a,b', 'c'], ['a', 'b', 'c'])).toEqual({
      value: '"a,b", c',
      schemas: ['a,b', 'c'],
      effective: ['c'],
    });
  });
  it('splits a stored value back into names', () => {
    expect(splitIdentifiers('"$user", public, "B c", "a,b", "q""x"')).toEqual([
      '$user',
      'public',
      'B c',
      'a,b',
      'q"x',
    ]);
    expect(splitIdentifiers('')).toEqual([]);
  });
});

describe('SessionSettings', () => {
  it('answers SHOW from proxy-owned values, never the upstream', () => {
    const s = new SessionSettings(defaultSettings({ serverVersion: '16.4', userName: 'alice' }));
    expect(s.show('server_version')).toEqual({ name: 'server_version', value: '16.4' });
    expect(s.show('server_version_num')).toEqual({ name: 'server_version_num', value: '160004' });
    expect(s.show('SESSION_AUTHORIZATION')).toEqual({ name: 'session_authorization', value: 'alice' });
    expect(s.show('timezone')).toEqual({ name: 'TimeZone', value: 'UTC' });
    expect(s.show('transaction_isolation')).toEqual({
      name: 'transaction_isolation',
      value: 'read committed',
    });
    expect(s.show('statement_timeout')).toEqual({ name: 'statement_timeout', value: '5min' });
    expect(s.show('search_path')).toEqual({ name: 'search_path', value: '"$user", public' });
    expect(s.show('is_superuser')).toEqual({ name: 'is_superuser', value: 'off' });
    const denied = s.show('data_directory') as PgError;
    expect([denied.sqlstate, denied.message]).toEqual([
      '42501',
      'permission denied to examine "data_directory"',
    ]);
  });

  it('SHOW ALL lists only the allowlisted parameters', () => {
    const rows = new SessionSettings().showAll();
    expect(rows.map((r) => r.name)).toContain('DateStyle');
    expect(rows.map((r) => r.name)).not.toContain('data_directory');
    expect(rows.every((r) => isKnownParameter(r.name) && r.description.length > 0)).toBe(true);
    expect(rows.length).toBe(27);
  });

  it('applies SET and RESET, and reverts LOCAL values and rolled-back changes', () => {
    const s = new SessionSettings();
    s.apply(run("SET TimeZone = 'Europe/Paris'") as SetClassification);
    s.beginTransaction();
    s.apply(run("SET LOCAL DateStyle = 'SQL, DMY'") as SetClassification);
    s.apply(run('SET extra_float_digits = 3') as SetClassification);
    expect(s.get('DateStyle')).toBe('SQL, DMY');
    s.endTransaction(false);
    expect([s.get('datestyle'), s.get('extra_float_digits'), s.get('timezone')]).toEqual([
      'ISO, MDY',
      '1',
      'Europe/Paris',
    ]);
    s.beginTransaction();
    s.apply(run('SET extra_float_digits = 3') as SetClassification);
    s.endTransaction(true);
    expect(s.get('extra_float_digits')).toBe('3');
    s.apply({ kind: 'reset', name: 'timezone', isLocal: false });
    expect(s.get('timezone')).toBe('UTC');
    s.apply(run('SET search_path = a, b') as SetClassification);
    expect(s.searchPath()).toEqual(['a', 'b']);
    s.apply({ kind: 'reset', name: 'all', isLocal: false });
    expect([s.get('extra_float_digits'), s.searchPath()]).toEqual(['1', ['$user', 'public']]);
  });
});

describe('helpers', () => {
  it('formats milliseconds like PostgreSQL', () => {
    expect([0, 1500, 60_000, 300_000, 3_600_000, 86_400_000, 1001].map(formatMs)).toEqual([
      '0',
      '1500ms',
      '1min',
      '5min',
      '1h',
      '1d',
      '1001ms',
    ]);
  });
  it('quotes identifiers and builds upstream SET statements', () => {
    expect([quoteIdent('public'), quoteIdent('B c'), quoteIdent('a"b'), quoteIdent('$user')]).toEqual([
      'public',
      '"B c"',
      '"a""b"',
      '"$user"',
    ]);
    expect(upstreamSetSql({ name: 'application_name', value: "it's", upstream: true }, false)).toBe(
      "SET application_name TO 'it''s'",
    );
    expect(upstreamSetSql({ name: 'timezone', value: 'UTC', upstream: true }, true)).toBe(
      "SET LOCAL timezone TO 'UTC'",
    );
  });
});
