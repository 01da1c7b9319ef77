/**
 * `POST /datasources/{id}/test` (api-contract §4.5) on both store engines:
 * success, refused connection, wrong password (the message says why without
 * any secret), 404 DS, settings that do not decode (500 with the decoder's
 * message), nothing audited.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  MISSING_ID,
  openDataSourceApi,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API data-source connection test on %s', (engine) => {
  let api: DataSourceApi;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  it('tests the connection: success, refused, bad password, 404, undecodable settings (500)', async () => {
    const id = await api.createDataSource();
    const test = (target = id) => api.call('POST', `/api/v1/datasources/${target}/test`);
    expect([(await test()).status, (await test()).json]).toEqual([200, { success: true }]);

    await api.call('PUT', `/api/v1/datasources/${id}`, { body: { config: { password: 'Wrong-Pw-123' } } });
    const denied = await test();
    expect(denied.status).toBe(200);
    expect(denied.json.success).toBe(false);
    expect(denied.json.message).toMatch(/^Failed to create Postgres pool: password authentication failed/);

    const closedPort = await api.createDataSource('closed', {
      config: { ...api.upstreamConfig, host: '127.0.0.1', port: 1 },
    });
    const refused = await test(closedPort);
    expect(refused.json).toEqual({
      success: false,
      message: 'Failed to create Postgres pool: connection refused (127.0.0.1:1)',
    });

    const missing = await test(MISSING_ID);
    expect([missing.status, missing.json]).toEqual([404, { error: 'Data source not found' }]);

    await api.store.db
      .updateTable('data_source')
      .set({ config: JSON.stringify({ host: 'h' }) })
      .where('id', '=', id)
      .execute();
    const legacy = await test();
    expect([legacy.status, legacy.json]).toEqual([500, { error: 'missing port in config' }]);
    expect(await auditRowsOf(api.store, 'datasource', id)).toHaveLength(2); // create + the PUT only
    await expectNoSecretLeak(api, 'Wrong-Pw-123');
  });
});
