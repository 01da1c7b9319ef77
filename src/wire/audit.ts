/** The query-audit record of one statement of a session (simple and extended protocol alike). */
import type { QueryAuditQueue, QueryAuditRecord } from '../audit/query-audit-queue.js';
import { nowTimestamp } from '../store/time.js';
import type { AuthenticatedSession } from './auth.js';

export interface StatementOutcome {
  original: string;
  /** Null when nothing was rewritten, or nothing reached the upstream. */
  rewritten: string | null;
  policies: unknown[];
  status: QueryAuditRecord['status'];
  error: string | null;
  ms: number | null;
  rows: number | null;
}

export function auditStatement(
  audit: QueryAuditQueue | undefined,
  auth: Pick<AuthenticatedSession, 'userId' | 'username' | 'dataSource'>,
  applicationName: string | undefined,
  o: StatementOutcome,
): void {
  audit?.enqueue({
    user_id: auth.userId,
    username: auth.username,
    data_source_id: auth.dataSource.id,
    datasource_name: auth.dataSource.name,
    original_query: o.original,
    rewritten_query: o.rewritten,
    policies_applied: o.policies,
    execution_time_ms: o.ms,
    client_info: applicationName || null,
    status: o.status,
    error_message: o.error,
    rows: o.rows,
    created_at: nowTimestamp(),
  });
}
