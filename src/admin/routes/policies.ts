/**
 * Policies (api-contract §4.10, §6): validate-expression, list, create, get,
 * update with optimistic concurrency, delete, anchor coverage.
 *
 * The store runs the checks in the contract's order (name → version → shape
 * → decision function → uniqueness) and writes the `policy_version` snapshot
 * and the audit row in the mutation's transaction; the shape step is the
 * policy module's validator (targets for the final type, definition, the
 * expression grammar), the same one the YAML import passes, so both paths
 * accept exactly the same policies. Enabling and disabling is a PUT with
 * `is_enabled`. The committed audit rows drive live propagation to sessions.
 */
import { validateExpression } from '../../policy/expression.js';
import { validatePolicyShape } from '../../policy/policy-shape.js';
import {
  createPolicy,
  deletePolicy,
  getPolicy,
  listPolicies,
  updatePolicy,
} from '../../store/repos/policies.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import { policyAnchorCoverage } from '../queries/anchor-coverage.js';
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
  AnchorCoverageSchema,
  CreatePolicyBody,
  PolicyListQuery,
  PolicySchema,
  presentPolicy,
  UpdatePolicyBody,
  ValidateExpressionBody,
  ValidateExpressionResult,
} from '../schemas/policies.js';

const tags = ['policies'];
const shapeRules = { validateShape: validatePolicyShape };
const lower = (id: string | null | undefined) => (typeof id === 'string' ? id.toLowerCase() : id);

export async function policyRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.post(
    '/policies/validate-expression',
    {
      schema: {
        tags,
        summary: 'Check a filter or mask expression with the save-time rules; always 200',
        security,
        body: ValidateExpressionBody,
        response: { 200: ValidateExpressionResult, ...adminErrors },
      },
    },
    async (request) => {
      const { expression, is_mask } = request.body;
      const result = validateExpression(is_mask ? 'mask' : 'filter', expression);
      return result.ok ? { valid: true } : { valid: false, error: result.error };
    },
  );

  api.get(
    '/policies',
    {
      schema: {
        tags,
        summary: 'List policies (name search, oldest first)',
        security,
        querystring: PolicyListQuery,
        response: { 200: PaginatedOf(PolicySchema), ...adminErrors },
      },
    },
    async (request) => {
      const { page, page_size, search } = request.query;
      const result = await listPolicies(db, { page: boundedPage(page), pageSize: page_size, search });
      return echoPage({ ...result, data: result.data.map(presentPolicy) }, page);
    },
  );

  api.post(
    '/policies',
    {
      schema: {
        tags,
        summary: 'Create a policy (version 1)',
        security,
        body: CreatePolicyBody,
        response: { 201: PolicySchema, ...adminErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const policy = await asAdmin(context, request, (tx) =>
        createPolicy(
          tx,
          {
            name: body.name,
            policy_type: body.policy_type,
            description: body.description ?? null,
            is_enabled: body.is_enabled ?? true,
            targets: body.targets,
            definition: body.definition ?? null,
            decision_function_id: lower(body.decision_function_id) ?? null,
          },
          shapeRules,
        ),
      );
      return reply.code(201).send(presentPolicy(policy));
    },
  );

  api.get(
    '/policies/:id',
    {
      schema: {
        tags,
        summary: 'Get a policy with its assignments',
        security,
        params: IdParams,
        response: { 200: PolicySchema, ...adminErrors },
      },
    },
    async (request) => presentPolicy(await getPolicy(db, request.params.id)),
  );

  api.put(
    '/policies/:id',
    {
      schema: {
        tags,
        summary: 'Update a policy; `version` must be the stored one (else 409); every PUT bumps it',
        security,
        params: IdParams,
        body: UpdatePolicyBody,
        response: { 200: PolicySchema, ...adminErrors },
      },
    },
    async (request) => {
      const body = request.body;
      const policy = await asAdmin(context, request, (tx) =>
        updatePolicy(
          tx,
          request.params.id,
          {
            ...body,
            ...(body.decision_function_id === undefined
              ? {}
              : { decision_function_id: lower(body.decision_function_id) }),
          },
          shapeRules,
        ),
      );
      return presentPolicy(policy);
    },
  );

  api.delete(
    '/policies/:id',
    {
      schema: {
        tags,
        summary: 'Delete a policy with its assignments and history',
        security,
        params: IdParams,
        response: { 204: NoContent, ...adminErrors },
      },
    },
    async (request, reply) => {
      await asAdmin(context, request, (tx) => deletePolicy(tx, request.params.id));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/policies/:id/anchor-coverage',
    {
      schema: {
        tags,
        summary: 'How each column of a row filter resolves on the tables it targets (first hop)',
        security,
        params: IdParams,
        response: { 200: AnchorCoverageSchema, ...adminErrors },
      },
    },
    async (request) => policyAnchorCoverage(db, request.params.id),
  );
}
