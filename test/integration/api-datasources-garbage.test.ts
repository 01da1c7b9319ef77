/**
 * No 500 for client mistakes on the data-source routes (issue 5 "Bad
 * input"), on both store engines: every documented operation under
 * `/datasources` and `/datasource-types` (read from the OpenAPI document)
 * called with malformed and mistyped bodies, bad and unknown ids, and bad
 * query strings, against a data source with a saved catalog. Secrets stay
 * out of every answer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { documentedOperations, garbageRequests } from '../support/api.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API data-source routes with garbage input on %s', (engine) => {
  let api: DataSourceApi;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  it('never answers a client mistake with 500', async () => {
    const ds = await api.createDataSource();
    expect((await api.runJob(ds, fullSelection())).status).toBe('completed');
    const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
    const operations = documentedOperations(doc, (path) => /^\/api\/v1\/datasource/.test(path));
    expect(new Set(operations.map(([path]) => path)).size).toBeGreaterThanOrEqual(17);
    const bodies = [
      '{',
      '[]',
      'null',
      '"\u0000"',
      JSON.stringify({ name: 5, config: 'x', ds_type: [], access_mode: {}, is_active: 'no' }),
      JSON.stringify({ user_ids: [MISSING_ID, null], role_ids: 'x', policy_id: 'p', priority: 1e40 }),
      JSON.stringify({
        action: 'save_catalog',
        schemas: [{ schema_name: 'a', is_selected: true, tables: [{ table_name: 1 }] }],
        child_table_id: MISSING_ID,
        child_column_name: {},
        resolved_column_name: '\u0000',
        relationship_id: 'nope',
      }),
      JSON.stringify({ action: 'discover_tables', schemas: ['\u0000', "'; DROP TABLE x; --"] }),
      JSON.stringify({ config: { port: 99999999, sslmode: null, host: '' } }),
    ];
    const ids = [MISSING_ID, 'x', ds];
    const queries = ['', '?page=-5&page_size=x&child_table=zz&search=%25_'];
    let calls = 0;
    // DELETE of the data source last, so the other operations see it.
    const last = ([path, method]: readonly [string, string]) =>
      Number(path === '/api/v1/datasources/{id}' && method === 'delete');
    operations.sort((a, b) => last(a) - last(b));
    for (const { method, url, body } of garbageRequests(operations, { ids, queries, bodies })) {
      const r = await api.call(method, url, body === undefined ? {} : { body });
      calls++;
      expect(r.status, `${method} ${url} ${body}`).toBeLessThan(500);
    }
    expect(calls).toBeGreaterThan(500);
    // Wrong or missing content types on body routes are 415, never a crash.
    for (const path of ['/api/v1/datasources', `/api/v1/datasources/${ds}/discover`]) {
      const r = await api.call('POST', path, { body: 'name=x', headers: { 'content-type': '' } });
      expect(r.status).toBe(415);
    }
  });
});
