/**
 * One pruning pass over one audit log (issue 5, audit retention): delete rows
 * older than a maximum age, then rows beyond a maximum count (the newest are
 * kept). Used by the retention job in ./retention.ts.
 *
 * Deletes go in bounded chunks, each its own short statement (autocommit),
 * so pruning a huge backlog never holds the SQLite write lock or PostgreSQL
 * row locks for long and audit writers interleave between chunks. Every
 * chunk picks its rows through the `created_at` index (query_audit_created_idx,
 * admin_audit_created_idx). Both conditions are idempotent — "older than
 * the cutoff", "at or before the edge row" — so two replicas pruning the same
 * PostgreSQL store at once never delete more than the rules allow.
 */
import type { Kysely } from 'kysely';
import type { Database, Timestamp } from '../store/schema.js';
import { formatTimestamp } from '../store/time.js';

export type AuditLogTable = 'query_audit_log' | 'admin_audit_log';

export interface LogRetention {
  /** Rows older than this many days go; 0 = no age limit. */
  maxAgeDays: number;
  /** At most this many newest rows stay; 0 = no count limit. */
  maxRows: number;
}

export interface LogPruneResult {
  /** Rows deleted for being older than maxAgeDays. */
  byAge: number;
  /** Rows deleted for being beyond maxRows. */
  byRows: number;
}

export interface PruneOptions {
  /** Rows per DELETE statement. */
  chunkSize: number;
  now: Date;
  /** Checked between chunks: true stops the pass early (shutdown). */
  stopped: () => boolean;
}

const DAY_MS = 86_400_000;

export async function pruneLog(
  db: Kysely<Database>,
  table: AuditLogTable,
  rule: LogRetention,
  options: PruneOptions,
): Promise<LogPruneResult> {
  const result: LogPruneResult = { byAge: 0, byRows: 0 };
  if (rule.maxAgeDays > 0) {
    const cutoff = formatTimestamp((options.now.getTime() - rule.maxAgeDays * DAY_MS) * 1000);
    result.byAge = await deleteOlderThan(db, table, cutoff, options);
  }
  if (rule.maxRows > 0 && !options.stopped()) {
    result.byRows = await deleteBeyondCount(db, table, rule.maxRows, options);
  }
  return result;
}

/** Chunks of the oldest rows with created_at < cutoff, until none is left. */
async function deleteOlderThan(
  db: Kysely<Database>,
  table: AuditLogTable,
  cutoff: Timestamp,
  options: PruneOptions,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await db
      .deleteFrom(table)
      .where('id', 'in', (eb) =>
        eb
          .selectFrom(table)
          .select('id')
          .where('created_at', '<', cutoff)
          .orderBy('created_at')
          .limit(options.chunkSize),
      )
      .executeTakeFirst();
    const n = Number(result.numDeletedRows);
    deleted += n;
    if (n < options.chunkSize || options.stopped()) return deleted;
  }
}

/**
 * The newest `maxRows` rows stay. The edge is the newest row beyond them
 * (ordered by created_at, then id); it and everything older go: first the
 * rows strictly older than the edge's timestamp, in chunks, then the few
 * sharing the edge's timestamp with an id at or below the edge's.
 */
async function deleteBeyondCount(
  db: Kysely<Database>,
  table: AuditLogTable,
  maxRows: number,
  options: PruneOptions,
): Promise<number> {
  const edge = await db
    .selectFrom(table)
    .select(['created_at', 'id'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .offset(maxRows)
    .limit(1)
    .executeTakeFirst();
  if (!edge) return 0;
  let deleted = await deleteOlderThan(db, table, edge.created_at, options);
  if (options.stopped()) return deleted;
  const ties = await db
    .deleteFrom(table)
    .where('created_at', '=', edge.created_at)
    .where('id', '<=', edge.id)
    .executeTakeFirst();
  deleted += Number(ties.numDeletedRows);
  return deleted;
}
