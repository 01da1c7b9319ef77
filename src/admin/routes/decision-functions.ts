/**
 * Decision functions (api-contract §4.12): the six endpoints exist so that
 * clients get a definite answer, but each one answers 501
 * `{"error": "Decision functions are not implemented yet"}` until the
 * decision-function issue lands. Everything before the handler still
 * applies in the §1.4 order: authentication (401/403), the UUID path check
 * (400), the query string (400), the JSON body (415/400/422); the method
 * check (405) happens at routing.
 */
import type { Api } from '../context.js';
import { ApiError } from '../errors.js';
import { adminErrors, ErrorBody, IdParams, security } from '../schemas/common.js';
import {
  CreateDecisionFunctionBody,
  DecisionFunctionListQuery,
  TestDecisionFunctionBody,
  UpdateDecisionFunctionBody,
} from '../schemas/decision-functions.js';

export const DECISION_FUNCTIONS_PENDING = 'Decision functions are not implemented yet';

const tags = ['decision functions'];
const response = { ...adminErrors, 501: ErrorBody };

function notImplemented(): never {
  throw new ApiError(501, DECISION_FUNCTIONS_PENDING);
}

export async function decisionFunctionRoutes(api: Api): Promise<void> {
  const pending = (summary: string) => ({
    tags,
    summary: `${summary} (not implemented yet: 501)`,
    security,
    response,
  });

  api.get(
    '/decision-functions',
    { schema: { ...pending('List decision functions'), querystring: DecisionFunctionListQuery } },
    notImplemented,
  );
  api.post(
    '/decision-functions',
    { schema: { ...pending('Create a decision function'), body: CreateDecisionFunctionBody } },
    notImplemented,
  );
  api.post(
    '/decision-functions/test',
    { schema: { ...pending('Run a function against a sample context'), body: TestDecisionFunctionBody } },
    notImplemented,
  );
  api.get(
    '/decision-functions/:id',
    { schema: { ...pending('Get a decision function'), params: IdParams } },
    notImplemented,
  );
  api.put(
    '/decision-functions/:id',
    {
      schema: {
        ...pending('Update a decision function'),
        params: IdParams,
        body: UpdateDecisionFunctionBody,
      },
    },
    notImplemented,
  );
  api.delete(
    '/decision-functions/:id',
    { schema: { ...pending('Delete a decision function'), params: IdParams } },
    notImplemented,
  );
}
