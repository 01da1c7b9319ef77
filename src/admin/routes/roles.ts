/**
 * Roles (api-contract §4.13): CRUD with soft deactivation, members, parents
 * (DAG inheritance: cycle and depth checks run in the store, in one
 * transaction under the role-graph lock), effective members and delete
 * impact. DELETE answers 200 with the impact (BetweenRows' shape). Quirk Q12
 * fixed: `{"user_ids": []}` is a 204 no-op (after the role's 404 check).
 */
import { NotFoundError } from '../../store/repo-errors.js';
import {
  addMembers,
  addParent,
  createRole,
  deleteRole,
  effectiveMembers,
  getRole,
  getRoleDetail,
  listRoles,
  removeMember,
  removeParent,
  roleImpact,
  updateRole,
} from '../../store/repos/roles.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import {
  adminErrors,
  boundedPage,
  echoPage,
  IdParams,
  NoContent,
  PaginatedOf,
  security,
} from '../schemas/common.js';
import {
  CreateRoleBody,
  EffectiveMemberSchema,
  MemberParams,
  MembersBody,
  ParentBody,
  ParentParams,
  presentRole,
  presentRoleDetail,
  RoleDetailSchema,
  RoleImpactSchema,
  RoleListQuery,
  RoleSchema,
  UpdateRoleBody,
} from '../schemas/roles.js';
import { Type } from '@sinclair/typebox';

const tags = ['roles'];
const ROLE_NOT_FOUND = 'Role not found';

export async function roleRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;
  const requireRole = async (id: string) => {
    const role = await getRole(db, id);
    if (!role) throw new NotFoundError(ROLE_NOT_FOUND);
    return role;
  };
  const done = { 204: NoContent, ...adminErrors };

  api.get(
    '/roles',
    {
      schema: {
        tags,
        summary: 'List roles (name search, oldest first)',
        security,
        querystring: RoleListQuery,
        response: { 200: PaginatedOf(RoleSchema), ...adminErrors },
      },
    },
    async (request) => {
      const { page, page_size, search } = request.query;
      const result = await listRoles(db, { page: boundedPage(page), pageSize: page_size, search });
      return echoPage({ ...result, data: result.data.map(presentRole) }, page);
    },
  );

  api.post(
    '/roles',
    {
      schema: {
        tags,
        summary: 'Create a role',
        security,
        body: CreateRoleBody,
        response: { 201: RoleSchema, ...adminErrors },
      },
    },
    async (request, reply) => {
      const role = await asAdmin(context, request, (tx) => createRole(tx, request.body));
      return reply.code(201).send(presentRole(role));
    },
  );

  api.get(
    '/roles/:id',
    {
      schema: {
        tags,
        summary: 'Role with members, parents, children, assignments and access',
        security,
        params: IdParams,
        response: { 200: RoleDetailSchema, ...adminErrors },
      },
    },
    async (request) => {
      const role = await getRoleDetail(db, request.params.id);
      if (!role) throw new NotFoundError(ROLE_NOT_FOUND);
      return presentRoleDetail(role);
    },
  );

  api.put(
    '/roles/:id',
    {
      schema: {
        tags,
        summary: 'Rename, describe, deactivate or reactivate a role',
        security,
        params: IdParams,
        body: UpdateRoleBody,
        response: { 200: RoleSchema, ...adminErrors },
      },
    },
    async (request) => {
      const role = await asAdmin(context, request, (tx) => updateRole(tx, request.params.id, request.body));
      return presentRole(role);
    },
  );

  api.delete(
    '/roles/:id',
    {
      schema: {
        tags,
        summary: 'Delete a role; answers what it affected',
        security,
        params: IdParams,
        response: { 200: RoleImpactSchema, ...adminErrors },
      },
    },
    async (request) => {
      const impact = await asAdmin(context, request, (tx) => deleteRole(tx, request.params.id));
      return { affected_users: impact.affected_users, affected_assignments: impact.affected_assignments };
    },
  );

  api.get(
    '/roles/:id/effective-members',
    {
      schema: {
        tags,
        summary: 'Direct members and members of descendant roles',
        security,
        params: IdParams,
        response: { 200: Type.Array(EffectiveMemberSchema), ...adminErrors },
      },
    },
    async (request) => {
      await requireRole(request.params.id);
      return effectiveMembers(db, request.params.id);
    },
  );

  api.get(
    '/roles/:id/impact',
    {
      schema: {
        tags,
        summary: 'What deleting the role would affect',
        security,
        params: IdParams,
        response: { 200: RoleImpactSchema, ...adminErrors },
      },
    },
    async (request) => {
      await requireRole(request.params.id);
      const impact = await roleImpact(db, request.params.id);
      return { affected_users: impact.affected_users, affected_assignments: impact.affected_assignments };
    },
  );

  api.post(
    '/roles/:id/members',
    {
      schema: {
        tags,
        summary: 'Add members (all or nothing)',
        security,
        params: IdParams,
        body: MembersBody,
        response: done,
      },
    },
    async (request, reply) => {
      const userIds = request.body.user_ids.map((id) => id.toLowerCase());
      if (userIds.length === 0) await requireRole(request.params.id);
      else await asAdmin(context, request, (tx) => addMembers(tx, request.params.id, userIds));
      return reply.code(204).send(null);
    },
  );

  api.delete(
    '/roles/:id/members/:user_id',
    { schema: { tags, summary: 'Remove a member', security, params: MemberParams, response: done } },
    async (request, reply) => {
      await asAdmin(context, request, (tx) => removeMember(tx, request.params.id, request.params.user_id));
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/roles/:id/parents',
    {
      schema: {
        tags,
        summary: 'Make the body role a parent of the path role',
        security,
        params: IdParams,
        body: ParentBody,
        response: done,
      },
    },
    async (request, reply) => {
      const parentId = request.body.parent_role_id.toLowerCase();
      await asAdmin(context, request, (tx) => addParent(tx, request.params.id, parentId));
      return reply.code(204).send(null);
    },
  );

  api.delete(
    '/roles/:id/parents/:parent_id',
    {
      schema: { tags, summary: 'Remove an inheritance edge', security, params: ParentParams, response: done },
    },
    async (request, reply) => {
      await asAdmin(context, request, (tx) => removeParent(tx, request.params.id, request.params.parent_id));
      return reply.code(204).send(null);
    },
  );
}
