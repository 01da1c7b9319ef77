/**
 * A demo-seeded admin store and a proxy on an ephemeral port, as
 * wire-proxy.test.ts sets them up, for the TLS / cancel / limits tests.
 */
import { inject } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { createLogger } from '../../src/log.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { startProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/wire/server.js';
import { serverUrl } from './postgres.js';
import { openTestStore, type TestStore } from './stores.js';

export { DEMO_DATABASE };

export interface DemoStore {
  admin: TestStore;
  cipher: SecretCipher;
  /** Starts a proxy over this store; extra options override the defaults. */
  proxy(options?: Partial<ProxyServerOptions>): Promise<ProxyServer>;
}

export async function openDemoStore(): Promise<DemoStore> {
  const { host, port, user, password } = inject('postgres');
  await ensureDemoDatabase(serverUrl());
  const admin = await openTestStore('sqlite');
  const cipher = SecretCipher.fromHex('33'.repeat(32));
  await seedDemoAdminStore(admin.store, cipher, { host, port, user, password });
  return {
    admin,
    cipher,
    proxy: (options = {}) =>
      startProxyServer({
        bind: { host: '127.0.0.1', port: 0 },
        store: admin.store,
        cipher,
        logger: createLogger('silent'),
        idleTimeoutSecs: 0,
        ...options,
      }),
  };
}
