/**
 * System columns of catalog rows. The filtered catalog subqueries have no
 * system columns, but clients read one: DataGrip selects `xmin` of
 * pg_namespace, pg_class, pg_attribute, pg_constraint, … as a "state number"
 * and compares it with a remembered `txid_current()` to re-read only changed
 * objects. The real xmin would expose the transaction counter (`age(xmin)`,
 * threat model V96), so a reference that PostgreSQL would bind to a catalog
 * relation's xmin becomes the policy set's state number instead (an int8
 * constant: age() has no int8 form, so it cannot be turned back into a
 * counter probe). Every catalog row shows the same number, which changes when
 * the user's visibility does; `txid_current()` never answers below it
 * (identity.ts), so such a client sees everything as changed after a policy
 * or catalog change and nothing as changed otherwise. Upstream DDL that keeps
 * the visible set unchanged (a new comment) is not noticed until the next
 * full refresh: the documented price of not reading the real counter.
 *
 * Binding follows PostgreSQL: `alias.xmin` binds to the nearest FROM entry of
 * that name, plain `xmin` to the only entry of the nearest level that has any
 * (with several entries PostgreSQL reports an ambiguity, and so does the
 * upstream, since the subqueries have no xmin column). Other system columns
 * (ctid, cmin, tableoid, …) stay unknown: no client reads them from catalogs.
 */
import type { Node } from '@pgsql/types';

export interface StateColumnEntry {
  refname: string;
  hidden: boolean;
  /** A catalog relation's filtered subquery. */
  catalog?: boolean;
}

export interface StateColumnLevel {
  entries: readonly StateColumnEntry[];
  parent: StateColumnLevel | null;
}

const STATE_COLUMN = 'xmin';

/** The constant replacing `fields` (a ColumnRef's), or null when it does not name a catalog row's xmin. */
export function catalogStateColumn(
  fields: readonly Node[] | undefined,
  level: StateColumnLevel | null,
  stateNumber: number,
): Node | null {
  // Every column reference of every statement comes here: answer the common case without allocating.
  const last = fields?.[fields.length - 1];
  if (!fields || fields.length > 2 || !last || !('String' in last) || last.String.sval !== STATE_COLUMN)
    return null;
  const first = fields[0]!;
  const qualifier = fields.length === 2 ? ('String' in first ? first.String.sval : '') : undefined;
  for (let l = level; l; l = l.parent) {
    const entries = l.entries.filter((e) => !e.hidden);
    if (qualifier === undefined) {
      if (entries.length === 0) continue;
      return entries.length === 1 && entries[0]!.catalog ? stateConstant(stateNumber) : null;
    }
    const entry = entries.find((e) => e.refname === qualifier);
    if (entry) return entry.catalog ? stateConstant(stateNumber) : null;
  }
  return null;
}

/** Whether a catalog relation is in scope at `level` (only then can a column become a state number). */
export function catalogInScope(level: StateColumnLevel | null): boolean {
  for (let l = level; l; l = l.parent) if (l.entries.some((e) => e.catalog)) return true;
  return false;
}

function stateConstant(stateNumber: number): Node {
  return {
    TypeCast: {
      arg: { A_Const: { ival: { ival: stateNumber } } },
      typeName: { names: [{ String: { sval: 'int8' } }], typemod: -1 },
    },
  };
}
