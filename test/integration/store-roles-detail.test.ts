import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { Store } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import {
  activeRoleClosureForUser,
  addMembers,
  addParent,
  createRole,
  deleteRole,
  effectiveMembers,
  getRole,
  getRoleDetail,
  roleImpact,
  updateRole,
  type Role,
} from '../../src/store/repos/roles.js';
import { createUser, type User } from '../../src/store/repos/users.js';
import { STORE_ENGINES, openTestStore, type TestStore, auditRows } from '../support/stores.js';

const TS = '2026-01-01T00:00:00.000000';

describe.each(STORE_ENGINES)('role graph reads and deletion on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  const run = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(store, SYSTEM_ACTOR_ID, work);
  const role = (name: string, description?: string) => run((tx) => createRole(tx, { name, description }));
  const user = (username: string) => run((tx) => createUser(tx, { username, password: 'Demo1234!' }));
  const link = (parent: Role, child: Role) => run((tx) => addParent(tx, child.id, parent.id));

  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  async function seedPolicyWorld() {
    const db = store.db;
    const sources: [string, string][] = [
      ['ds1', 'sales'],
      ['ds2', 'hr'],
    ];
    for (const [id, name] of sources) {
      await db
        .insertInto('data_source')
        .values({ id, name, ds_type: 'postgres', config: '{}', created_at: TS, updated_at: TS })
        .execute();
    }
    const policies: [string, string][] = [
      ['p1', 'tenant'],
      ['p2', 'mask'],
    ];
    for (const [id, name] of policies) {
      await db
        .insertInto('policy')
        .values({
          id,
          name,
          policy_type: 'row_filter',
          targets: '[]',
          created_by: 'x',
          updated_by: 'x',
          created_at: TS,
          updated_at: TS,
        })
        .execute();
    }
  }
  const assign = (id: string, policy: string, ds: string, roleId: string, priority = 100) =>
    store.db
      .insertInto('policy_assignment')
      .values({
        id,
        policy_id: policy,
        data_source_id: ds,
        role_id: roleId,
        assignment_scope: 'role',
        priority,
        created_at: TS,
        updated_at: TS,
      })
      .execute();
  const grant = (id: string, ds: string, roleId: string) =>
    store.db
      .insertInto('data_source_access')
      .values({ id, data_source_id: ds, role_id: roleId, assignment_scope: 'role', created_at: TS })
      .execute();

  it('computes effective members and the active role closure', async () => {
    const [top, mid, leaf] = [await role('top'), await role('mid'), await role('leaf')];
    await link(top, mid);
    await link(mid, leaf);
    const [u1, u2, u3] = [await user('u_one'), await user('u_two'), await user('u_three')];
    await run((tx) => addMembers(tx, top.id, [u1.id]));
    await run((tx) => addMembers(tx, mid.id, [u2.id, u1.id]));
    await run((tx) => addMembers(tx, leaf.id, [u3.id, u2.id]));
    const members = await effectiveMembers(store.db, top.id);
    expect(new Set(members.map((m) => `${m.username}:${m.source}`))).toEqual(
      new Set(['u_one:direct', "u_two:via role 'mid'", "u_three:via role 'leaf'"]),
    );
    const names = async (u: User) => (await activeRoleClosureForUser(store.db, u.id)).map((r) => r.name);
    expect(await names(u3)).toEqual(['leaf', 'mid', 'top']);
    await run((tx) => updateRole(tx, mid.id, { is_active: false }));
    expect(await names(u3)).toEqual(['leaf']); // inactive mid cuts the chain to top
    expect((await effectiveMembers(store.db, top.id)).length).toBe(3); // downward ignores is_active
    expect(await names(await user('nobody'))).toEqual([]);
  });

  it('returns the role detail with inherited assignments and access', async () => {
    await seedPolicyWorld();
    const [base, child] = [await role('base'), await role('child')];
    await link(base, child);
    const u = await user('alice');
    await run((tx) => addMembers(tx, child.id, [u.id]));
    await assign('pa1', 'p1', 'ds1', base.id, 50);
    await assign('pa2', 'p1', 'ds1', child.id, 10); // direct replaces the inherited entry
    await assign('pa3', 'p2', 'ds2', base.id, 70);
    await grant('g1', 'ds1', child.id);
    await grant('g2', 'ds1', base.id); // already granted directly: not listed
    await grant('g3', 'ds2', base.id);
    const detail = await getRoleDetail(store.db, child.id);
    expect(detail).toMatchObject({
      name: 'child',
      direct_member_count: 1,
      effective_member_count: 1,
      members: [{ id: u.id, username: 'alice' }],
      parent_roles: [{ id: base.id, name: 'base' }],
      child_roles: [],
    });
    expect(detail?.policy_assignments).toEqual([
      { policy_name: 'tenant', datasource_name: 'sales', source: 'direct', priority: 10 },
      { policy_name: 'mask', datasource_name: 'hr', source: "inherited from 'base'", priority: 70 },
    ]);
    expect(detail?.datasource_access).toEqual([
      { datasource_id: 'ds1', datasource_name: 'sales', source: 'direct' },
      { datasource_id: 'ds2', datasource_name: 'hr', source: "inherited from 'base'" },
    ]);
    expect((await getRoleDetail(store.db, base.id))?.effective_member_count).toBe(1);
    expect(await getRoleDetail(store.db, 'nope')).toBeUndefined();
  });

  it('deletes a role with its assignments and access rows (Q7 fix), auditing each unassign', async () => {
    await seedPolicyWorld();
    const [parent, r, child, other] = [
      await role('parent'),
      await role('doomed'),
      await role('kid'),
      await role('other'),
    ];
    await link(parent, r);
    await link(r, child);
    const [a, b] = [await user('alice'), await user('bob')];
    await run((tx) => addMembers(tx, r.id, [a.id]));
    await run((tx) => addMembers(tx, child.id, [b.id]));
    await assign('pa1', 'p1', 'ds1', r.id);
    await assign('pa2', 'p2', 'ds2', r.id);
    await assign('pa3', 'p1', 'ds2', other.id);
    await grant('g1', 'ds1', r.id);
    await grant('g2', 'ds1', other.id);
    expect(await roleImpact(store.db, r.id)).toMatchObject({ affected_users: 2, affected_assignments: 2 });
    const result = await run((tx) => deleteRole(tx, r.id));
    expect(result).toMatchObject({ affected_users: 2, affected_assignments: 2 });
    expect(new Set(result.user_ids)).toEqual(new Set([a.id, b.id]));
    expect(await getRole(store.db, r.id)).toBeUndefined();
    const db = store.db;
    expect(await db.selectFrom('policy_assignment').select('id').execute()).toEqual([{ id: 'pa3' }]);
    expect(await db.selectFrom('data_source_access').select('id').execute()).toEqual([{ id: 'g2' }]);
    expect(await db.selectFrom('role_inheritance').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('role_member').select('user_id').execute()).toEqual([{ user_id: b.id }]);
    const rows = (await auditRows(store)).filter(
      (row) => row.action === 'unassign' || row.action === 'delete',
    );
    expect(rows).toMatchObject([
      {
        resource_type: 'policy',
        resource_id: 'p1',
        action: 'unassign',
        changes: { reason: 'role_deleted', role_id: r.id, datasource_id: 'ds1', assignment_id: 'pa1' },
      },
      {
        resource_type: 'policy',
        resource_id: 'p2',
        action: 'unassign',
        changes: { reason: 'role_deleted', role_id: r.id, datasource_id: 'ds2', assignment_id: 'pa2' },
      },
      {
        resource_type: 'role',
        resource_id: r.id,
        action: 'delete',
        changes: { before: { name: 'doomed', description: null, is_active: true } },
      },
    ]);
    await expect(run((tx) => deleteRole(tx, r.id))).rejects.toThrow('Role not found');
  });
});
