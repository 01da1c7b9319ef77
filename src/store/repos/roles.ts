/**
 * Roles, memberships and inheritance (api-contract §3.8, §4.13, §5.2). Writes
 * take an AuditedTx and queue the §10.2 rows; the reads live in
 * `identity/role-queries.ts` and are re-exported here, so callers import one
 * module. Graph checks (cycle, depth) run inside the writing transaction,
 * under the role-graph lock (`identity/locks.ts`).
 */
import type { Kysely, Updateable } from 'kysely';
import { lockIdentity } from '../../identity/locks.js';
import { checkRoleNameRule } from '../../identity/names.js';
import { cycleIfAdded, depthIfAdded, MAX_ROLE_DEPTH } from '../../identity/role-graph.js';
import {
  getRole,
  loadRoleGraph,
  roleImpact,
  type Role,
  type RoleImpact,
} from '../../identity/role-queries.js';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, RoleTable } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { toFlag } from '../values.js';
import { removeGrantsOf } from './policy-assignments.js';

export * from '../../identity/role-queries.js';

export interface NewRole {
  name: string;
  description?: string | null;
}

/** PUT /roles/{id}: absent or null = unchanged (§1.3). */
export interface RolePatch {
  name?: string | null;
  description?: string | null;
  is_active?: boolean | null;
}

async function requireRole(db: Kysely<Database>, id: string, message = 'Role not found'): Promise<Role> {
  const role = await getRole(db, id);
  if (!role) throw new NotFoundError(message);
  return role;
}

function checkName(name: string): void {
  const problem = checkRoleNameRule(name);
  if (problem) throw new InvalidError('name', problem);
}

const nameConflict = (error: unknown): unknown =>
  isUniqueViolation(error) ? new ConflictError('Role name already exists') : error;

export async function createRole(tx: AuditedTx, input: NewRole): Promise<Role> {
  checkName(input.name);
  const now = nowTimestamp();
  const id = newId();
  const description = input.description ?? null;
  await tx.db
    .insertInto('role')
    .values({ id, name: input.name, description, is_active: 1, created_at: now, updated_at: now })
    .execute()
    .catch((error: unknown) => Promise.reject(nameConflict(error)));
  tx.audit({
    resourceType: 'role',
    resourceId: id,
    action: 'create',
    changes: { after: { name: input.name, description, is_active: true } },
  });
  return requireRole(tx.db, id);
}

/**
 * PUT /roles/{id}. Action `deactivate`/`reactivate` when `is_active` actually
 * changed, else `update`; `is_active` appears in the changes only then.
 * Audited even when nothing changed.
 */
export async function updateRole(tx: AuditedTx, id: string, patch: RolePatch): Promise<Role> {
  const current = await requireRole(tx.db, id);
  if (patch.name != null) checkName(patch.name);
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const set: Updateable<RoleTable> = { updated_at: nowTimestamp() };
  if (patch.name != null) {
    before.name = current.name;
    after.name = set.name = patch.name;
  }
  if (patch.description != null) {
    before.description = current.description;
    after.description = set.description = patch.description;
  }
  let action = 'update';
  if (patch.is_active != null && patch.is_active !== current.is_active) {
    before.is_active = current.is_active;
    after.is_active = patch.is_active;
    set.is_active = toFlag(patch.is_active);
    action = patch.is_active ? 'reactivate' : 'deactivate';
  }
  await tx.db
    .updateTable('role')
    .set(set)
    .where('id', '=', id)
    .execute()
    .catch((error: unknown) => Promise.reject(nameConflict(error)));
  tx.audit({ resourceType: 'role', resourceId: id, action, changes: { before, after } });
  return requireRole(tx.db, id);
}

/**
 * DELETE /roles/{id}. Quirk Q7 fixed: the role-scoped policy assignments and
 * datasource access rows are deleted too (BR only audits the assignments as
 * unassigned). Memberships and inheritance edges cascade. Policy versions are
 * not bumped (§5.11). `user_ids` (the effective members before deletion) are
 * for session invalidation.
 */
export async function deleteRole(tx: AuditedTx, id: string): Promise<RoleImpact & { user_ids: string[] }> {
  const role = await requireRole(tx.db, id);
  const impact = await roleImpact(tx.db, id);
  await removeGrantsOf(tx, 'role', id);
  await tx.db.deleteFrom('role').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'role',
    resourceId: id,
    action: 'delete',
    changes: { before: { name: role.name, description: role.description, is_active: role.is_active } },
  });
  return impact;
}

/**
 * POST /roles/{id}/members: all or nothing, one audit row per user. An empty
 * list writes and audits nothing, and an audited transaction that audits
 * nothing rolls back with MissingAuditError — so for `[]` the caller checks
 * the role with `getRole` and answers 204 without opening a transaction
 * (quirk Q12 fix). Returns the users added.
 */
