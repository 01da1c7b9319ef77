/**
 * Users (api-contract §4.3): every endpoint, every documented error with its
 * status and message, and the admin audit row each mutation writes (§10.2).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { createAttributeDefinition } from '../../src/store/repos/attributes.js';
import { STORE_ENGINES } from '../support/stores.js';
import { auditRowsOf, openTestApi, type TestApi } from '../support/api.js';

const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/;

describe.each(STORE_ENGINES)('API users on %s', (engine) => {
  let api: TestApi;
  beforeEach(async () => {
    api = await openTestApi(engine);
  });
  afterEach(() => api.dispose());

  const create = (body: Record<string, unknown>) => api.call('POST', '/api/v1/users', { body });
  const defineAttribute = (key: string, value_type: string, extra: Record<string, unknown> = {}) =>
    auditedTransaction(api.store, api.admin.id, (tx) =>
      createAttributeDefinition(tx, { key, entity_type: 'user', display_name: key, value_type, ...extra }),
    );

  it('creates a user (201) and audits {after}', async () => {
    const r = await create({
      username: 'alice',
      password: 'Demo1234!',
      email: 'a@x.io',
      display_name: 'Alice',
    });
    expect(r.status).toBe(201);
    expect(Object.keys(r.json)).toEqual([
      'id',
      'username',
      'is_admin',
      'is_active',
      'email',
      'display_name',
      'attributes',
      'last_login_at',
      'created_at',
      'updated_at',
    ]);
    expect(r.json).toMatchObject({
      username: 'alice',
      is_admin: false,
      is_active: true,
      email: 'a@x.io',
      display_name: 'Alice',
      attributes: {},
      last_login_at: null,
    });
    expect(r.json.created_at).toMatch(TS);
    const audit = await auditRowsOf(api.store, 'proxy_user', r.json.id);
    expect(audit).toMatchObject([
      {
        action: 'create',
        actor_id: api.admin.id,
        changes: {
          after: {
            username: 'alice',
            is_admin: false,
            is_active: true,
            email: 'a@x.io',
            display_name: 'Alice',
          },
        },
      },
    ]);
    expect(JSON.stringify(audit)).not.toContain('Demo1234!');
  });

  it('applies the username rule, then the password rule, then uniqueness', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'al', password: 'x' }, 'Username must be between 3 and 50 characters'],
      [{ username: 'a'.repeat(51), password: 'x' }, 'Username must be between 3 and 50 characters'],
      [{ username: '1alice', password: 'x' }, 'Username must start with a letter'],
      [
        { username: 'ali ce', password: 'x' },
        'Username may only contain letters, digits, underscores, dots, and hyphens',
      ],
      [{ username: 'alice', password: 'Ab1!' }, 'Password must be at least 8 characters'],
      [{ username: 'alice', password: 'abcdefg1!' }, 'Password must contain at least one uppercase letter'],
      [{ username: 'alice', password: 'ABCDEFG1!' }, 'Password must contain at least one lowercase letter'],
      [{ username: 'alice', password: 'Abcdefgh!' }, 'Password must contain at least one digit'],
      [{ username: 'alice', password: 'Abcdefgh1' }, 'Password must contain at least one special character'],
    ];
    for (const [body, message] of cases) {
      const r = await create(body);
      expect([r.status, r.json], message).toEqual([422, { error: message }]);
    }
    expect((await create({ username: 'alice', password: 'Demo1234!' })).status).toBe(201);
    const dup = await create({ username: 'alice', password: 'Demo1234!' });
    expect([dup.status, dup.json]).toEqual([409, { error: 'Username already exists' }]);
    expect((await create({ username: 'Alice', password: 'Demo1234!' })).status).toBe(201);
    expect((await auditRowsOf(api.store, 'proxy_user')).filter((a) => a.action === 'create')).toHaveLength(3);
  });

  it('lists users oldest first with search and the §1.9 paging rules', async () => {
    for (const name of ['bob', 'carol', 'dave', 'BOBBY']) await api.seedUser(name);
    const all = await api.call('GET', '/api/v1/users');
    expect(all.json).toMatchObject({ total: 5, page: 1, page_size: 20 });
    expect(all.json.data.map((u: { username: string }) => u.username)).toEqual([
      'admin',
      'bob',
      'carol',
      'dave',
      'BOBBY',
    ]);
    const search = await api.call('GET', '/api/v1/users?search=bOb');
    expect(search.json.data.map((u: { username: string }) => u.username)).toEqual(['bob', 'BOBBY']);
    expect(search.json.total).toBe(2);
    const wildcard = await api.call('GET', '/api/v1/users?search=%25');
    expect(wildcard.json.total).toBe(0);
    const page2 = await api.call('GET', '/api/v1/users?page=2&page_size=2');
    expect(page2.json).toMatchObject({ total: 5, page: 2, page_size: 2 });
    expect(page2.json.data.map((u: { username: string }) => u.username)).toEqual(['carol', 'dave']);
    expect((await api.call('GET', '/api/v1/users?page=0&page_size=1')).json).toMatchObject({
      page: 1,
      page_size: 1,
    });
    expect((await api.call('GET', '/api/v1/users?page_size=0')).json).toMatchObject({
      data: [],
      total: 5,
      page_size: 0,
    });
    expect((await api.call('GET', '/api/v1/users?page_size=1000')).json.page_size).toBe(100);
    expect((await api.call('GET', '/api/v1/users?page=9')).json).toMatchObject({
      data: [],
      total: 5,
      page: 9,
    });
  });

  it('gets a user or answers 404', async () => {
    const r = await api.call('GET', `/api/v1/users/${api.admin.id}`);
    expect(r.json).toMatchObject({ id: api.admin.id, username: 'admin', is_admin: true });
    const missing = await api.call('GET', `/api/v1/users/${MISSING_ID}`);
    expect([missing.status, missing.json]).toEqual([404, { error: 'User not found' }]);
  });

  it('updates provided fields only (null = unchanged) and audits before/after of those fields', async () => {
    const bob = await api.seedUser('bob');
    const r = await api.call('PUT', `/api/v1/users/${bob.id}`, {
      body: {
        email: 'b@x.io',
        display_name: null,
        is_admin: true,
        username: 'renamed',
        password: 'Ignored1!',
      },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ username: 'bob', email: 'b@x.io', display_name: null, is_admin: true });
    expect(r.json.updated_at >= bob.updated_at.slice(0, 19)).toBe(true);
    const cleared = await api.call('PUT', `/api/v1/users/${bob.id}`, { body: { email: null } });
    expect(cleared.json.email).toBe('b@x.io'); // Q3 replicated: null cannot clear
    const empty = await api.call('PUT', `/api/v1/users/${bob.id}`, { body: {} });
    expect(empty.status).toBe(200);
    const audit = (await auditRowsOf(api.store, 'proxy_user', bob.id)).filter(
      (a) => a.actor_id === api.admin.id,
    );
    expect(audit.map((a) => a.changes)).toEqual([
      { before: { email: null, is_admin: false }, after: { email: 'b@x.io', is_admin: true } },
      { before: {}, after: {} },
      { before: {}, after: {} },
    ]);
  });

  it('replaces attributes as a whole after validating them against the definitions', async () => {
    await defineAttribute('tenant', 'string', { allowed_values: ['acme', 'globex'] });
    await defineAttribute('level', 'integer');
    await defineAttribute('vip', 'boolean');
    await defineAttribute('departments', 'list', { allowed_values: ['eng', 'sec'] });
    const bob = await api.seedUser('bob');
    const put = (attributes: unknown) => api.call('PUT', `/api/v1/users/${bob.id}`, { body: { attributes } });

    const ok = await put({ tenant: 'acme', level: '3', vip: 'true', departments: ['eng'] });
    expect(ok.status).toBe(200);
    expect(ok.json.attributes).toEqual({ tenant: 'acme', level: '3', vip: 'true', departments: ['eng'] });
    const replaced = await put({ level: '-7' });
    expect(replaced.json.attributes).toEqual({ level: '-7' });

    const errors: [unknown, string][] = [
      [{ region: 'eu' }, "Unknown attribute key 'region'. Define it first via attribute definitions."],
      [{ departments: 'eng' }, "Attribute 'departments' has type 'list' — value must be a JSON array"],
      [
        { departments: [1] },
        "Invalid value for attribute 'departments': list element at index 0 is not a string",
      ],
      [
        { departments: ['ops'] },
        `List element 'ops' for attribute 'departments' is not in allowed values: ["eng", "sec"]`,
      ],
      [{ level: 3 }, "Attribute 'level' has type 'integer' — value must be a string"],
      [{ level: '3.5' }, "Invalid value for attribute 'level': '3.5' is not a valid integer"],
      [
        { vip: 'yes' },
        "Invalid value for attribute 'vip': 'yes' is not a valid boolean (must be 'true' or 'false')",
      ],
      [
        { tenant: 'stark' },
        `Value 'stark' for attribute 'tenant' is not in allowed values: ["acme", "globex"]`,
      ],
      [
        { tenant: 'x'.repeat(1025) },
        "Invalid value for attribute 'tenant': value exceeds 1024 character limit",
      ],
    ];
    for (const [attributes, message] of errors) {
      const r = await put(attributes);
      expect([r.status, r.json], message).toEqual([422, { error: message }]);
    }
    const notObject = await put(['tenant']);
    expect(notObject.status).toBe(422);
    expect(notObject.text).toMatch(/^Failed to deserialize the JSON body into the target type: attributes/);

    const clearedAll = await put({});
    expect(clearedAll.json.attributes).toEqual({});
    const audit = (await auditRowsOf(api.store, 'proxy_user', bob.id)).filter(
      (a) => a.actor_id === api.admin.id,
    );
    expect(audit.map((a) => a.changes)).toEqual([
      {
        before: { attributes: {} },
        after: { attributes: { tenant: 'acme', level: '3', vip: 'true', departments: ['eng'] } },
      },
      {
        before: { attributes: { tenant: 'acme', level: '3', vip: 'true', departments: ['eng'] } },
        after: { attributes: { level: '-7' } },
      },
      { before: { attributes: { level: '-7' } }, after: { attributes: {} } },
    ]);
  });

  it('guards admin demotion, deactivation and deletion (Q4 fixed)', async () => {
    const self = await api.call('PUT', `/api/v1/users/${api.admin.id}`, { body: { is_admin: false } });
    expect([self.status, self.json]).toEqual([409, { error: 'Cannot revoke your own admin privileges' }]);
    const deactivate = await api.call('PUT', `/api/v1/users/${api.admin.id}`, { body: { is_active: false } });
    expect([deactivate.status, deactivate.json]).toEqual([
      409,
      { error: 'Cannot deactivate the last active admin user' },
    ]);
    const lastDelete = await api.call('DELETE', `/api/v1/users/${api.admin.id}`);
    expect([lastDelete.status, lastDelete.json]).toEqual([
      409,
      { error: 'Cannot delete the last admin user' },
    ]);

    const second = await api.seedUser('second', { is_admin: true });
    const ownDelete = await api.call('DELETE', `/api/v1/users/${api.admin.id}`);
    expect([ownDelete.status, ownDelete.json]).toEqual([409, { error: 'Cannot delete your own account' }]);
    expect((await api.call('PUT', `/api/v1/users/${second.id}`, { body: { is_admin: false } })).status).toBe(
      200,
    );
    expect((await api.call('PUT', `/api/v1/users/${MISSING_ID}`, { body: { is_admin: false } })).status).toBe(
      404,
    );
    // Nothing refused above left an audit row behind.
    const audit = await auditRowsOf(api.store, 'proxy_user', api.admin.id);
    expect(audit.map((a) => a.action)).toEqual(['create']);
  });

  it('changes a password: rule before existence, then 404; audited as a flag', async () => {
    const bob = await api.seedUser('bob', { is_admin: true, password: 'Before123!' });
    const weakMissing = await api.call('PUT', `/api/v1/users/${MISSING_ID}/password`, {
      body: { password: 'weak' },
    });
    expect([weakMissing.status, weakMissing.json]).toEqual([
      422,
      { error: 'Password must be at least 8 characters' },
    ]);
    const missing = await api.call('PUT', `/api/v1/users/${MISSING_ID}/password`, {
      body: { password: 'After123!' },
    });
    expect([missing.status, missing.json]).toEqual([404, { error: 'User not found' }]);
    const r = await api.call('PUT', `/api/v1/users/${bob.id}/password`, { body: { password: 'After123!' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: bob.id, username: 'bob' });
    const refused = await api.call('POST', '/api/v1/auth/login', {
      token: null,
      body: { username: 'bob', password: 'Before123!' },
    });
    expect(refused.status).toBe(401);
    expect((await api.login('bob', 'After123!')).length).toBeGreaterThan(20);
    const audit = (await auditRowsOf(api.store, 'proxy_user', bob.id)).filter(
      (a) => a.actor_id === api.admin.id,
    );
    expect(audit.map((a) => [a.action, a.changes])).toEqual([
      ['update', { field: 'password', changed: true }],
    ]);
    expect(JSON.stringify(audit)).not.toContain('After123!');
  });

  it('deletes a user (204, empty body), audits {before}, then 404', async () => {
    const bob = await api.seedUser('bob');
    const r = await api.call('DELETE', `/api/v1/users/${bob.id}`);
    expect([r.status, r.text]).toEqual([204, '']);
    expect((await api.call('GET', `/api/v1/users/${bob.id}`)).status).toBe(404);
    const again = await api.call('DELETE', `/api/v1/users/${bob.id}`);
    expect([again.status, again.json]).toEqual([404, { error: 'User not found' }]);
    const audit = await auditRowsOf(api.store, 'proxy_user', bob.id);
    expect(audit.at(-1)).toMatchObject({
      action: 'delete',
      actor_id: api.admin.id,
      changes: {
        before: { username: 'bob', is_admin: false, is_active: true, email: null, display_name: null },
      },
    });
  });
});
