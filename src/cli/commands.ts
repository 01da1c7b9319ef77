/** The `serve`, `migrate` and `user create` commands. */
import { loadConfig, loadDotEnv, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../log.js';
import { startRowgate } from '../runtime/rowgate.js';
import { describeStore, openMigratedStore } from '../runtime/store.js';
import { auditedTransaction } from '../store/audited.js';
import { SYSTEM_ACTOR_ID } from '../store/ids.js';
import { createUser } from '../store/repos/users.js';

export function loadEnvironment(): { config: Config; logger: Logger } {
  loadDotEnv();
  const config = loadConfig(process.env);
  return { config, logger: createLogger(config.logLevel) };
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => resolve(signal);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

export async function runServe(): Promise<void> {
  const stopRequested = untilSignal();
  const { config, logger } = loadEnvironment();
  const rowgate = await startRowgate(config, logger);
  process.stdout.write(
    `Rowgate ${describeStore(config)}; admin API on ${rowgate.adminUrl}; proxy on ${rowgate.proxyAddress}\n`,
  );
  const signal = await stopRequested;
  // Running statements get ROWGATE_SHUTDOWN_TIMEOUT_SECS to finish; the audit queue is flushed after them.
  logger.info({ signal, timeoutSecs: config.shutdownTimeoutSecs }, 'shutting down');
  await rowgate.stop({ drainMs: config.shutdownTimeoutSecs * 1000 });
  logger.info('stopped');
}

export async function runMigrate(): Promise<void> {
  const { config } = loadEnvironment();
  const { store } = await openMigratedStore(config);
  await store.close();
  process.stdout.write(`admin store is up to date (${describeStore(config)})\n`);
}

export async function runUserCreate(options: { username: string; password: string; admin: boolean }) {
  const { config } = loadEnvironment();
  const { store } = await openMigratedStore(config);
  try {
    const user = await auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
      createUser(tx, { username: options.username, password: options.password, is_admin: options.admin }),
    );
    process.stdout.write(`created ${options.admin ? 'admin ' : ''}user ${user.username} (${user.id})\n`);
  } finally {
    await store.close();
  }
}
