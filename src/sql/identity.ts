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
 * A top-level select-list item keeps PostgreSQL's column name (`current_user`,
 * `current_database`, …) through an explicit alias, since a cast would
 * otherwise be named after its type (`name`).
 */
import type { Node } from '@pgsql/types';
import { isTrustedSubtree } from './catalog/trust.js';
import { REWRITTEN_FUNCTIONS, REWRITTEN_SQL_VALUE_FUNCTIONS } from './function-list.js';
import type { CatalogIndex } from './relations.js';

export interface IdentityValues {
  username: string;
  database: string;
  /** First visible schema of the search path, or null (CURRENT_SCHEMA is NULL then, as in PostgreSQL). */
  schema: string | null;
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

function valueOf(colname: string, v: IdentityValues): string | null {
  if (colname === 'current_catalog' || colname === 'current_database') return v.database;
  if (colname === 'current_schema') return v.schema;
  return v.username;
}

/** Turns the wrapper object into `CAST(<value> AS name)` in place (its parent keeps the reference). */
function replace(node: Wrapper, value: string | null): void {
  for (const key of Object.keys(node)) delete node[key];
  const arg = value === null ? { A_Const: { isnull: true } } : { A_Const: { sval: { sval: value } } };
  node.TypeCast = { arg, typeName: { names: [{ String: { sval: 'name' } }], typemod: -1 } };
}

/** Replaces every identity call in `tree` (iteratively: deep trees do not overflow). */
export function replaceIdentityCalls(tree: unknown, values: IdentityValues): void {
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push(x);
      continue;
    }
    // The inner SELECT of a catalog subquery asks the real upstream on purpose (catalog/trust.ts).
    if (isTrustedSubtree(v)) continue;
    const o = v as Wrapper;
    const target = o.ResTarget as { name?: string; val?: Wrapper } | undefined;
    if (target?.val && target.name === undefined) {
      const colname = replacedName(target.val);
      if (colname) target.name = colname;
    }
    const colname = replacedName(o);
    if (colname) {
      replace(o, valueOf(colname, values));
      continue;
    }
    for (const key of Object.keys(o)) stack.push(o[key]);
  }
}
