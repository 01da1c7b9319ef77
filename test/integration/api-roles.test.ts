/**
 * Roles (api-contract §4.13): CRUD, members, inheritance (cycle, depth,
 * duplicates), effective members, impact, every documented error and the
 * admin audit rows (§10.2).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../support/stores.js';
import { auditRowsOf, openTestApi, type TestApi } from '../support/api.js';

const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';

describe.each(STORE_ENGINES)('API roles on %s', (engine) => {
  let api: TestApi;
  beforeEach(async () => {
    api = await openTestApi(engine);
  });
  afterEach(() => api.dispose());

  const createRole = async (name: string, description?: string) => {
    const r = await api.call('POST', '/api/v1/roles', { body: { name, description } });
    expect(r.status, r.text).toBe(201);
    return r.json as { id: string; name: string };
  };
  const link = (child: string, parent: string) =>
    api.call('POST', `/api/v1/roles/${child}/parents`, { body: { parent_role_id: parent } });
  const addMembers = (role: string, user_ids: string[]) =>
    api.call('POST', `/api/v1/roles/${role}/members`, { body: { user_ids } });

  it('creates, lists, gets, updates and audits roles', async () => {
    const r = await api.call('POST', '/api/v1/roles', { body: { name: 'analysts', description: 'read' } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      name: 'analysts',
      description: 'read',
      is_active: true,
      direct_member_count: 0,
    });
    for (const [name, message] of [
      ['ab', 'Role name must be between 3 and 50 characters'],
      ['9lives', 'Role name must start with a letter'],
      ['a b c', 'Role name may only contain letters, digits, underscores, dots, and hyphens'],
    ]) {
      const bad = await api.call('POST', '/api/v1/roles', { body: { name } });
      expect([bad.status, bad.json]).toEqual([422, { error: message }]);
    }
    const dup = await api.call('POST', '/api/v1/roles', { body: { name: 'analysts' } });
    expect([dup.status, dup.json]).toEqual([409, { error: 'Role name already exists' }]);
    await createRole('engineers');
    const list = await api.call('GET', '/api/v1/roles?search=ENG');
    expect(list.json).toMatchObject({ total: 1, page: 1, page_size: 20 });
    expect((await api.call('GET', '/api/v1/roles?page_size=0')).json).toMatchObject({ data: [], total: 2 });

    const id = r.json.id as string;
    const renamed = await api.call('PUT', `/api/v1/roles/${id}`, { body: { name: 'analytics' } });
    expect(renamed.json).toMatchObject({ name: 'analytics', is_active: true });
    const taken = await api.call('PUT', `/api/v1/roles/${id}`, { body: { name: 'engineers' } });
    expect([taken.status, taken.json]).toEqual([409, { error: 'Role name already exists' }]);
    expect(
      (await api.call('PUT', `/api/v1/roles/${id}`, { body: { is_active: false } })).json.is_active,
    ).toBe(false);
    expect((await api.call('PUT', `/api/v1/roles/${id}`, { body: { is_active: true } })).status).toBe(200);
    expect((await api.call('PUT', `/api/v1/roles/${MISSING_ID}`, { body: {} })).json).toEqual({
      error: 'Role not found',
    });
    expect((await api.call('GET', `/api/v1/roles/${MISSING_ID}`)).status).toBe(404);

    const audit = (await auditRowsOf(api.store, 'role', id)).map((a) => [a.action, a.changes]);
    expect(audit).toEqual([
      ['create', { after: { name: 'analysts', description: 'read', is_active: true } }],
      ['update', { before: { name: 'analysts' }, after: { name: 'analytics' } }],
      ['deactivate', { before: { is_active: true }, after: { is_active: false } }],
      ['reactivate', { before: { is_active: false }, after: { is_active: true } }],
    ]);
  });

  it('adds and removes members with the documented errors (Q12 fixed)', async () => {
    const role = await createRole('members');
    const bob = await api.seedUser('bob');
    const carol = await api.seedUser('carol');
    expect((await addMembers(MISSING_ID, [bob.id])).json).toEqual({ error: 'Role not found' });
    expect((await addMembers(MISSING_ID, [])).status).toBe(404);
    const unknown = await addMembers(role.id, [bob.id, MISSING_ID]);
    expect([unknown.status, unknown.json]).toEqual([404, { error: `User '${MISSING_ID}' not found` }]);
    const twice = await addMembers(role.id, [bob.id, bob.id]);
    expect([twice.status, twice.json]).toEqual([
      409,
      { error: "User 'bob' is already a member of role 'members'" },
    ]);
    expect((await api.call('GET', `/api/v1/roles/${role.id}`)).json.members).toEqual([]); // all or nothing
    expect((await addMembers(role.id, [])).status).toBe(204);
    const ok = await addMembers(role.id, [bob.id, carol.id.toUpperCase()]);
    expect([ok.status, ok.text]).toEqual([204, '']);
    const again = await addMembers(role.id, [carol.id]);
    expect(again.json).toEqual({ error: "User 'carol' is already a member of role 'members'" });
    const notUuid = await addMembers(role.id, ['bob']);
    expect([notUuid.status, notUuid.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: user_ids.0: invalid value: expected a UUID',
    ]);

    const detail = (await api.call('GET', `/api/v1/roles/${role.id}`)).json;
    expect(detail).toMatchObject({ direct_member_count: 2, effective_member_count: 2 });
    expect(detail.members).toEqual([
      { id: bob.id, username: 'bob' },
      { id: carol.id, username: 'carol' },
    ]);

    expect((await api.call('DELETE', `/api/v1/roles/${MISSING_ID}/members/${bob.id}`)).json).toEqual({
      error: 'Role not found',
    });
    expect((await api.call('DELETE', `/api/v1/roles/${role.id}/members/${api.admin.id}`)).json).toEqual({
      error: 'User is not a member of this role',
    });
    expect((await api.call('DELETE', `/api/v1/roles/${role.id}/members/${bob.id}`)).status).toBe(204);
    const audit = (await auditRowsOf(api.store, 'role', role.id)).map((a) => [a.action, a.changes]);
    expect(audit.slice(1)).toEqual([
      ['add_member', { user_id: bob.id, username: 'bob' }],
      ['add_member', { user_id: carol.id, username: 'carol' }],
      ['remove_member', { before: { user_id: bob.id, username: 'bob' } }],
    ]);
  });

  it('links parents with cycle, depth and duplicate checks', async () => {
    const [a, b, c] = [await createRole('role-a'), await createRole('role-b'), await createRole('role-c')];
    expect((await link(MISSING_ID, a.id)).json).toEqual({ error: 'Role not found' });
    expect((await link(a.id, MISSING_ID)).json).toEqual({ error: 'Parent role not found' });
    expect((await link(b.id, a.id)).status).toBe(204); // a is b's parent
    expect((await link(c.id, b.id)).status).toBe(204);
    const cycle = await link(a.id, c.id);
    expect(cycle.status).toBe(422);
    expect(cycle.json.error).toMatch(/^Cannot add inheritance: would create cycle: role-a → .* → role-a$/);
    const self = await link(a.id, a.id);
    expect([self.status, self.json]).toEqual([
      422,
      { error: 'Cannot add inheritance: would create cycle: role-a → role-a → role-a' },
    ]);
    const dup = await link(c.id, b.id);
    expect([dup.status, dup.json]).toEqual([409, { error: 'This inheritance relationship already exists' }]);

    const detail = (await api.call('GET', `/api/v1/roles/${b.id}`)).json;
    expect(detail.parent_roles).toEqual([{ id: a.id, name: 'role-a' }]);
    expect(detail.child_roles).toEqual([{ id: c.id, name: 'role-c' }]);

    expect((await api.call('DELETE', `/api/v1/roles/${c.id}/parents/${a.id}`)).json).toEqual({
      error: 'Inheritance relationship not found',
    });
    expect((await api.call('DELETE', `/api/v1/roles/${MISSING_ID}/parents/${a.id}`)).json).toEqual({
      error: 'Role not found',
    });
    expect((await api.call('DELETE', `/api/v1/roles/${c.id}/parents/${b.id}`)).status).toBe(204);
    const audit = (await auditRowsOf(api.store, 'role', c.id)).map((x) => [x.action, x.changes]);
    expect(audit.slice(1)).toEqual([
      ['add_inheritance', { parent_role_id: b.id, parent_role_name: 'role-b' }],
      ['remove_inheritance', { before: { parent_role_id: b.id, parent_role_name: 'role-b' } }],
    ]);
  });

  it('accepts a chain of 10 edges and refuses the 11th', async () => {
    const chain = [];
    for (let i = 0; i <= 11; i++) chain.push(await createRole(`level-${i}`));
    for (let i = 1; i <= 10; i++) expect((await link(chain[i]!.id, chain[i - 1]!.id)).status).toBe(204);
    const deep = await link(chain[11]!.id, chain[10]!.id);
    expect([deep.status, deep.json]).toEqual([
      422,
      { error: 'Cannot add inheritance: maximum depth of 10 would be exceeded (total depth: 11)' },
    ]);
  });

  it('reports effective members, impact, and deletes with 200 and the impact', async () => {
    const parent = await createRole('parent');
    const child = await createRole('child');
    await link(child.id, parent.id);
    const bob = await api.seedUser('bob');
    const carol = await api.seedUser('carol');
    await addMembers(parent.id, [bob.id]);
    await addMembers(child.id, [bob.id, carol.id]);
    const members = (await api.call('GET', `/api/v1/roles/${parent.id}/effective-members`)).json;
    expect(members).toEqual(
      expect.arrayContaining([
        { user_id: bob.id, username: 'bob', source: 'direct' },
        { user_id: carol.id, username: 'carol', source: "via role 'child'" },
      ]),
    );
    expect(members).toHaveLength(2);
    expect((await api.call('GET', `/api/v1/roles/${MISSING_ID}/effective-members`)).status).toBe(404);
    const impact = await api.call('GET', `/api/v1/roles/${parent.id}/impact`);
    expect(impact.json).toEqual({ affected_users: 2, affected_assignments: 0 });
    expect((await api.call('GET', `/api/v1/roles/${MISSING_ID}/impact`)).json).toEqual({
      error: 'Role not found',
    });

    const deleted = await api.call('DELETE', `/api/v1/roles/${parent.id}`);
    expect([deleted.status, deleted.json]).toEqual([200, { affected_users: 2, affected_assignments: 0 }]);
    expect((await api.call('GET', `/api/v1/roles/${parent.id}`)).status).toBe(404);
    expect((await api.call('GET', `/api/v1/roles/${child.id}`)).json.parent_roles).toEqual([]);
    expect((await api.call('DELETE', `/api/v1/roles/${parent.id}`)).json).toEqual({
      error: 'Role not found',
    });
    expect((await auditRowsOf(api.store, 'role', parent.id)).at(-1)).toMatchObject({
      action: 'delete',
      changes: { before: { name: 'parent', description: null, is_active: true } },
    });
  });
});
