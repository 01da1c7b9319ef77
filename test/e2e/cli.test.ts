import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/postgres.js';
import { openStore } from '../../src/store/db.js';
import { getUserCredentials } from '../../src/store/repos/users.js';
import { verifyPassword } from '../../src/identity/passwords.js';
import { cleanEnv, runCli, spawnCli, stopChild, waitForOutput } from '../support/cli.js';

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Exactly one line on stderr, starting with `rowgate: `. */
function expectOneLineError(stderr: string, ...fragments: string[]) {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rowgate: /);
  for (const fragment of fragments) expect(lines[0]).toContain(fragment);
}

describe('rowgate CLI', () => {
  it('prints its version and help', async () => {
    const version = await runCli(['--version'], dir, cleanEnv());
    expect(version).toMatchObject({ code: 0, stdout: `${packageVersion}\n` });
    const help = await runCli(['--help'], dir, cleanEnv());
    expect(help.code).toBe(0);
    for (const command of ['serve', 'demo', 'migrate', 'user']) expect(help.stdout).toContain(command);
  });

  it('rejects an unknown command with one line and exit 1', async () => {
    const result = await runCli(['frobnicate'], dir, cleanEnv());
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, 'too many arguments');
  });

  it('rejects an invalid variable with one line naming it', async () => {
    const result = await runCli(['migrate'], dir, cleanEnv({ BR_ENCRYPTION_KEY: 'xyz' }));
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, 'ROWGATE_ENCRYPTION_KEY', 'BR_ENCRYPTION_KEY');
  });

  it('migrates a new store and reports it up to date', async () => {
    const result = await runCli(['migrate'], dir, cleanEnv());
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('admin store is up to date');
  });

  it('creates users; a duplicate fails with one line', async () => {
    const env = cleanEnv();
    const created = await runCli(
      ['user', 'create', '--username', 'ops', '--password', 'x', '--admin'],
      dir,
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created admin user ops \([0-9a-f-]{36}\)\n$/);
    const again = await runCli(['user', 'create', '--username', 'ops', '--password', 'y'], dir, env);
    expect(again.code).toBe(1);
    expectOneLineError(again.stderr, 'Username already exists');

    const store = openStore({ engine: 'sqlite', target: join(dir, 'data', 'rowgate.db') });
    try {
      const credentials = await getUserCredentials(store.db, 'ops');
      expect(credentials?.is_admin).toBe(true);
      expect(await verifyPassword(credentials?.password_hash ?? '', 'x')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses a first start without an admin password, naming the variable', async () => {
    const result = await runCli(
      ['serve'],
      dir,
      cleanEnv({ ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0', ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0' }),
    );
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, 'ROWGATE_ADMIN_PASSWORD');
  });

  it('reports an admin port in use as a configuration error', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const env = cleanEnv({
        ROWGATE_ADMIN_PASSWORD: 'pw',
        BR_ADMIN_BIND_ADDR: `127.0.0.1:${port}`,
        ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
      });
      const result = await runCli(['serve'], dir, env);
      expect(result.code).toBe(1);
      expectOneLineError(result.stderr, 'ROWGATE_ADMIN_BIND_ADDR', `127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('serves /health until SIGTERM, then exits 0', async () => {
    const env = cleanEnv({
      ROWGATE_ADMIN_PASSWORD: 'pw',
      ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:0',
      ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:0',
    });
    const child = spawnCli(['serve'], dir, env);
    try {
      const [, url] = await waitForOutput(child, /admin API on (http:\/\/[^\s;]+); proxy on \S+\n/, 30_000);
      const response = await fetch(`${url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ version: packageVersion });
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      const missing = await fetch(`${url}/api/v1/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: 'Not found' });
    } finally {
      expect(await stopChild(child)).toBe(0);
    }
  });
});
