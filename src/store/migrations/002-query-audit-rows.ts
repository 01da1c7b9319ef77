/**
 * Rows returned by an audited statement (issue 4), a Rowgate addition to
 * BetweenRows' query_audit_log (§5.12). Null when unknown: refused or failed
 * statements, statements that return no rows, audit rows written before this
 * migration. Stored as integer on both engines; the writer clamps to 2^31-1.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema
type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('query_audit_log').addColumn('rows_returned', 'integer').execute();
}
