/**
 * The scope-aware tree walk: finds every relation reference of a statement
 * and replaces each protected one by its secured subquery.
 *
 * Expressions are walked generically (every child of every node), so a
 * sub-select is found in any clause — target list, WHERE, HAVING, ORDER BY,
 * JOIN ON, function arguments, VALUES — without a list of places to forget.
 * Only FROM-clause positions are interpreted; a RangeVar met anywhere else is
 * not replaced, and verify.ts rejects the statement because of it (fail closed).
 *
 * A catalog relation (pg_class, information_schema.columns, …) is replaced
 * by its filtered subquery from catalog/ instead of a secured subquery.
 *
 * CTE scoping follows PostgreSQL (threat model V127): a WITH entry is visible
 * to the main query, its sub-queries and later siblings; with RECURSIVE to all
 * siblings including itself; never through a schema-qualified name; the
 * innermost WITH wins (for resolution only existence matters).
 */
import type { CommonTableExpr, Node, RangeVar, SelectStmt } from '@pgsql/types';
import type { SecuredTable } from '../policy/session.js';
import { PgError, SQLSTATE, readOnly } from './errors.js';
import { copyLeakproofConjuncts } from './fence.js';
import { charPosition } from './parse.js';
import type { CatalogIndex } from './relations.js';
import { resolveRelation } from './relations.js';
import { catalogSubquery } from './catalog/subquery.js';
import { figureColname, isStar } from './catalog/colname.js';
import { catalogInScope, catalogStateColumn } from './catalog/system-columns.js';
import type { SecuredSubquery } from './secured-subquery.js';
import { buildSecuredSubquery, str } from './secured-subquery.js';

export interface FromEntry {
  refname: string;
  sdt?: SecuredSubquery;
  /** Upstream table behind an unaliased reference (3-part column references resolve to it). */
  table?: SecuredTable;
  aliased: boolean;
  /** On the nullable side of an outer join. */
  nullable: boolean;
  /** Inside a join that has an alias: its own name is not visible. */
  hidden: boolean;
  /** A catalog relation (its rows have a virtual xmin: catalog/system-columns.ts). */
  catalog?: boolean;
}

export interface Level {
  entries: FromEntry[];
  parent: Level | null;
}

export interface WalkContext {
  index: CatalogIndex;
  searchPath: readonly string[];
  /** Whole input text (locations are byte offsets into it). */
  sql: string;
  nextAlias: () => string;
  sdts: SecuredSubquery[];
  /** RangeVar structs that are legitimately left in the tree: CTE references and our own base scans. */
  accounted: Set<object>;
  tables: Map<string, SecuredTable>;
  /** Catalog subqueries placed in the tree (their inner SELECTs are trusted, catalog/trust.ts). */
  catalogSubqueries: Node[];
  /** Catalog `xmin` references replaced so far (select-list items they change keep their names). */
  stateColumns: number;
}

type CteNames = ReadonlySet<string>;

const LOCK_COMMANDS: Record<string, string> = {
  LCS_FORKEYSHARE: 'SELECT FOR KEY SHARE',
  LCS_FORSHARE: 'SELECT FOR SHARE',
  LCS_FORNOKEYUPDATE: 'SELECT FOR NO KEY UPDATE',
  LCS_FORUPDATE: 'SELECT FOR UPDATE',
};

const WRITE_COMMANDS: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

function isWrapped(v: object): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && /^[A-Z]/.test(keys[0]!);
}

/** Walks every child of a plain struct or list, replacing wrapped nodes in place. */
function walkChildren(
  obj: Record<string, unknown>,
  ctx: WalkContext,
  ctes: CteNames,
  level: Level | null,
  skip?: ReadonlySet<string>,
): void {
  for (const key of Object.keys(obj)) {
    if (skip?.has(key)) continue;
    const v = obj[key];
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (item === null || typeof item !== 'object') continue;
        if (isWrapped(item)) v[i] = walkNode(item as Node, ctx, ctes, level);
        else walkChildren(item as Record<string, unknown>, ctx, ctes, level);
      }
    } else if (isWrapped(v)) obj[key] = walkNode(v as Node, ctx, ctes, level);
    else walkChildren(v as Record<string, unknown>, ctx, ctes, level);
  }
}

