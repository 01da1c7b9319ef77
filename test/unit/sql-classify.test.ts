import type { Node } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Classification,
  classifyStatement,
  type ClassifyOptions,
  commandTag,
  transactionSql,
  type TransactionClassification,
} from '../../src/sql/classify.js';
import { explainPrefix } from '../../src/sql/explain.js';

beforeAll(async () => {
  await loadModule();
});

const stmt = (sql: string): Node => parseSync(sql).stmts?.[0]?.stmt as Node;
const classify = (sql: string, options?: ClassifyOptions): Classification =>
  classifyStatement(stmt(sql), options);
const refusal = (sql: string, options?: ClassifyOptions) => {
  const c = classify(sql, options);
  if (c.kind !== 'refused') return { kind: c.kind };
  return { sqlstate: c.error.sqlstate, message: c.error.message, audit: c.audit };
};
const readOnly = (tag: string) => ({
  sqlstate: '25006',
  message: `cannot execute ${tag} in a read-only transaction`,
  audit: 'denied',
});

describe('admitted queries', () => {
  it.each([
    'SELECT 1',
    'SELECT * FROM t WHERE a = $1',
    'VALUES (1), (2)',
    'TABLE t',
    'WITH c AS (SELECT 1) SELECT * FROM c',
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r',
    'SELECT 1 UNION SELECT 2 INTERSECT SELECT 3',
    '(SELECT 1) ORDER BY 1 LIMIT 1',
  ])('%s → query (the SelectStmt inside the tree)', (sql) => {
    const node = stmt(sql) as { SelectStmt: object };
    const c = classifyStatement(node);
    expect(c.kind).toBe('query');
    expect(c.commandTag).toBe('SELECT');
    if (c.kind === 'query') expect(c.query).toBe(node.SelectStmt);
  });
});

describe('read-only refusals inside SELECT', () => {
  it.each([
    ['SELECT 1 INTO newtab', 'SELECT INTO'],
    ['SELECT * INTO TEMP newtab FROM t', 'SELECT INTO'],
    ['SELECT * FROM t FOR UPDATE', 'SELECT FOR UPDATE'],
    ['SELECT * FROM t FOR NO KEY UPDATE', 'SELECT FOR NO KEY UPDATE'],
    ['SELECT * FROM t o FOR SHARE OF o NOWAIT', 'SELECT FOR SHARE'],
    ['SELECT * FROM t FOR KEY SHARE', 'SELECT FOR KEY SHARE'],
    ['SELECT * FROM t FOR UPDATE SKIP LOCKED', 'SELECT FOR UPDATE'],
    ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', 'SELECT FOR UPDATE'],
    ['WITH c AS (SELECT * FROM t FOR SHARE) SELECT * FROM c', 'SELECT FOR SHARE'],
    ['SELECT 1 UNION SELECT 2 FOR UPDATE', 'SELECT FOR UPDATE'],
    ['SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u FOR KEY SHARE)', 'SELECT FOR KEY SHARE'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'DELETE'],
    ['WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT 1', 'INSERT'],
    ['WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT 1', 'UPDATE'],
    ['WITH m AS (MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1', 'MERGE'],
    ['WITH a AS (SELECT 1), d AS (DELETE FROM t RETURNING *) SELECT * FROM a', 'DELETE'],
  ])('%s → 25006 %s', (sql, tag) => {
    expect(refusal(sql)).toEqual(readOnly(tag));
  });
});

