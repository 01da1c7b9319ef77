/**
 * The deparse gate (design §2 "re-parse every rewritten statement", threat
 * model V158): the text sent upstream is parsed again and its tree compared
 * with the tree we meant to emit, ignoring only source positions. Protobuf
 * JSON omits default values, so a missing field equals false / 0 / "" / [].
 *
 * The same pass checks the emitted tree for relation references we did not
 * account for (a RangeVar that is neither our own base scan nor a CTE
 * reference): that would be a table reaching upstream unsecured because the
 * walker missed a position. Both failures are internal errors (fail closed).
 */
import type { Node } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import { PgError, SQLSTATE } from './errors.js';
import { forEachObject } from './tree.js';

/** Source-position fields of @pgsql/types (every `*location`, `*_start`, `*_end`, `stmt_len`). */
const POSITIONAL = new Set([
  'location',
  'name_location',
  'stmt_location',
  'stmt_len',
  'list_start',
  'list_end',
  'rexpr_list_start',
  'rexpr_list_end',
]);

const internal = (why: string): PgError => new PgError(SQLSTATE.internalError, `internal error: ${why}`);

function isDefault(v: unknown): boolean {
  return v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0);
}

/** Structural equality modulo positions and protobuf defaults. */
export function sameTree(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return isDefault(a) && isDefault(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameTree(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of Object.keys(ao)) if (!POSITIONAL.has(k) && !sameTree(ao[k], bo[k])) return false;
  for (const k of Object.keys(bo)) if (!POSITIONAL.has(k) && !(k in ao) && !isDefault(bo[k])) return false;
  return true;
}

/** Throws unless every relation reference in `tree` is in `accounted`. */
export function assertNoStrayRelations(tree: unknown, accounted: ReadonlySet<object>): void {
  forEachObject(tree, (o) => {
    if (typeof o.relname === 'string' && !accounted.has(o)) throw internal('unsecured relation reference');
  });
}

/** Re-parses `sql` and requires exactly one statement equal to `intended`. */
export function verifyDeparsed(sql: string, intended: Node): void {
  let reparsed;
  try {
    reparsed = parseSync(sql);
  } catch {
    throw internal('rewritten statement does not parse');
  }
  const stmts = reparsed.stmts ?? [];
  if (stmts.length !== 1 || !sameTree(stmts[0]!.stmt, intended)) {
    throw internal('rewritten statement does not round-trip');
  }
}
