/**
 * Audit retention (features: "audit retention TTL / row cap"): deletes query
 * and admin audit rows older than an age or beyond a row cap. Pruning is the
 * only way audit rows leave the store; it is an operator job, not an API
 * mutation, so it writes no admin audit row itself.
 */
import type { Kysely } from 'kysely';
import { InvalidError } from '../repo-errors.js';
import type { Database } from '../schema.js';
import { formatTimestamp } from '../time.js';

export interface RetentionRule {
  /** Delete rows older than this many days. */
  maxAgeDays?: number;
  /** Keep at most this many newest rows. */
  maxRows?: number;
}

export type AuditLogName = 'query_audit_log' | 'admin_audit_log';

/** Applies a retention rule to one log; returns the number of rows deleted. */
export async function pruneAuditLog(
  db: Kysely<Database>,
  log: AuditLogName,
  rule: RetentionRule,
  now: Date = new Date(),
): Promise<number> {
  let deleted = 0;
  if (rule.maxAgeDays !== undefined) {
    if (!(rule.maxAgeDays >= 0)) throw new InvalidError('maxAgeDays', 'maxAgeDays must be zero or positive');
    const cutoff = formatTimestamp(Math.floor((now.getTime() - rule.maxAgeDays * 86_400_000) * 1000));
    const result = await db.deleteFrom(log).where('created_at', '<', cutoff).executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  if (rule.maxRows !== undefined) {
    if (!Number.isInteger(rule.maxRows) || rule.maxRows < 0) {
      throw new InvalidError('maxRows', 'maxRows must be a non-negative integer');
    }
    // The newest row beyond the cap: it and everything older go (created_at, then id, breaks ties).
    const edge = await db
      .selectFrom(log)
      .select(['created_at', 'id'])
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(rule.maxRows)
      .limit(1)
      .executeTakeFirst();
    if (edge) {
      const result = await db
        .deleteFrom(log)
        .where((eb) =>
          eb.or([
            eb('created_at', '<', edge.created_at),
            eb.and([eb('created_at', '=', edge.created_at), eb('id', '<=', edge.id)]),
          ]),
        )
        .executeTakeFirst();
      deleted += Number(result.numDeletedRows);
    }
  }
  return deleted;
}

/** The retention job: the same rule on both logs. */
export async function pruneAuditLogs(
  db: Kysely<Database>,
  rule: RetentionRule,
  now: Date = new Date(),
): Promise<{ query_audit_log: number; admin_audit_log: number }> {
  return {
    query_audit_log: await pruneAuditLog(db, 'query_audit_log', rule, now),
    admin_audit_log: await pruneAuditLog(db, 'admin_audit_log', rule, now),
  };
}
