/**
 * The REST API under `/api/v1`: builds the routes' shared context, installs
 * the auth guard (onRequest) and the ordered request checks (preValidation)
 * on the whole scope, then registers the built-in resources followed by any
 * extra route modules (resources added by later issues).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { AuthThrottle, type AuthThrottleOptions } from '../wire/auth-throttle.js';
import { authGuard } from './auth/guard.js';
import type { JwtSettings } from './auth/jwt.js';
import type { ApiContext, ApiRoutes } from './context.js';
import { checkInOrder } from './request-validation.js';
import { attributeDefinitionRoutes } from './routes/attribute-definitions.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { roleRoutes } from './routes/roles.js';
import { userRoutes } from './routes/users.js';

export interface ApiOptions {
  store: Store;
  jwt: JwtSettings;
  /** Overrides of the login throttle's limits (defaults: AUTH_THROTTLE_DEFAULTS). */
  loginThrottle?: Partial<AuthThrottleOptions>;
  /** Further resources, registered after the built-in ones. */
  routes?: ApiRoutes[];
}

export const BUILT_IN_ROUTES: readonly ApiRoutes[] = [
  authRoutes,
  userRoutes,
  attributeDefinitionRoutes,
  roleRoutes,
  auditRoutes,
];

export async function registerApi(
  scope: FastifyInstance,
  options: ApiOptions,
  logger: Logger | undefined,
): Promise<void> {
  const context: ApiContext = {
    store: options.store,
    jwt: options.jwt,
    loginThrottle: new AuthThrottle(options.loginThrottle),
    logger,
  };
  scope.addHook('onRequest', authGuard(options.store, options.jwt.secret));
  scope.addHook('preValidation', checkInOrder);
  const api = scope.withTypeProvider<TypeBoxTypeProvider>();
  for (const routes of [...BUILT_IN_ROUTES, ...(options.routes ?? [])]) await routes(api, context);
}
