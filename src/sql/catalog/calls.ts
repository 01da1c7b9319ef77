/**
 * Catalog functions and reg* casts, rewritten before the scope walk so that
 * they answer only about objects of the user's virtual catalog (threat model
 * V103–V115; list in function-list.ts CATALOG_FUNCTIONS).
 *
 * - OID arguments are guarded: `f(x, …)` becomes
 *   `CASE WHEN x IN (SELECT oid FROM pg_catalog.<filtered catalog>) THEN f(x, …) END`,
 *   so the OID of a hidden object gives NULL, exactly as a nonexistent one.
 *   pg_get_expr(tree, rel) requires the (rel, tree) pair to be one a visible
 *   catalog row holds (or rel = 0): a visible expression can never be decoded
 *   against another relation's columns.
 * - Name arguments (`'orders'::regclass`, has_table_privilege('orders', …),
 *   to_regclass('orders')) are resolved here against the virtual catalog and
 *   emitted as upstream names; a hidden name fails as a missing one.
 *   A parameter cast (`$1::regtype`) may carry a name or an OID: it is looked
 *   up with to_reg*(text) upstream and then filtered like an OID.
 * - An array cast (`x::regtype[]`) keeps the array only when every element
 *   is visible, and gives NULL otherwise.
 * - Answers about the session are computed from the proxy's view:
 *   pg_table_is_visible / pg_type_is_visible follow the client's search path,
 *   has_*_privilege means "visible" (SELECT / USAGE / CONNECT / EXECUTE) for
 *   any role argument, pg_get_userbyid names the Rowgate user for the
 *   synthetic owner, current_schemas() lists visible schemas, version() the
 *   upstream major.minor without build details.
 * - Definitions of objects never shown (triggers, rules, statistics objects,
 *   partition keys), serial sequences, sizes and shared comments are NULL.
 * Template arguments always stay outside sub-selects (no name capture).
 */
import type { FuncCall, Node, TypeCast } from '@pgsql/types';
import { PgError, SQLSTATE } from '../errors.js';
import { undefinedFunction } from '../functions.js';
import { charPosition } from '../parse.js';
import type { Call, CallContext } from './call-support.js';
import {
  fromTemplate,
  guarded,
  NSPS,
  PROCS,
  REG_TYPES,
  RELS,
  regclassLiteral,
  schemaLiteral,
  stringLiteral,
  TYPES,
} from './call-support.js';
import { databasePrivilege, functionPrivilege, relationPrivilege, schemaPrivilege } from './privileges.js';
import { sqlString, textArray } from './literals.js';
import { isAdmittedCall } from './trust.js';
import { SYNTHETIC_ROLE_OID } from './visible.js';

const STARTED = new Date().toISOString();
// `NULL::text` unqualified: the deparser drops pg_catalog there, and verify.ts compares trees.
const nullOf = (type: string) => (c: Call) =>
  c.t(type === 'text' ? 'NULL::text' : `NULL::pg_catalog.${type}`);
const params = (n: number): string => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ');

/** The search path as PostgreSQL searches it: pg_catalog first unless listed, `$user` expanded, pg_temp skipped. */
function effectivePath(c: CallContext): string[] {
  const path = c.searchPath
    .map((e) => (e === '$user' ? c.index.username : e))
    .filter((s) => !s.startsWith('pg_temp'));
  return path.includes('pg_catalog') ? path : ['pg_catalog', ...path];
}

/** `$1 IN (objects of <catalog> named first along the search path)`. */
function pathVisible(c: Call, catalog: string, nameCol: string, nspCol: string): Node {
  const path = textArray(effectivePath(c.ctx));
  // Uncorrelated (one hashed sub-plan per statement): the objects that come first in the path under their name.
  return c.t(
    `CASE WHEN $1 IS NOT NULL THEN $1 IN (SELECT __q.oid FROM (SELECT __c.oid, __p.__i, ` +
      `pg_catalog.min(__p.__i) OVER (PARTITION BY __c.${nameCol}) AS __m FROM pg_catalog.${catalog} AS __c ` +
      `JOIN pg_catalog.pg_namespace AS __n ON __n.oid = __c.${nspCol} ` +
      `JOIN pg_catalog.unnest(${path}) WITH ORDINALITY AS __p(__s, __i) ON __p.__s = __n.nspname) AS __q ` +
      'WHERE __q.__i = __q.__m) END',
    c.args.slice(0, 1),
  );
}

/** `f($1…)` guarded by `$1 IN <set>`, for the allowed argument counts. */
const oidGuard =
  (set: string, counts: number[]) =>
  (c: Call): Node => {
    if (!counts.includes(c.args.length)) throw undefinedFunction(c.fn);
    return c.t(guarded(`$1 IN ${set}`, `pg_catalog.${c.name}(${params(c.args.length)})`));
  };

