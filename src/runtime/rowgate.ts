/**
 * Assembles a running Rowgate process from its configuration: the admin
 * store, the query-audit writer, the management plane's listener, then the
 * data plane's (pgwire proxy) listener. `stop` closes everything in reverse
 * order: sessions are terminated (FATAL 57P01) before the audit queue is
 * flushed, so their last statements are written.
 */
import type { FastifyInstance } from 'fastify';
import { QueryAuditQueue } from '../audit/query-audit-queue.js';
import { bindError, formatBindAddress, type Config } from '../config/index.js';
import { buildAdminServer } from '../admin/server.js';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { startProxyServer, type ProxyServer } from '../wire/server.js';
import { ensureFirstAdmin, openMigratedStore } from './store.js';

export interface RunningRowgate {
  store: Store;
  cipher: SecretCipher;
  /** http://host:port of the admin listener as bound (port resolved when 0 was asked). */
  adminUrl: string;
  /** host:port of the pgwire listener as bound. */
  proxyAddress: string;
  stop(): Promise<void>;
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
  const stop = async () => {
    await proxy?.close();
    await admin?.close();
    await audit.close();
    await store.close();
  };
  try {
    await ensureFirstAdmin(store, config, logger);
    await options.beforeListen?.(store, cipher);
    admin = await buildAdminServer();
    const adminUrl = await listen(admin, config);
    logger.info({ url: adminUrl }, 'admin API listening');
    proxy = await listenProxy(config, store, cipher, audit, logger);
    const proxyAddress = formatBindAddress({ host: proxy.host, port: proxy.port });
    logger.info({ address: proxyAddress }, 'PostgreSQL proxy listening');
    return { store, cipher, adminUrl, proxyAddress, stop };
  } catch (error) {
    await stop();
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
    });
  } catch (error) {
    throw bindError('ROWGATE_PROXY_BIND_ADDR', config.proxyBind, error);
  }
}
