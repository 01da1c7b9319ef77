/**
 * The management plane's options for a running Rowgate: the REST API on the
 * process's admin store with the configured JWT secret, token lifetime and
 * CORS origins. `startRowgate` passes the result to `buildAdminServer`.
 * ADMIN_ROUTE_MODULES lists the resources added after the API foundation
 * (registered after the built-in ones of admin/api.ts); the data-source
 * modules are built per configuration, since they need the cipher of the
 * configured encryption key.
 */
import type { AdminServerOptions } from '../admin/server.js';
import type { ApiRoutes } from '../admin/context.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { decisionFunctionRoutes } from '../admin/routes/decision-functions.js';
import { policyIoRoutes } from '../admin/routes/policy-io.js';
import { policyRoutes } from '../admin/routes/policies.js';
import { dataSourceRouteModules } from '../admin/routes/datasource-deps.js';
import { SecretCipher } from '../secrets/cipher.js';

export const ADMIN_ROUTE_MODULES: readonly ApiRoutes[] = [
  policyRoutes,
  policyIoRoutes,
  decisionFunctionRoutes,
];

export function adminServerOptions(
  config: Config,
  store: Store,
  logger: Logger,
  routes: ApiRoutes[] = [
    ...ADMIN_ROUTE_MODULES,
    // Data sources, access, assignments, discovery, relationships: need the secrets' cipher.
    ...dataSourceRouteModules({ cipher: SecretCipher.fromHex(config.encryptionKeyHex), logger }),
  ],
): AdminServerOptions {
  return {
    api: { store, jwt: { secret: config.jwtSecret, expiryHours: config.jwtExpiryHours }, routes },
    corsAllowedOrigins: config.corsAllowedOrigins,
    logger,
  };
}