/** Walks one wrapped node (`{ Type: {...} }`) outside FROM position; returns its replacement. */
export function walkNode(node: Node, ctx: WalkContext, ctes: CteNames, level: Level | null): Node {
  if ('SelectStmt' in node) {
    walkSelect(node.SelectStmt, ctx, ctes, level);
    return node;
  }
  if ('ColumnRef' in node) {
    const state = catalogStateColumn(node.ColumnRef.fields, level, ctx.index.catalog.stateNumber);
    if (state) {
      ctx.stateColumns++;
      return state;
    }
    qualifiedColumnRef(node.ColumnRef.fields, ctx, level);
    return node;
  }
  const inner = (node as Record<string, unknown>)[Object.keys(node)[0]!];
  // `SELECT c.xmin::text FROM pg_class c` keeps PostgreSQL's name once the column is replaced.
  const target = 'ResTarget' in node && node.ResTarget.name === undefined ? node.ResTarget : null;
  const name = target?.val && !isStar(target.val) && catalogInScope(level) ? figureColname(target.val) : null;
  const replaced = ctx.stateColumns;
  if (inner && typeof inner === 'object') walkChildren(inner as Record<string, unknown>, ctx, ctes, level);
  if (target && name !== null && ctx.stateColumns !== replaced) target.name = name;
  return node;
}

/**
 * `schema.table.col` / `db.schema.table.col` (threat model V124): PostgreSQL
 * binds it to an unaliased FROM entry for that table; after the rewrite that
 * entry is a subquery named `table`, so shorten the reference to `table.col`.
 * Anything else is left alone and fails upstream as it would in PostgreSQL.
 */
function qualifiedColumnRef(fields: Node[] | undefined, ctx: WalkContext, level: Level | null): void {
  if (!fields || fields.length < 3 || fields.length > 4) return;
  const names = fields.map((f) => ('String' in f ? f.String.sval : undefined));
  if (fields.length === 4 && names[0] !== ctx.index.dataSourceName) return;
  const n = fields.length;
  const schema = names[n - 3];
  const table = names[n - 2];
  if (schema === undefined || table === undefined) return;
  for (let l = level; l; l = l.parent) {
    const e = l.entries.find((x) => x.refname === table && !x.hidden);
    if (!e) continue;
    if (e.table && !e.aliased && e.table.visibleSchema === schema) fields.splice(0, n - 1, str(table));
    return;
  }
}

function withCtes(s: SelectStmt, ctx: WalkContext, ctes: CteNames, outer: Level | null): CteNames {
  const list = (s.withClause?.ctes ?? []).map((c) => ('CommonTableExpr' in c ? c.CommonTableExpr : null));
  if (list.length === 0) return ctes;
  const recursive = s.withClause?.recursive === true;
  let env = ctes;
  if (recursive) env = new Set([...ctes, ...list.map((c) => c?.ctename ?? '')]);
  for (const cte of list) {
    if (!cte) throw new PgError(SQLSTATE.internalError, 'internal error: unexpected WITH entry');
    walkCteBody(cte, ctx, env, outer);
    if (!recursive) env = new Set([...env, cte.ctename ?? '']);
  }
  return env;
}

function walkCteBody(cte: CommonTableExpr, ctx: WalkContext, env: CteNames, outer: Level | null): void {
  const body = cte.ctequery;
  if (!body) return;
  if (!('SelectStmt' in body)) {
    const kind = Object.keys(body)[0] ?? '';
    throw readOnly(WRITE_COMMANDS[kind] ?? kind);
  }
  walkSelect(body.SelectStmt, ctx, env, outer);
}

const SELECT_HANDLED = new Set(['withClause', 'fromClause', 'larg', 'rarg', 'whereClause']);

export function walkSelect(s: SelectStmt, ctx: WalkContext, ctes: CteNames, outer: Level | null): void {
  if (s.intoClause) throw readOnly('SELECT INTO');
  for (const lc of s.lockingClause ?? []) {
    const strength = 'LockingClause' in lc ? lc.LockingClause.strength : undefined;
    throw readOnly(LOCK_COMMANDS[strength ?? ''] ?? 'SELECT FOR UPDATE');
  }
  const env = withCtes(s, ctx, ctes, outer);
  const level: Level = { entries: [], parent: outer };
  if (s.larg) walkSelect(s.larg, ctx, env, outer);
  if (s.rarg) walkSelect(s.rarg, ctx, env, outer);
  const from = s.fromClause ?? [];
  for (let i = 0; i < from.length; i++) from[i] = walkFrom(from[i]!, ctx, env, level, false, false);
  if (s.whereClause) s.whereClause = walkNode(s.whereClause, ctx, env, level);
  walkChildren(s as Record<string, unknown>, ctx, env, level, SELECT_HANDLED);
  if (s.whereClause) copyLeakproofConjuncts(s.whereClause, level.entries);
}

