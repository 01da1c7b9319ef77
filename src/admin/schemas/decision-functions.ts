/**
 * Request shapes of the decision-function endpoints (api-contract §4.12).
 * The endpoints answer 501 until decision functions land, but their requests
 * are already extracted in the §1.4 order (path, query string, JSON body), so
 * a client mistake gets the same 400/415/422 it will get then.
 */
import { Type } from '@sinclair/typebox';
import { Nullable, PageQuery } from './common.js';

export const DecisionFunctionListQuery = Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) });

export const CreateDecisionFunctionBody = Type.Object({
  name: Type.String(),
  description: Type.Optional(Nullable(Type.String())),
  language: Type.Optional(Nullable(Type.String())),
  decision_fn: Type.String(),
  decision_config: Type.Optional(Type.Unknown()),
  evaluate_context: Type.String({ description: 'session | query' }),
  on_error: Type.Optional(Nullable(Type.String({ description: 'deny | skip' }))),
  log_level: Type.Optional(Nullable(Type.String({ description: 'off | error | info' }))),
});

export const UpdateDecisionFunctionBody = Type.Object({
  version: Type.Integer({ minimum: -2147483648, maximum: 2147483647 }),
  name: Type.Optional(Nullable(Type.String())),
  description: Type.Optional(Nullable(Type.String())),
  language: Type.Optional(Nullable(Type.String())),
  decision_fn: Type.Optional(Nullable(Type.String())),
  decision_config: Type.Optional(Type.Unknown()),
  evaluate_context: Type.Optional(Nullable(Type.String())),
  on_error: Type.Optional(Nullable(Type.String())),
  log_level: Type.Optional(Nullable(Type.String())),
  is_enabled: Type.Optional(Nullable(Type.Boolean())),
});

export const TestDecisionFunctionBody = Type.Object({
  decision_fn: Type.String(),
  context: Type.Unknown({ description: 'passed to the function as ctx' }),
  config: Type.Optional(Type.Unknown()),
});
