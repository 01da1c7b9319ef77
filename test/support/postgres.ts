/**
 * Per-test databases on the run's PostgreSQL servers: each call creates a new,
 * empty database with a unique name, so test files running in parallel never
 * share state.
 *
 * Two upstream servers run (see `global-setup.ts`): `postgres` (PostgreSQL 18,
 * the default everywhere here) and `postgres15` (PostgreSQL 15, absent outside
 * CI when not installed). Tests that must pass on every upstream iterate over
 * them, e.g.
 *
 *     describeEachUpstream('rewriter on a real server', (upstream) => {
 *       beforeAll(async () => ({ name, url } = await createTestDatabase('rw', upstream)));
 *       ...
 *     });
 *
 * or `describe.each(availableUpstreams())('%s', (upstream) => ...)`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, inject, it } from 'vitest';
import type { ProvidedPostgres } from './global-setup.js';

export type Upstream = 'postgres' | 'postgres15';

/** Every upstream server kind, newest first. */
export const UPSTREAMS: readonly Upstream[] = ['postgres', 'postgres15'];

/** The PostgreSQL major version of each upstream. */
export const UPSTREAM_MAJOR: Readonly<Record<Upstream, number>> = { postgres: 18, postgres15: 15 };

/** True when this run has a server for `upstream` (always for `postgres`; under CI for both). */
export function upstreamAvailable(upstream: Upstream): boolean {
  return inject(upstream) !== null;
}

/** The upstreams this run has a server for. */
export function availableUpstreams(): Upstream[] {
  return UPSTREAMS.filter(upstreamAvailable);
}

function server(upstream: Upstream): ProvidedPostgres {
  const provided = inject(upstream);
  if (!provided) {
    throw new Error(
      `no PostgreSQL ${UPSTREAM_MAJOR[upstream]} server in this test run (apt-get install postgresql-15)`,
    );
  }
  return provided;
}

export function serverUrl(database = 'postgres', upstream: Upstream = 'postgres'): string {
  const { host, port, user, password } = server(upstream);
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`;
}

/** Creates an empty database on `upstream` and returns its connection URL. */
export async function createTestDatabase(
  prefix = 't',
  upstream: Upstream = 'postgres',
): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl('postgres', upstream) });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { name, url: serverUrl(name, upstream) };
}

export async function dropTestDatabase(name: string, upstream: Upstream = 'postgres'): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl('postgres', upstream) });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * One `describe` block per upstream, titled `<name> [PostgreSQL <major>]`. An
 * upstream this run has no server for gets a block with a single skipped test
 * that says why, instead of `fn` (so `fn` may assume its server exists).
 */
export function describeEachUpstream(name: string, fn: (upstream: Upstream) => void): void {
  for (const upstream of UPSTREAMS) {
    const title = `${name} [PostgreSQL ${UPSTREAM_MAJOR[upstream]}]`;
    if (upstreamAvailable(upstream)) {
      describe(title, () => fn(upstream));
    } else {
      describe(title, () => {
        it.skip(
          `skipped: PostgreSQL ${UPSTREAM_MAJOR[upstream]} is not installed (apt-get install postgresql-15)`,
        );
      });
    }
  }
}
