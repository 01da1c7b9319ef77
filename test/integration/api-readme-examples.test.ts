/**
 * The README's "Admin API by example" section, run as written: every ```sh
 * block between the api-examples markers is executed by bash with the real
 * curl, jq and psql binaries, in order, against a running Rowgate (admin
 * store, proxy, query audit) with the management API on an ephemeral port,
 * and a real upstream database. Shell variables a block assigns are carried
 * to the next blocks. `curl` is wrapped to report each response's status on
 * stderr, so every step asserts the statuses it must get.
 *
 * The first block (settings) is not run: the test supplies those variables.
 * A step that fails names itself, its exit code, the statuses seen and its
 * stderr; the following steps then fail as depending on it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { startRowgate, type RunningRowgate } from '../../src/runtime/rowgate.js';
import type { Store } from '../../src/store/db.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'Admin-2024';
const STEP_TIMEOUT_MS = 60_000;

/** The ```sh blocks between the markers, in order. */
function readmeBlocks(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- api-examples:start -->');
  const end = readme.indexOf('<!-- api-examples:end -->');
  if (start < 0 || end < start) throw new Error('README.md has no api-examples markers');
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const assignedNames = (script: string) =>
  [...new Set([...script.matchAll(/(?:^|[\s;(])([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!))].sort();

/** What each block must do: the statuses its curl calls get (space-separated, in order) and its output. */
interface Step {
  name: string;
  statuses: RegExp;
  stdout?: (out: string) => void;
  /** Waits for what a reader's pause would give (the audit queue writes in ~200 ms batches). */
  before?: (store: Store) => Promise<void>;
}

async function queryAuditWritten(store: Store): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await store.db.selectFrom('query_audit_log').select('id').executeTakeFirst()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const STEPS: Step[] = [
  { name: 'log in', statuses: /^200$/ },
  { name: 'create the data source', statuses: /^201$/ },
  {
    name: 'discover tables (job + polling)',
    statuses: /^202( 200)+$/,
    stdout: (out) => expect(out.trim()).toBe('{"status":"completed","error":null,"tables":["orders"]}'),
  },
  {
    name: 'save the catalog (job + polling) and read it',
    statuses: /^202( 200)+ 200$/,
    stdout: (out) =>
      expect(out.trim().split('\n')).toEqual(['{"status":"completed","error":null}', '["orders"]']),
  },
  {
    name: 'create a user with attributes and grant access',
    statuses: /^201 201 200 204$/,
    stdout: (out) => expect(out).toContain('"attributes":{"tenant":"acme"}'),
  },
  {
    name: 'create and assign a row filter',
    statuses: /^201 201$/,
    stdout: (out) => expect(out).toContain('"assignment_scope":"all"'),
  },
  {
    name: 'query through the proxy with psql',
    statuses: /^$/,
    stdout: (out) => {
      expect(out).toMatch(/acme\s*\|\s*3/);
      expect(out).not.toContain('globex');
    },
  },
  {
    name: 'read the query audit',
    statuses: /^200$/,
    before: queryAuditWritten,
    stdout: (out) => {
      expect(out).toContain('"username":"alice"');
      expect(out).toContain('SELECT org, count(*) FROM orders GROUP BY org');
    },
  },
  {
    name: 'export and dry-run import the policies',
    statuses: /^200 200$/,
    stdout: (out) =>
      expect(JSON.parse(out)).toEqual({
        created: 0,
        updated: 0,
        unchanged: 1,
        assignments_added: 0,
        assignments_removed: 0,
      }),
  },
];

describe('README admin API examples', () => {
  const blocks = readmeBlocks();
  const [settings = '', ...steps] = blocks;
  let dataDir: string;
  let workDir: string;
  let upstream: { name: string };
  let rowgate: RunningRowgate | undefined;
  let env: NodeJS.ProcessEnv;
  let failed: string | undefined;

  beforeAll(async () => {
    upstream = await createTestDatabase('readme');
    const { host, port, user, password } = inject('postgres');
    const seed = new pg.Client({ host, port, user, password, database: upstream.name });
    await seed.connect();
    await seed.query(`CREATE TABLE orders (id int PRIMARY KEY, org text NOT NULL, amount int);
      INSERT INTO orders VALUES (1,'acme',10),(2,'acme',20),(3,'globex',30),(4,'acme',40),(5,'globex',50)`);
    await seed.end();

    dataDir = mkdtempSync(join(tmpdir(), 'rowgate-readme-'));
    workDir = mkdtempSync(join(tmpdir(), 'rowgate-readme-work-'));
    const config = loadConfig({
      ROWGATE_DATA_DIR: dataDir,
      ROWGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_JWT_SECRET: 'readme-examples-secret-0123456789abcdef',
    });
    const logger = createLogger('silent');
    rowgate = await startRowgate(config, logger);
    env = {
      PATH: process.env.PATH,
      HOME: workDir,
      ROWGATE: `${rowgate.adminUrl}/api/v1`,
      PROXY: rowgate.proxyAddress,
      ADMIN_PASSWORD,
      UPSTREAM_HOST: host,
      UPSTREAM_PORT: String(port),
      UPSTREAM_DB: upstream.name,
      UPSTREAM_USER: user,
      UPSTREAM_PASSWORD: password,
      PGCONNECT_TIMEOUT: '10',
    };
  });

  afterAll(async () => {
    await rowgate?.stop({ drainMs: 0 });
    if (upstream) await dropTestDatabase(upstream.name);
    for (const dir of [dataDir, workDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has a settings block naming exactly the variables this test supplies, then one block per step', () => {
    expect(settings).toMatch(/^# settings/);
    expect(assignedNames(settings)).toEqual([
      'ADMIN_PASSWORD',
      'PROXY',
      'ROWGATE',
      'UPSTREAM_DB',
      'UPSTREAM_HOST',
      'UPSTREAM_PASSWORD',
      'UPSTREAM_PORT',
      'UPSTREAM_USER',
    ]);
    expect(steps).toHaveLength(STEPS.length);
  });

  const carried = assignedNames(steps.join('\n'));
  STEPS.forEach((step, i) => {
    it(`step ${i + 1}: ${step.name}`, { timeout: STEP_TIMEOUT_MS + 10_000 }, async () => {
      if (failed) throw new Error(`not run: it depends on the failed step "${failed}"`);
      await step.before?.(rowgate!.store);
      const script = [
        'set -euo pipefail',
        `curl() { command curl -w '%{stderr}HTTP %{http_code}\\n' "$@"; }`,
        'if [ -f state.sh ]; then source state.sh; fi',
        steps[i]!,
        `{ declare -p ${carried.join(' ')} 2>/dev/null || true; } > state.sh`,
      ].join('\n');
      writeFileSync(join(workDir, 'step.sh'), script);
      let stdout = '';
      let stderr = '';
      let exit = 0;
      try {
        ({ stdout, stderr } = await run('bash', ['step.sh'], {
          cwd: workDir,
          env,
          timeout: STEP_TIMEOUT_MS,
        }));
      } catch (error) {
        const e = error as { code?: number; killed?: boolean; stdout?: string; stderr?: string };
        ({ stdout = '', stderr = '' } = e);
        exit = e.killed ? -1 : (e.code ?? -1);
      }
      const statuses = [...stderr.matchAll(/^HTTP (\d{3})$/gm)].map((m) => m[1]).join(' ');
      const report = `README step ${i + 1} "${step.name}": exit ${exit === -1 ? 'timeout' : exit}, HTTP statuses [${statuses}]\n--- stdout\n${stdout}--- stderr\n${stderr}`;
      try {
        expect(exit, report).toBe(0);
        expect(statuses, report).toMatch(step.statuses);
        step.stdout?.(stdout);
      } catch (error) {
        failed = step.name;
        throw error;
      }
    });
  });
});
