/**
 * Identity functions answered by the proxy (threat model V79, V117).
 *
 * Upstream, CURRENT_USER / SESSION_USER / CURRENT_ROLE / USER name the
 * service role, CURRENT_CATALOG / current_database() the real database, and
 * CURRENT_SCHEMA / current_schema() a real schema. The rewriter replaces each
 * such node by a typed constant — `'alice'::name`, `'demo_ecommerce'::name`,
 * the first visible schema of the session's search path or `NULL::name` — so
 * the answer is the Rowgate user's view and the upstream's identity never
 * leaves it. functions.ts admits these calls in user statements only because
 * of this, and refuses them in the rewritten tree (fail closed).
 *
 * Two session answers are virtual as well: `pg_backend_pid()` is the process
 * id the client was given in BackendKeyData (threat model V98: the upstream
 * pid of a pooled backend would identify other tenants' backends), and
 * `txid_current()` is a virtual transaction clock (V96: the real counter
 * shows the write rate of everyone else) — Unix seconds of the statement, but
 * never below the catalog state number (catalog/system-columns.ts), so a
 * client comparing catalog `xmin` with a remembered txid (DataGrip) sees every
 * object as changed after a change of the user's visibility, and nothing leaks.
 *
 * A select-list item keeps PostgreSQL's column name (`current_user`,
 * `current_database`, …) through an explicit alias, since a cast would
 * otherwise be named after its type (`name`).
 */
import type { Node } from '@pgsql/types';
import { figureColname, isStar } from './catalog/colname.js';
import { isTrustedSubtree } from './catalog/trust.js';
import { REWRITTEN_FUNCTIONS, REWRITTEN_SQL_VALUE_FUNCTIONS } from './function-list.js';
import type { CatalogIndex } from './relations.js';

export interface IdentityValues {
  username: string;
  database: string;
  /** First visible schema of the search path, or null (CURRENT_SCHEMA is NULL then, as in PostgreSQL). */
  schema: string | null;
  /** The session's virtual pid; null when the caller has none (pg_backend_pid() is then NULL). */
  backendPid: number | null;
  /** The catalog state number of this policy set (CatalogCache.stateNumber). */
  stateNumber: number;
}

/** Schemas served by the virtual catalog count as existing for CURRENT_SCHEMA. */
const CATALOG_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/** PostgreSQL's current_schema(): the first search-path entry that names a schema the user can see. */
export function currentSchema(searchPath: readonly string[], index: CatalogIndex): string | null {
  for (const entry of searchPath) {
    const name = entry === '$user' ? index.username : entry;
    if (index.schemas.has(name) || CATALOG_SCHEMAS.has(name)) return name;
  }
  return null;
}

type Wrapper = Record<string, unknown>;

/** The column name PostgreSQL gives the node (FigureColname), or null when it is not replaced. */
function replacedName(node: Wrapper): string | null {
  const svf = node.SQLValueFunction as { op?: string } | undefined;
  if (svf) return REWRITTEN_SQL_VALUE_FUNCTIONS.has(svf.op ?? '') ? svf.op!.slice(6).toLowerCase() : null;
  const fn = node.FuncCall as
    | { funcname?: Node[]; args?: Node[]; over?: unknown; agg_filter?: unknown; agg_star?: boolean }
    | undefined;
  if (!fn || fn.args?.length || fn.over || fn.agg_filter || fn.agg_star) return null;
  const parts = (fn.funcname ?? []).map((n) => ('String' in n ? n.String.sval : undefined));
  const name = parts[parts.length - 1] ?? '';
  const qualifiedOk = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
  return qualifiedOk && REWRITTEN_FUNCTIONS.has(name) ? name : null;
}

const typeName = (name: string) => ({ names: [{ String: { sval: name } }], typemod: -1 });
const cast = (arg: object, type: string): Wrapper => ({ TypeCast: { arg, typeName: typeName(type) } });
const fn = (name: string, args: object[] = []): Wrapper => ({
  FuncCall: {
    funcname: [{ String: { sval: 'pg_catalog' } }, { String: { sval: name } }],
    ...(args.length ? { args } : {}),
    funcformat: 'COERCE_EXPLICIT_CALL',
  },
});

/** The replacement node of the identity call named `colname`. */
function valueOf(colname: string, v: IdentityValues): Wrapper {
  if (colname === 'pg_backend_pid')
    return cast(
      v.backendPid === null ? { A_Const: { isnull: true } } : { A_Const: { ival: { ival: v.backendPid } } },
      'int4',
    );
  if (colname === 'txid_current') {
    // GREATEST(<state number>, date_part('epoch', statement_timestamp())::int8): evaluated upstream, so cacheable.
    const now = cast(
      fn('date_part', [{ A_Const: { sval: { sval: 'epoch' } } }, fn('statement_timestamp')]),
      'int8',
    );
    return {
      MinMaxExpr: {
        op: 'IS_GREATEST',
        args: [cast({ A_Const: { ival: { ival: v.stateNumber } } }, 'int8'), now],
      },
    };
  }
  let value: string | null = v.username;
  if (colname === 'current_catalog' || colname === 'current_database') value = v.database;
  if (colname === 'current_schema') value = v.schema;
  return cast(
    value === null ? { A_Const: { isnull: true } } : { A_Const: { sval: { sval: value } } },
    'name',
  );
}

/** Turns the wrapper object into `replacement` in place (its parent keeps the reference). */
function replace(node: Wrapper, replacement: Wrapper): void {
  for (const key of Object.keys(node)) delete node[key];
  Object.assign(node, replacement);
}

/** A select-list item without an alias, named as PostgreSQL names its original expression. */
interface Item {
  target: { name?: string };
  name: string | null;
  changed: boolean;
  outer: Item | null;
}

/**
 * Replaces every identity call in `tree` (iteratively: deep trees do not
 * overflow). A select-list item without an alias that a replacement changed,
 * however deep, keeps PostgreSQL's name for it (`current_user::text` is
 * `current_user`, not `text`).
 */
export function replaceIdentityCalls(tree: unknown, values: IdentityValues): void {
  const stack: [unknown, Item | null][] = [[tree, null]];
  const items: Item[] = [];
  while (stack.length > 0) {
    const [v, enclosing] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push([x, enclosing]);
      continue;
    }
    // The inner SELECT of a catalog subquery asks the real upstream on purpose (catalog/trust.ts).
    if (isTrustedSubtree(v)) continue;
    const o = v as Wrapper;
    let item = enclosing;
    const target = o.ResTarget as { name?: string; val?: Wrapper } | undefined;
    if (target?.val && target.name === undefined && !isStar(target.val)) {
      // Figured before anything below is replaced: the stack visits a node before its children.
      item = { target, name: figureColname(target.val), changed: false, outer: enclosing };
      items.push(item);
    }
    const colname = replacedName(o);
    if (colname) {
      replace(o, valueOf(colname, values));
      for (let i = item; i; i = i.outer) i.changed = true;
      continue;
    }
    for (const key of Object.keys(o)) stack.push([o[key], item]);
  }
  for (const i of items) if (i.changed && i.name !== null) i.target.name = i.name;
}
