/**
 * Who may connect to a data source (api-contract §4.6): user-scoped and
 * role-scoped grants, each replaced as a whole by its PUT. Ids are
 * de-duplicated (quirk Q8 fixed); unknown user ids are stored (Q9
 * replicated); roles must exist (404) and be active (400), in the given
 * order. Each PUT writes one `datasource` `update` audit row naming the
 * field with the before/after id sets.
 */
import { Type } from '@sinclair/typebox';
import {
  listRoleAccess,
  listUserAccess,
  setRoleAccess,
  setUserAccess,
} from '../../store/repos/datasource-access.js';
import type { User } from '../../store/repos/users.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import { adminErrors, IdParams, NoContent, security } from '../schemas/common.js';
import { AccessRoleSchema, RoleIdsBody, UserIdsBody } from '../schemas/datasources.js';
import { presentUser, UserSchema } from '../schemas/users.js';

const tags = ['datasource access'];
const done = { 204: NoContent, ...adminErrors };

export async function dataSourceAccessRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.get(
    '/datasources/:id/users',
    {
      schema: {
        tags,
        summary: 'Users holding a user-scoped grant (oldest first)',
        security,
        params: IdParams,
        response: { 200: Type.Array(UserSchema), ...adminErrors },
      },
    },
    async (request) =>
      (await listUserAccess(db, request.params.id)).map((user) =>
        presentUser({ ...user, attributes: user.attributes as User['attributes'] }),
      ),
  );

  api.put(
    '/datasources/:id/users',
    {
      schema: {
        tags,
        summary: 'Replace the user-scoped grants',
        security,
        params: IdParams,
        body: UserIdsBody,
        response: done,
      },
    },
    async (request, reply) => {
      const ids = request.body.user_ids.map((id) => id.toLowerCase());
      await asAdmin(context, request, (tx) => setUserAccess(tx, request.params.id, ids));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/datasources/:id/access/roles',
    {
      schema: {
        tags,
        summary: 'Roles holding a role-scoped grant (by name)',
        security,
        params: IdParams,
        response: { 200: Type.Array(AccessRoleSchema), ...adminErrors },
      },
    },
    async (request) => listRoleAccess(db, request.params.id),
  );

  api.put(
    '/datasources/:id/access/roles',
    {
      schema: {
        tags,
        summary: 'Replace the role-scoped grants (roles must exist and be active)',
        security,
        params: IdParams,
        body: RoleIdsBody,
        response: done,
      },
    },
    async (request, reply) => {
      const ids = request.body.role_ids.map((id) => id.toLowerCase());
      await asAdmin(context, request, (tx) => setRoleAccess(tx, request.params.id, ids));
      return reply.code(204).send(null);
    },
  );
}
