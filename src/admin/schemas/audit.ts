/**
 * Wire form of the two audit logs (api-contract §4.14, §10): row schemas,
 * list filters (both spellings, design §9: `from`/`to`/`page_size` and
 * `since`/`until`/`limit`) and presenters.
 */
import { Type } from '@sinclair/typebox';
import type { AdminAuditRow, QueryAuditRow } from '../../store/repos/audit-log.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

const bound = (description: string) =>
  Type.Optional(Type.String({ description: `${description}, exactly YYYY-MM-DDTHH:MM:SS (UTC)` }));

const TimeFilters = {
  ...PageQuery,
  limit: Type.Optional(Type.Integer({ minimum: 0, description: 'alias of page_size' })),
  from: bound('inclusive lower bound on created_at'),
  to: bound('inclusive upper bound on created_at'),
  since: bound('alias of from'),
  until: bound('alias of to'),
};

export const QueryAuditQuery = Type.Object({
  ...TimeFilters,
  user_id: Type.Optional(Uuid()),
  datasource_id: Type.Optional(Uuid()),
  status: Type.Optional(Type.String({ description: 'success | error | denied (exact match)' })),
});

export const AdminAuditQuery = Type.Object({
  ...TimeFilters,
  resource_type: Type.Optional(Type.String()),
  resource_id: Type.Optional(Uuid()),
  actor_id: Type.Optional(Uuid()),
  action: Type.Optional(Type.String()),
});

export const QueryAuditRowSchema = Type.Object({
  id: Uuid(),
  user_id: Uuid(),
  username: Type.String(),
  data_source_id: Uuid(),
  datasource_name: Type.String(),
  original_query: Type.String(),
  rewritten_query: Nullable(Type.String()),
  policies_applied: Type.Array(Type.Unknown()),
  execution_time_ms: Nullable(Type.Integer()),
  client_info: Nullable(Type.String()),
  created_at: Timestamp,
  status: Type.String(),
  error_message: Nullable(Type.String()),
  rows_returned: Nullable(Type.Integer({ description: 'Rowgate addition: rows the statement returned' })),
});

export const AdminAuditRowSchema = Type.Object({
  id: Uuid(),
  resource_type: Type.String(),
  resource_id: Uuid(),
  action: Type.String(),
  actor_id: Uuid(),
  changes: Type.Unknown({ description: 'parsed JSON object, or null' }),
  created_at: Timestamp,
});

export const presentQueryAuditRow = (row: QueryAuditRow) => ({
  ...row,
  created_at: toApiTimestamp(row.created_at),
});

export const presentAdminAuditRow = (row: AdminAuditRow) => ({
  ...row,
  created_at: toApiTimestamp(row.created_at),
});
