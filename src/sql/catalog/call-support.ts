/**
 * Building blocks of the catalog function rewrite (calls.ts): expression
 * templates and rewrite-time name resolution.
 *
 * A template is SQL text with `$1…$n` for the call's arguments and `__a`-style
 * names for its own aliases. It is parsed by the real parser; every function
 * call and reg* cast of the TEMPLATE is admitted (trust.ts) before the user's
 * arguments are spliced in as clones, so the allowlist still checks the user's
 * expressions (an argument built from another template keeps its admissions);
 * the `__x` names become fresh aliases that nothing the user wrote can capture. Relations the template names (pg_catalog.pg_class …) are
 * ordinary references: the scope walk replaces them by the filtered catalog
 * subqueries like any other.
 */
import type { FuncCall, Node, RangeVar } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import { PgError, SQLSTATE } from '../errors.js';
import type { CatalogIndex } from '../relations.js';
import { nameAsWritten, resolveRelation } from '../relations.js';
import { quoteIdent, splitQualifiedName, sqlString } from './literals.js';
import { admitCall, isAdmittedCall } from './trust.js';

type Obj = Record<string, unknown>;

/** reg* types a client may cast to (rewritten by calls.ts); others stay off the allowlist. */
export const REG_TYPES: ReadonlySet<string> = new Set([
  'regclass',
  'regtype',
  'regnamespace',
  'regproc',
  'regprocedure',
]);

const expressionCache = new Map<string, Node>();

function parseExpression(sql: string): Node {
  let node = expressionCache.get(sql);
  if (!node) {
    const stmt = parseSync(`SELECT ${sql}`).stmts?.[0]?.stmt;
    const target = stmt && 'SelectStmt' in stmt ? stmt.SelectStmt.targetList?.[0] : undefined;
    if (!target || !('ResTarget' in target) || !target.ResTarget.val) {
      throw new PgError(SQLSTATE.internalError, 'internal error: catalog function template');
    }
    node = target.ResTarget.val;
    if (expressionCache.size < 512) expressionCache.set(sql, node);
  }
  return structuredClone(node);
}

/** Admits the template's own calls and casts, and replaces `$k` by clones of `args[k-1]`. */
function prepare(tree: Node, args: readonly Node[]): void {
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const arg = paramArg(item, args);
        if (arg) v[i] = arg;
        else stack.push(item);
      });
      continue;
    }
    const o = v as Obj;
    if ('FuncCall' in o) admitCall(o.FuncCall as object);
    if ('TypeCast' in o) admitCall(((o.TypeCast as Obj).typeName ?? {}) as object);
    for (const key of Object.keys(o)) {
      const arg = paramArg(o[key], args);
      if (arg) o[key] = arg;
      else stack.push(o[key]);
    }
  }
}

function paramArg(v: unknown, args: readonly Node[]): Node | null {
  if (v === null || typeof v !== 'object' || !('ParamRef' in v)) return null;
  const n = ((v as { ParamRef: { number?: number } }).ParamRef.number ?? 0) - 1;
  const arg = args[n];
  if (!arg) throw new PgError(SQLSTATE.internalError, 'internal error: catalog function template argument');
  return cloneKeepingAdmission(arg);
}

/**
 * A deep copy of `root` in which every copy of an admitted call is admitted
 * too: an argument built from another template (a resolved name, a guarded
 * element) must not be rewritten a second time. A user's nodes are never
 * admitted, so they stay checked. Iterative: deep trees do not overflow.
 */
function cloneKeepingAdmission<T>(root: T): T {
  const copy = (v: unknown): unknown =>
    Array.isArray(v) ? [...(v as unknown[])] : v !== null && typeof v === 'object' ? { ...v } : v;
  const top = copy(root);
  const stack: [Obj, Obj][] = typeof top === 'object' && top !== null ? [[root as Obj, top as Obj]] : [];
  while (stack.length > 0) {
    const [source, target] = stack.pop()!;
    if (isAdmittedCall(source)) admitCall(target);
    for (const key of Object.keys(source)) {
      const child = source[key];
      if (child === null || typeof child !== 'object') continue;
      target[key] = copy(child);
      stack.push([child as Obj, target[key] as Obj]);
    }
  }
  return top as T;
}

/** Instantiates `text` (see the module comment). */
export function fromTemplate(text: string, args: readonly Node[], fresh: () => string): Node {
  const names = new Map<string, string>();
  const tree = parseExpression(
    text.replace(/\b__[a-z]\b/g, (m) => names.get(m) ?? names.set(m, fresh()).get(m)!),
  );
  prepare(tree, args);
  return tree;
}

