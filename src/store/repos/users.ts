/**
 * Proxy users (api-contract §3.1, §4.3, §5.1). Reads take any Kysely handle;
 * writes take an AuditedTx and queue the §10.2 audit row.
 *
 * Domain objects use the API's snake_case field names so that the HTTP layer
 * only has to format timestamps (`toApiTimestamp`). Credentials never appear
 * in `User`; `getUserCredentials` is the one read that returns them.
 *
 * Audit `changes` carry parsed JSON on both sides (`before.attributes` is an
 * object, not BR's stored text): quirk Q5, "emit parsed values consistently".
 */
import type { Kysely } from 'kysely';
import { guardAdminDelete, guardAdminUpdate } from '../../identity/admin-guard.js';
import { validateUserAttributes, type UserAttributes } from '../../identity/attribute-values.js';
import { checkUsernameRule } from '../../identity/names.js';
import { credentialsFor } from '../../identity/passwords.js';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { effectivePage, type PageRequest, type Paginated } from '../paging.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, ProxyUserRow, ProxyUserUpdate } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { containsIgnoreCase, countAll, fromFlag, parseJson, toCount, toFlag } from '../values.js';
import { listUserAttributeDefinitions } from './attributes.js';
import { removeGrantsOf } from './policy-assignments.js';

