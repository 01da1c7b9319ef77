import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { ConflictError, NotFoundError } from '../../src/store/repo-errors.js';
import { addMembers, createRole, effectiveMembers } from '../../src/store/repos/roles.js';
import {
  countActiveAdmins,
  createUser,
  deleteUser,
  getUserById,
  updateUser,
} from '../../src/store/repos/users.js';
import type { Store } from '../../src/store/db.js';
import { STORE_ENGINES, openTestStore, type TestStore, auditRows } from '../support/stores.js';

describe.each(STORE_ENGINES)('user deletion and admin guards on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  const run = <T>(work: (tx: AuditedTx) => Promise<T>, actor = SYSTEM_ACTOR_ID) =>
    auditedTransaction(store, actor, work);
  const create = (username: string, extra: { is_admin?: boolean; email?: string } = {}) =>
    run((tx) => createUser(tx, { username, password: 'Demo1234!', ...extra }));

  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  it('deletes a user with memberships, user-scoped access and assignments (Q6 fix)', async () => {
    const user = await create('gina', { email: 'g@x' });
    const other = await create('hank');
    const role = await run((tx) => createRole(tx, { name: 'analysts' }));
    await run((tx) => addMembers(tx, role.id, [user.id, other.id]));
    const ts = '2026-01-01T00:00:00.000000';
    const db = store.db;
    await db
      .insertInto('data_source')
      .values({ id: 'ds1', name: 'ds', ds_type: 'postgres', config: '{}', created_at: ts, updated_at: ts })
      .execute();
    await db
      .insertInto('policy')
      .values({
        id: 'p1',
        name: 'p',
        policy_type: 'row_filter',
        targets: '[]',
        created_by: 'x',
        updated_by: 'x',
        created_at: ts,
        updated_at: ts,
      })
      .execute();
    for (const u of [user, other]) {
      await db
        .insertInto('data_source_access')
        .values({
          id: `a-${u.id}`,
          user_id: u.id,
          data_source_id: 'ds1',
          assignment_scope: 'user',
          created_at: ts,
        })
        .execute();
      await db
        .insertInto('policy_assignment')
        .values({
          id: `pa-${u.id}`,
          policy_id: 'p1',
          data_source_id: 'ds1',
          user_id: u.id,
          assignment_scope: 'user',
          created_at: ts,
          updated_at: ts,
        })
        .execute();
    }
    await run((tx) => deleteUser(tx, user.id));
    expect(await getUserById(db, user.id)).toBeUndefined();
    expect((await effectiveMembers(db, role.id)).map((m) => m.username)).toEqual(['hank']);
    expect(await db.selectFrom('data_source_access').select('user_id').execute()).toEqual([
      { user_id: other.id },
    ]);
    expect(await db.selectFrom('policy_assignment').select('user_id').execute()).toEqual([
      { user_id: other.id },
    ]);
    const rows = await auditRows(store);
    expect(rows.filter((r) => r.action === 'delete' || r.action === 'unassign')).toMatchObject([
      {
        resource_type: 'policy',
        resource_id: 'p1',
        action: 'unassign',
        changes: {
          reason: 'user_deleted',
          user_id: user.id,
          datasource_id: 'ds1',
          assignment_id: `pa-${user.id}`,
        },
      },
      {
        resource_type: 'proxy_user',
        resource_id: user.id,
        action: 'delete',
        changes: {
          before: { username: 'gina', is_admin: false, is_active: true, email: 'g@x', display_name: null },
        },
      },
    ]);
    await expect(run((tx) => deleteUser(tx, user.id))).rejects.toThrow(new NotFoundError('User not found'));
  });

  it('guards the last (active) admin and self-changes (Q4 fix), in BR’s check order', async () => {
    const root = await create('root', { is_admin: true });
    const user = await create('ivan');
    const attempt = (patch: Parameters<typeof updateUser>[2], actor = SYSTEM_ACTOR_ID) =>
      run((tx) => updateUser(tx, root.id, patch), actor);
    await expect(attempt({ is_admin: false }, root.id)).rejects.toThrow(
      new ConflictError('Cannot revoke your own admin privileges'),
    );
    await expect(attempt({ is_admin: false })).rejects.toThrow(
      'Cannot revoke admin from the last admin user',
    );
    await expect(attempt({ is_active: false })).rejects.toThrow(
      'Cannot deactivate the last active admin user',
    );
    await expect(run((tx) => deleteUser(tx, root.id), root.id)).rejects.toThrow(
      'Cannot delete the last admin user',
    );
    // A second admin that is inactive does not count as a remaining *active* admin.
    const spare = await create('spare', { is_admin: true });
    await run((tx) => updateUser(tx, spare.id, { is_active: false }));
    await expect(attempt({ is_active: false })).rejects.toThrow(
      'Cannot deactivate the last active admin user',
    );
    await expect(attempt({ is_admin: false })).rejects.toThrow(
      'Cannot revoke admin from the last admin user',
    );
    await expect(run((tx) => deleteUser(tx, root.id))).rejects.toThrow('Cannot delete the last admin user');
    // With a second active admin everything but self-deletion is allowed.
    await run((tx) => updateUser(tx, spare.id, { is_active: true }));
    expect(await countActiveAdmins(store.db)).toBe(2);
    await expect(run((tx) => deleteUser(tx, root.id), root.id)).rejects.toThrow(
      'Cannot delete your own account',
    );
    await attempt({ is_active: false }, root.id); // deactivating yourself is allowed (BR), not the last one
    await run((tx) => updateUser(tx, user.id, { is_active: false })); // non-admins are never guarded
    await run((tx) => deleteUser(tx, root.id));
    expect(await countActiveAdmins(store.db)).toBe(1);
  });

  // SQLite runs one transaction at a time per process, so only PostgreSQL can interleave.
  it.skipIf(engine === 'sqlite')('serialises concurrent demotions of the two last admins', async () => {
    const [a, b] = [await create('adm_a', { is_admin: true }), await create('adm_b', { is_admin: true })];
    let secondStarted!: () => void;
    const started = new Promise<void>((resolve) => (secondStarted = resolve));
    // The first demotion stays uncommitted until the second transaction is running its checks.
    const first = run(async (tx) => {
      const user = await updateUser(tx, a.id, { is_admin: false });
      await started;
      await new Promise((r) => setTimeout(r, 200));
      return user;
    });
    await new Promise((r) => setTimeout(r, 100));
    const second = run(async (tx) => {
      secondStarted();
      return updateUser(tx, b.id, { is_admin: false });
    });
    const results = await Promise.allSettled([first, second]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await countActiveAdmins(store.db)).toBe(1);
  });
});
