/**
 * Builds the secured subquery (SDT) that replaces one reference to a
 * protected relation (design §2):
 *
 *   (SELECT _rg_1.id, <mask on _rg_1> AS ssn, …
 *      FROM [ONLY] upstream_schema.table AS _rg_1 [TABLESAMPLE …]
 *     WHERE <row filters, AND-ed> [AND <copied leakproof user quals>]
 *    OFFSET 0) AS <user alias or table name>(<user column aliases>)
 *
 * Nodes are built in exactly the shape the parser produces for the SQL they
 * deparse to, because verify.ts compares the re-parsed text with this tree.
 * Policy expressions are cloned (the policy set is shared and immutable) and
 * their unqualified column references qualified by the fresh alias, so they
 * can never bind to anything the user wrote.
 */
import type { Alias, Node, RangeVar, SelectStmt } from '@pgsql/types';
import type { ExprNode, RowFilter, SecuredTable } from '../policy/session.js';
import { PgError, SQLSTATE } from './errors.js';

export const str = (sval: string): Node => ({ String: { sval } });
export const colRef = (...names: string[]): Node => ({ ColumnRef: { fields: names.map(str) } });
const op = (name: string, lexpr: Node, rexpr: Node): Node => ({
  A_Expr: { kind: 'AEXPR_OP', name: [str(name)], lexpr, rexpr },
});
/** AND of `args`, flattened as the parser flattens `a AND b AND c` (so verify.ts sees the same tree). */
export function andOf(args: Node[]): Node {
  const flat = args.flatMap((a) =>
    'BoolExpr' in a && a.BoolExpr.boolop === 'AND_EXPR' ? (a.BoolExpr.args ?? []) : [a],
  );
  return flat.length === 1 ? flat[0]! : { BoolExpr: { boolop: 'AND_EXPR', args: flat } };
}
const falseConst = (): Node => ({ A_Const: { boolval: {} } });
const intConst = (ival: number): Node => ({ A_Const: { ival: ival === 0 ? {} : { ival } } });

