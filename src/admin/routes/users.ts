/**
 * Users (api-contract §4.3): list with search and pagination, create, get,
 * update (attributes replaced as a whole and validated against the user
 * attribute definitions), password change, delete. The store enforces the
 * admin guards (self-demotion, last admin; quirk Q4 fixed: the last active
 * admin cannot be deactivated either) and writes each audit row in the
 * mutation's transaction. Effective policies: queries/effective-policies.ts.
 */
import { Type } from '@sinclair/typebox';
import { checkUsernameRule } from '../../identity/names.js';
import { checkPasswordRule } from '../../identity/passwords.js';
import { InvalidError, NotFoundError } from '../../store/repo-errors.js';
import {
  createUser,
  deleteUser,
  getUserById,
  listUsers,
  setPassword,
  updateUser,
} from '../../store/repos/users.js';
import { requireDataSource } from '../../store/repos/datasources.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import { listEffectivePolicies } from '../queries/effective-policies.js';
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
  CreateUserBody,
  EffectivePoliciesQuery,
  EffectivePolicySchema,
  PasswordBody,
  presentUser,
  UpdateUserBody,
  UserListQuery,
  UserSchema,
} from '../schemas/users.js';

const tags = ['users'];

function requirePasswordRule(password: string): void {
  const problem = checkPasswordRule(password);
  if (problem) throw new InvalidError('password', problem);
}

export async function userRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'List users (username search, oldest first)',
        security,
        querystring: UserListQuery,
        response: { 200: PaginatedOf(UserSchema), ...adminErrors },
      },
    },
    async (request) => {
      const { page, page_size, search } = request.query;
      const result = await listUsers(db, { page: boundedPage(page), pageSize: page_size, search });
      return echoPage({ ...result, data: result.data.map(presentUser) }, page);
    },
  );

  api.post(
    '/users',
    {
      schema: {
        tags,
        summary: 'Create a user',
        security,
        body: CreateUserBody,
        response: { 201: UserSchema, ...adminErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const nameProblem = checkUsernameRule(body.username);
      if (nameProblem) throw new InvalidError('username', nameProblem);
      requirePasswordRule(body.password);
      const user = await asAdmin(context, request, (tx) =>
        createUser(tx, {
          username: body.username,
          password: body.password,
          is_admin: body.is_admin ?? false,
          email: body.email ?? null,
          display_name: body.display_name ?? null,
        }),
      );
      return reply.code(201).send(presentUser(user));
    },
  );

  api.get(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'Get a user',
        security,
        params: IdParams,
        response: { 200: UserSchema, ...adminErrors },
      },
    },
    async (request) => {
      const user = await getUserById(db, request.params.id);
      if (!user) throw new NotFoundError('User not found');
      return presentUser(user);
    },
  );

  api.put(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'Update a user; `attributes` replaces the whole map',
        security,
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: UserSchema, ...adminErrors },
      },
    },
    async (request) => {
      const user = await asAdmin(context, request, (tx) => updateUser(tx, request.params.id, request.body));
      return presentUser(user);
    },
  );

  api.put(
    '/users/:id/password',
    {
      schema: {
        tags,
        summary: "Set a user's password",
        security,
        params: IdParams,
        body: PasswordBody,
        response: { 200: UserSchema, ...adminErrors },
      },
    },
    async (request) => {
      requirePasswordRule(request.body.password); // before the 404 (§4.3)
      const user = await asAdmin(context, request, (tx) =>
        setPassword(tx, request.params.id, request.body.password),
      );
      return presentUser(user);
    },
  );

  api.delete(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'Delete a user',
        security,
        params: IdParams,
        response: { 204: NoContent, ...adminErrors },
      },
    },
    async (request, reply) => {
      await asAdmin(context, request, (tx) => deleteUser(tx, request.params.id));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/users/:id/effective-policies',
    {
      schema: {
        tags,
        summary: 'Policy assignments reaching a user on one data source',
        security,
        params: IdParams,
        querystring: EffectivePoliciesQuery,
        response: { 200: Type.Array(EffectivePolicySchema), ...adminErrors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const dataSourceId = request.query.datasource_id.toLowerCase();
      if (!(await getUserById(db, id))) throw new NotFoundError('User not found');
      await requireDataSource(db, dataSourceId); // 404 `Data source not found`
      return listEffectivePolicies(db, id, dataSourceId);
    },
  );
}