const VIEWDEFS =
  '(SELECT __c.oid FROM pg_catalog.pg_class AS __c JOIN pg_catalog.pg_namespace AS __n ON __n.oid = __c.relnamespace ' +
  'JOIN pg_catalog.pg_views AS __v ON __v.schemaname = __n.nspname AND __v.viewname = __c.relname WHERE __v.definition IS NOT NULL ' +
  'UNION ALL SELECT __c.oid FROM pg_catalog.pg_class AS __c JOIN pg_catalog.pg_namespace AS __n ON __n.oid = __c.relnamespace ' +
  'JOIN pg_catalog.pg_matviews AS __v ON __v.schemaname = __n.nspname AND __v.matviewname = __c.relname WHERE __v.definition IS NOT NULL)';

const EXPRESSIONS =
  '(SELECT __a.adrelid, __a.adbin::text FROM pg_catalog.pg_attrdef AS __a ' +
  'UNION ALL SELECT __k.conrelid, __k.conbin::text FROM pg_catalog.pg_constraint AS __k WHERE __k.conbin IS NOT NULL ' +
  'UNION ALL SELECT __i.indrelid, __i.indexprs::text FROM pg_catalog.pg_index AS __i WHERE __i.indexprs IS NOT NULL ' +
  'UNION ALL SELECT __i.indrelid, __i.indpred::text FROM pg_catalog.pg_index AS __i WHERE __i.indpred IS NOT NULL)';

const HANDLERS: Record<string, (c: Call) => Node> = {
  format_type: oidGuard(TYPES, [2]),
  pg_get_constraintdef: oidGuard('(SELECT __r.oid FROM pg_catalog.pg_constraint AS __r)', [1, 2]),
  pg_get_indexdef: oidGuard('(SELECT __r.indexrelid FROM pg_catalog.pg_index AS __r)', [1, 3]),
  pg_get_viewdef: (c) => {
    const text = stringLiteral(c.args[0]);
    if (text !== undefined && !/^\d+$/.test(text)) {
      c.args[0] = c.t(regclassLiteral(text, c.ctx.index, c.ctx.searchPath));
    }
    return oidGuard(VIEWDEFS, [1, 2])(c);
  },
  pg_get_expr: (c) => {
    if (c.args.length !== 2 && c.args.length !== 3) throw undefinedFunction(c.fn);
    return c.t(
      guarded(
        `$2 = 0 OR ($2, ($1)::text) IN ${EXPRESSIONS}`,
        `pg_catalog.pg_get_expr(${params(c.args.length)})`,
      ),
    );
  },
  obj_description: (c) => {
    if (c.args.length !== 1 && c.args.length !== 2) throw undefinedFunction(c.fn);
    return c.t(
      guarded(
        '($1, 0) IN (SELECT __d.objoid, __d.objsubid FROM pg_catalog.pg_description AS __d)',
        `pg_catalog.obj_description(${params(c.args.length)})`,
      ),
    );
  },
  col_description: (c) => {
    if (c.args.length !== 2) throw undefinedFunction(c.fn);
    return c.t(
      guarded(
        '($1, $2) IN (SELECT __d.objoid, __d.objsubid FROM pg_catalog.pg_description AS __d)',
        'pg_catalog.col_description($1, $2)',
      ),
    );
  },
  pg_get_function_result: oidGuard(PROCS, [1]),
  pg_get_function_arguments: oidGuard(PROCS, [1]),
  pg_get_function_identity_arguments: oidGuard(PROCS, [1]),
  pg_function_is_visible: oidGuard(PROCS, [1]),
  pg_table_is_visible: (c) => pathVisible(c, 'pg_class', 'relname', 'relnamespace'),
  pg_type_is_visible: (c) => pathVisible(c, 'pg_type', 'typname', 'typnamespace'),
  has_table_privilege: (c) => relationPrivilege(c, false),
  has_any_column_privilege: (c) => relationPrivilege(c, false),
  has_column_privilege: (c) => relationPrivilege(c, true),
  has_schema_privilege: schemaPrivilege,
  has_database_privilege: databasePrivilege,
  has_function_privilege: functionPrivilege,
  pg_get_userbyid: (c) =>
    c.t(
      `CASE WHEN ($1)::pg_catalog.oid = ${SYNTHETIC_ROLE_OID} THEN ${sqlString(c.ctx.index.username)}::pg_catalog.name ` +
        "ELSE ('unknown (OID=' || ($1)::text || ')')::pg_catalog.name END",
    ),
  to_regclass: (c) => {
    const text = stringLiteral(c.args[0]);
    if (text !== undefined) {
      try {
        return c.t(regclassLiteral(text, c.ctx.index, c.ctx.searchPath));
      } catch (err) {
        if (err instanceof PgError && err.sqlstate === SQLSTATE.undefinedTable)
          return c.t('NULL::pg_catalog.regclass');
        throw err;
      }
    }
    return c.t(
      guarded(
        `pg_catalog.to_regclass(($1)::text)::pg_catalog.oid IN ${RELS}`,
        'pg_catalog.to_regclass(($1)::text)',
      ),
    );
  },
  to_regtype: (c) =>
    c.t(
      guarded(
        `pg_catalog.to_regtype(($1)::text)::pg_catalog.oid IN ${TYPES}`,
        'pg_catalog.to_regtype(($1)::text)',
      ),
    ),
  to_regnamespace: (c) =>
    c.t(
      guarded(
        `pg_catalog.to_regnamespace(($1)::text)::pg_catalog.oid IN ${NSPS}`,
        'pg_catalog.to_regnamespace(($1)::text)',
      ),
    ),
  current_schemas: (c) => {
    const visible = effectivePath(c.ctx).filter(
      (s) => s === 'pg_catalog' || s === 'information_schema' || c.ctx.index.schemas.has(s),
    );
    const explicit = visible.filter((s) => s !== 'pg_catalog' || c.ctx.searchPath.includes('pg_catalog'));
    return c.t(
      `CASE WHEN $1 THEN ${textArray(visible)}::pg_catalog.name[] ELSE ${textArray(explicit)}::pg_catalog.name[] END`,
    );
  },
  version: (c) =>
    c.t(
      "'PostgreSQL ' || pg_catalog.split_part(pg_catalog.current_setting('server_version'), ' ', 1) || ' (Rowgate)'",
    ),
  pg_postmaster_start_time: (c) => c.t(`'${STARTED}'::pg_catalog.timestamptz`),
  pg_relation_is_publishable: (c) => c.t('CASE WHEN $1 IS NOT NULL THEN false END'),
  pg_partition_ancestors: (c) =>
    c.t(
      'pg_catalog.unnest(ARRAY(SELECT __a.relid FROM pg_catalog.pg_partition_ancestors($1) AS __a ' +
        `WHERE __a.relid IN ${RELS}))`,
    ),
  shobj_description: nullOf('text'),
  pg_get_serial_sequence: nullOf('text'),
  pg_get_triggerdef: nullOf('text'),
  pg_get_ruledef: nullOf('text'),
  pg_get_statisticsobjdef: nullOf('text'),
  pg_get_statisticsobjdef_columns: nullOf('text'),
  pg_get_partkeydef: nullOf('text'),
  pg_table_size: nullOf('int8'),
  pg_relation_size: nullOf('int8'),
  pg_total_relation_size: nullOf('int8'),
  pg_indexes_size: nullOf('int8'),
  pg_database_size: nullOf('int8'),
};

