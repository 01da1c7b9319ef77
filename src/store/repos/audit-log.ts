/**
 * The two audit logs (api-contract §4.14, §5.12, §5.13, §10).
 *
 * Query audit rows are written off the query path by a batching queue, one
 * multi-row INSERT per batch; they are not admin mutations, so no admin audit
 * row accompanies them. Admin audit rows are written only by the audited
 * transaction (audited.ts). Neither log is updated; rows leave only through
 * the retention job (src/audit/retention.ts).
 *
 * Filters take both spellings (design §9): `from`/`to`/`page_size` and
 * `since`/`until`/`limit`; the first spelling wins when both are given.
 */
import type { Kysely } from 'kysely';
import { newId } from '../ids.js';
import { effectivePage, type Paginated } from '../paging.js';
import { InvalidError } from '../repo-errors.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { countAll, parseJson, toCount } from '../values.js';

export type QueryAuditStatus = 'success' | 'error' | 'denied';

export interface NewQueryAudit {
  id?: string;
  user_id: string;
  username: string;
  data_source_id: string;
  datasource_name: string;
  original_query: string;
  rewritten_query?: string | null;
  policies_applied?: unknown[];
  execution_time_ms?: number | null;
  client_info?: string | null;
  /** Defaults to now; the queue passes the time the statement was received. */
  created_at?: Timestamp;
  status: QueryAuditStatus;
  error_message?: string | null;
  /** Rows returned (Rowgate addition); null when unknown. */
  rows_returned?: number | null;
}

/** §10.1: `client_ip` is deliberately absent (always null since BR 0.17.3). */
export interface QueryAuditRow {
  id: string;
  user_id: string;
  username: string;
  data_source_id: string;
  datasource_name: string;
  original_query: string;
  rewritten_query: string | null;
  policies_applied: unknown[];
  execution_time_ms: number | null;
  client_info: string | null;
  created_at: Timestamp;
  status: string;
  error_message: string | null;
  /** Rowgate addition: rows the statement returned; null when unknown. */
  rows_returned: number | null;
}

export interface AdminAuditRow {
  id: string;
  resource_type: string;
  resource_id: string;
  action: string;
  actor_id: string;
  changes: unknown;
  created_at: Timestamp;
}

