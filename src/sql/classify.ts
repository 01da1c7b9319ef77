/**
 * Statement classifier: "only reads reach the upstream" (design §2, threat
 * model V24, V134–V144). Decides from the AST — not from the top node type
 * alone — what the rewriter does with one statement.
 *
 * API:
 *   classifyStatement(stmt: Node, options?: ClassifyOptions): Classification
 *       `stmt` is a RawStmt.stmt. Never throws. Refusals come back as
 *       `{ kind: 'refused', error, commandTag, audit }`; nothing of a refused
 *       statement may be sent upstream. Every `query` returned is the SelectStmt
 *       object inside `stmt` (same reference), ready to be rewritten in place.
 *   transactionSql(c: TransactionClassification): string
 *       What to send upstream for transaction control: BEGIN is always
 *       `BEGIN READ ONLY[ ISOLATION LEVEL …][ [NOT] DEFERRABLE]`.
 *   commandTag(stmt: Node): string — PostgreSQL's command tag (CreateCommandTag).
 *
 * Decisions (exact texts are in the unit tests):
 * - Writes and utility statements → 25006 `cannot execute <TAG> in a
 *   read-only transaction`, PostgreSQL's tag; unknown node types too (fail
 *   closed). SELECT INTO / FOR UPDATE|NO KEY UPDATE|SHARE|KEY SHARE anywhere in
 *   the tree / data-modifying CTEs → 25006 naming SELECT INTO, SELECT FOR …,
 *   or the inner INSERT/UPDATE/DELETE/MERGE (PostgreSQL itself says "SELECT"
 *   for the latter; naming the inner command is clearer and leaks nothing).
 * - LISTEN / UNLISTEN / NOTIFY → 25006 (V100). PREPARE TRANSACTION, COMMIT /
 *   ROLLBACK PREPARED, SET TRANSACTION SNAPSHOT → 25006 (V141).
 * - BEGIN/START … READ WRITE → 25006 `cannot set transaction read-write mode
 *   inside a read-only transaction` (PostgreSQL's text).
 * - COPY: `COPY (query) TO STDOUT` and `COPY table [(cols)] TO STDOUT` (turned
 *   into `SELECT cols|* FROM table`, V136) pass; files and programs get
 *   PostgreSQL's non-superuser 42501 texts; `COPY … FROM STDIN` → 25006
 *   `cannot execute COPY FROM in a read-only transaction`.
 * - DISCARD ALL/PLANS/SEQUENCES/TEMP pass (TEMP is harmless: users cannot
 *   create temporary objects); the wire layer restores pinned state on ALL.
 * - DECLARE … WITH HOLD passes; FETCH/MOVE/CLOSE pass (the wire layer checks
 *   cursor names against its own table, V139).
 * - By default the function/type/operator allowlist (functions.ts) runs on
 *   every admitted statement here too (fail closed); the rewriter must still
 *   run it on the re-parsed rewritten tree.
 */
import type { Node, RangeVar, SelectStmt, TypeName } from '@pgsql/types';
import { PgError, readOnly, SQLSTATE } from './errors.js';
import { checkExplain, type ExplainOptions, type ExplainPolicy } from './explain.js';
import { findForbiddenCalls, type FunctionCheckOptions } from './functions.js';
import {
  classifySet,
  isKnownParameter,
  quoteIdent,
  SessionSettings,
  type ResetClassification,
  type SetClassification,
  type SettingsLimits,
} from './settings.js';

export interface ClassifyOptions {
  explain?: ExplainPolicy;
  /** Current settings (DateStyle parts, …); defaults when absent. */
  settings?: SessionSettings;
  limits?: SettingsLimits;
  /** Run findForbiddenCalls on admitted statements (default true). */
  checkCalls?: boolean;
  functions?: FunctionCheckOptions;
}

export interface TransactionClassification {
  kind: 'transaction';
  commandTag: string;
  action: 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback-to';
  isolation?: string;
  deferrable?: boolean;
  chain?: boolean;
  savepoint?: string;
}

