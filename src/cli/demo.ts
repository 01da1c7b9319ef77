/**
 * `rowgate demo`: an embedded PostgreSQL holding the seeded demo_ecommerce
 * database (kept in `<data dir>/demo-upstream` between runs), the admin store
 * seeded with the demo users, data source, catalog and policies on first
 * start, then the same process as `rowgate serve`.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { loadConfig, loadDotEnv, type Config } from '../config/index.js';
import { DEMO_DATABASE } from '../demo/dataset.js';
import { DEMO_USER_PASSWORD, DEMO_USERS, seedDemoAdminStore } from '../demo/seed-admin.js';
import { ensureDemoDatabase } from '../demo/upstream-seed.js';
import { startEmbeddedPostgres, traversableByOthers, type RunningPostgres } from '../embedded/postgres.js';
import { createLogger } from '../log.js';
import { startRowgate } from '../runtime/rowgate.js';
import { untilSignal } from './commands.js';

/** The documented demo admin password, used only when none is configured. */
const DEMO_ADMIN_PASSWORD = 'changeme';

export interface DemoOptions {
  upstreamPort: string;
  reset?: boolean;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const started = performance.now();
  // Listen from the start: Ctrl-C during start-up still stops the upstream cleanly.
  const stopRequested = untilSignal();
  loadDotEnv();
  const env = { ...process.env };
  const adminPasswordGiven = Boolean(env.ROWGATE_ADMIN_PASSWORD || env.BR_ADMIN_PASSWORD);
  if (!adminPasswordGiven) env.ROWGATE_ADMIN_PASSWORD = DEMO_ADMIN_PASSWORD;
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  const port = parsePort(options.upstreamPort);
  if (options.reset) resetDemo(config);
  await assertPortFree(port);
  const upstreamDir = demoUpstreamDir(config);
  if (!upstreamDir.startsWith(config.dataDir)) {
    logger.warn(
      { dir: upstreamDir },
      'the data dir is not reachable by other OS users; demo upstream kept elsewhere',
    );
  }

  const upstream = await startEmbeddedPostgres({
    dir: upstreamDir,
    port,
    persistent: true,
    onLog: (line) => logger.debug({ upstream: line.trim() }, 'demo upstream'),
  });
  try {
    await ensureDemoDatabase(upstream.url());
    const rowgate = await startRowgate(config, logger, {
      beforeListen: async (store, cipher) => {
        const { seeded } = await seedDemoAdminStore(store, cipher, upstream);
        if (seeded) logger.info('seeded the admin store with the demo users, data source and policies');
      },
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(banner(config, upstream, rowgate, adminPasswordGiven, seconds));
    const signal = await stopRequested;
    logger.info({ signal }, 'shutting down');
    await rowgate.stop();
  } finally {
    await upstream.stop();
  }
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new Error(`--upstream-port must be an integer from 1 to 65535, got '${text}'`);
  }
  return port;
}

/** Fails early with a clear line instead of a PostgreSQL start-up log. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `--upstream-port: 127.0.0.1:${port} is already in use (pick another with --upstream-port)`
            : `--upstream-port: cannot listen on 127.0.0.1:${port}: ${error.message}`,
        ),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/**
 * `<data dir>/demo-upstream` when the server's OS user can get there: the data
 * dir becomes traverse-only for others (they cannot list or read it; the key
 * files and the store stay 0600). Below a private directory (say /root) the
 * cluster lives in the system temp dir instead, under a name derived from the data dir.
 */
function demoUpstreamDir(config: Config): string {
  if (traversableByOthers(config.dataDir)) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(config.dataDir, 0o711);
    return join(config.dataDir, 'demo-upstream');
  }
  const suffix = createHash('sha256').update(config.dataDir).digest('hex').slice(0, 12);
  return join(tmpdir(), `rowgate-demo-upstream-${suffix}`);
}

/** Deletes the demo upstream, and the admin store when it is the default SQLite file in the data dir. */
function resetDemo(config: Config): void {
  rmSync(demoUpstreamDir(config), { recursive: true, force: true });
  if (config.store.engine !== 'sqlite') {
    throw new Error('--reset only resets a SQLite admin store; drop the PostgreSQL admin database yourself');
  }
  for (const suffix of ['', '-wal', '-shm']) {
    const file = config.store.target + suffix;
    if (existsSync(file)) rmSync(file);
  }
}

function banner(
  config: Config,
  upstream: RunningPostgres,
  rowgate: { adminUrl: string; proxyAddress: string },
  adminPasswordGiven: boolean,
  seconds: string,
): string {
  const login = adminPasswordGiven
    ? `${config.adminUser} (password from ROWGATE_ADMIN_PASSWORD)`
    : `${config.adminUser} / ${DEMO_ADMIN_PASSWORD}`;
  const users = DEMO_USERS.map((u) => `${u.username} (tenant ${u.tenant})`).join(', ');
  return [
    '',
    `Rowgate demo is up (${seconds} s).`,
    '',
    `  Admin API      ${rowgate.adminUrl}   login: ${login}`,
    `  Demo users     ${users}; password ${DEMO_USER_PASSWORD}`,
    `  Upstream       psql "${upstream.url(DEMO_DATABASE)}"`,
    `                 (direct to the demo PostgreSQL: no policies apply)`,
    `  Through Rowgate  psql "postgresql://alice:${DEMO_USER_PASSWORD}@${rowgate.proxyAddress}/${DEMO_DATABASE}"`,
    `                 (policies apply; TLS: sslmode=require, or verify-full trusting ${
      config.tls ? config.tls.certPath : `${config.dataDir}/tls/ca.crt`
    })`,
    '',
    'Press Ctrl-C to stop. Data stays in ' + config.dataDir + ' for the next start.',
    '',
  ].join('\n');
}
