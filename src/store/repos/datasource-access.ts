/**
 * Who may connect to a data source (api-contract §4.6, §5.5): grants of scope
 * `user`, `role` or `all`. The PUT routes replace a whole scope's set; ids are
 * de-duplicated first (quirk Q8 fix: BR answers 500 on duplicates). Each
 * replacement returns the before/after sets so the caller can invalidate the
 * sessions of every user affected (INV-USER).
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { newId } from '../ids.js';
import { NotFoundError } from '../repo-errors.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { fromFlag, parseJson } from '../values.js';
import { BadRequestError, requireDataSource } from './datasources.js';

/** The §3.1 `User` shape (never the password hash or SCRAM verifier). */
export interface AccessUser {
  id: string;
  username: string;
  is_admin: boolean;
  is_active: boolean;
  email: string | null;
  display_name: string | null;
  attributes: Record<string, unknown>;
  last_login_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccessRole {
  id: string;
  name: string;
  is_active: boolean;
}

export interface AccessChange<T> {
  before: T;
  after: T;
}

type Scope = 'user' | 'role';

async function grantedIds(db: Kysely<Database>, dataSourceId: string, scope: Scope): Promise<string[]> {
  const rows = await db
    .selectFrom('data_source_access')
    .select(['user_id', 'role_id'])
    .where('data_source_id', '=', dataSourceId)
    .where('assignment_scope', '=', scope)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows
    .map((r) => (scope === 'user' ? r.user_id : r.role_id))
    .filter((id): id is string => id !== null);
}

async function replaceGrants(
  tx: AuditedTx,
  dataSourceId: string,
  scope: Scope,
  ids: string[],
): Promise<void> {
  await tx.db
    .deleteFrom('data_source_access')
    .where('data_source_id', '=', dataSourceId)
    .where('assignment_scope', '=', scope)
    .execute();
  if (ids.length === 0) return;
  const now = nowTimestamp();
  await tx.db
    .insertInto('data_source_access')
    .values(
      ids.map((id) => ({
        id: newId(),
        user_id: scope === 'user' ? id : null,
        role_id: scope === 'role' ? id : null,
        data_source_id: dataSourceId,
        assignment_scope: scope,
        created_at: now,
      })),
    )
    .execute();
}

/** Users holding a user-scoped grant, `created_at` ascending; grants naming deleted users are skipped. */
export async function listUserAccess(db: Kysely<Database>, dataSourceId: string): Promise<AccessUser[]> {
  await requireDataSource(db, dataSourceId);
  const rows = await db
    .selectFrom('data_source_access as a')
    .innerJoin('proxy_user as u', 'u.id', 'a.user_id')
    .select([
      'u.id',
      'u.username',
      'u.is_admin',
      'u.is_active',
      'u.email',
      'u.display_name',
      'u.attributes',
      'u.last_login_at',
      'u.created_at',
      'u.updated_at',
    ])
    .where('a.data_source_id', '=', dataSourceId)
    .where('a.assignment_scope', '=', 'user')
    .orderBy('u.created_at')
    .orderBy('u.id')
    .execute();
  return rows.map((u) => ({
    ...u,
    is_admin: fromFlag(u.is_admin),
    is_active: fromFlag(u.is_active),
    attributes: parseJson<Record<string, unknown>>(u.attributes, {}),
  }));
}

/** Roles holding a role-scoped grant (deleted roles skipped), ordered by name. */
export async function listRoleAccess(db: Kysely<Database>, dataSourceId: string): Promise<AccessRole[]> {
  await requireDataSource(db, dataSourceId);
  const rows = await db
    .selectFrom('data_source_access as a')
    .innerJoin('role as r', 'r.id', 'a.role_id')
    .select(['r.id', 'r.name', 'r.is_active'])
    .where('a.data_source_id', '=', dataSourceId)
    .where('a.assignment_scope', '=', 'role')
    .orderBy('r.name')
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.name, is_active: fromFlag(r.is_active) }));
}

