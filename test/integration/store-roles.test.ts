import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { Store } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import {
  addMembers,
  addParent,
  createRole,
  getRole,
  listChildren,
  listParents,
  listRoles,
  removeMember,
  removeParent,
  updateRole,
  type Role,
} from '../../src/store/repos/roles.js';
import { createUser } from '../../src/store/repos/users.js';
import { STORE_ENGINES, openTestStore, type TestStore, auditRows } from '../support/stores.js';

describe.each(STORE_ENGINES)('roles repository on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  const run = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(store, SYSTEM_ACTOR_ID, work);
  const role = (name: string, description?: string) => run((tx) => createRole(tx, { name, description }));
  const user = (username: string) => run((tx) => createUser(tx, { username, password: 'Demo1234!' }));
  const link = (parent: Role, child: Role) => run((tx) => addParent(tx, child.id, parent.id));
  const lastAudit = async () => (await auditRows(store)).at(-1);

  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  it('creates, reads and lists roles; name rule and uniqueness', async () => {
    const a = await role('analysts', 'Reads sales');
    expect(a).toMatchObject({
      name: 'analysts',
      description: 'Reads sales',
      is_active: true,
      direct_member_count: 0,
    });
    expect(await getRole(store.db, a.id)).toEqual(a);
    expect(await lastAudit()).toMatchObject({
      resource_type: 'role',
      resource_id: a.id,
      action: 'create',
      changes: { after: { name: 'analysts', description: 'Reads sales', is_active: true } },
    });
    await expect(role('analysts')).rejects.toThrow(new ConflictError('Role name already exists'));
    await expect(role('ab')).rejects.toThrow(
      new InvalidError('name', 'Role name must be between 3 and 50 characters'),
    );
    await expect(role('a b c')).rejects.toThrow(
      'Role name may only contain letters, digits, underscores, dots, and hyphens',
    );
    await role('Engineers');
    await role('support');
    const u = await user('alice');
    await run((tx) => addMembers(tx, a.id, [u.id]));
    const page = await listRoles(store.db, { pageSize: 2 });
    expect(page).toMatchObject({ total: 3, page: 1, page_size: 2 });
    expect(page.data.map((r) => [r.name, r.direct_member_count])).toEqual([
      ['analysts', 1],
      ['Engineers', 0],
    ]);
    expect((await listRoles(store.db, { search: 'ENG' })).data.map((r) => r.name)).toEqual(['Engineers']);
    expect(await listRoles(store.db, { pageSize: 0 })).toMatchObject({ data: [], total: 3 });
  });

  it('updates with update / deactivate / reactivate audit actions', async () => {
    const r = await role('analysts', 'old');
    await role('taken');
    const renamed = await run((tx) => updateRole(tx, r.id, { name: 'analysts2', is_active: true }));
    expect(renamed.name).toBe('analysts2');
    expect(await lastAudit()).toMatchObject({
      action: 'update',
      changes: { before: { name: 'analysts' }, after: { name: 'analysts2' } },
    });
    await run((tx) => updateRole(tx, r.id, { is_active: false, description: 'new' }));
    expect(await lastAudit()).toMatchObject({
      action: 'deactivate',
      changes: {
        before: { description: 'old', is_active: true },
        after: { description: 'new', is_active: false },
      },
    });
    expect((await getRole(store.db, r.id))?.is_active).toBe(false);
    await run((tx) => updateRole(tx, r.id, { is_active: true }));
    expect((await lastAudit())?.action).toBe('reactivate');
    await run((tx) => updateRole(tx, r.id, {}));
    expect(await lastAudit()).toMatchObject({ action: 'update', changes: { before: {}, after: {} } });
    await expect(run((tx) => updateRole(tx, r.id, { name: 'taken' }))).rejects.toThrow(
      'Role name already exists',
    );
    await expect(run((tx) => updateRole(tx, 'nope', {}))).rejects.toThrow(
      new NotFoundError('Role not found'),
    );
  });

  it('adds and removes members, all or nothing', async () => {
    const r = await role('analysts');
    const [a, b] = [await user('alice'), await user('bob')];
    expect(await run((tx) => addMembers(tx, r.id, [a.id]))).toEqual([{ user_id: a.id, username: 'alice' }]);
    const before = (await auditRows(store)).length;
    await expect(run((tx) => addMembers(tx, r.id, [b.id, 'missing']))).rejects.toThrow(
      new NotFoundError("User 'missing' not found"),
    );
    await expect(run((tx) => addMembers(tx, r.id, [b.id, a.id]))).rejects.toThrow(
      new ConflictError("User 'alice' is already a member of role 'analysts'"),
    );
    await expect(run((tx) => addMembers(tx, r.id, [b.id, b.id]))).rejects.toThrow(
      "User 'bob' is already a member of role 'analysts'",
    );
    expect((await getRole(store.db, r.id))?.direct_member_count).toBe(1); // bob rolled back each time
    expect(await auditRows(store)).toHaveLength(before);
    await run((tx) => addMembers(tx, r.id, [b.id]));
    expect(await lastAudit()).toMatchObject({
      resource_id: r.id,
      action: 'add_member',
      changes: { user_id: b.id, username: 'bob' },
    });
    await run((tx) => removeMember(tx, r.id, a.id));
    expect(await lastAudit()).toMatchObject({
      action: 'remove_member',
      changes: { before: { user_id: a.id, username: 'alice' } },
    });
    await expect(run((tx) => removeMember(tx, r.id, a.id))).rejects.toThrow(
      'User is not a member of this role',
    );
    await expect(run((tx) => addMembers(tx, 'nope', [a.id]))).rejects.toThrow('Role not found');
  });

  it('links parents with cycle (422), depth (422) and duplicate (409) checks', async () => {
    const [a, b, c] = [await role('role_a'), await role('role_b'), await role('role_c')];
    await link(a, b); // a is the parent of b
    await link(b, c);
    expect(await lastAudit()).toMatchObject({
      resource_id: c.id,
      action: 'add_inheritance',
      changes: { parent_role_id: b.id, parent_role_name: 'role_b' },
    });
    expect(await listParents(store.db, c.id)).toEqual([{ id: b.id, name: 'role_b' }]);
    expect(await listChildren(store.db, a.id)).toEqual([{ id: b.id, name: 'role_b' }]);
    await expect(link(c, a)).rejects.toThrow(
      new InvalidError(
        'parent_role_id',
        'Cannot add inheritance: would create cycle: role_a → role_b → role_c → role_a',
      ),
    );
    await expect(link(a, a)).rejects.toThrow(
      'Cannot add inheritance: would create cycle: role_a → role_a → role_a',
    );
    await expect(link(a, b)).rejects.toThrow(
      new ConflictError('This inheritance relationship already exists'),
    );
    await expect(run((tx) => addParent(tx, c.id, 'nope'))).rejects.toThrow(
      new NotFoundError('Parent role not found'),
    );
    await expect(run((tx) => addParent(tx, 'nope', a.id))).rejects.toThrow(
      new NotFoundError('Role not found'),
    );

    // Chain of 10 edges accepted, an 11th refused.
    const chain = [c];
    for (let i = 0; i < 7; i++) {
      const next = await role(`chain_${i}`);
      await link(chain.at(-1) as Role, next);
      chain.push(next);
    }
    const tenth = await role('chain_tenth');
    await link(chain.at(-1) as Role, tenth); // a→b→c (2) + 7 + 1 = 10 edges
    const extra = await role('chain_extra');
    await expect(link(tenth, extra)).rejects.toThrow(
      'Cannot add inheritance: maximum depth of 10 would be exceeded (total depth: 11)',
    );
    await expect(link(extra, a)).rejects.toThrow('(total depth: 11)');
    await run((tx) => removeParent(tx, c.id, b.id));
    expect(await lastAudit()).toMatchObject({
      resource_id: c.id,
      action: 'remove_inheritance',
      changes: { before: { parent_role_id: b.id, parent_role_name: 'role_b' } },
    });
    await link(tenth, extra); // the chain got shorter
    await expect(run((tx) => removeParent(tx, c.id, b.id))).rejects.toThrow(
      'Inheritance relationship not found',
    );
  });

  it('serialises concurrent parent links: opposite edges never both commit', async () => {
    for (let i = 0; i < 5; i++) {
      const [x, y] = [await role(`race_x${i}`), await role(`race_y${i}`)];
      const results = await Promise.allSettled([link(x, y), link(y, x)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failure = results.find((r) => r.status === 'rejected');
      expect(String(failure?.status === 'rejected' && failure.reason)).toContain('would create cycle');
    }
  });
});
