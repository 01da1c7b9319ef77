/**
 * Starts one real PostgreSQL for the whole test run in a temporary directory
 * and removes it afterwards. Tests reach it through `inject('postgres')`
 * (see `test/support/postgres.ts`); they never use a server that happens to run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/embedded/postgres.js';

export interface ProvidedPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'rowgate-test-pg-'));
  const server = await startEmbeddedPostgres({ dir, persistent: false });
  project.provide('postgres', {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
  });
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