/** PUT …/users: replaces the user-scoped grants. Unknown user ids are stored (quirk Q9, replicated). */
export async function setUserAccess(
  tx: AuditedTx,
  dataSourceId: string,
  userIds: readonly string[],
): Promise<AccessChange<string[]>> {
  await requireDataSource(tx.db, dataSourceId);
  const after = [...new Set(userIds)];
  const before = [...new Set(await grantedIds(tx.db, dataSourceId, 'user'))];
  await replaceGrants(tx, dataSourceId, 'user', after);
  tx.audit({
    resourceType: 'datasource',
    resourceId: dataSourceId,
    action: 'update',
    changes: { field: 'user_access', before, after },
  });
  return { before, after };
}

/**
 * PUT …/access/roles: each role must exist (404 `Role '<id>' not found`) and
 * be active (400 `Role '<name>' is inactive`), checked in the given order.
 */
export async function setRoleAccess(
  tx: AuditedTx,
  dataSourceId: string,
  roleIds: readonly string[],
): Promise<AccessChange<string[]>> {
  await requireDataSource(tx.db, dataSourceId);
  const after = [...new Set(roleIds)];
  const roles =
    after.length === 0
      ? []
      : await tx.db.selectFrom('role').select(['id', 'name', 'is_active']).where('id', 'in', after).execute();
  for (const id of after) {
    const role = roles.find((r) => r.id === id);
    if (!role) throw new NotFoundError(`Role '${id}' not found`);
    if (!fromFlag(role.is_active)) throw new BadRequestError(`Role '${role.name}' is inactive`);
  }
  const before = [...new Set(await grantedIds(tx.db, dataSourceId, 'role'))];
  await replaceGrants(tx, dataSourceId, 'role', after);
  tx.audit({
    resourceType: 'datasource',
    resourceId: dataSourceId,
    action: 'update',
    changes: { field: 'role_access', before, after },
  });
  return { before, after };
}

export async function hasAllAccess(db: Kysely<Database>, dataSourceId: string): Promise<boolean> {
  const row = await db
    .selectFrom('data_source_access')
    .select('id')
    .where('data_source_id', '=', dataSourceId)
    .where('assignment_scope', '=', 'all')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Grants or revokes the `all` scope (every user may connect). BR has no
 * endpoint for it; the CLI/demo may use it. Audited like the other access changes.
 */
export async function setAllAccess(
  tx: AuditedTx,
  dataSourceId: string,
  enabled: boolean,
): Promise<AccessChange<boolean>> {
  await requireDataSource(tx.db, dataSourceId);
  const before = await hasAllAccess(tx.db, dataSourceId);
  if (before !== enabled) {
    if (enabled) {
      await tx.db
        .insertInto('data_source_access')
        .values({
          id: newId(),
          user_id: null,
          role_id: null,
          data_source_id: dataSourceId,
          assignment_scope: 'all',
          created_at: nowTimestamp(),
        })
        .execute();
    } else {
      await tx.db
        .deleteFrom('data_source_access')
        .where('data_source_id', '=', dataSourceId)
        .where('assignment_scope', '=', 'all')
        .execute();
    }
  }
  tx.audit({
    resourceType: 'datasource',
    resourceId: dataSourceId,
    action: 'update',
    changes: { field: 'all_access', before, after: enabled },
  });
  return { before, after: enabled };
}

/**
 * The connect-time check of the data plane: true when the data source exists,
 * is active, and a grant matches the user, one of the roles of the user's
 * active role closure (computed by the caller), or everyone. Fails closed:
 * an unknown or inactive data source gives false.
 */
export async function canUserConnect(
  db: Kysely<Database>,
  dataSourceName: string,
  userId: string,
  activeRoleIds: readonly string[],
): Promise<boolean> {
  const row = await db
    .selectFrom('data_source_access as a')
    .innerJoin('data_source as d', 'd.id', 'a.data_source_id')
    .select('a.id')
    .where('d.name', '=', dataSourceName)
    .where('d.is_active', '=', 1)
    .where((eb) => {
      const scopes = [
        eb('a.assignment_scope', '=', 'all'),
        eb.and([eb('a.assignment_scope', '=', 'user'), eb('a.user_id', '=', userId)]),
      ];
      if (activeRoleIds.length > 0) {
        scopes.push(
          eb.and([eb('a.assignment_scope', '=', 'role'), eb('a.role_id', 'in', [...activeRoleIds])]),
        );
      }
      return eb.or(scopes);
    })
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