export type Classification = { commandTag: string } & (
  | { kind: 'refused'; error: PgError; audit: 'denied' | 'error' }
  | { kind: 'query'; query: SelectStmt }
  | { kind: 'explain'; query: SelectStmt; options: ExplainOptions }
  | { kind: 'show'; name: string }
  | SetClassification
  | ResetClassification
  | TransactionClassification
  | { kind: 'cursor'; action: 'declare'; name: string; query: SelectStmt; hold: boolean; scroll: boolean }
  | { kind: 'cursor'; action: 'fetch' | 'move'; name: string }
  | { kind: 'cursor'; action: 'close'; name: string | null }
  | { kind: 'prepare'; name: string; query: SelectStmt; argTypes: TypeName[] }
  | { kind: 'execute'; name: string; params: Node[] }
  | { kind: 'deallocate'; name: string | null }
  | { kind: 'discard'; target: 'all' | 'plans' | 'sequences' | 'temp' }
  | { kind: 'copy-out'; query: SelectStmt; relation?: RangeVar; options: Node[] }
);

const CURSOR_OPT_BINARY = 0x1;
const CURSOR_OPT_SCROLL = 0x2;
const CURSOR_OPT_HOLD = 0x20;

const LOCK_STRENGTH: Record<string, string> = {
  LCS_FORUPDATE: 'SELECT FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'SELECT FOR NO KEY UPDATE',
  LCS_FORSHARE: 'SELECT FOR SHARE',
  LCS_FORKEYSHARE: 'SELECT FOR KEY SHARE',
};

const COPY_HINT = "Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.";
const READ_WRITE = 'cannot set transaction read-write mode inside a read-only transaction';

const refused = (commandTag: string, error: PgError): Classification => ({
  kind: 'refused',
  commandTag,
  error,
  audit: error.sqlstate === SQLSTATE.invalidParameterValue ? 'error' : 'denied',
});

/** Read-only checks on a SELECT tree: INTO, data-modifying CTEs, locking clauses (iterative walk). */
function queryError(select: SelectStmt): PgError | null {
  if (select.intoClause) return readOnly('SELECT INTO');
  let locking: string | undefined;
  const stack: unknown[] = [select];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      stack.push(...current);
      continue;
    }
    for (const [key, value] of Object.entries(current)) {
      if (WRITE_STATEMENTS.has(key)) return readOnly(commandTag({ [key]: value } as Node));
      if (key === 'intoClause') return readOnly('SELECT INTO');
      if (key === 'lockingClause' && Array.isArray(value) && value.length > 0 && !locking) {
        const first = value[0] as { LockingClause?: { strength?: string } };
        locking = LOCK_STRENGTH[first.LockingClause?.strength ?? ''] ?? 'SELECT FOR UPDATE';
      }
      stack.push(value);
    }
  }
  return locking ? readOnly(locking) : null;
}

/** Admits a statement that carries a query: SELECT rules for SelectStmt, 25006 for anything else. */
function admitQuery(inner: Node | undefined): SelectStmt | PgError {
  if (!inner || !('SelectStmt' in inner)) return readOnly(inner ? commandTag(inner) : '???');
  return queryError(inner.SelectStmt) ?? inner.SelectStmt;
}

function transaction(stmt: Extract<Node, { TransactionStmt: unknown }>['TransactionStmt']): Classification {
  const tag = commandTag({ TransactionStmt: stmt });
  const base = { kind: 'transaction' as const, commandTag: tag };
  switch (stmt.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START': {
      const c: TransactionClassification = { ...base, action: 'begin' };
      for (const opt of stmt.options ?? []) {
        if (!('DefElem' in opt)) return refused(tag, readOnly(tag));
        const arg = opt.DefElem.arg as Node | undefined;
        const aConst = arg && 'A_Const' in arg ? arg.A_Const : undefined;
        const flag = (aConst?.ival?.ival ?? 0) !== 0;
        if (opt.DefElem.defname === 'transaction_isolation') c.isolation = aConst?.sval?.sval ?? '';
        else if (opt.DefElem.defname === 'transaction_deferrable') c.deferrable = flag;
        else if (opt.DefElem.defname !== 'transaction_read_only') return refused(tag, readOnly(tag));
        else if (!flag) return refused(tag, new PgError(SQLSTATE.readOnlyTransaction, READ_WRITE));
      }
      return c;
    }
    case 'TRANS_STMT_COMMIT':
      return { ...base, action: 'commit', chain: stmt.chain ?? false };
    case 'TRANS_STMT_ROLLBACK':
      return { ...base, action: 'rollback', chain: stmt.chain ?? false };
    case 'TRANS_STMT_SAVEPOINT':
      return { ...base, action: 'savepoint', savepoint: stmt.savepoint_name ?? '' };
    case 'TRANS_STMT_RELEASE':
      return { ...base, action: 'release', savepoint: stmt.savepoint_name ?? '' };
    case 'TRANS_STMT_ROLLBACK_TO':
      return { ...base, action: 'rollback-to', savepoint: stmt.savepoint_name ?? '' };
    default: // PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
      return refused(tag, readOnly(tag));
  }
}