describe('writes and utility statements → 25006 with the PostgreSQL command tag', () => {
  it.each([
    ['INSERT INTO t VALUES (1)', 'INSERT'],
    ['UPDATE t SET a = 1', 'UPDATE'],
    ['DELETE FROM t', 'DELETE'],
    ['MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE', 'MERGE'],
    ['CREATE TABLE x (a int)', 'CREATE TABLE'],
    ['CREATE TEMP TABLE x AS SELECT 1', 'CREATE TABLE AS'],
    ['CREATE MATERIALIZED VIEW v AS SELECT 1', 'CREATE MATERIALIZED VIEW'],
    ['CREATE TEMP VIEW v AS SELECT * FROM payroll', 'CREATE VIEW'],
    ['CREATE TABLE x AS EXECUTE p', 'CREATE TABLE AS'],
    ['CREATE SCHEMA s', 'CREATE SCHEMA'],
    ['CREATE INDEX ON t (a)', 'CREATE INDEX'],
    ["CREATE FUNCTION f() RETURNS SETOF payroll LANGUAGE sql AS 'SELECT * FROM payroll'", 'CREATE FUNCTION'],
    ["CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'", 'CREATE PROCEDURE'],
    ['CREATE EXTENSION dblink', 'CREATE EXTENSION'],
    ['CREATE ROLE r', 'CREATE ROLE'],
    ['CREATE TYPE ty AS (a int)', 'CREATE TYPE'],
    ['CREATE AGGREGATE ag (int) (sfunc = int4pl, stype = int)', 'CREATE AGGREGATE'],
    ['CREATE FOREIGN TABLE f (a int) SERVER s', 'CREATE FOREIGN TABLE'],
    ['CREATE SERVER s FOREIGN DATA WRAPPER w', 'CREATE SERVER'],
    ['CREATE PUBLICATION p', 'CREATE PUBLICATION'],
    ['ALTER TABLE t ADD COLUMN c int', 'ALTER TABLE'],
    ['ALTER TABLE t RENAME a TO b', 'ALTER TABLE'],
    ['ALTER INDEX i RENAME TO j', 'ALTER INDEX'],
    ['ALTER VIEW v OWNER TO x', 'ALTER VIEW'],
    ['ALTER FUNCTION f() STABLE', 'ALTER FUNCTION'],
    ['ALTER ROLE r NOLOGIN', 'ALTER ROLE'],
    ['ALTER SYSTEM SET work_mem = 1', 'ALTER SYSTEM'],
    ["ALTER DATABASE d SET search_path = 'x'", 'ALTER DATABASE'],
    ['DROP TABLE t', 'DROP TABLE'],
    ['DROP VIEW v', 'DROP VIEW'],
    ['DROP INDEX i', 'DROP INDEX'],
    ['DROP SCHEMA s CASCADE', 'DROP SCHEMA'],
    ['DROP FUNCTION f()', 'DROP FUNCTION'],
    ['DROP ROLE r', 'DROP ROLE'],
    ['DROP DATABASE d', 'DROP DATABASE'],
    ['DROP OWNED BY x', 'DROP OWNED'],
    ['TRUNCATE t', 'TRUNCATE TABLE'],
    ['GRANT SELECT ON t TO public', 'GRANT'],
    ['REVOKE SELECT ON t FROM public', 'REVOKE'],
    ['GRANT r TO s', 'GRANT ROLE'],
    ['VACUUM', 'VACUUM'],
    ['VACUUM FULL t', 'VACUUM'],
    ['ANALYZE t', 'ANALYZE'],
    ['CLUSTER t USING i', 'CLUSTER'],
    ['REINDEX TABLE t', 'REINDEX'],
    ['LOCK TABLE t IN ACCESS SHARE MODE', 'LOCK TABLE'],
    ["DO $$ BEGIN RAISE NOTICE '%', 1; END $$", 'DO'],
    ['CALL public.archive_orders()', 'CALL'],
    ["LOAD 'auto_explain'", 'LOAD'],
    ['CHECKPOINT', 'CHECKPOINT'],
    ['REFRESH MATERIALIZED VIEW v', 'REFRESH MATERIALIZED VIEW'],
    ["SECURITY LABEL ON TABLE t IS 'x'", 'SECURITY LABEL'],
    ["COMMENT ON TABLE t IS 'x'", 'COMMENT'],
    ['IMPORT FOREIGN SCHEMA a FROM SERVER s INTO b', 'IMPORT FOREIGN SCHEMA'],
    ['SET CONSTRAINTS ALL DEFERRED', 'SET CONSTRAINTS'],
    ['REASSIGN OWNED BY x TO y', 'REASSIGN OWNED'],
    ['LISTEN orders_changed', 'LISTEN'],
    ['UNLISTEN *', 'UNLISTEN'],
    ["NOTIFY rowgate_invalidate, 'x'", 'NOTIFY'],
    ["PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
    ["COMMIT PREPARED 'x'", 'COMMIT PREPARED'],
    ["ROLLBACK PREPARED 'x'", 'ROLLBACK PREPARED'],
    ['SET ROLE admin', 'SET ROLE'],
    ['SET SESSION AUTHORIZATION postgres', 'SET SESSION AUTHORIZATION'],
    ['RESET ROLE', 'RESET ROLE'],
    ["SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", 'SET TRANSACTION SNAPSHOT'],
  ])('%s → cannot execute %s', (sql, tag) => {
    expect(refusal(sql)).toEqual(readOnly(tag));
  });

  it('reports the command tag for the audit', () => {
    expect(classify('DROP TABLE t').commandTag).toBe('DROP TABLE');
    expect(classify('SELECT 1 INTO x').commandTag).toBe('SELECT INTO');
  });
});

describe('every statement node type of libpg-query 18 is mapped', () => {
  // All `*Stmt` members of @pgsql/types' Node union.
  const TYPES = `InsertStmt DeleteStmt UpdateStmt MergeStmt SelectStmt CreateSchemaStmt AlterTableStmt
    AlterCollationStmt AlterDomainStmt GrantStmt GrantRoleStmt AlterDefaultPrivilegesStmt CopyStmt VariableSetStmt
    VariableShowStmt CreateStmt CreateTableSpaceStmt DropTableSpaceStmt AlterTableSpaceOptionsStmt AlterTableMoveAllStmt
    CreateExtensionStmt AlterExtensionStmt AlterExtensionContentsStmt CreateFdwStmt AlterFdwStmt CreateForeignServerStmt
    AlterForeignServerStmt CreateForeignTableStmt CreateUserMappingStmt AlterUserMappingStmt DropUserMappingStmt
    ImportForeignSchemaStmt CreatePolicyStmt AlterPolicyStmt CreateAmStmt CreateTrigStmt CreateEventTrigStmt
    AlterEventTrigStmt CreatePLangStmt CreateRoleStmt AlterRoleStmt AlterRoleSetStmt DropRoleStmt CreateSeqStmt
    AlterSeqStmt DefineStmt CreateDomainStmt CreateOpClassStmt CreateOpFamilyStmt AlterOpFamilyStmt DropStmt
    TruncateStmt CommentStmt SecLabelStmt DeclareCursorStmt ClosePortalStmt FetchStmt IndexStmt CreateStatsStmt
    AlterStatsStmt CreateFunctionStmt AlterFunctionStmt DoStmt CallStmt RenameStmt AlterObjectDependsStmt
    AlterObjectSchemaStmt AlterOwnerStmt AlterOperatorStmt AlterTypeStmt RuleStmt NotifyStmt ListenStmt UnlistenStmt
    TransactionStmt CompositeTypeStmt CreateEnumStmt CreateRangeStmt AlterEnumStmt ViewStmt LoadStmt CreatedbStmt
    AlterDatabaseStmt AlterDatabaseRefreshCollStmt AlterDatabaseSetStmt DropdbStmt AlterSystemStmt ClusterStmt
    VacuumStmt ExplainStmt CreateTableAsStmt RefreshMatViewStmt CheckPointStmt DiscardStmt LockStmt ConstraintsSetStmt
    ReindexStmt CreateConversionStmt CreateCastStmt CreateTransformStmt PrepareStmt ExecuteStmt DeallocateStmt
    DropOwnedStmt ReassignOwnedStmt AlterTSDictionaryStmt AlterTSConfigurationStmt CreatePublicationStmt
    AlterPublicationStmt CreateSubscriptionStmt AlterSubscriptionStmt DropSubscriptionStmt`.split(/\s+/);
  // Field-dependent tags get a representative body.
  const BODIES: Record<string, object> = {
    AlterTableStmt: { objtype: 'OBJECT_TABLE' },
    AlterTableMoveAllStmt: { objtype: 'OBJECT_TABLE' },
    DropStmt: { removeType: 'OBJECT_TABLE' },
    DefineStmt: { kind: 'OBJECT_AGGREGATE' },
    RenameStmt: { renameType: 'OBJECT_TABLE' },
    AlterObjectDependsStmt: { objectType: 'OBJECT_FUNCTION' },
    AlterObjectSchemaStmt: { objectType: 'OBJECT_TABLE' },
    AlterOwnerStmt: { objectType: 'OBJECT_TABLE' },
    AlterFunctionStmt: { objtype: 'OBJECT_FUNCTION' },
    TransactionStmt: { kind: 'TRANS_STMT_PREPARE' },
    DiscardStmt: { target: 'DISCARD_ALL' },
  };

  it.each(TYPES)('%s has a command tag and never classifies by accident', (type) => {
    const node = { [type]: BODIES[type] ?? {} } as Node;
    expect(commandTag(node)).not.toBe('???');
    const c = classifyStatement(node);
    const admitted = ['SelectStmt', 'VariableShowStmt', 'FetchStmt', 'ClosePortalStmt', 'ExecuteStmt'];
    admitted.push('DeallocateStmt', 'DiscardStmt', 'VariableSetStmt');
    if (!admitted.includes(type)) expect(c.kind, type).toBe('refused');
  });

  it('refuses unknown node types (fail closed)', () => {
    const c = classifyStatement({ FutureStmt: {} } as unknown as Node);
    expect(c).toMatchObject({ kind: 'refused', commandTag: '???', audit: 'denied' });
    if (c.kind === 'refused') expect(c.error.message).toBe('cannot execute ??? in a read-only transaction');
    expect(classifyStatement({ ReturnStmt: {} } as Node).kind).toBe('refused');
  });

  it('never throws: malformed trees become an internal error', () => {
    const c = classifyStatement(null as unknown as Node);
    expect(c).toMatchObject({ kind: 'refused' });
  });
});

describe('transaction control (forced READ ONLY)', () => {
  it.each([
    ['BEGIN', 'BEGIN READ ONLY', 'BEGIN'],
    ['BEGIN READ ONLY', 'BEGIN READ ONLY', 'BEGIN'],
    ['START TRANSACTION', 'BEGIN READ ONLY', 'START TRANSACTION'],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'BEGIN READ ONLY ISOLATION LEVEL SERIALIZABLE', 'BEGIN'],
    [
      'START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY, NOT DEFERRABLE',
      'BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ NOT DEFERRABLE',
      'START TRANSACTION',
    ],
    [
      'BEGIN ISOLATION LEVEL SERIALIZABLE DEFERRABLE',
      'BEGIN READ ONLY ISOLATION LEVEL SERIALIZABLE DEFERRABLE',
      'BEGIN',
    ],
    ['COMMIT', 'COMMIT', 'COMMIT'],
    ['END', 'COMMIT', 'COMMIT'],
    ['COMMIT AND CHAIN', 'COMMIT AND CHAIN', 'COMMIT'],
    ['ROLLBACK', 'ROLLBACK', 'ROLLBACK'],
    ['ABORT', 'ROLLBACK', 'ROLLBACK'],
    ['ROLLBACK AND CHAIN', 'ROLLBACK AND CHAIN', 'ROLLBACK'],
    ['SAVEPOINT a', 'SAVEPOINT a', 'SAVEPOINT'],
    ['SAVEPOINT "Mixed ""q"""', 'SAVEPOINT "Mixed ""q"""', 'SAVEPOINT'],
    ['RELEASE SAVEPOINT a', 'RELEASE SAVEPOINT a', 'RELEASE'],
    ['RELEASE a', 'RELEASE SAVEPOINT a', 'RELEASE'],
    ['ROLLBACK TO SAVEPOINT a', 'ROLLBACK TO SAVEPOINT a', 'ROLLBACK'],
    ['ROLLBACK TO a', 'ROLLBACK TO SAVEPOINT a', 'ROLLBACK'],
  ])('%s → upstream %s', (sql, upstream, tag) => {
    const c = classify(sql);
    expect(c.kind).toBe('transaction');
    expect(c.commandTag).toBe(tag);
    expect(transactionSql(c as TransactionClassification)).toBe(upstream);
  });

  it.each(['BEGIN READ WRITE', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE'])(
    '%s → 25006 read-write refused',
    (sql) => {
      expect(refusal(sql)).toEqual({
        sqlstate: '25006',
        message: 'cannot set transaction read-write mode inside a read-only transaction',
        audit: 'denied',
      });
    },
  );
});

describe('cursors, PREPARE, DISCARD', () => {
  it('DECLARE over an admitted query (WITH HOLD allowed)', () => {
    const node = stmt('DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT * FROM customers') as {
      DeclareCursorStmt: { query: { SelectStmt: object } };
    };
    const c = classifyStatement(node);
    expect(c).toMatchObject({ kind: 'cursor', action: 'declare', name: 'c', hold: true, scroll: true });
    if (c.kind === 'cursor' && c.action === 'declare')
      expect(c.query).toBe(node.DeclareCursorStmt.query.SelectStmt);
    expect(classify('DECLARE c CURSOR FOR SELECT 1')).toMatchObject({ hold: false, scroll: false });
  });

  it('refuses DECLARE … FOR UPDATE and binary cursors', () => {
    expect(refusal('DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE')).toEqual(readOnly('SELECT FOR UPDATE'));
    expect(refusal('DECLARE c BINARY CURSOR FOR SELECT 1')).toEqual({
      sqlstate: '0A000',
      message: 'binary cursors are not supported',
      audit: 'denied',
    });
  });

  it.each([
    ['FETCH 10 FROM c', { kind: 'cursor', action: 'fetch', name: 'c', commandTag: 'FETCH' }],
    ['FETCH BACKWARD ALL c', { kind: 'cursor', action: 'fetch', name: 'c' }],
    ['MOVE c', { kind: 'cursor', action: 'move', name: 'c', commandTag: 'MOVE' }],
    ['CLOSE c', { kind: 'cursor', action: 'close', name: 'c', commandTag: 'CLOSE CURSOR' }],
    ['CLOSE ALL', { kind: 'cursor', action: 'close', name: null, commandTag: 'CLOSE CURSOR ALL' }],
    ['EXECUTE p(1)', { kind: 'execute', name: 'p', commandTag: 'EXECUTE' }],
    ['DEALLOCATE p', { kind: 'deallocate', name: 'p', commandTag: 'DEALLOCATE' }],
    ['DEALLOCATE PREPARE p', { kind: 'deallocate', name: 'p' }],
    ['DEALLOCATE ALL', { kind: 'deallocate', name: null, commandTag: 'DEALLOCATE ALL' }],
    ['DISCARD ALL', { kind: 'discard', target: 'all', commandTag: 'DISCARD ALL' }],
    ['DISCARD PLANS', { kind: 'discard', target: 'plans' }],
    ['DISCARD SEQUENCES', { kind: 'discard', target: 'sequences' }],
    ['DISCARD TEMP', { kind: 'discard', target: 'temp', commandTag: 'DISCARD TEMP' }],
  ])('%s', (sql, expected) => {
    expect(classify(sql)).toMatchObject(expected);
  });

  it('PREPARE of an admitted query, with its parameter types', () => {
    const c = classify('PREPARE p(int, text) AS SELECT * FROM orders WHERE id > $1 AND s = $2');
    expect(c).toMatchObject({ kind: 'prepare', name: 'p', commandTag: 'PREPARE' });
    if (c.kind === 'prepare') expect(c.argTypes).toHaveLength(2);
  });

  it.each([
    ['PREPARE q AS DELETE FROM t', 'DELETE'],
    ['PREPARE q AS INSERT INTO t VALUES ($1)', 'INSERT'],
    ['PREPARE q AS UPDATE t SET a = $1', 'UPDATE'],
    ['PREPARE q AS SELECT 1 INTO x', 'SELECT INTO'],
    ['PREPARE q AS SELECT * FROM t FOR UPDATE', 'SELECT FOR UPDATE'],
  ])('%s → 25006 %s', (sql, tag) => {
    expect(refusal(sql)).toEqual(readOnly(tag));
  });

  it('checks PREPARE parameter types and EXECUTE arguments against the allowlist', () => {
    expect(refusal('PREPARE p(regclass) AS SELECT $1')).toMatchObject({ sqlstate: '42704' });
    expect(refusal('EXECUTE p(pg_cancel_backend(1))')).toMatchObject({ sqlstate: '42883' });
  });
});

describe('COPY', () => {
  it('COPY (query) TO STDOUT → copy-out of that query', () => {
    const node = stmt('COPY (SELECT * FROM customers) TO STDOUT WITH (FORMAT binary)') as {
      CopyStmt: { query: { SelectStmt: object } };
    };
    const c = classifyStatement(node);
    expect(c).toMatchObject({ kind: 'copy-out', commandTag: 'COPY' });
    if (c.kind === 'copy-out') {
      expect(c.query).toBe(node.CopyStmt.query.SelectStmt);
      expect(c.options).toHaveLength(1);
    }
  });

  it('COPY table [(cols)] TO STDOUT → SELECT cols|* FROM table, with the RangeVar', () => {
    const whole = classify('COPY customers TO STDOUT');
    expect(whole).toMatchObject({ kind: 'copy-out', relation: { relname: 'customers' } });
    if (whole.kind === 'copy-out') {
      expect(whole.query.targetList).toEqual([
        { ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }], location: -1 } }, location: -1 } },
      ]);
      expect(whole.query.fromClause).toEqual([{ RangeVar: whole.relation }]);
    }
    const cols = classify('COPY s.customers (id, "Name") TO STDOUT (FORMAT csv, HEADER)');
    if (cols.kind !== 'copy-out') throw new Error('expected copy-out');
    expect(cols.relation).toMatchObject({ schemaname: 's', relname: 'customers' });
    expect(cols.query.targetList?.map((t) => JSON.stringify(t))).toEqual([
      JSON.stringify({
        ResTarget: {
          val: { ColumnRef: { fields: [{ String: { sval: 'id' } }], location: -1 } },
          location: -1,
        },
      }),
      JSON.stringify({
        ResTarget: {
          val: { ColumnRef: { fields: [{ String: { sval: 'Name' } }], location: -1 } },
          location: -1,
        },
      }),
    ]);
    expect(cols.options).toHaveLength(2);
  });

  const hint = "Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.";
  it.each([
    ["COPY t TO '/tmp/x'", 'permission denied to COPY to a file'],
    ["COPY (SELECT 1) TO '/tmp/x'", 'permission denied to COPY to a file'],
    ["COPY t FROM '/etc/passwd'", 'permission denied to COPY from a file'],
    ["COPY t TO PROGRAM 'curl x'", 'permission denied to COPY to or from an external program'],
    ["COPY t FROM PROGRAM 'id'", 'permission denied to COPY to or from an external program'],
  ])('%s → 42501 %s', (sql, message) => {
    const c = classify(sql);
    expect(c).toMatchObject({ kind: 'refused', error: { sqlstate: '42501', message } });
    if (c.kind === 'refused') expect(c.error.extra.hint).toBe(hint);
  });

  it.each([
    ['COPY t FROM STDIN', 'COPY FROM'],
    ['COPY (DELETE FROM t RETURNING *) TO STDOUT', 'DELETE'],
    ['COPY (SELECT * FROM t FOR UPDATE) TO STDOUT', 'SELECT FOR UPDATE'],
  ])('%s → 25006 %s', (sql, tag) => {
    expect(refusal(sql)).toEqual(readOnly(tag));
  });

  it('checks functions in the COPY query', () => {
    expect(refusal("COPY (SELECT pg_read_file('x')) TO STDOUT")).toMatchObject({ sqlstate: '42883' });
  });
});

