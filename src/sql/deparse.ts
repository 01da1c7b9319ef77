/**
 * Compact (single-line, non-pretty) deparsing of one statement with
 * pgsql-deparser. Kept behind this function so the deparser can be swapped
 * or patched in one place; its output is always checked by verify.ts.
 *
 * Patches (each a construct whose upstream output did not re-parse to the
 * same tree, which verify.ts rejects as an internal error):
 * - `x::pg_catalog.text`: upstream prints `x::text`, dropping the schema;
 *   an explicitly qualified catalog type is printed as `CAST(x AS pg_catalog.t)`.
 * - `(expr)[i]`: upstream parenthesises only some subscripted expressions,
 *   so `(CASE … END)[1]` came out as `CASE … END[1]` (a syntax error); every
 *   subscripted / field-selected expression is parenthesised now.
 */
import type { A_Indirection, Node, TypeCast } from '@pgsql/types';
import { Deparser } from 'pgsql-deparser';
import { PgError, SQLSTATE } from './errors.js';
import { quoteIdent } from './catalog/literals.js';

type Context = Parameters<Deparser['TypeCast']>[1];

class RoundTripDeparser extends Deparser {
  override TypeCast(node: TypeCast, context: Context): string {
    const names = node.typeName?.names ?? [];
    const first = names[0] as { String?: { sval?: string } } | undefined;
    if (names.length === 2 && first?.String?.sval === 'pg_catalog' && node.arg) {
      const typeName = this.TypeName(node.typeName!, context);
      // Keyword types (int, boolean, …) re-parse to pg_catalog names by grammar.
      if (typeName.startsWith('pg_catalog.')) return `CAST(${this.visit(node.arg, context)} AS ${typeName})`;
    }
    return super.TypeCast(node, context);
  }

  override A_Indirection(node: A_Indirection, context: Context): string {
    const arg = node.arg ? this.visit(node.arg, context) : '';
    const parts = [`(${arg})`];
    for (const sub of (node.indirection ?? []) as Node[]) {
      if ('String' in sub) parts.push(`.${quoteIdent(sub.String.sval ?? '')}`);
      else if ('A_Star' in sub) parts.push('.*');
      else parts.push(this.visit(sub, context));
    }
    return parts.join('');
  }
}

export function deparseStatement(stmt: Node): string {
  try {
    return new RoundTripDeparser(stmt, { pretty: false }).deparseQuery();
  } catch {
    // A deparser failure is ours, never the user's: fail closed without detail.
    throw new PgError(SQLSTATE.internalError, 'internal error: statement could not be deparsed');
  }
}