export function newSelect(fields: Partial<SelectStmt>): SelectStmt {
  return { ...fields, limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' };
}

export function baseRangeVar(schema: string, table: string, alias: string, inh: boolean): RangeVar {
  // The parser omits `inh` for ONLY (protobuf default false), and pgsql-deparser
  // prints ONLY only when the field is absent — an explicit `inh: false` would lose it.
  const rv: RangeVar = {
    schemaname: schema,
    relname: table,
    relpersistence: 'p',
    alias: { aliasname: alias },
  };
  if (inh) rv.inh = true;
  return rv;
}

const internal = (why: string): PgError => new PgError(SQLSTATE.internalError, `internal error: ${why}`);

/**
 * Deep-clones a policy expression, qualifying every bare column reference by
 * `alias`. Policy expressions never contain relations or sub-queries (the
 * policy module validates them); finding one means the input is not what we
 * think it is, so fail closed.
 */
export function qualify(expr: ExprNode, alias: string): Node {
  return cloneQualify(expr, alias) as Node;
}

function cloneQualify(value: unknown, alias: string): unknown {
  if (Array.isArray(value)) return value.map((v) => cloneQualify(v, alias));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('ColumnRef' in obj) {
    const fields = (obj.ColumnRef as { fields?: Node[] }).fields ?? [];
    const only = fields.length === 1 ? fields[0] : undefined;
    if (!only || !('String' in only)) throw internal('unsupported column reference in a policy expression');
    return colRef(alias, only.String.sval ?? '');
  }
  if ('SelectStmt' in obj || 'RangeVar' in obj || 'SubLink' in obj) {
    throw internal('relation reference in a policy expression');
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) out[key] = cloneQualify(obj[key], alias);
  return out;
}

export interface SecuredSubquery {
  /** The `{ RangeSubselect }` node that takes the RangeVar's place. */
  node: Node;
  /** Its inner SELECT (the fence appends copied conjuncts via `conjuncts`). */
  inner: SelectStmt;
  /** WHERE conjuncts of the inner SELECT; `finish()` turns them into the WHERE clause. */
  conjuncts: Node[];
  table: SecuredTable;
  fresh: string;
  /** Name the outer query uses for this entry. */
  refname: string;
  /** Column names as the outer query sees them (after a user column-alias list). */
  outerNames: string[];
  /** Fenced (OFFSET 0) because it carries a row filter. */
  fenced: boolean;
}

/** `EXISTS (SELECT 1 FROM p1 AS _rg_a, p2 AS _rg_b WHERE _rg_a.pc = <fresh>.cc AND … AND <expr on last>)`. */
function viaFilter(f: Extract<RowFilter, { kind: 'via' }>, fresh: string, nextAlias: () => string): Node {
  if (f.path.length === 0) throw internal('empty anchor path');
  const from: Node[] = [];
  const conds: Node[] = [];
  let child = fresh;
  for (const hop of f.path) {
    const parent = nextAlias();
    from.push({ RangeVar: baseRangeVar(hop.parentSchema, hop.parentTable, parent, true) });
    conds.push(op('=', colRef(parent, hop.parentColumn), colRef(child, hop.childColumn)));
    child = parent;
  }
  conds.push(qualify(f.expr, child));
  const subselect = newSelect({
    targetList: [{ ResTarget: { val: intConst(1) } }],
    fromClause: from,
    whereClause: andOf(conds),
  });
  return { SubLink: { subLinkType: 'EXISTS_SUBLINK', subselect: { SelectStmt: subselect } } };
}

/**
 * `wrapBase` builds what goes into the SDT's FROM: the base RangeVar itself, or a
 * RangeTableSample around it (TABLESAMPLE is moved inside, threat model V130).
 */
export function buildSecuredSubquery(
  table: SecuredTable,
  userRv: RangeVar,
  nextAlias: () => string,
  wrapBase: (base: Node) => Node = (base) => base,
): SecuredSubquery {
  const fresh = nextAlias();
  const targetList: Node[] = table.columns.map((c) =>
    c.mask
      ? { ResTarget: { name: c.name, val: qualify(c.mask.expr, fresh) } }
      : { ResTarget: { val: colRef(fresh, c.name) } },
  );
  const conjuncts: Node[] = [];
  for (const f of table.rowFilters) {
    if (f.kind === 'expr') conjuncts.push(qualify(f.expr, fresh));
    else if (f.kind === 'via') conjuncts.push(viaFilter(f, fresh, nextAlias));
    else if (f.kind === 'false') conjuncts.push(falseConst());
    // A policy broken for this user: the statement fails, it never runs without the policy.
    else if (f.kind === 'error') throw new PgError(f.sqlstate, f.message);
    else throw internal('unknown row filter kind');
  }
  const fenced = table.rowFilters.length > 0;
  const base = wrapBase({ RangeVar: baseRangeVar(table.schema, table.name, fresh, userRv.inh === true) });
  const inner = newSelect({ targetList, fromClause: [base] });
  if (fenced) {
    inner.limitOffset = intConst(0);
    inner.limitOption = 'LIMIT_OPTION_COUNT'; // what the parser records for a plain OFFSET
  }
  const userAlias = userRv.alias;
  const refname = userAlias?.aliasname ?? table.name;
  const alias: Alias = { aliasname: refname };
  if (userAlias?.colnames?.length) alias.colnames = userAlias.colnames;
  const aliasNames = (userAlias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const outerNames = table.columns.map((c, i) => aliasNames[i] ?? c.name);
  const node: Node = { RangeSubselect: { subquery: { SelectStmt: inner }, alias } };
  return { node, inner, conjuncts, table, fresh, refname, outerNames, fenced };
}

/** Writes the collected conjuncts into the inner WHERE (after the fence has added its copies). */
export function finishSecuredSubquery(sdt: SecuredSubquery): void {
  if (sdt.conjuncts.length > 0) sdt.inner.whereClause = andOf(sdt.conjuncts);
}
