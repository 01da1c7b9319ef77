/**
 * The management plane's options for a running Rowgate: the REST API on the
 * process's admin store with the configured JWT secret, token lifetime and
 * CORS origins. `startRowgate` passes the result to `buildAdminServer`.
 */
import type { AdminServerOptions } from '../admin/server.js';
import type { ApiRoutes } from '../admin/context.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';

export function adminServerOptions(
  config: Config,
  store: Store,
  logger: Logger,
  routes: ApiRoutes[] = [],
): AdminServerOptions {
  return {
    api: { store, jwt: { secret: config.jwtSecret, expiryHours: config.jwtExpiryHours }, routes },
    corsAllowedOrigins: config.corsAllowedOrigins,
    logger,
  };
}