export interface User {
  id: string;
  username: string;
  is_admin: boolean;
  is_active: boolean;
  email: string | null;
  display_name: string | null;
  attributes: UserAttributes;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

/** For authentication only; never serialise. */
export interface UserCredentials {
  id: string;
  username: string;
  is_admin: boolean;
  is_active: boolean;
  password_hash: string;
  scram_verifier: string;
  password_changed_at: string;
}

export interface NewUser {
  username: string;
  /** Not checked against the API password rule here: the CLI is exempt (§4.3.1). */
  password: string;
  is_admin?: boolean;
  email?: string | null;
  display_name?: string | null;
}

/** PUT /users/{id}: absent or null = unchanged (§1.3); `attributes` replaces the whole map. */
export interface UserPatch {
  is_admin?: boolean | null;
  is_active?: boolean | null;
  email?: string | null;
  display_name?: string | null;
  attributes?: Record<string, unknown> | null;
}

const USER_COLUMNS = [
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
] as const;

type UserRow = Pick<ProxyUserRow, (typeof USER_COLUMNS)[number]>;

const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  is_admin: fromFlag(row.is_admin),
  is_active: fromFlag(row.is_active),
  email: row.email,
  display_name: row.display_name,
  attributes: parseJson<UserAttributes>(row.attributes, {}),
  last_login_at: row.last_login_at,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** The audited snapshot of create/delete (§10.2). */
const snapshot = (u: User) => ({
  username: u.username,
  is_admin: u.is_admin,
  is_active: u.is_active,
  email: u.email,
  display_name: u.display_name,
});

export async function getUserById(db: Kysely<Database>, id: string): Promise<User | undefined> {
  const row = await db.selectFrom('proxy_user').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row && toUser(row);
}

export async function getUserByUsername(db: Kysely<Database>, username: string): Promise<User | undefined> {
  const row = await db
    .selectFrom('proxy_user')
    .select(USER_COLUMNS)
    .where('username', '=', username)
    .executeTakeFirst();
  return row && toUser(row);
}

export async function getUserCredentials(
  db: Kysely<Database>,
  username: string,
): Promise<UserCredentials | undefined> {
  const row = await db
    .selectFrom('proxy_user')
    .select([
      'id',
      'username',
      'is_admin',
      'is_active',
      'password_hash',
      'scram_verifier',
      'password_changed_at',
    ])
    .where('username', '=', username)
    .executeTakeFirst();
  return row && { ...row, is_admin: fromFlag(row.is_admin), is_active: fromFlag(row.is_active) };
}

async function requireUser(db: Kysely<Database>, id: string): Promise<User> {
  const user = await getUserById(db, id);
  if (!user) throw new NotFoundError('User not found');
  return user;
}

/** GET /users (§1.9): 20 by default, at most 100, 0 → empty page; oldest first. */
export async function listUsers(
  db: Kysely<Database>,
  request: PageRequest & { search?: string | undefined },
): Promise<Paginated<User>> {
  const page = effectivePage(request, { defaultSize: 20, maxSize: 100, zeroMeansEmpty: true });
  let query = db.selectFrom('proxy_user');
  if (request.search)
    query = query.where((eb) => containsIgnoreCase(eb.ref('username'), request.search ?? ''));
  const { n } = await query.select(countAll().as('n')).executeTakeFirstOrThrow();
  const rows =
    page.limit === 0
      ? []
      : await query
          .select(USER_COLUMNS)
          .orderBy('created_at', 'asc')
          .orderBy('id', 'asc')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return { data: rows.map(toUser), total: toCount(n), page: page.page, page_size: page.pageSize };
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const { n } = await db.selectFrom('proxy_user').select(countAll().as('n')).executeTakeFirstOrThrow();
  return toCount(n);
}

export async function countActiveAdmins(db: Kysely<Database>): Promise<number> {
  const { n } = await db
    .selectFrom('proxy_user')
    .select(countAll().as('n'))
    .where('is_admin', '=', 1)
    .where('is_active', '=', 1)
    .executeTakeFirstOrThrow();
  return toCount(n);
}

/** POST /users and `rowgate user create`: checks the username rule, stores argon2id + SCRAM. */
export async function createUser(tx: AuditedTx, input: NewUser): Promise<User> {
  const problem = checkUsernameRule(input.username);
  if (problem) throw new InvalidError('username', problem);
  const credentials = await credentialsFor(input.password);
  const now = nowTimestamp();
  const id = newId();
  try {
    await tx.db
      .insertInto('proxy_user')
      .values({
        id,
        username: input.username,
        password_hash: credentials.passwordHash,
        scram_verifier: credentials.scramVerifier,
        is_admin: toFlag(input.is_admin ?? false),
        is_active: 1,
        email: input.email ?? null,
        display_name: input.display_name ?? null,
        attributes: '{}',
        password_changed_at: now,
        created_at: now,
        updated_at: now,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('Username already exists');
    throw error;
  }
  const user = await requireUser(tx.db, id);
  tx.audit({
    resourceType: 'proxy_user',
    resourceId: id,
    action: 'create',
    changes: { after: snapshot(user) },
  });
  return user;
}

/**
 * PUT /users/{id}. Order of checks as in §4.3: 404, admin guards (with the Q4
 * fix), attribute values. An audit row is written even for an empty patch.
 */
export async function updateUser(tx: AuditedTx, id: string, patch: UserPatch): Promise<User> {
  const current = await requireUser(tx.db, id);
  await guardAdminUpdate(tx.db, current, patch, tx.actorId);
  const attributes = patch.attributes ?? undefined;
  if (attributes && Object.keys(attributes).length > 0) {
    validateUserAttributes(await listUserAttributeDefinitions(tx.db), attributes);
  }
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const set: ProxyUserUpdate = {};
  const field = <K extends keyof User>(key: K, value: unknown, stored: unknown = value) => {
    if (value === undefined || value === null) return;
    before[key] = current[key];
    after[key] = value;
    (set as Record<string, unknown>)[key] = stored;
  };
  field('is_admin', patch.is_admin, patch.is_admin == null ? null : toFlag(patch.is_admin));
  field('is_active', patch.is_active, patch.is_active == null ? null : toFlag(patch.is_active));
  field('email', patch.email);
  field('display_name', patch.display_name);
  field('attributes', attributes, attributes && JSON.stringify(attributes));
  await tx.db
    .updateTable('proxy_user')
    .set({ ...set, updated_at: nowTimestamp() })
    .where('id', '=', id)
    .execute();
  tx.audit({ resourceType: 'proxy_user', resourceId: id, action: 'update', changes: { before, after } });
  return requireUser(tx.db, id);
}

/**
 * PUT /users/{id}/password and the CLI: new argon2id hash and SCRAM verifier.
 * The API checks the password rule before calling (it precedes the 404).
 */
export async function setPassword(tx: AuditedTx, id: string, password: string): Promise<User> {
  await requireUser(tx.db, id);
  const credentials = await credentialsFor(password);
  const now = nowTimestamp();
  await tx.db
    .updateTable('proxy_user')
    .set({
      password_hash: credentials.passwordHash,
      scram_verifier: credentials.scramVerifier,
      password_changed_at: now,
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
  tx.audit({
    resourceType: 'proxy_user',
    resourceId: id,
    action: 'update',
    changes: { field: 'password', changed: true },
  });
  return requireUser(tx.db, id);
}

/**
 * DELETE /users/{id}. Memberships cascade. Quirk Q6 fixed: the user's
 * user-scoped datasource access and policy assignments go too (they have no
 * foreign key). Each removed assignment is audited like a role deletion's
 * (`policy`/`unassign`, reason `user_deleted`), so policy readers see it.
 */
export async function deleteUser(tx: AuditedTx, id: string): Promise<void> {
  const user = await requireUser(tx.db, id);
  await guardAdminDelete(tx.db, user, tx.actorId);
  await removeGrantsOf(tx, 'user', id);
  await tx.db.deleteFrom('proxy_user').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'proxy_user',
    resourceId: id,
    action: 'delete',
    changes: { before: snapshot(user) },
  });
}

/**
 * Sets `last_login_at` after a successful password check (API login or
 * pgwire). The one write without an audit row, hence `db` and not an
 * AuditedTx: §10.2 says logins are not audited, and making every login go
 * through an audited transaction would flood the admin log (and the change
 * bus) with non-administrative events.
 */
export async function recordLogin(db: Kysely<Database>, userId: string): Promise<void> {
  await db
    .updateTable('proxy_user')
    .set({ last_login_at: nowTimestamp() })
    .where('id', '=', userId)
    .execute();
}
