/**
 * The runtime wiring of the management plane (src/runtime/admin-routes.ts):
 * options built from a loaded configuration give a server that signs tokens
 * with the configured secret and lifetime and honours the configured CORS
 * origins; without options only /health is served.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyToken } from '../../src/admin/auth/jwt.js';
import { buildAdminServer } from '../../src/admin/server.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { adminServerOptions } from '../../src/runtime/admin-routes.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createUser } from '../../src/store/repos/users.js';
import { openTestStore } from '../support/stores.js';

describe('admin server wiring', () => {
  it('serves only /health without options', async () => {
    const app = await buildAdminServer();
    try {
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
      const api = await app.inject({ url: '/api/v1/users' });
      expect([api.statusCode, api.json()]).toEqual([404, { error: 'Not found' }]);
    } finally {
      await app.close();
    }
  });

  it('uses the configured JWT secret, expiry and CORS origins', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rowgate-api-config-'));
    const { store, dispose } = await openTestStore('sqlite');
    const config = loadConfig({
      ROWGATE_DATA_DIR: dataDir,
      ROWGATE_JWT_SECRET: 'configured-secret',
      ROWGATE_JWT_EXPIRY_HOURS: '2',
      ROWGATE_CORS_ALLOWED_ORIGINS: 'https://ui.example',
    });
    const app = await buildAdminServer(adminServerOptions(config, store, createLogger('silent')));
    try {
      await auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
        createUser(tx, { username: 'admin', password: 'Admin123!', is_admin: true }),
      );
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { origin: 'https://ui.example' },
        payload: { username: 'admin', password: 'Admin123!' },
      });
      expect(login.statusCode).toBe(200);
      expect(login.headers['access-control-allow-origin']).toBe('https://ui.example');
      const token = login.json<{ token: string }>().token;
      expect(await verifyToken('configured-secret', token)).toBeDefined();
      expect(await verifyToken('other-secret', token)).toBeUndefined();
      const claims = decodeJwt(token);
      expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(2 * 3600);
    } finally {
      await app.close();
      await dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
