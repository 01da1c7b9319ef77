/**
 * The runtime wiring of the data-source routes (src/runtime/admin-routes.ts):
 * a server built from a loaded configuration serves them next to the other
 * resources, and encrypts data-source passwords with the configured key —
 * the one the data plane and the discovery jobs decrypt with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAdminServer } from '../../src/admin/server.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { adminServerOptions } from '../../src/runtime/admin-routes.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { getDataSourceConnection } from '../../src/store/repos/datasource-config.js';
import { createUser } from '../../src/store/repos/users.js';
import { STORE_ENGINES, openTestStore } from '../support/stores.js';

describe.each(STORE_ENGINES)('data-source routes in the runtime wiring on %s', (engine) => {
  it('serves them with the configured encryption key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rowgate-api-ds-'));
    const { store, dispose } = await openTestStore(engine);
    const config = loadConfig({ ROWGATE_DATA_DIR: dataDir, ROWGATE_JWT_SECRET: 'runtime-secret' });
    const app = await buildAdminServer(adminServerOptions(config, store, createLogger('silent')));
    try {
      await auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
        createUser(tx, { username: 'admin', password: 'Admin123!', is_admin: true }),
      );
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'admin', password: 'Admin123!' },
      });
      const headers = { authorization: `Bearer ${login.json<{ token: string }>().token}` };
      const types = await app.inject({ url: '/api/v1/datasource-types', headers });
      expect(types.statusCode).toBe(200);
      const created = await app.inject({
        method: 'POST',
        url: '/api/v1/datasources',
        headers,
        payload: {
          name: 'wh',
          ds_type: 'postgres',
          config: { host: 'db', database: 'd', username: 'u', password: 'Runtime-Pw-42' },
        },
      });
      expect(created.statusCode).toBe(201);
      expect(created.body).not.toContain('Runtime-Pw-42');
      const id = created.json<{ id: string }>().id;
      const cipher = SecretCipher.fromHex(config.encryptionKeyHex);
      expect((await getDataSourceConnection(store.db, cipher, { id })).password).toBe('Runtime-Pw-42');
      const catalog = await app.inject({ url: `/api/v1/datasources/${id}/catalog`, headers });
      expect([catalog.statusCode, catalog.json()]).toEqual([200, { schemas: [] }]);
    } finally {
      await app.close();
      await dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
