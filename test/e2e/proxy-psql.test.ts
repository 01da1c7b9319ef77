/**
 * psql (libpq) through the proxy: the demo's promise, scripted. Skipped with
 * a reason when no psql binary is installed (CI installs postgresql-15).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { startProxyServer, type ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const run = promisify(execFile);

function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let admin: TestStore;
let proxy: ProxyServer;

async function psql(sql: string, user = 'alice', password = 'Demo1234!'): Promise<string> {
  const url = `postgresql://${user}@127.0.0.1:${proxy.port}/${DEMO_DATABASE}`;
  const env = { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'prefer' };
  const { stdout } = await run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, url], { env });
  return stdout.trim();
}

describe.skipIf(!hasPsql())('psql through the proxy (skipped: no psql binary installed)', () => {
  beforeAll(async () => {
    const { host, port, user, password } = inject('postgres');
    await ensureDemoDatabase(serverUrl());
    admin = await openTestStore('sqlite');
    const cipher = SecretCipher.fromHex('22'.repeat(32));
    await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
    proxy = await startProxyServer({
      bind: { host: '127.0.0.1', port: 0 },
      store: admin.store,
      cipher,
      logger: createLogger('silent'),
      idleTimeoutSecs: 0,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await admin?.dispose();
  });

  it('shows alice only acme rows', async () => {
    expect(await psql('select distinct org from orders')).toBe('acme');
  });

  it('masks SSNs and hides the card column', async () => {
    const rows = (await psql('SELECT id, first_name, ssn FROM customers LIMIT 3')).split('\n');
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/\|\*\*\*-\*\*-\d{4}$/);
    await expect(psql('SELECT credit_card FROM customers')).rejects.toThrow(
      /column "credit_card" does not exist/,
    );
  });

  it('reports a wrong password as psql users expect', async () => {
    await expect(psql('select 1', 'alice', 'wrong')).rejects.toThrow(
      /password authentication failed for user "alice"/,
    );
  });
});