export interface AuditListFilter {
  page?: number | undefined;
  page_size?: number | undefined;
  limit?: number | undefined;
  from?: string | undefined;
  to?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

export interface QueryAuditFilter extends AuditListFilter {
  user_id?: string | undefined;
  datasource_id?: string | undefined;
  /** Exact match, not validated (§4.14). */
  status?: string | undefined;
}

export interface AdminAuditFilter extends AuditListFilter {
  resource_type?: string | undefined;
  resource_id?: string | undefined;
  actor_id?: string | undefined;
  action?: string | undefined;
}

const PAGE_RULE = { defaultSize: 50, maxSize: 200, zeroMeansEmpty: true };
/** Rows per INSERT: 15 parameters each stays under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 1000;

/**
 * Parses an audit filter bound: exactly `YYYY-MM-DDTHH:MM:SS` naming a real
 * instant (no fraction, zone or offset, §1.8), else InvalidError
 * `Invalid '<field>' datetime: <value>` (the API answers 400). Returns the
 * store form; bounds are inclusive and compared with the stored timestamp
 * (so `to` includes rows up to that exact second's start, as in BR).
 */
export function parseAuditDateTime(value: string, field: string): Timestamp {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(value);
  const fail = () => new InvalidError(field, `Invalid '${field}' datetime: ${value}`);
  if (!match) throw fail();
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const valid =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  if (!valid) throw fail();
  return `${value}.000000`;
}

function timeBounds(filter: AuditListFilter): { from?: Timestamp; to?: Timestamp } {
  const bounds: { from?: Timestamp; to?: Timestamp } = {};
  if (filter.from !== undefined) bounds.from = parseAuditDateTime(filter.from, 'from');
  else if (filter.since !== undefined) bounds.from = parseAuditDateTime(filter.since, 'since');
  if (filter.to !== undefined) bounds.to = parseAuditDateTime(filter.to, 'to');
  else if (filter.until !== undefined) bounds.to = parseAuditDateTime(filter.until, 'until');
  return bounds;
}

/** One multi-row INSERT per chunk; several chunks commit together. Returns the rows written. */
export async function insertQueryAuditBatch(
  db: Kysely<Database>,
  rows: readonly NewQueryAudit[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const values = rows.map((r) => ({
    id: r.id ?? newId(),
    user_id: r.user_id,
    username: r.username,
    data_source_id: r.data_source_id,
    datasource_name: r.datasource_name,
    original_query: r.original_query,
    rewritten_query: r.rewritten_query ?? null,
    policies_applied: JSON.stringify(r.policies_applied ?? []),
    execution_time_ms: r.execution_time_ms ?? null,
    client_ip: null,
    client_info: r.client_info ?? null,
    created_at: r.created_at ?? nowTimestamp(),
    status: r.status,
    error_message: r.error_message ?? null,
    rows_returned: r.rows_returned ?? null,
  }));
  const write = async (target: Kysely<Database>) => {
    for (let i = 0; i < values.length; i += INSERT_CHUNK) {
      await target
        .insertInto('query_audit_log')
        .values(values.slice(i, i + INSERT_CHUNK))
        .execute();
    }
  };
  if (values.length <= INSERT_CHUNK || db.isTransaction) await write(db);
  else await db.transaction().execute(write);
  return values.length;
}

/** Newest first; default 50, max 200, page_size 0 → no rows (total still counted). */
export async function listQueryAudit(
  db: Kysely<Database>,
  filter: QueryAuditFilter = {},
): Promise<Paginated<QueryAuditRow>> {
  const { from, to } = timeBounds(filter);
  const page = effectivePage({ page: filter.page, pageSize: filter.page_size ?? filter.limit }, PAGE_RULE);
  const base = db
    .selectFrom('query_audit_log')
    .$if(filter.user_id !== undefined, (q) => q.where('user_id', '=', filter.user_id as string))
    .$if(filter.datasource_id !== undefined, (q) =>
      q.where('data_source_id', '=', filter.datasource_id as string),
    )
    .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status as string))
    .$if(from !== undefined, (q) => q.where('created_at', '>=', from as string))
    .$if(to !== undefined, (q) => q.where('created_at', '<=', to as string));
  const { n } = await base.select(countAll().as('n')).executeTakeFirstOrThrow();
  const rows =
    page.limit === 0
      ? []
      : await base
          .select([
            'id',
            'user_id',
            'username',
            'data_source_id',
            'datasource_name',
            'original_query',
            'rewritten_query',
            'policies_applied',
            'execution_time_ms',
            'client_info',
            'created_at',
            'status',
            'error_message',
            'rows_returned',
          ])
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return {
    data: rows.map((r) => ({ ...r, policies_applied: parseJson<unknown[]>(r.policies_applied, []) })),
    total: toCount(n),
    page: page.page,
    page_size: page.pageSize,
  };
}

/** Newest first; `changes` parsed. Same paging and time rules as the query log. */
export async function listAdminAudit(
  db: Kysely<Database>,
  filter: AdminAuditFilter = {},
): Promise<Paginated<AdminAuditRow>> {
  const { from, to } = timeBounds(filter);
  const page = effectivePage({ page: filter.page, pageSize: filter.page_size ?? filter.limit }, PAGE_RULE);
  const base = db
    .selectFrom('admin_audit_log')
    .$if(filter.resource_type !== undefined, (q) =>
      q.where('resource_type', '=', filter.resource_type as string),
    )
    .$if(filter.resource_id !== undefined, (q) => q.where('resource_id', '=', filter.resource_id as string))
    .$if(filter.actor_id !== undefined, (q) => q.where('actor_id', '=', filter.actor_id as string))
    .$if(filter.action !== undefined, (q) => q.where('action', '=', filter.action as string))
    .$if(from !== undefined, (q) => q.where('created_at', '>=', from as string))
    .$if(to !== undefined, (q) => q.where('created_at', '<=', to as string));
  const { n } = await base.select(countAll().as('n')).executeTakeFirstOrThrow();
  const rows =
    page.limit === 0
      ? []
      : await base
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return {
    data: rows.map((r) => ({ ...r, changes: parseJson<unknown>(r.changes, null) })),
    total: toCount(n),
    page: page.page,
    page_size: page.pageSize,
  };
}
