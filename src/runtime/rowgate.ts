/**
 * Assembles a running Rowgate process from its configuration: the admin
 * store and the management plane's listener. The data plane (pgwire proxy)
 * joins here when it lands; `stop` closes everything in reverse order.
 */
import type { FastifyInstance } from 'fastify';
import { bindError, formatBindAddress, type Config } from '../config/index.js';
import { buildAdminServer } from '../admin/server.js';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { ensureFirstAdmin, openMigratedStore } from './store.js';

export interface RunningRowgate {
  store: Store;
  cipher: SecretCipher;
  /** http://host:port of the admin listener as bound (port resolved when 0 was asked). */
  adminUrl: string;
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
  try {
    await ensureFirstAdmin(store, config, logger);
    await options.beforeListen?.(store, cipher);
    admin = await buildAdminServer();
    const adminUrl = await listen(admin, config);
    logger.info({ url: adminUrl }, 'admin API listening');
    return {
      store,
      cipher,
      adminUrl,
      stop: async () => {
        await admin?.close();
        await store.close();
      },
    };
  } catch (error) {
    await admin?.close();
    await store.close();
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