/** The upstream text for an admitted transaction-control statement (BEGIN forced READ ONLY). */
export function transactionSql(c: TransactionClassification): string {
  const chain = c.chain ? ' AND CHAIN' : '';
  const savepoint = quoteIdent(c.savepoint ?? '');
  switch (c.action) {
    case 'begin': {
      const isolation = c.isolation ? ` ISOLATION LEVEL ${c.isolation.toUpperCase()}` : '';
      const deferrable = c.deferrable === undefined ? '' : c.deferrable ? ' DEFERRABLE' : ' NOT DEFERRABLE';
      return `BEGIN READ ONLY${isolation}${deferrable}`;
    }
    case 'commit':
      return `COMMIT${chain}`;
    case 'rollback':
      return `ROLLBACK${chain}`;
    case 'savepoint':
      return `SAVEPOINT ${savepoint}`;
    case 'release':
      return `RELEASE SAVEPOINT ${savepoint}`;
    case 'rollback-to':
      return `ROLLBACK TO SAVEPOINT ${savepoint}`;
  }
}

function copy(stmt: Extract<Node, { CopyStmt: unknown }>['CopyStmt']): Classification {
  const tag = 'COPY';
  const denied = (message: string) =>
    refused(tag, new PgError(SQLSTATE.insufficientPrivilege, message, { hint: COPY_HINT }));
  if (stmt.is_program) return denied('permission denied to COPY to or from an external program');
  if (stmt.filename !== undefined) {
    return denied(`permission denied to COPY ${stmt.is_from ? 'from' : 'to'} a file`);
  }
  if (stmt.is_from) return refused(tag, readOnly('COPY FROM'));
  const options = stmt.options ?? [];
  if (stmt.query) {
    const query = admitQuery(stmt.query);
    return query instanceof PgError
      ? refused(tag, query)
      : { kind: 'copy-out', commandTag: tag, query, options };
  }
  if (!stmt.relation) return refused(tag, readOnly(tag));
  // COPY t [(cols)] TO STDOUT ≡ COPY (SELECT cols|* FROM t) TO STDOUT: the rewriter secures t like any FROM item.
  const columns: Node[] = stmt.attlist?.length
    ? stmt.attlist.map((c) => ({ ColumnRef: { fields: [c], location: -1 } }))
    : [{ ColumnRef: { fields: [{ A_Star: {} }], location: -1 } }];
  const query: SelectStmt = {
    targetList: columns.map((val) => ({ ResTarget: { val, location: -1 } })),
    fromClause: [{ RangeVar: stmt.relation }],
    limitOption: 'LIMIT_OPTION_DEFAULT',
    op: 'SETOP_NONE',
  };
  return { kind: 'copy-out', commandTag: tag, query, relation: stmt.relation, options };
}

