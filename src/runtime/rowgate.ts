/**
 * Assembles a running Rowgate process from its configuration: the admin
 * store, the change feed (committed admin changes of this process and, on a
 * PostgreSQL store, of the other replicas), the query-audit writer and its
 * retention job, the management plane's listener, then the data plane's
 * (pgwire proxy) listener, whose open sessions follow the change feed.
 * `stop` closes everything in reverse order: the proxy stops accepting and
 * drains its sessions (running statements finish for up to
 * ROWGATE_SHUTDOWN_TIMEOUT_SECS, then the rest get FATAL 57P01) before the
 * audit queue is flushed, so their last statements are written; the store
 * closes last.
 */
import type { FastifyInstance } from 'fastify';
import { QueryAuditQueue } from '../audit/query-audit-queue.js';
import { bindError, formatBindAddress, type Config } from '../config/index.js';
import { buildAdminServer } from '../admin/server.js';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { startProxyServer, type ProxyServer } from '../wire/server.js';
import { startAuditRetention } from '../audit/retention.js';
import { startChangeFeed, type ChangeFeed } from '../store/change-feed.js';
import { refusalAuditsQueued } from '../wire/admission-audit.js';
import { adminServerOptions } from './admin-routes.js';
import { ensureFirstAdmin, openMigratedStore } from './store.js';

export interface RunningRowgate {
  store: Store;
  cipher: SecretCipher;
  /** http://host:port of the admin listener as bound (port resolved when 0 was asked). */
  adminUrl: string;
  /** host:port of the pgwire listener as bound. */
  proxyAddress: string;
  /** Drains and closes everything; `drainMs` defaults to ROWGATE_SHUTDOWN_TIMEOUT_SECS. Idempotent. */
  stop(options?: { drainMs?: number }): Promise<void>;
}

export interface StartOptions {
  /** Runs after migrations and the first-admin check, before any listener opens (the demo seed). */
  beforeListen?: (store: Store, cipher: SecretCipher) => Promise<void>;
}

export async function startRowgate(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningRowgate> {
  for (const warning of config.warnings) logger.warn(warning);
  const { store, cipher } = await openMigratedStore(config, logger);
  let admin: FastifyInstance | undefined;
  let proxy: ProxyServer | undefined;
  const audit = new QueryAuditQueue(store, { logger });
  const changes = startChangeFeed(store, logger, { connectionString: config.store.target });
  const retention = startAuditRetention(store, config.auditRetention, logger);
  let stopping: Promise<void> | undefined;
  const stop = (stopOptions: { drainMs?: number } = {}) =>
    (stopping ??= (async () => {
      await proxy?.close({ drainMs: stopOptions.drainMs ?? config.shutdownTimeoutSecs * 1000 });
      await admin?.close();
      await retention.stop();
      await refusalAuditsQueued(audit);
      await audit.close();
      await changes.close();
      await store.close();
    })());
  try {
    await ensureFirstAdmin(store, config, logger);
    await options.beforeListen?.(store, cipher);
    admin = await buildAdminServer(adminServerOptions(config, store, logger));
    const adminUrl = await listen(admin, config);
    logger.info({ url: adminUrl }, 'admin API listening');
    await changes.ready;
    proxy = await listenProxy(config, store, cipher, audit, changes, logger);
    const proxyAddress = formatBindAddress({ host: proxy.host, port: proxy.port });
    logger.info({ address: proxyAddress }, 'PostgreSQL proxy listening');
    return { store, cipher, adminUrl, proxyAddress, stop };
  } catch (error) {
    await stop({ drainMs: 0 });
    throw error;
  }
}

async function listen(app: FastifyInstance, config: Config): Promise<string> {
  const { host, port } = config.adminBind;
  try {
    await app.listen({ host, port });
  } catch (error) {
    throw bindError('ROWGATE_ADMIN_BIND_ADDR', config.adminBind, error);
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return `http://${formatBindAddress({ host, port: boundPort })}`;
}

async function listenProxy(
  config: Config,
  store: Store,
  cipher: SecretCipher,
  audit: QueryAuditQueue,
  changes: ChangeFeed,
  logger: Logger,
): Promise<ProxyServer> {
  try {
    return await startProxyServer({
      bind: config.proxyBind,
      store,
      cipher,
      audit,
      logger,
      idleTimeoutSecs: config.idleTimeoutSecs,
      tls: {
        material: config.tls,
        dataDir: config.dataDir,
        required: config.tlsRequired,
        extraHosts: [config.proxyBind.host],
      },
      maxConnections: config.maxConnections,
      maxConnectionsPerUser: config.maxConnectionsPerUser,
      cleartextPassword: config.cleartextPassword,
      upstreamPoolSize: config.upstreamPoolSize,
      upstreamPoolIdleSecs: config.upstreamPoolIdleSecs,
      changes,
    });
  } catch (error) {
    throw bindError('ROWGATE_PROXY_BIND_ADDR', config.proxyBind, error);
  }
}