/** Names rewritten here (function-list.ts admits them at the gate). */
export const CATALOG_CALL_NAMES: readonly string[] = Object.keys(HANDLERS);

const names = (list: Node[] | undefined): string[] =>
  (list ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));

/** A reg* cast `x::regclass` → guarded or resolved (see the module comment). */
function castReplacement(cast: TypeCast, type: string, ctx: CallContext): Node {
  const t = (text: string, args: readonly Node[] = [cast.arg!]): Node => fromTemplate(text, args, ctx.fresh);
  if (cast.typeName?.arrayBounds?.length) {
    // `oids::regtype[]` (pgcli: proargtypes::regtype[]): the whole array, or NULL if any element is hidden.
    const set = { regclass: RELS, regtype: TYPES, regnamespace: NSPS, regproc: PROCS, regprocedure: PROCS }[
      type
    ]!;
    return t(
      guarded(`($1)::pg_catalog.oid[] <@ ARRAY${set}`, `($1)::pg_catalog.oid[]::pg_catalog.${type}[]`),
    );
  }
  const text = stringLiteral(cast.arg);
  const literal = text !== undefined && !/^\d+$/.test(text);
  if (type === 'regclass' && literal) {
    const at = (cast.arg as { A_Const?: { location?: number } }).A_Const?.location;
    return t(
      regclassLiteral(
        text,
        ctx.index,
        ctx.searchPath,
        at !== undefined ? charPosition(ctx.sql, at) : undefined,
      ),
    );
  }
  if (type === 'regnamespace' && literal)
    return t(`${schemaLiteral(text, ctx.index)}::pg_catalog.regnamespace`);
  const sets: Record<string, [string, string]> = {
    regclass: [RELS, 'to_regclass'],
    regtype: [TYPES, 'to_regtype'],
    regnamespace: [NSPS, 'to_regnamespace'],
    regproc: [PROCS, 'to_regproc'],
    regprocedure: [PROCS, 'to_regprocedure'],
  };
  const [set, lookup] = sets[type]!;
  // A literal name is looked up upstream and then filtered: hidden and missing both give NULL.
  // A parameter is text or an OID in text form (to_reg* read both, as the reg* input functions do).
  const byName = literal || (cast.arg !== undefined && 'ParamRef' in cast.arg);
  const oid = byName ? `pg_catalog.${lookup}(($1)::text)::pg_catalog.oid` : '($1)::pg_catalog.oid';
  return t(guarded(`${oid} IN ${set}`, `(${oid})::pg_catalog.${type}`));
}