function classifyInner(stmt: Node, options: ClassifyOptions): Classification {
  const tag = commandTag(stmt);
  const admitted = (make: (q: SelectStmt) => Classification, inner: Node | undefined): Classification => {
    const q = admitQuery(inner);
    return q instanceof PgError ? refused(tag, q) : make(q);
  };
  if ('SelectStmt' in stmt) return admitted((query) => ({ kind: 'query', commandTag: tag, query }), stmt);
  if ('ExplainStmt' in stmt) {
    const e = checkExplain(stmt.ExplainStmt, options.explain);
    if (e instanceof PgError) return refused(tag, e);
    return admitted((query) => ({ kind: 'explain', commandTag: tag, query, options: e.options }), e.query);
  }
  if ('VariableShowStmt' in stmt) {
    const name = (stmt.VariableShowStmt.name ?? '').toLowerCase();
    if (name !== 'all' && !isKnownParameter(name)) {
      return refused(
        tag,
        new PgError(SQLSTATE.insufficientPrivilege, `permission denied to examine "${name}"`),
      );
    }
    return { kind: 'show', commandTag: tag, name };
  }
  if ('VariableSetStmt' in stmt) {
    const c = classifySet(stmt.VariableSetStmt, options.settings ?? new SessionSettings(), options.limits);
    return c instanceof PgError ? refused(tag, c) : { ...c, commandTag: tag };
  }
  if ('TransactionStmt' in stmt) return transaction(stmt.TransactionStmt);
  if ('DeclareCursorStmt' in stmt) {
    const d = stmt.DeclareCursorStmt;
    const opts = d.options ?? 0;
    if (opts & CURSOR_OPT_BINARY) {
      return refused(tag, new PgError(SQLSTATE.featureNotSupported, 'binary cursors are not supported'));
    }
    return admitted(
      (query) => ({
        kind: 'cursor',
        action: 'declare',
        commandTag: tag,
        name: d.portalname ?? '',
        query,
        hold: (opts & CURSOR_OPT_HOLD) !== 0,
        scroll: (opts & CURSOR_OPT_SCROLL) !== 0,
      }),
      d.query,
    );
  }
  if ('FetchStmt' in stmt) {
    const f = stmt.FetchStmt;
    return { kind: 'cursor', action: f.ismove ? 'move' : 'fetch', commandTag: tag, name: f.portalname ?? '' };
  }
  if ('ClosePortalStmt' in stmt) {
    return {
      kind: 'cursor',
      action: 'close',
      commandTag: tag,
      name: stmt.ClosePortalStmt.portalname ?? null,
    };
  }
  if ('PrepareStmt' in stmt) {
    const p = stmt.PrepareStmt;
    const argTypes = (p.argtypes ?? []).flatMap((t) => ('TypeName' in t ? [t.TypeName] : []));
    return admitted(
      (query) => ({ kind: 'prepare', commandTag: tag, name: p.name ?? '', query, argTypes }),
      p.query,
    );
  }
  if ('ExecuteStmt' in stmt) {
    const x = stmt.ExecuteStmt;
    return { kind: 'execute', commandTag: tag, name: x.name ?? '', params: x.params ?? [] };
  }
  if ('DeallocateStmt' in stmt) {
    const d = stmt.DeallocateStmt;
    return { kind: 'deallocate', commandTag: tag, name: d.isall ? null : (d.name ?? null) };
  }
  if ('DiscardStmt' in stmt) {
    const target = (
      {
        DISCARD_ALL: 'all',
        DISCARD_PLANS: 'plans',
        DISCARD_SEQUENCES: 'sequences',
        DISCARD_TEMP: 'temp',
      } as const
    )[stmt.DiscardStmt.target ?? 'DISCARD_ALL'];
    return target ? { kind: 'discard', commandTag: tag, target } : refused(tag, readOnly(tag));
  }
  if ('CopyStmt' in stmt) return copy(stmt.CopyStmt);
  // Everything else, including node types this code has never seen: refused.
  return refused(tag, readOnly(tag));
}

export function classifyStatement(stmt: Node, options: ClassifyOptions = {}): Classification {
  try {
    const c = classifyInner(stmt, options);
    if (c.kind === 'refused' || options.checkCalls === false) return c;
    const error = findForbiddenCalls(stmt, options.functions);
    return error ? refused(c.commandTag, error) : c;
  } catch {
    return refused('???', new PgError(SQLSTATE.internalError, 'internal error'));
  }
}

/* ------------------------------------------------------------------------------------------------
 * Command tags, as PostgreSQL's CreateCommandTag() names them (used in 25006 messages and audit).
 * ---------------------------------------------------------------------------------------------- */

