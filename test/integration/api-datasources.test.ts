/**
 * Data sources (api-contract §4.4, §4.5): the type catalogue, create, list,
 * get, update and delete, on both store engines — with every documented
 * error (status and message), the admin audit rows, and the upstream
 * password absent from every response and audit row. The connection test:
 * api-datasources-connect.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { createPolicy } from '../../src/store/repos/policies.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  TS,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API data sources on %s', (engine) => {
  let api: DataSourceApi;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const create = (body: Record<string, unknown>) => api.call('POST', '/api/v1/datasources', { body });
  const body = (extra: Record<string, unknown> = {}) => ({
    name: 'warehouse',
    ds_type: 'postgres',
    config: api.upstreamConfig,
    ...extra,
  });

  it('lists the data source types exactly as §4.4', async () => {
    const r = await api.call('GET', '/api/v1/datasource-types');
    expect(r.status).toBe(200);
    expect(r.text).toBe(
      JSON.stringify([
        {
          ds_type: 'postgres',
          label: 'PostgreSQL',
          fields: [
            { key: 'host', label: 'Host', field_type: 'text', required: true, is_secret: false },
            {
              key: 'port',
              label: 'Port',
              field_type: 'number',
              required: true,
              is_secret: false,
              default_value: '5432',
            },
            { key: 'database', label: 'Database', field_type: 'text', required: true, is_secret: false },
            { key: 'username', label: 'Username', field_type: 'text', required: true, is_secret: false },
            { key: 'password', label: 'Password', field_type: 'text', required: true, is_secret: true },
            {
              key: 'sslmode',
              label: 'SSL Mode',
              field_type: 'select',
              options: ['disable', 'prefer', 'require'],
              required: true,
              is_secret: false,
              default_value: 'require',
            },
          ],
        },
      ]),
    );
  });

  it('creates a data source (201): no password anywhere, creator granted, audited {after}', async () => {
    const r = await create({ ...body(), config: { ...api.upstreamConfig, extra: 'dropped' } });
    expect(r.status).toBe(201);
    expect(Object.keys(r.json)).toEqual([
      'id',
      'name',
      'ds_type',
      'config',
      'is_active',
      'access_mode',
      'last_sync_at',
      'last_sync_result',
      'created_at',
      'updated_at',
    ]);
    const { password: _secret, ...visible } = api.upstreamConfig;
    expect(r.json).toMatchObject({
      name: 'warehouse',
      ds_type: 'postgres',
      config: visible,
      is_active: true,
      access_mode: 'policy_required',
      last_sync_at: null,
      last_sync_result: null,
    });
    expect(Object.keys(r.json.config).sort()).toEqual(['database', 'host', 'port', 'sslmode', 'username']);
    expect(r.json.created_at).toMatch(TS);
    const stored = await api.store.db
      .selectFrom('data_source')
      .select(['config', 'secure_config'])
      .executeTakeFirstOrThrow();
    expect(stored.config + stored.secure_config).not.toContain(api.upstreamPassword); // encrypted at rest
    const users = await api.call('GET', `/api/v1/datasources/${r.json.id}/users`);
    expect(users.json.map((u: { username: string }) => u.username)).toEqual(['admin']);
    expect(await auditRowsOf(api.store, 'datasource', r.json.id)).toMatchObject([
      {
        action: 'create',
        actor_id: api.admin.id,
        changes: {
          after: { name: 'warehouse', ds_type: 'postgres', access_mode: 'policy_required', is_active: true },
        },
      },
    ]);
  });

  it('fills the port and sslmode defaults and normalises a numeric port string', async () => {
    const { port: _p, sslmode: _s, ...config } = api.upstreamConfig;
    const r = await create({ ...body(), config, access_mode: 'open' });
    expect(r.json.config).toMatchObject({ port: 5432, sslmode: 'require' });
    expect(r.json.access_mode).toBe('open');
    const s = await create({ ...body({ name: 'other' }), config: { ...api.upstreamConfig, port: '6543' } });
    expect(s.json.config.port).toBe(6543);
  });

  it('checks name, access mode, type, config (Q19 fixed) and uniqueness, in that order', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [body({ name: '', access_mode: 'bad' }), 'Datasource name must be between 1 and 64 characters'],
      [body({ name: 'a'.repeat(65) }), 'Datasource name must be between 1 and 64 characters'],
      [body({ name: '1wh' }), 'Datasource name must start with a letter'],
      [body({ name: 'w h' }), 'Datasource name may only contain letters, digits, underscores, and hyphens'],
      [body({ access_mode: 'closed', ds_type: 'mysql' }), "access_mode must be 'open' or 'policy_required'"],
      [body({ ds_type: 'mysql', config: 5 }), 'Unknown data source type: mysql'],
      [body({ config: [1] }), 'Invalid input: config must be a JSON object'],
      [body({ config: { host: 'h' } }), 'Missing required field: database'],
      [
        body({ config: { ...api.upstreamConfig, port: 'abc' } }),
        "Invalid config field 'port': must be an integer between 1 and 65535",
      ],
      [
        body({ config: { ...api.upstreamConfig, sslmode: 'maybe' } }),
        "Invalid config field 'sslmode': must be one of disable, prefer, require, verify-full",
      ],
      [
        body({ config: { ...api.upstreamConfig, host: 7 } }),
        "Invalid config field 'host': must be a non-empty string",
      ],
    ];
    for (const [input, message] of cases) {
      const r = await create(input);
      expect([r.status, r.json], message).toEqual([422, { error: message }]);
    }
    const missing = await create({ name: 'x', ds_type: 'postgres' });
    expect(missing.status).toBe(422);
    expect(missing.text).toBe(
      'Failed to deserialize the JSON body into the target type: missing field `config`',
    );
    expect((await create(body())).status).toBe(201);
    const dup = await create(body({ access_mode: 'open' }));
    expect([dup.status, dup.json]).toEqual([409, { error: 'Data source name already exists' }]);
    expect((await create(body({ name: 'Warehouse' }))).status).toBe(201); // case-sensitive
    expect((await auditRowsOf(api.store, 'datasource')).map((a) => a.action)).toEqual(['create', 'create']);
  });

  it('lists oldest first with name search and the §1.9 paging rules; gets one or 404', async () => {
    for (const name of ['alpha', 'beta', 'ALPHA_2']) await api.createDataSource(name);
    const all = await api.call('GET', '/api/v1/datasources');
    expect(all.json).toMatchObject({ total: 3, page: 1, page_size: 20 });
    expect(all.json.data.map((d: { name: string }) => d.name)).toEqual(['alpha', 'beta', 'ALPHA_2']);
    const search = await api.call('GET', '/api/v1/datasources?search=alp');
    expect(search.json.data.map((d: { name: string }) => d.name)).toEqual(['alpha', 'ALPHA_2']);
    expect((await api.call('GET', '/api/v1/datasources?page=2&page_size=2')).json).toMatchObject({
      total: 3,
      page: 2,
      page_size: 2,
      data: [{ name: 'ALPHA_2' }],
    });
    expect((await api.call('GET', '/api/v1/datasources?page_size=0')).json.data).toEqual([]);
    expect((await api.call('GET', '/api/v1/datasources?page_size=500')).json.page_size).toBe(100);
    const bad = await api.call('GET', '/api/v1/datasources?page=-1');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Failed to deserialize query string: /);

    const one = await api.call('GET', `/api/v1/datasources/${all.json.data[1].id}`);
    expect(one.json).toEqual(all.json.data[1]);
    const missing = await api.call('GET', `/api/v1/datasources/${MISSING_ID}`);
    expect([missing.status, missing.json]).toEqual([404, { error: 'Data source not found' }]);
    const notUuid = await api.call('GET', '/api/v1/datasources/nope');
    expect([notUuid.status, notUuid.text]).toEqual([400, 'Invalid URL: Cannot parse `nope` to a UUID']);
  });

  it('updates sent fields, audits before/after with config_changed, never values', async () => {
    const id = await api.createDataSource();
    const put = (b: unknown) => api.call('PUT', `/api/v1/datasources/${id}`, { body: b });
    const original = (await api.call('GET', `/api/v1/datasources/${id}`)).json;

    const noop = await put({ name: null, config: null });
    expect([noop.status, noop.json]).toEqual([200, original]);
    expect(await auditRowsOf(api.store, 'datasource', id)).toHaveLength(1);

    const renamed = await put({ name: 'lake', is_active: false, access_mode: 'policy_required' });
    expect(renamed.json).toMatchObject({ name: 'lake', is_active: false, access_mode: 'policy_required' });
    const hidden = await put({ config: { host: 'db.internal', password: '' } });
    expect(hidden.json.config).toMatchObject({ host: 'db.internal', port: api.upstreamConfig.port });
    const newPassword = 'Rotated-Secret-991';
    expect((await put({ config: { host: api.upstreamConfig.host, password: newPassword } })).status).toBe(
      200,
    );
    const audit = (await auditRowsOf(api.store, 'datasource', id)).slice(1).map((a) => a.changes);
    expect(audit).toEqual([
      {
        before: { name: 'warehouse', is_active: true, access_mode: 'open' },
        after: { name: 'lake', is_active: false, access_mode: 'policy_required' },
      },
      { before: {}, after: { config_changed: true } },
      { before: {}, after: { config_changed: true } },
    ]);
    await expectNoSecretLeak(api, newPassword);
  });

  it('checks a PUT: 404 first, then name, access mode, config; name taken is 409', async () => {
    const id = await api.createDataSource();
    await api.createDataSource('taken');
    const put = (target: string, b: unknown) => api.call('PUT', `/api/v1/datasources/${target}`, { body: b });
    const cases: [string, unknown, number, string][] = [
      [MISSING_ID, { name: '' }, 404, 'Data source not found'],
      [MISSING_ID, {}, 404, 'Data source not found'],
      [id, { name: '9', access_mode: 'x' }, 422, 'Datasource name must start with a letter'],
      [id, { access_mode: 'x', config: 1 }, 422, "access_mode must be 'open' or 'policy_required'"],
      [id, { config: 'host=x' }, 422, 'Invalid input: config must be a JSON object'],
      [
        id,
        { config: { port: 0 } },
        422,
        "Invalid config field 'port': must be an integer between 1 and 65535",
      ],
      [id, { name: 'taken' }, 409, 'Data source name already exists'],
    ];
    for (const [target, b, status, message] of cases) {
      const r = await put(target, b);
      expect([r.status, r.json], message).toEqual([status, { error: message }]);
    }
    const wrongType = await put(id, { is_active: 'yes' });
    expect(wrongType.status).toBe(422);
    expect(wrongType.text).toMatch(/^Failed to deserialize the JSON body into the target type: is_active/);
    expect(await auditRowsOf(api.store, 'datasource', id)).toHaveLength(1);
  });

  it('deletes with the cascade (grants, assignments, catalog); policies and query audit stay', async () => {
    const id = await api.createDataSource();
    expect((await api.runJob(id, fullSelection())).status).toBe('completed');
    const policy = await auditedTransaction(api.store, api.admin.id, (tx) =>
      createPolicy(tx, {
        name: 'p1',
        policy_type: 'table_deny',
        targets: [{ schemas: ['public'], tables: ['orders'] }],
      }),
    );
    const assigned = await api.call('POST', `/api/v1/datasources/${id}/policies`, {
      body: { policy_id: policy.id },
    });
    expect(assigned.status).toBe(201);

    const r = await api.call('DELETE', `/api/v1/datasources/${id}`);
    expect([r.status, r.text]).toEqual([204, '']);
    const count = async (table: 'data_source_access' | 'policy_assignment' | 'discovered_schema') =>
      (await api.store.db.selectFrom(table).select('id').where('data_source_id', '=', id).execute()).length;
    expect([
      await count('data_source_access'),
      await count('policy_assignment'),
      await count('discovered_schema'),
    ]).toEqual([0, 0, 0]);
    const kept = await api.store.db.selectFrom('policy').select('version').executeTakeFirstOrThrow();
    expect(kept.version).toBe(2); // bumped by the assignment, not by the delete
    expect((await auditRowsOf(api.store, 'datasource', id)).at(-1)).toMatchObject({
      action: 'delete',
      changes: { before: { name: 'warehouse', ds_type: 'postgres', access_mode: 'open', is_active: true } },
    });
    const again = await api.call('DELETE', `/api/v1/datasources/${id}`);
    expect([again.status, again.json]).toEqual([404, { error: 'Data source not found' }]);
  });
});