/** PostgreSQL's FigureColname for the nodes replaced here, so `SELECT c.oid::regclass` keeps its column name. */
function figureColname(node: Record<string, unknown>): string | null {
  const fn = node.FuncCall as FuncCall | undefined;
  if (fn) return names(fn.funcname).pop() ?? null;
  const cast = node.TypeCast as TypeCast | undefined;
  if (cast)
    return (
      (cast.arg && figureColname(cast.arg as Record<string, unknown>)) ??
      names(cast.typeName?.names).pop() ??
      null
    );
  const ref = node.ColumnRef as { fields?: Node[] } | undefined;
  const last = ref?.fields?.[ref.fields.length - 1];
  return last && 'String' in last ? (last.String.sval ?? null) : null;
}

/** Rewrites every catalog call and reg* cast of `tree` in place (iteratively: deep trees do not overflow). */
export function rewriteCatalogCalls(tree: unknown, ctx: CallContext): void {
  const stack: unknown[] = [tree];
  // Select-list items without a name: a replaced call keeps the name PostgreSQL gives it (not "case").
  const unnamed = new Map<object, { name?: string }>();
  const replaceWith = (wrapper: Record<string, unknown>, node: Node): void => {
    const target = unnamed.get(wrapper);
    const name = target ? figureColname(wrapper) : null;
    if (target && name !== null) target.name = name;
    for (const key of Object.keys(wrapper)) delete wrapper[key];
    Object.assign(wrapper, node);
  };
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    const target = o.ResTarget as { name?: string; val?: object } | undefined;
    if (target?.val && target.name === undefined) unnamed.set(target.val, target);
    const fn = o.FuncCall as FuncCall | undefined;
    if (fn && !isAdmittedCall(fn)) {
      const parts = names(fn.funcname);
      const name = parts[parts.length - 1] ?? '';
      const builtin = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
      if (builtin && Object.hasOwn(HANDLERS, name) && !fn.over && !fn.agg_star) {
        const args = [...(fn.args ?? [])];
        const call: Call = { name, args, fn, ctx, t: (text, a = args) => fromTemplate(text, a, ctx.fresh) };
        replaceWith(o, HANDLERS[name]!(call));
      }
    }
    const cast = o.TypeCast as TypeCast | undefined;
    if (cast?.typeName && !isAdmittedCall(cast.typeName)) {
      const parts = names(cast.typeName.names);
      const type = parts[parts.length - 1] ?? '';
      const builtin = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
      if (builtin && REG_TYPES.has(type) && (cast.typeName.arrayBounds?.length ?? 0) <= 1) {
        replaceWith(o, castReplacement(cast, type, ctx));
      }
    }
    for (const key of Object.keys(o)) stack.push(o[key]);
  }
}

/**
 * Whether `tree` names a catalog relation, calls a catalog function or casts
 * to a reg* type. Such statements are never served from literal-normalized
 * templates (rewrite.ts): their rewrite depends on literal VALUES (names
 * resolved against the virtual catalog), not only on the kinds of literals.
 */
export function touchesCatalog(tree: unknown): boolean {
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    const rv = o.RangeVar as { schemaname?: string; relname?: string } | undefined;
    if (
      rv &&
      (rv.schemaname === 'pg_catalog' ||
        rv.schemaname === 'information_schema' ||
        rv.relname?.startsWith('pg_'))
    ) {
      return true;
    }
    const fn = o.FuncCall as FuncCall | undefined;
    if (fn && Object.hasOwn(HANDLERS, names(fn.funcname).pop() ?? '')) return true;
    const cast = o.TypeCast as TypeCast | undefined;
    if (cast && REG_TYPES.has(names(cast.typeName?.names).pop() ?? '')) return true;
    for (const key of Object.keys(o)) stack.push(o[key]);
  }
  return false;
}
