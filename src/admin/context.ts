/**
 * What every route module of the management API receives: the admin store,
 * the JWT settings and the login throttle, and the typed Fastify instance
 * (TypeBox type provider) scoped under `/api/v1` behind the auth guard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawServerDefault } from 'fastify';
import type { Logger } from '../log.js';
import { auditedTransaction, type AuditedTx } from '../store/audited.js';
import type { Store } from '../store/db.js';
import type { AuthThrottle } from '../wire/auth-throttle.js';
import { principalOf } from './auth/guard.js';
import type { JwtSettings } from './auth/jwt.js';

export interface ApiContext {
  store: Store;
  jwt: JwtSettings;
  /** Failed API logins, per user name and per client address. */
  loginThrottle: AuthThrottle;
  logger?: Logger | undefined;
}

export type Api = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** A resource's routes, registered on the `/api/v1` scope. */
export type ApiRoutes = (api: Api, context: ApiContext) => Promise<void> | void;

/** Runs a mutation and its admin audit rows in one transaction, as the request's admin. */
export function asAdmin<T>(
  context: ApiContext,
  request: FastifyRequest,
  work: (tx: AuditedTx) => Promise<T>,
): Promise<T> {
  return auditedTransaction(context.store, principalOf(request).id, work);
}
