/**
 * The audit logs (api-contract §4.14): `GET /audit/queries` and
 * `GET /audit/admin`, newest first, with their filters. Both logs are
 * append-only: there are no update or delete routes (other methods get 405).
 * A bad `from`/`to` is a JSON 400 `Invalid '<field>' datetime: <value>`; a
 * bad UUID filter is a plain-text query-string 400.
 */
import { BadRequestError, InvalidError } from '../../store/repo-errors.js';
import { listAdminAudit, listQueryAudit } from '../../store/repos/audit-log.js';
import type { Api, ApiContext } from '../context.js';
import {
  AdminAuditQuery,
  AdminAuditRowSchema,
  presentAdminAuditRow,
  presentQueryAuditRow,
  QueryAuditQuery,
  QueryAuditRowSchema,
} from '../schemas/audit.js';
import { adminErrors, boundedPage, echoPage, PaginatedOf, security } from '../schemas/common.js';

const tags = ['audit'];
const TIME_FIELDS = new Set(['from', 'to', 'since', 'until']);

/** The store reports a bad bound as Invalid (422); the contract says 400 (§4.14). */
async function withTimeBounds<T>(list: () => Promise<T>): Promise<T> {
  try {
    return await list();
  } catch (error) {
    if (error instanceof InvalidError && TIME_FIELDS.has(error.field))
      throw new BadRequestError(error.message);
    throw error;
  }
}

export async function auditRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.get(
    '/audit/queries',
    {
      schema: {
        tags,
        summary: 'Query audit log, newest first',
        security,
        querystring: QueryAuditQuery,
        response: { 200: PaginatedOf(QueryAuditRowSchema), ...adminErrors },
      },
    },
    async (request) => {
      const query = request.query;
      const result = await withTimeBounds(() =>
        listQueryAudit(db, { ...query, page: boundedPage(query.page) }),
      );
      return echoPage({ ...result, data: result.data.map(presentQueryAuditRow) }, query.page);
    },
  );

  api.get(
    '/audit/admin',
    {
      schema: {
        tags,
        summary: 'Admin audit log, newest first',
        security,
        querystring: AdminAuditQuery,
        response: { 200: PaginatedOf(AdminAuditRowSchema), ...adminErrors },
      },
    },
    async (request) => {
      const query = request.query;
      const result = await withTimeBounds(() =>
        listAdminAudit(db, { ...query, page: boundedPage(query.page) }),
      );
      return echoPage({ ...result, data: result.data.map(presentAdminAuditRow) }, query.page);
    },
  );
}