/** The string value of a plain string literal argument, or undefined. */
export function stringLiteral(arg: Node | undefined): string | undefined {
  if (!arg) return undefined;
  if ('A_Const' in arg) return arg.A_Const.sval?.sval;
  // 'x'::text / 'x'::name are still literal names.
  if ('TypeCast' in arg && arg.TypeCast.arg && 'A_Const' in arg.TypeCast.arg) {
    const names = (arg.TypeCast.typeName?.names ?? []).map((n) => ('String' in n ? n.String.sval : ''));
    if (['text', 'name', 'varchar'].includes(names[names.length - 1] ?? ''))
      return arg.TypeCast.arg.A_Const.sval?.sval;
  }
  return undefined;
}

/** `pos` as error fields. */
const at = (position: number | undefined): { position?: number } =>
  position !== undefined ? { position } : {};

/** A dotted name as regclass input reads it, as a RangeVar; 42602/42601 as PostgreSQL words them. */
function nameToRangeVar(text: string, position: number | undefined): RangeVar {
  const parts = splitQualifiedName(text);
  if (parts === null || parts.length === 0) throw new PgError('42602', 'invalid name syntax', at(position));
  if (parts.length > 3) {
    throw new PgError(
      SQLSTATE.syntaxError,
      `improper relation name (too many dotted names): ${parts.join('.')}`,
      at(position),
    );
  }
  const [relname, schemaname, catalogname] = [...parts].reverse();
  return { relname, schemaname, catalogname, inh: true };
}

/**
 * The upstream name of the relation the literal `text` names for this user,
 * as SQL text of a regclass constant — or the 42P01 PostgreSQL raises for a
 * relation that does not exist (hidden and missing alike, V114), naming it
 * as PostgreSQL 16+ does (parsed parts, dot-joined).
 */
export function regclassLiteral(
  text: string,
  index: CatalogIndex,
  searchPath: readonly string[],
  position?: number,
): string {
  const rv = nameToRangeVar(text, position);
  let r;
  try {
    r = resolveRelation(rv, index, searchPath, position);
  } catch (err) {
    if (err instanceof PgError && err.sqlstate === SQLSTATE.undefinedTable) {
      throw new PgError(
        SQLSTATE.undefinedTable,
        `relation "${nameAsWritten(rv)}" does not exist`,
        at(position),
      );
    }
    throw err;
  }
  const name =
    r.kind === 'table'
      ? `${quoteIdent(r.table.schema)}.${quoteIdent(r.table.name)}`
      : `${r.relation.schema}.${quoteIdent(r.relation.name)}`;
  return `${sqlString(name)}::pg_catalog.regclass`;
}

/**
 * The upstream name of visible schema `name` (as a string literal), or 3F000
 * as PostgreSQL words it. `name` is the schema's name itself, as
 * has_schema_privilege takes it; regnamespace input parses it first
 * (regnamespaceName).
 */
export function schemaLiteral(name: string, index: CatalogIndex, position?: number): string {
  if (name === 'pg_catalog' || name === 'information_schema') return sqlString(name);
  const t = [...index.byName.values()].find((x) => x.visibleSchema === name);
  if (!t) throw new PgError('3F000', `schema "${name}" does not exist`, at(position));
  return sqlString(t.schema);
}

/** The schema name regnamespace input reads from `text` (one identifier), or 42602. */
export function regnamespaceName(text: string, position?: number): string {
  const parts = splitQualifiedName(text);
  if (parts?.length !== 1) throw new PgError('42602', 'invalid name syntax', at(position));
  return parts[0]!;
}

export interface CallContext {
  index: CatalogIndex;
  searchPath: readonly string[];
  sql: string;
  fresh: () => string;
}

export interface Call {
  name: string;
  args: Node[];
  fn: FuncCall;
  ctx: CallContext;
  t: (text: string, args?: readonly Node[]) => Node;
}

/** Guard sets: OIDs of the filtered catalogs (the scope walk replaces these relations). */
export const RELS = '(SELECT __r.oid FROM pg_catalog.pg_class AS __r)';
export const TYPES = '(SELECT __r.oid FROM pg_catalog.pg_type AS __r)';
export const PROCS = '(SELECT __r.oid FROM pg_catalog.pg_proc AS __r)';
export const NSPS = '(SELECT __r.oid FROM pg_catalog.pg_namespace AS __r)';
export const guarded = (guard: string, call: string): string => `CASE WHEN ${guard} THEN ${call} END`;