export async function addMembers(
  tx: AuditedTx,
  roleId: string,
  userIds: readonly string[],
): Promise<{ user_id: string; username: string }[]> {
  const role = await requireRole(tx.db, roleId);
  const added: { user_id: string; username: string }[] = [];
  const seen = new Set<string>();
  for (const userId of userIds) {
    const user = await tx.db
      .selectFrom('proxy_user')
      .select(['id', 'username'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user) throw new NotFoundError(`User '${userId}' not found`);
    const duplicate = new ConflictError(`User '${user.username}' is already a member of role '${role.name}'`);
    if (seen.has(userId)) throw duplicate;
    seen.add(userId);
    await tx.db
      .insertInto('role_member')
      .values({ id: newId(), role_id: roleId, user_id: userId, created_at: nowTimestamp() })
      .execute()
      .catch((error: unknown) => Promise.reject(isUniqueViolation(error) ? duplicate : error));
    tx.audit({
      resourceType: 'role',
      resourceId: roleId,
      action: 'add_member',
      changes: { user_id: userId, username: user.username },
    });
    added.push({ user_id: userId, username: user.username });
  }
  return added;
}

/** DELETE /roles/{id}/members/{user_id}. */
export async function removeMember(tx: AuditedTx, roleId: string, userId: string): Promise<void> {
  await requireRole(tx.db, roleId);
  const member = await tx.db
    .selectFrom('role_member')
    .leftJoin('proxy_user', 'proxy_user.id', 'role_member.user_id')
    .select(['role_member.id', 'proxy_user.username'])
    .where('role_member.role_id', '=', roleId)
    .where('role_member.user_id', '=', userId)
    .executeTakeFirst();
  if (!member) throw new NotFoundError('User is not a member of this role');
  await tx.db.deleteFrom('role_member').where('id', '=', member.id).execute();
  tx.audit({
    resourceType: 'role',
    resourceId: roleId,
    action: 'remove_member',
    changes: { before: { user_id: userId, username: member.username ?? '' } },
  });
}

/**
 * POST /roles/{id}/parents: makes `parentId` a parent of `childId`. Checks in
 * §4.13 order — 404s, cycle (422), depth (422), existing edge (409) — all
 * inside this transaction and under the role-graph lock, so two concurrent
 * additions cannot together close a cycle or exceed the depth.
 */
export async function addParent(tx: AuditedTx, childId: string, parentId: string): Promise<void> {
  await lockIdentity(tx.db, 'role_graph');
  const child = await requireRole(tx.db, childId);
  const parent = await requireRole(tx.db, parentId, 'Parent role not found');
  const graph = await loadRoleGraph(tx.db);
  const cycle = cycleIfAdded(graph, parentId, childId);
  if (cycle) {
    const rows = await tx.db.selectFrom('role').select(['id', 'name']).where('id', 'in', cycle).execute();
    const names = new Map(rows.map((r) => [r.id, r.name]));
    const path = cycle.map((rid) => names.get(rid) ?? rid).join(' → ');
    throw new InvalidError('parent_role_id', `Cannot add inheritance: would create cycle: ${path}`);
  }
  const depth = depthIfAdded(graph, parentId, childId);
  if (depth > MAX_ROLE_DEPTH) {
    throw new InvalidError(
      'parent_role_id',
      `Cannot add inheritance: maximum depth of ${MAX_ROLE_DEPTH} would be exceeded (total depth: ${depth})`,
    );
  }
  const exists = new ConflictError('This inheritance relationship already exists');
  if (graph.parents.get(childId)?.includes(parentId)) throw exists;
  await tx.db
    .insertInto('role_inheritance')
    .values({ id: newId(), parent_role_id: parentId, child_role_id: childId, created_at: nowTimestamp() })
    .execute()
    .catch((error: unknown) => Promise.reject(isUniqueViolation(error) ? exists : error));
  tx.audit({
    resourceType: 'role',
    resourceId: child.id,
    action: 'add_inheritance',
    changes: { parent_role_id: parent.id, parent_role_name: parent.name },
  });
}

/** DELETE /roles/{id}/parents/{parent_id}. */
export async function removeParent(tx: AuditedTx, childId: string, parentId: string): Promise<void> {
  await requireRole(tx.db, childId);
  const edge = await tx.db
    .selectFrom('role_inheritance')
    .leftJoin('role', 'role.id', 'role_inheritance.parent_role_id')
    .select(['role_inheritance.id', 'role.name'])
    .where('role_inheritance.child_role_id', '=', childId)
    .where('role_inheritance.parent_role_id', '=', parentId)
    .executeTakeFirst();
  if (!edge) throw new NotFoundError('Inheritance relationship not found');
  await tx.db.deleteFrom('role_inheritance').where('id', '=', edge.id).execute();
  tx.audit({
    resourceType: 'role',
    resourceId: childId,
    action: 'remove_inheritance',
    changes: { before: { parent_role_id: parentId, parent_role_name: edge.name ?? '' } },
  });
}
