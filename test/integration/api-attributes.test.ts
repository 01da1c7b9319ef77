/**
 * Attribute definitions (api-contract §4.11): every endpoint, the definition
 * rule's messages in order, tri-state updates, forced deletion, and the
 * admin audit rows (§10.2).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getUserById } from '../../src/store/repos/users.js';
import { STORE_ENGINES } from '../support/stores.js';
import { auditRowsOf, openTestApi, type TestApi } from '../support/api.js';

const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const BASE = '/api/v1/attribute-definitions';

describe.each(STORE_ENGINES)('API attribute definitions on %s', (engine) => {
  let api: TestApi;
  beforeEach(async () => {
    api = await openTestApi(engine);
  });
  afterEach(() => api.dispose());

  const create = (body: Record<string, unknown>) =>
    api.call('POST', BASE, {
      body: { entity_type: 'user', display_name: 'D', value_type: 'string', ...body },
    });

  it('creates a definition (201) and audits {after}', async () => {
    const r = await create({
      key: 'tenant',
      display_name: 'Tenant',
      allowed_values: ['acme', 'globex'],
      default_value: 'acme',
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      key: 'tenant',
      entity_type: 'user',
      display_name: 'Tenant',
      value_type: 'string',
      default_value: 'acme',
      allowed_values: ['acme', 'globex'],
      description: null,
      created_by: api.admin.id,
      updated_by: api.admin.id,
    });
    expect(r.json.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(await auditRowsOf(api.store, 'attribute_definition', r.json.id)).toMatchObject([
      {
        action: 'create',
        changes: {
          after: {
            key: 'tenant',
            entity_type: 'user',
            value_type: 'string',
            display_name: 'Tenant',
            default_value: 'acme',
            allowed_values: ['acme', 'globex'],
            description: null,
          },
        },
      },
    ]);
  });

  it('applies the definition rule in order, then uniqueness per entity type', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ key: '' }, 'key must be 1-64 characters'],
      [{ key: 'k'.repeat(65) }, 'key must be 1-64 characters'],
      [{ key: '_x', entity_type: 'nope' }, 'key must start with a letter'],
      [{ key: 'a-b' }, 'key must contain only letters, digits, and underscores'],
      [{ key: 'region', entity_type: 'group' }, 'entity_type must be one of: user, table, column'],
      [{ key: 'username', value_type: 'nope' }, "'username' is a reserved attribute key for user entities"],
      [{ key: 'region', value_type: 'float' }, 'value_type must be one of: string, integer, boolean, list'],
      [
        { key: 'level', value_type: 'integer', default_value: 'x' },
        "invalid default_value: 'x' is not a valid integer",
      ],
      [
        { key: 'vip', value_type: 'boolean', allowed_values: ['true', 'yes'] },
        "invalid allowed_value 'yes': 'yes' is not a valid boolean (must be 'true' or 'false')",
      ],
      [
        { key: 'region', allowed_values: ['eu'], default_value: 'us' },
        'default_value must be in allowed_values',
      ],
      [
        { key: 'teams', value_type: 'list', allowed_values: ['a'], default_value: '["b"]' },
        "default_value element 'b' is not in allowed_values",
      ],
    ];
    for (const [body, message] of cases) {
      const r = await create(body);
      expect([r.status, r.json], message).toEqual([422, { error: message }]);
    }
    expect((await create({ key: 'username', entity_type: 'table' })).status).toBe(201);
    expect((await create({ key: 'region' })).status).toBe(201);
    const dup = await create({ key: 'region' });
    expect([dup.status, dup.json]).toEqual([
      409,
      { error: "Attribute definition 'region' already exists for entity type 'user'" },
    ]);
    expect((await create({ key: 'region', entity_type: 'column' })).status).toBe(201);
    const missing = await api.call('POST', BASE, {
      body: { key: 'x', entity_type: 'user', display_name: 'x' },
    });
    expect([missing.status, missing.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `value_type`',
    ]);
  });

  it('lists by key with entity-type filter, search and 1..200 paging', async () => {
    await create({ key: 'zeta', display_name: 'Last' });
    await create({ key: 'alpha', display_name: 'First' });
    await create({ key: 'mid', display_name: 'Region name', entity_type: 'table' });
    const all = await api.call('GET', BASE);
    expect(all.json).toMatchObject({ total: 3, page: 1, page_size: 50 });
    expect(all.json.data.map((d: { key: string }) => d.key)).toEqual(['alpha', 'mid', 'zeta']);
    const users = await api.call('GET', `${BASE}?entity_type=user`);
    expect(users.json.data.map((d: { key: string }) => d.key)).toEqual(['alpha', 'zeta']);
    expect(
      (await api.call('GET', `${BASE}?search=REGION`)).json.data.map((d: { key: string }) => d.key),
    ).toEqual(['mid']);
    expect((await api.call('GET', `${BASE}?search=ZET`)).json.total).toBe(1);
    const clamped = await api.call('GET', `${BASE}?page_size=0&page=2`);
    expect(clamped.json).toMatchObject({ page: 2, page_size: 1, total: 3 });
    expect(clamped.json.data.map((d: { key: string }) => d.key)).toEqual(['mid']);
    expect((await api.call('GET', `${BASE}?page_size=999`)).json.page_size).toBe(200);
  });

  it('gets a definition or answers 404', async () => {
    const created = (await create({ key: 'tenant' })).json;
    expect((await api.call('GET', `${BASE}/${created.id}`)).json).toEqual(created);
    const missing = await api.call('GET', `${BASE}/${MISSING_ID}`);
    expect([missing.status, missing.json]).toEqual([404, { error: 'Attribute definition not found' }]);
  });

  it('updates with tri-state fields, immutable key and the rule on the final values', async () => {
    const def = (
      await create({ key: 'tenant', description: 'who', allowed_values: ['acme'], default_value: 'acme' })
    ).json;
    const put = (body: Record<string, unknown>) => api.call('PUT', `${BASE}/${def.id}`, { body });

    const renamed = await put({ display_name: 'Tenant', key: 'other', entity_type: 'table' });
    expect(renamed.json).toMatchObject({
      key: 'tenant',
      entity_type: 'user',
      display_name: 'Tenant',
      description: 'who',
    });
    const bad = await put({ default_value: 'globex' });
    expect([bad.status, bad.json]).toEqual([422, { error: 'default_value must be in allowed_values' }]);
    const widened = await put({ allowed_values: null, default_value: 'globex', description: null });
    expect(widened.json).toMatchObject({ allowed_values: null, default_value: 'globex', description: null });
    const typed = await put({ value_type: 'integer' });
    expect([typed.status, typed.json]).toEqual([
      422,
      { error: "invalid default_value: 'globex' is not a valid integer" },
    ]);
    const missing = await api.call('PUT', `${BASE}/${MISSING_ID}`, { body: {} });
    expect([missing.status, missing.json]).toEqual([404, { error: 'Attribute definition not found' }]);
    expect((await put({})).status).toBe(200);

    const audit = (await auditRowsOf(api.store, 'attribute_definition', def.id)).map((a) => [
      a.action,
      a.changes,
    ]);
    expect(audit).toEqual([
      ['create', expect.anything()],
      ['update', { before: { display_name: 'D' }, after: { display_name: 'Tenant' } }],
      [
        'update',
        {
          before: { default_value: 'acme', allowed_values: ['acme'], description: 'who' },
          after: { default_value: 'globex', allowed_values: null, description: null },
        },
      ],
      ['update', { before: {}, after: {} }],
    ]);
  });

  it('refuses to delete a definition in use unless forced, which removes the key from every user', async () => {
    const def = (await create({ key: 'tenant' })).json;
    await create({ key: 'level', value_type: 'integer' });
    const users = [await api.seedUser('bob'), await api.seedUser('carol'), await api.seedUser('dave')];
    for (const user of users.slice(0, 2)) {
      const r = await api.call('PUT', `/api/v1/users/${user.id}`, {
        body: { attributes: { tenant: 'acme', level: '1' } },
      });
      expect(r.status).toBe(200);
    }
    const refused = await api.call('DELETE', `${BASE}/${def.id}`);
    expect([refused.status, refused.json]).toEqual([
      409,
      { error: "2 user(s) have attribute 'tenant'. Use ?force=true to delete and remove from all entities." },
    ]);
    const notForced = await api.call('DELETE', `${BASE}/${def.id}?force=false`);
    expect(notForced.status).toBe(409);
    const badFlag = await api.call('DELETE', `${BASE}/${def.id}?force=yes`);
    expect(badFlag.status).toBe(400);
    expect(badFlag.text).toMatch(/^Failed to deserialize query string: force/);

    const forced = await api.call('DELETE', `${BASE}/${def.id}?force=true`);
    expect([forced.status, forced.text]).toEqual([204, '']);
    for (const user of users) {
      const stored = await getUserById(api.store.db, user.id);
      expect(stored?.attributes).toEqual(user === users[2] ? {} : { level: '1' });
    }
    expect((await api.call('GET', `${BASE}/${def.id}`)).status).toBe(404);
    expect((await api.call('DELETE', `${BASE}/${def.id}`)).status).toBe(404);
    const audit = await auditRowsOf(api.store, 'attribute_definition', def.id);
    expect(audit.at(-1)).toMatchObject({
      action: 'delete',
      changes: {
        before: {
          key: 'tenant',
          entity_type: 'user',
          value_type: 'string',
          display_name: 'D',
          default_value: null,
          allowed_values: null,
          description: null,
          affected_count: 2,
        },
      },
    });
  });

  it('deletes an unused definition without force', async () => {
    const def = (await create({ key: 'unused' })).json;
    expect((await api.call('DELETE', `${BASE}/${def.id}`)).status).toBe(204);
    expect((await auditRowsOf(api.store, 'attribute_definition', def.id)).at(-1)?.changes).toMatchObject({
      before: { key: 'unused', affected_count: 0 },
    });
  });
});