/** Data-modifying statements (found inside CTEs, COPY, PREPARE, EXPLAIN…). */
const WRITE_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** OBJECT_* → the words PostgreSQL uses in CREATE/ALTER/DROP tags. */
// prettier-ignore
const OBJECT_WORDS: Record<string, string> = {
  AGGREGATE: 'AGGREGATE', ACCESS_METHOD: 'ACCESS METHOD', ATTRIBUTE: 'TYPE', CAST: 'CAST', COLUMN: 'TABLE',
  COLLATION: 'COLLATION', CONVERSION: 'CONVERSION', DATABASE: 'DATABASE', DOMAIN: 'DOMAIN',
  DOMCONSTRAINT: 'DOMAIN', EVENT_TRIGGER: 'EVENT TRIGGER', EXTENSION: 'EXTENSION',
  FDW: 'FOREIGN DATA WRAPPER', FOREIGN_SERVER: 'SERVER', FOREIGN_TABLE: 'FOREIGN TABLE',
  FUNCTION: 'FUNCTION', INDEX: 'INDEX', LANGUAGE: 'LANGUAGE', LARGEOBJECT: 'LARGE OBJECT',
  MATVIEW: 'MATERIALIZED VIEW', OPCLASS: 'OPERATOR CLASS', OPERATOR: 'OPERATOR',
  OPFAMILY: 'OPERATOR FAMILY', POLICY: 'POLICY', PROCEDURE: 'PROCEDURE', PUBLICATION: 'PUBLICATION',
  ROLE: 'ROLE', ROUTINE: 'ROUTINE', RULE: 'RULE', SCHEMA: 'SCHEMA', SEQUENCE: 'SEQUENCE',
  SUBSCRIPTION: 'SUBSCRIPTION', STATISTIC_EXT: 'STATISTICS', TABCONSTRAINT: 'TABLE', TABLE: 'TABLE',
  TABLESPACE: 'TABLESPACE', TRANSFORM: 'TRANSFORM', TRIGGER: 'TRIGGER',
  TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION', TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  TSPARSER: 'TEXT SEARCH PARSER', TSTEMPLATE: 'TEXT SEARCH TEMPLATE', TYPE: 'TYPE',
  USER_MAPPING: 'USER MAPPING', VIEW: 'VIEW',
};
const objectTag = (verb: string, objtype: unknown): string => {
  const words = OBJECT_WORDS[String(objtype ?? '').replace(/^OBJECT_/, '')];
  return words ? `${verb} ${words}` : '???';
};

/** Tags that do not depend on fields. */
// prettier-ignore
const FIXED_TAGS: Record<string, string> = {
  InsertStmt: 'INSERT', DeleteStmt: 'DELETE', UpdateStmt: 'UPDATE', MergeStmt: 'MERGE',
  CreateSchemaStmt: 'CREATE SCHEMA', AlterCollationStmt: 'ALTER COLLATION', AlterDomainStmt: 'ALTER DOMAIN',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES', CopyStmt: 'COPY', VariableShowStmt: 'SHOW',
  CreateStmt: 'CREATE TABLE', CreateTableSpaceStmt: 'CREATE TABLESPACE', DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE', CreateExtensionStmt: 'CREATE EXTENSION',
  AlterExtensionStmt: 'ALTER EXTENSION', AlterExtensionContentsStmt: 'ALTER EXTENSION',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER', AlterFdwStmt: 'ALTER FOREIGN DATA WRAPPER',
  CreateForeignServerStmt: 'CREATE SERVER', AlterForeignServerStmt: 'ALTER SERVER',
  CreateForeignTableStmt: 'CREATE FOREIGN TABLE', CreateUserMappingStmt: 'CREATE USER MAPPING',
  AlterUserMappingStmt: 'ALTER USER MAPPING', DropUserMappingStmt: 'DROP USER MAPPING',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA', CreatePolicyStmt: 'CREATE POLICY',
  AlterPolicyStmt: 'ALTER POLICY', CreateAmStmt: 'CREATE ACCESS METHOD', CreateTrigStmt: 'CREATE TRIGGER',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER', AlterEventTrigStmt: 'ALTER EVENT TRIGGER',
  CreatePLangStmt: 'CREATE LANGUAGE', CreateRoleStmt: 'CREATE ROLE', AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE', DropRoleStmt: 'DROP ROLE', CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE', CreateDomainStmt: 'CREATE DOMAIN', CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY', AlterOpFamilyStmt: 'ALTER OPERATOR FAMILY',
  TruncateStmt: 'TRUNCATE TABLE', CommentStmt: 'COMMENT', SecLabelStmt: 'SECURITY LABEL',
  DeclareCursorStmt: 'DECLARE CURSOR', IndexStmt: 'CREATE INDEX', CreateStatsStmt: 'CREATE STATISTICS',
  AlterStatsStmt: 'ALTER STATISTICS', DoStmt: 'DO', CallStmt: 'CALL', AlterOperatorStmt: 'ALTER OPERATOR',
  AlterTypeStmt: 'ALTER TYPE', RuleStmt: 'CREATE RULE', NotifyStmt: 'NOTIFY', ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN', CompositeTypeStmt: 'CREATE TYPE', CreateEnumStmt: 'CREATE TYPE',
  CreateRangeStmt: 'CREATE TYPE', AlterEnumStmt: 'ALTER TYPE', ViewStmt: 'CREATE VIEW', LoadStmt: 'LOAD',
  CreatedbStmt: 'CREATE DATABASE', AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE', AlterDatabaseSetStmt: 'ALTER DATABASE',
  DropdbStmt: 'DROP DATABASE', AlterSystemStmt: 'ALTER SYSTEM', ClusterStmt: 'CLUSTER', ExplainStmt: 'EXPLAIN',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW', CheckPointStmt: 'CHECKPOINT', LockStmt: 'LOCK TABLE',
  ConstraintsSetStmt: 'SET CONSTRAINTS', ReindexStmt: 'REINDEX', CreateConversionStmt: 'CREATE CONVERSION',
  CreateCastStmt: 'CREATE CAST', CreateTransformStmt: 'CREATE TRANSFORM', PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE', DropOwnedStmt: 'DROP OWNED', ReassignOwnedStmt: 'REASSIGN OWNED',
  AlterTSDictionaryStmt: 'ALTER TEXT SEARCH DICTIONARY', AlterTSConfigurationStmt: 'ALTER TEXT SEARCH CONFIGURATION',
  CreatePublicationStmt: 'CREATE PUBLICATION', AlterPublicationStmt: 'ALTER PUBLICATION',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION', AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
};

