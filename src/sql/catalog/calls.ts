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
 * - Name arguments (has_table_privilege('orders', …), to_regclass('orders'))
 *   are resolved here against the virtual catalog and emitted as upstream
 *   names; a hidden name fails as a missing one. reg* casts, scalar and
 *   array, literal, parameter or expression: reg-casts.ts.
 * - Answers about the session are computed from the proxy's view:
 *   pg_table_is_visible / pg_type_is_visible follow the client's search path,
 *   has_*_privilege means "visible" (SELECT / USAGE / CONNECT / EXECUTE) for
 *   any role argument, pg_get_userbyid names the Rowgate user for the
 *   synthetic owner, current_schemas() lists visible schemas, version() the
 *   upstream major.minor without build details.
 * - Definitions of objects never shown (triggers, rules, statistics objects,
 *   partition keys), serial sequences, sizes and shared comments are NULL.
 * Template arguments always stay outside sub-selects (no name capture).
 * A select-list item keeps the column name PostgreSQL gives the original
 * expression (colname.ts), however deep the replaced call sits in it.
 */
import type { FuncCall, Node, TypeCast } from '@pgsql/types';
import { PgError, SQLSTATE } from '../errors.js';
import { undefinedFunction } from '../functions.js';
import type { Call, CallContext } from './call-support.js';
import {
  fromTemplate,
  guarded,
  NSPS,
  PROCS,
  REG_TYPES,
  RELS,
  regclassLiteral,
  stringLiteral,
  TYPES,
} from './call-support.js';
import { figureColname, isStar } from './colname.js';
import { databasePrivilege, functionPrivilege, relationPrivilege, schemaPrivilege } from './privileges.js';
import { sqlString, textArray } from './literals.js';
import { castReplacement } from './reg-casts.js';
import { someObject } from '../tree.js';
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
        // Missing (or hidden), or not a name at all: NULL, as PostgreSQL 16+ answers.
        if (err instanceof PgError && (err.sqlstate === SQLSTATE.undefinedTable || err.sqlstate === '42602'))
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

/** An unnamed select-list item: the name PostgreSQL gives its original expression, and whether it changed. */
interface Item {
  target: { name?: string };
  name: string | null;
  changed: boolean;
  outer: Item | null;
}

/**
 * Rewrites every catalog call and reg* cast of `tree` in place (iteratively:
 * deep trees do not overflow). A select-list item without an alias that a
 * replacement changed, however deep, gets the name PostgreSQL gives the
 * original (colname.ts) — never the replacement's (`case`, `regclass`).
 */
export function rewriteCatalogCalls(tree: unknown, ctx: CallContext): void {
  const stack: [unknown, Item | null][] = [[tree, null]];
  const items: Item[] = [];
  const replaceWith = (wrapper: Record<string, unknown>, node: Node, item: Item | null): void => {
    for (let i = item; i; i = i.outer) i.changed = true;
    for (const key of Object.keys(wrapper)) delete wrapper[key];
    Object.assign(wrapper, node);
  };
  while (stack.length > 0) {
    const [v, enclosing] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push([x, enclosing]);
      continue;
    }
    const o = v as Record<string, unknown>;
    let item = enclosing;
    const target = o.ResTarget as { name?: string; val?: Record<string, unknown> } | undefined;
    if (target?.val && target.name === undefined && !isStar(target.val)) {
      // Figured before anything below is replaced: the stack visits a node before its children.
      item = { target, name: figureColname(target.val), changed: false, outer: enclosing };
      items.push(item);
    }
    const fn = o.FuncCall as FuncCall | undefined;
    if (fn && !isAdmittedCall(fn)) {
      const parts = names(fn.funcname);
      const name = parts[parts.length - 1] ?? '';
      const builtin = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
      if (builtin && Object.hasOwn(HANDLERS, name) && !fn.over && !fn.agg_star) {
        const args = [...(fn.args ?? [])];
        const call: Call = { name, args, fn, ctx, t: (text, a = args) => fromTemplate(text, a, ctx.fresh) };
        replaceWith(o, HANDLERS[name]!(call), item);
      }
    }
    const cast = o.TypeCast as TypeCast | undefined;
    if (cast?.typeName && !isAdmittedCall(cast.typeName)) {
      const parts = names(cast.typeName.names);
      const type = parts[parts.length - 1] ?? '';
      const builtin = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
      if (builtin && REG_TYPES.has(type) && (cast.typeName.arrayBounds?.length ?? 0) <= 1) {
        replaceWith(o, castReplacement(cast, type, ctx), item);
      }
    }
    for (const key of Object.keys(o)) stack.push([o[key], item]);
  }
  for (const i of items) if (i.changed && i.name !== null) i.target.name = i.name;
}

/**
 * Whether `tree` names a catalog relation, calls a catalog function or casts
 * to a reg* type. Such statements are never served from literal-normalized
 * templates (rewrite.ts): their rewrite depends on literal VALUES (names
 * resolved against the virtual catalog), not only on the kinds of literals.
 */
export function touchesCatalog(tree: unknown): boolean {
  return someObject(tree, (o) => {
    const rv = o.RangeVar as { schemaname?: string; relname?: string } | undefined;
    if (rv)
      return (
        rv.schemaname === 'pg_catalog' ||
        rv.schemaname === 'information_schema' ||
        rv.relname?.startsWith('pg_') === true
      );
    const fn = o.FuncCall as FuncCall | undefined;
    if (fn && Object.hasOwn(HANDLERS, names(fn.funcname).pop() ?? '')) return true;
    const cast = o.TypeCast as TypeCast | undefined;
    return cast !== undefined && REG_TYPES.has(names(cast.typeName?.names).pop() ?? '');
  });
}
