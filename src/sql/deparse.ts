/**
 * Compact (single-line, non-pretty) deparsing of one statement with
 * pgsql-deparser. Kept behind this function so the deparser can be swapped
 * or patched in one place; its output is always checked by verify.ts.
 */
import type { Node } from '@pgsql/types';
import { deparseSync } from 'pgsql-deparser';
import { PgError, SQLSTATE } from './errors.js';

export function deparseStatement(stmt: Node): string {
  try {
    return deparseSync(stmt, { pretty: false });
  } catch {
    // A deparser failure is ours, never the user's: fail closed without detail.
    throw new PgError(SQLSTATE.internalError, 'internal error: statement could not be deparsed');
  }
}
