/**
 * Policy assignments on a data source (api-contract §4.7): list, assign to a
 * user, a role or everyone with a priority, unassign. The store checks in
 * the contract's order (404 DS → 404 policy → scope 400s → 404 role → 409
 * duplicates), bumps the policy's version with an `assignment_change`
 * snapshot and audits `assign`/`unassign` on the policy id, all in one
 * transaction. Quirks Q10 (duplicate role assignment → 409) and Q11
 * (unassigning through another data source → 404) are fixed there.
 */
import { Type } from '@sinclair/typebox';
import {
  assignPolicy,
  listAssignmentsForDataSource,
  unassignPolicy,
} from '../../store/repos/policy-assignments.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import {
  AssignmentParams,
  CreateAssignmentBody,
  PolicyAssignmentSchema,
  presentAssignment,
} from '../schemas/assignments.js';
import { adminErrors, IdParams, NoContent, security } from '../schemas/common.js';

const tags = ['policy assignments'];
const lower = (id: string | null | undefined) => (typeof id === 'string' ? id.toLowerCase() : null);

export async function policyAssignmentRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.get(
    '/datasources/:id/policies',
    {
      schema: {
        tags,
        summary: "The data source's policy assignments, by priority",
        security,
        params: IdParams,
        response: { 200: Type.Array(PolicyAssignmentSchema), ...adminErrors },
      },
    },
    async (request) => (await listAssignmentsForDataSource(db, request.params.id)).map(presentAssignment),
  );

  api.post(
    '/datasources/:id/policies',
    {
      schema: {
        tags,
        summary: 'Assign a policy to a user, a role or everyone',
        security,
        params: IdParams,
        body: CreateAssignmentBody,
        response: { 201: PolicyAssignmentSchema, ...adminErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const assignment = await asAdmin(context, request, (tx) =>
        assignPolicy(tx, {
          data_source_id: request.params.id,
          policy_id: body.policy_id.toLowerCase(),
          user_id: lower(body.user_id),
          role_id: lower(body.role_id),
          scope: body.scope ?? null,
          ...(body.priority === undefined ? {} : { priority: body.priority }),
        }),
      );
      return reply.code(201).send(presentAssignment(assignment));
    },
  );

  api.delete(
    '/datasources/:id/policies/:assignment_id',
    {
      schema: {
        tags,
        summary: 'Remove an assignment of this data source',
        security,
        params: AssignmentParams,
        response: { 204: NoContent, ...adminErrors },
      },
    },
    async (request, reply) => {
      const { id, assignment_id } = request.params;
      await asAdmin(context, request, (tx) => unassignPolicy(tx, id, assignment_id));
      return reply.code(204).send(null);
    },
  );
}
