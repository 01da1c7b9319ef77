/**
 * Leaky-predicate fence (design §2, threat model V119/V120).
 *
 * A filtered secured subquery ends in `OFFSET 0`, so the upstream planner
 * neither flattens it nor pushes the user's WHERE into it: user predicates
 * run only on rows the row filter kept. That would also stop an index scan
 * for `WHERE id = 5`, so — as PostgreSQL does below a security barrier — we
 * copy into the fenced subquery the user's top-level conjuncts that cannot
 * leak: they reference only this relation's unmasked columns and use only
 * leakproof operators. The list is deliberately tiny and syntactic:
 *
 *   col <op> const|param      op ∈ = <> < > <= >=, on a type family whose
 *                             btree comparison functions are proleakproof
 *   col IS [NOT] NULL
 *   col [NOT] IN (const, …)
 *
 * Copies, never moves: the outer WHERE keeps its conjunct, so the result is
 * the same whether or not anything was copied. Entries on the nullable side
 * of an outer join, and entries hidden behind a join alias, get nothing.
 */
import type { A_Const, Node } from '@pgsql/types';
import { colRef } from './secured-subquery.js';
import type { FromEntry } from './scope.js';

type Family = 'int' | 'float' | 'text' | 'bool' | 'time' | 'uuid';
type ConstKind = 'ival' | 'fval' | 'sval' | 'boolval' | 'null' | 'param';

/** Types whose same-type comparison operators are proleakproof (checked upstream by the integration test; numeric's are not). */
const FAMILIES: Record<string, Family> = {
  int2: 'int',
  int4: 'int',
  int8: 'int',
  float4: 'float',
  float8: 'float',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  bool: 'bool',
  date: 'time',
  timestamp: 'time',
  timestamptz: 'time',
  uuid: 'uuid',
};

/**
 * Which operands keep the comparison on the column type's own (leakproof)
 * operator. Parameters are excluded where a client-declared type could pick a
 * cross-type operator that is not leakproof (e.g. date vs timestamptz).
 */
const OPERANDS: Record<Family, ReadonlySet<ConstKind>> = {
  int: new Set(['ival', 'sval', 'null', 'param']),
  float: new Set(['ival', 'fval', 'sval', 'null']),
  text: new Set(['sval', 'null', 'param']),
  bool: new Set(['boolval', 'sval', 'null', 'param']),
  time: new Set(['sval', 'null']),
  uuid: new Set(['sval', 'null', 'param']),
};

const COMPARISONS = new Set(['=', '<>', '<', '>', '<=', '>=']);

function operandKind(n: Node): ConstKind | null {
  if ('ParamRef' in n) return 'param';
  if (!('A_Const' in n)) return null;
  const c: A_Const = n.A_Const;
  if (c.isnull) return 'null';
  if (c.ival) return 'ival';
  if (c.fval) return 'fval';
  if (c.sval) return 'sval';
  if (c.boolval) return 'boolval';
  return null;
}

interface Target {
  entry: FromEntry;
  column: string;
}

/** The entry and real column a user column reference denotes, when it is a copy candidate. */
function target(ref: Node, entries: readonly FromEntry[]): Target | null {
  if (!('ColumnRef' in ref)) return null;
  const names = (ref.ColumnRef.fields ?? []).map((f) => ('String' in f ? f.String.sval : undefined));
  if (names.some((n) => n === undefined)) return null;
  let entry: FromEntry | undefined;
  let name: string;
  if (names.length === 1) {
    // Unqualified: only when this level has a single range entry, so the
    // name cannot belong to another entry, a join's merged column or USING.
    if (entries.length !== 1) return null;
    entry = entries[0];
    name = names[0]!;
  } else if (names.length === 2) {
    entry = entries.find((e) => e.refname === names[0]);
    name = names[1]!;
  } else return null;
  const sdt = entry?.sdt;
  if (!entry || !sdt || !sdt.fenced || entry.nullable || entry.hidden) return null;
  const idx = sdt.outerNames.indexOf(name);
  if (idx < 0 || sdt.outerNames.indexOf(name, idx + 1) >= 0) return null;
  const column = sdt.table.columns[idx]!;
  if (column.mask) return null;
  return { entry, column: column.name };
}

function family(t: Target): Family | null {
  const udt = t.entry.sdt?.table.columns.find((c) => c.name === t.column)?.udtName;
  return udt ? (FAMILIES[udt] ?? null) : null;
}

/** Returns [target, rebuilt conjunct with the column qualified by the fresh alias] or null. */
function leakproof(conj: Node, entries: readonly FromEntry[]): [Target, Node] | null {
  if ('NullTest' in conj) {
    const t = conj.NullTest.arg ? target(conj.NullTest.arg, entries) : null;
    if (!t) return null;
    return [t, { NullTest: { ...conj.NullTest, arg: colRef(t.entry.sdt!.fresh, t.column) } }];
  }
  if (!('A_Expr' in conj)) return null;
  const e = conj.A_Expr;
  const opName = e.name?.length === 1 && 'String' in e.name[0]! ? e.name[0].String.sval : undefined;
  if (!opName || !COMPARISONS.has(opName) || !e.lexpr || !e.rexpr) return null;
  if (e.kind === 'AEXPR_OP') {
    const leftCol = target(e.lexpr, entries);
    const t = leftCol ?? target(e.rexpr, entries);
    const other = leftCol ? e.rexpr : e.lexpr;
    const kind = operandKind(other);
    const fam = t && family(t);
    if (!t || !fam || !kind || !OPERANDS[fam].has(kind)) return null;
    const col = colRef(t.entry.sdt!.fresh, t.column);
    return [t, { A_Expr: { ...e, lexpr: leftCol ? col : other, rexpr: leftCol ? other : col } }];
  }
  if (e.kind === 'AEXPR_IN' && (opName === '=' || opName === '<>')) {
    const t = target(e.lexpr, entries);
    const fam = t && family(t);
    const items = 'List' in e.rexpr ? (e.rexpr.List.items ?? []) : [];
    if (!t || !fam || items.length === 0) return null;
    if (!items.every((i) => OPERANDS[fam].has(operandKind(i) ?? ('none' as ConstKind)))) return null;
    return [t, { A_Expr: { ...e, lexpr: colRef(t.entry.sdt!.fresh, t.column) } }];
  }
  return null;
}

/** Copies the leakproof top-level conjuncts of `where` into the fenced SDTs of this query level. */
export function copyLeakproofConjuncts(where: Node, entries: readonly FromEntry[]): void {
  if (!entries.some((e) => e.sdt?.fenced)) return;
  const conjuncts =
    'BoolExpr' in where && where.BoolExpr.boolop === 'AND_EXPR' ? (where.BoolExpr.args ?? []) : [where];
  for (const conj of conjuncts) {
    const hit = leakproof(conj, entries);
    if (hit) hit[0].entry.sdt!.conjuncts.push(structuredClone(hit[1]));
  }
}
