/**
 * Query-audit records of refused connection attempts (issue 4: "every
 * refused connection attempt produces a query-audit record"): wrong
 * password, unknown or inactive user, throttled, empty password, protocol
 * violation during authentication, no user name, database unknown / inactive
 * / not granted, TLS required, too many connections (total and per user).
 *
 * One record per attempt, written like a statement's (status `denied`):
 *   user_id, data_source_id  the named user's / data source's id when it
 *                            exists, else the nil UUID (the columns are NOT NULL)
 *   username, datasource_name  as the startup packet named them (database
 *                            defaulting to the user name), clipped to 63 bytes
 *                            as PostgreSQL truncates names
 *   original_query           the fixed marker `-- connection refused`
 *   error_message            the exact message the client got, then the
 *                            internal reason in parentheses — for admins
 *                            only, e.g. `password authentication failed for
 *                            user "x" (unknown user)`
 *   client_info              the startup packet's application_name
 *   execution_time_ms, rewritten_query  null;  policies_applied  []
 *
 * The ids (and the reason of a 3D000) are looked up after the FATAL went out,
 * and only for attempts the rate limit lets through (admission-audit-limit.ts;
 * suppressed ones end up in one summary record per minute, with empty names
 * and nil ids). So auditing changes neither what nor when the client is
 * answered, and a flood costs the store no more than the limit allows.
 *
 * Not recorded: a client that leaves during authentication (psql does so to
 * prompt for a password), a socket the start-up cap closed unread, packets
 * refused before a startup packet named anyone (unsupported protocol,
 * malformed frames), and successful connections (their statements are).
 */
import type { QueryAuditQueue, QueryAuditRecord } from '../audit/query-audit-queue.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { nowTimestamp } from '../store/time.js';
import { RefusalAuditLimiter, type RefusalAuditLimitOptions } from './admission-audit-limit.js';

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** original_query of every refused-connection record. */
export const REFUSED_CONNECTION_MARKER = '-- connection refused';
/** PostgreSQL's NAMEDATALEN - 1. */
export const NAME_MAX_BYTES = 63;

/** `name` cut to 63 UTF-8 bytes, on a character boundary (PostgreSQL's truncation of startup names). */
export function clipName(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= NAME_MAX_BYTES) return name;
  let end = NAME_MAX_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // back off a continuation byte
  return bytes.toString('utf8', 0, end);
}

/** Who tried, as the startup packet said. */
export interface RefusedAttempt {
  address: string;
  username: string;
  database: string;
  applicationName?: string | undefined;
}

/** The data source as the audit finds it after a 3D000; undefined when no such name exists. */
export type DataSourceState = { id: string; active: boolean } | undefined;

/** The internal reason, or a function of the data source's state (a 3D000 does not know which case it was). */
export type RefusalReason = string | ((dataSource: DataSourceState) => string);

export interface RefusalAuditContext {
  store: Store;
  logger: Logger;
  audit?: QueryAuditQueue | undefined;
}

const limiters = new WeakMap<QueryAuditQueue, RefusalAuditLimiter>();
/** Records still waiting for their id lookups, per queue. */
const pending = new WeakMap<QueryAuditQueue, Set<Promise<void>>>();

/** Resolves once every refusal record started so far is in the queue (before a flush or close). */
export async function refusalAuditsQueued(queue: QueryAuditQueue): Promise<void> {
  await Promise.all([...(pending.get(queue) ?? [])]);
}

/** The queue's refusal rate limit; `options` apply when it is first created (tests). */
export function refusalAuditLimiter(
  queue: QueryAuditQueue,
  options: Partial<RefusalAuditLimitOptions> = {},
): RefusalAuditLimiter {
  let limiter = limiters.get(queue);
  if (!limiter) {
    limiter = new RefusalAuditLimiter((s) => {
      const window = `${new Date(s.from).toISOString()} to ${new Date(s.to).toISOString()}`;
      const top = s.topAddress ? `; most from ${s.topAddress} (${s.topCount})` : '';
      queue.enqueue({
        ...refusalRecord({ address: '', username: '', database: '' }, NIL_UUID, NIL_UUID),
        error_message:
          `${s.count} refused connection attempts from ${window} not recorded one by one ` +
          `(over ${s.limits.perAddress} per client address or ${s.limits.total} in all per minute)${top}`,
      });
    }, options);
    limiters.set(queue, limiter);
  }
  return limiter;
}

function refusalRecord(attempt: RefusedAttempt, userId: string, dataSourceId: string): QueryAuditRecord {
  return {
    user_id: userId,
    username: attempt.username,
    data_source_id: dataSourceId,
    datasource_name: attempt.database,
    original_query: REFUSED_CONNECTION_MARKER,
    rewritten_query: null,
    policies_applied: [],
    execution_time_ms: null,
    client_info: attempt.applicationName || null,
    status: 'denied',
    error_message: null,
    rows: null,
    created_at: nowTimestamp(),
  };
}

/**
 * Queues the record of one refused attempt (see the header); `message` is
 * exactly what the client was sent. Never throws, never delays the caller.
 */
export function auditRefusal(
  ctx: RefusalAuditContext,
  attempt: RefusedAttempt,
  message: string,
  reason: RefusalReason,
  known: { userId?: string | undefined } = {},
): void {
  const queue = ctx.audit;
  if (!queue || !refusalAuditLimiter(queue).admit(attempt.address)) return;
  const record = refusalRecord(attempt, known.userId ?? NIL_UUID, NIL_UUID);
  const finish = (ids: { userId: string; dataSource: DataSourceState }) => {
    const why = typeof reason === 'string' ? reason : reason(ids.dataSource);
    queue.enqueue({
      ...record,
      user_id: ids.userId,
      data_source_id: ids.dataSource?.id ?? NIL_UUID,
      error_message: `${message} (${why})`,
    });
  };
  const lookups = pending.get(queue) ?? new Set<Promise<void>>();
  pending.set(queue, lookups);
  const done = lookUp(ctx.store, attempt, known.userId)
    .then(finish, (err: unknown) => {
      ctx.logger.warn({ err }, 'refused connection audited without ids: admin store lookup failed');
      finish({ userId: record.user_id, dataSource: undefined });
    })
    .finally(() => lookups.delete(done));
  lookups.add(done);
}

async function lookUp(
  store: Store,
  attempt: RefusedAttempt,
  knownUserId: string | undefined,
): Promise<{ userId: string; dataSource: DataSourceState }> {
  const user =
    knownUserId ??
    (attempt.username === ''
      ? undefined
      : (
          await store.db
            .selectFrom('proxy_user')
            .select('id')
            .where('username', '=', attempt.username)
            .executeTakeFirst()
        )?.id);
  const ds =
    attempt.database === ''
      ? undefined
      : await store.db
          .selectFrom('data_source')
          .select(['id', 'is_active'])
          .where('name', '=', attempt.database)
          .executeTakeFirst();
  return {
    userId: user ?? NIL_UUID,
    dataSource: ds && { id: ds.id, active: Boolean(ds.is_active) },
  };
}
