/**
 * What the data-source route modules need beyond the shared API context, and
 * the list of those modules (registered after the built-in resources, see
 * src/runtime/admin-routes.ts):
 *
 * - the cipher of the admin store's secrets (data-source passwords are
 *   encrypted at rest and decrypted only to connect upstream);
 * - a logger for upstream failures (the API context's is optional);
 * - optional upstream timeouts for the connection test, FK suggestions and
 *   the discovery jobs (defaults: 30 s connect, 60 s per statement, §8.1);
 * - optionally the keep-alive interval of the discovery event streams.
 *
 * The catalog module owns one DiscoveryJobs runner per admin server, created
 * when its routes are registered and closed when the server closes.
 */
import type { UpstreamTimeouts } from '../../catalog/job-upstream.js';
import type { Logger } from '../../log.js';
import type { SecretCipher } from '../../secrets/cipher.js';
import type { ApiRoutes } from '../context.js';
import { catalogRoutes } from './catalog.js';
import { dataSourceRoutes } from './data-sources.js';
import { dataSourceAccessRoutes } from './datasource-access.js';
import { policyAssignmentRoutes } from './policy-assignments.js';
import { relationshipRoutes } from './relationships.js';

export interface DataSourceRouteDeps {
  cipher: SecretCipher;
  logger: Logger;
  upstreamTimeouts?: Partial<UpstreamTimeouts> | undefined;
  /** Interval of the `: ping` comments on discovery event streams; default 15 s (§4.8). */
  eventPingMs?: number | undefined;
}

/** Data sources, access grants, policy assignments, discovery/catalog, relationships and anchors. */
export function dataSourceRouteModules(deps: DataSourceRouteDeps): ApiRoutes[] {
  return [
    dataSourceRoutes(deps),
    dataSourceAccessRoutes,
    policyAssignmentRoutes,
    catalogRoutes(deps),
    relationshipRoutes(deps),
  ];
}