function position(ctx: WalkContext, rv: RangeVar): number | undefined {
  return rv.location !== undefined && rv.location >= 0 ? charPosition(ctx.sql, rv.location) : undefined;
}

/** Replaces a FROM-position RangeVar (or leaves a CTE reference), registering the level entry. */
function fromRangeVar(
  rv: RangeVar,
  ctx: WalkContext,
  ctes: CteNames,
  level: Level,
  nullable: boolean,
  hidden: boolean,
  wrap?: (base: Node) => Node,
): Node | null {
  if (!rv.schemaname && !rv.catalogname && ctes.has(rv.relname ?? '')) {
    ctx.accounted.add(rv);
    level.entries.push({
      refname: rv.alias?.aliasname ?? rv.relname ?? '',
      aliased: !!rv.alias,
      nullable,
      hidden,
    });
    return null;
  }
  const resolved = resolveRelation(rv, ctx.index, ctx.searchPath, position(ctx, rv));
  if (resolved.kind === 'catalog') {
    // A catalog relation: its filtered subquery (catalog/), never fenced (it has no row filter of a policy).
    if (wrap)
      throw new PgError('42809', 'TABLESAMPLE clause can only be applied to tables and materialized views');
    const node = catalogSubquery(resolved.relation, rv, ctx.index.catalog, nullable);
    ctx.catalogSubqueries.push(node);
    const refname = rv.alias?.aliasname ?? resolved.relation.name;
    level.entries.push({ refname, aliased: !!rv.alias, nullable, hidden, catalog: true });
    return node;
  }
  const table = resolved.table;
  ctx.tables.set(`${table.schema}.${table.name}`, table);
  const sdt = buildSecuredSubquery(table, rv, ctx.nextAlias, wrap);
  ctx.sdts.push(sdt);
  level.entries.push({ refname: sdt.refname, sdt, table, aliased: !!rv.alias, nullable, hidden });
  return sdt.node;
}

function walkFrom(
  item: Node,
  ctx: WalkContext,
  ctes: CteNames,
  level: Level,
  nullable: boolean,
  hidden: boolean,
): Node {
  if ('RangeVar' in item) return fromRangeVar(item.RangeVar, ctx, ctes, level, nullable, hidden) ?? item;
  if ('JoinExpr' in item) {
    const j = item.JoinExpr;
    const t = j.jointype;
    const first = level.entries.length;
    if (j.larg)
      j.larg = walkFrom(
        j.larg,
        ctx,
        ctes,
        level,
        nullable || t === 'JOIN_RIGHT' || t === 'JOIN_FULL',
        hidden || !!j.alias,
      );
    if (j.rarg)
      j.rarg = walkFrom(
        j.rarg,
        ctx,
        ctes,
        level,
        nullable || t === 'JOIN_LEFT' || t === 'JOIN_FULL',
        hidden || !!j.alias,
      );
    if (j.quals) j.quals = walkNode(j.quals, ctx, ctes, level);
    if (j.alias) {
      for (const e of level.entries.slice(first)) e.hidden = true;
      level.entries.push({ refname: j.alias.aliasname ?? '', aliased: true, nullable, hidden });
    }
    return item;
  }
  if ('RangeTableSample' in item) {
    const ts = item.RangeTableSample;
    const rel = ts.relation;
    if (rel && 'RangeVar' in rel) {
      const rv = rel.RangeVar;
      // Move TABLESAMPLE inside the SDT, around the base scan (V130).
      const wrap = (base: Node): Node => ({ RangeTableSample: { ...ts, relation: base } });
      const replaced = fromRangeVar(rv, ctx, ctes, level, nullable, hidden, wrap);
      if (replaced) {
        walkChildren(ts as Record<string, unknown>, ctx, ctes, level, new Set(['relation']));
        return replaced;
      }
    }
    walkChildren(ts as Record<string, unknown>, ctx, ctes, level, new Set(['relation']));
    return item;
  }
  // Sub-selects, functions, XMLTABLE, JSON_TABLE: a non-LATERAL sub-select
  // sees only the outer levels, a LATERAL one also this level's earlier entries.
  const key = Object.keys(item)[0]!;
  const inner = (item as unknown as Record<string, Record<string, unknown>>)[key]!;
  const lateral = inner.lateral === true || key !== 'RangeSubselect';
  walkChildren(inner, ctx, ctes, lateral ? level : level.parent, new Set(['alias']));
  const alias = inner.alias as { aliasname?: string } | undefined;
  if (alias?.aliasname) level.entries.push({ refname: alias.aliasname, aliased: true, nullable, hidden });
  return item;
}