describe('SHOW and SET', () => {
  it('SHOW of allowlisted names, SHOW ALL, refusal otherwise', () => {
    expect(classify('SHOW TimeZone')).toEqual({ kind: 'show', commandTag: 'SHOW', name: 'timezone' });
    expect(classify('SHOW TRANSACTION ISOLATION LEVEL')).toMatchObject({ name: 'transaction_isolation' });
    expect(classify('SHOW ALL')).toMatchObject({ kind: 'show', name: 'all' });
    expect(refusal('SHOW data_directory')).toEqual({
      sqlstate: '42501',
      message: 'permission denied to examine "data_directory"',
      audit: 'denied',
    });
  });

  it('SET/RESET go through settings.ts', () => {
    expect(classify("SET application_name = 'x'")).toMatchObject({ kind: 'set', commandTag: 'SET' });
    expect(classify('RESET ALL')).toMatchObject({ kind: 'reset', name: 'all', commandTag: 'RESET' });
    expect(refusal('SET work_mem = 1')).toMatchObject({ sqlstate: '42501', audit: 'denied' });
    expect(refusal('SET extra_float_digits = 9')).toMatchObject({ sqlstate: '22023', audit: 'error' });
  });
});

describe('EXPLAIN', () => {
  const disabled = {
    sqlstate: '42501',
    message: 'permission denied: EXPLAIN is disabled for this data source',
    audit: 'denied',
  };
  it.each([
    'EXPLAIN SELECT * FROM orders',
    'EXPLAIN SELECT * FROM payroll_that_is_hidden',
    'EXPLAIN SELECT * FROM nosuch',
    'EXPLAIN ANALYZE DELETE FROM orders',
    'EXPLAIN (VERBOSE, FORMAT JSON) SELECT 1',
    'EXPLAIN EXECUTE p',
  ])('disabled by default: %s → one uniform error', (sql) => {
    expect(refusal(sql)).toEqual(disabled);
  });

  const enabled = { explain: { enabled: true } };
  it('when enabled, admits EXPLAIN [(FORMAT TEXT|JSON, COSTS)] SELECT', () => {
    expect(classify('EXPLAIN SELECT 1', enabled)).toMatchObject({
      kind: 'explain',
      commandTag: 'EXPLAIN',
      options: { format: 'text', costs: true },
    });
    const c = classify('EXPLAIN (FORMAT JSON, COSTS OFF, ANALYZE false, VERBOSE off) SELECT 1', enabled);
    expect(c).toMatchObject({ kind: 'explain', options: { format: 'json', costs: false } });
    if (c.kind === 'explain') expect(explainPrefix(c.options)).toBe('EXPLAIN (FORMAT JSON, COSTS OFF) ');
  });

  it.each([
    ['EXPLAIN ANALYZE SELECT 1', 'analyze'],
    ['EXPLAIN VERBOSE SELECT 1', 'verbose'],
    ['EXPLAIN (BUFFERS) SELECT 1', 'buffers'],
    ['EXPLAIN (SETTINGS on) SELECT 1', 'settings'],
    ['EXPLAIN (GENERIC_PLAN) SELECT $1', 'generic_plan'],
    ['EXPLAIN (FORMAT XML) SELECT 1', 'format xml'],
    ['EXPLAIN (WAL, ANALYZE) SELECT 1', 'wal'],
  ])('when enabled, refuses %s', (sql, option) => {
    expect(refusal(sql, enabled)).toEqual({
      sqlstate: '42501',
      message: `permission denied: EXPLAIN option "${option}" is not allowed for this data source`,
      audit: 'denied',
    });
  });

  it('when enabled, the inner statement follows the query rules', () => {
    expect(refusal('EXPLAIN DELETE FROM t', enabled)).toEqual(readOnly('DELETE'));
    expect(refusal('EXPLAIN SELECT * FROM t FOR UPDATE', enabled)).toEqual(readOnly('SELECT FOR UPDATE'));
    expect(refusal('EXPLAIN CREATE TABLE x AS SELECT 1', enabled)).toEqual(readOnly('CREATE TABLE AS'));
    expect(refusal('EXPLAIN EXECUTE p', enabled)).toEqual(readOnly('EXECUTE'));
    expect(refusal("EXPLAIN SELECT pg_read_file('x')", enabled)).toMatchObject({ sqlstate: '42883' });
  });
});

describe('function checks during classification', () => {
  it('run by default and can be switched off for a caller that runs them itself', () => {
    expect(refusal('SELECT pg_sleep(1)')).toMatchObject({ sqlstate: '42883', audit: 'denied' });
    expect(classify('SELECT pg_sleep(1)', { checkCalls: false }).kind).toBe('query');
  });

  it('passes the visible-type hook through', () => {
    expect(refusal("SELECT 'happy'::mood")).toMatchObject({ sqlstate: '42704' });
    const functions = { isVisibleType: (_s: string | undefined, n: string) => n === 'mood' };
    expect(classify("SELECT 'happy'::mood", { functions }).kind).toBe('query');
  });

  it('handles very deep trees without recursion', () => {
    let where: Node = { A_Const: { ival: { ival: 1 } } };
    for (let i = 0; i < 50_000; i++) where = { BoolExpr: { boolop: 'NOT_EXPR', args: [where] } };
    const deep = { SelectStmt: { whereClause: where, lockingClause: [] } } as Node;
    expect(classifyStatement(deep).kind).toBe('query');
  });
});