// prettier-ignore
const TRANSACTION_TAGS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN', TRANS_STMT_START: 'START TRANSACTION', TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK', TRANS_STMT_SAVEPOINT: 'SAVEPOINT', TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK', TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED', TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** PostgreSQL's command tag for a statement node; '???' (as PostgreSQL) for anything unknown. */
export function commandTag(stmt: Node): string {
  const [type, raw] = Object.entries(stmt)[0] ?? ['', {}];
  const n = (raw ?? {}) as Record<string, unknown>;
  const fixed = FIXED_TAGS[type];
  if (fixed) return fixed;
  switch (type) {
    case 'SelectStmt':
      return n.intoClause ? 'SELECT INTO' : 'SELECT';
    case 'AlterTableStmt':
    case 'AlterTableMoveAllStmt':
      return objectTag('ALTER', n.objtype);
    case 'RenameStmt':
      return objectTag('ALTER', n.renameType === 'OBJECT_COLUMN' ? n.relationType : n.renameType);
    case 'AlterObjectDependsStmt':
    case 'AlterObjectSchemaStmt':
    case 'AlterOwnerStmt':
      return objectTag('ALTER', n.objectType);
    case 'AlterFunctionStmt':
      return objectTag('ALTER', n.objtype);
    case 'DropStmt':
      return objectTag('DROP', n.removeType);
    case 'DefineStmt':
      return objectTag('CREATE', n.kind);
    case 'GrantStmt':
      return n.is_grant ? 'GRANT' : 'REVOKE';
    case 'GrantRoleStmt':
      return n.is_grant ? 'GRANT ROLE' : 'REVOKE ROLE';
    case 'CreateFunctionStmt':
      return n.is_procedure ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
    case 'VacuumStmt':
      return n.is_vacuumcmd ? 'VACUUM' : 'ANALYZE';
    case 'CreateTableAsStmt':
      if (n.objtype === 'OBJECT_MATVIEW') return 'CREATE MATERIALIZED VIEW';
      return n.is_select_into ? 'SELECT INTO' : 'CREATE TABLE AS';
    case 'VariableSetStmt':
      return n.kind === 'VAR_RESET' || n.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
    case 'TransactionStmt':
      return TRANSACTION_TAGS[String(n.kind)] ?? '???';
    case 'FetchStmt':
      return n.ismove ? 'MOVE' : 'FETCH';
    case 'ClosePortalStmt':
      return n.portalname ? 'CLOSE CURSOR' : 'CLOSE CURSOR ALL';
    case 'DeallocateStmt':
      return n.isall ? 'DEALLOCATE ALL' : 'DEALLOCATE';
    case 'DiscardStmt':
      return `DISCARD ${String(n.target ?? '').replace(/^DISCARD_/, '')}`;
    default:
      return '???';
  }
}
