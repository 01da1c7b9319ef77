/**
 * The admin guards of PUT/DELETE /users/{id} (api-contract §4.3) plus the fix
 * of quirk Q4: the store must always keep at least one active admin, or
 * nobody could log in to the management API again. BR only counted admins
 * (active or not); we refuse when the target is the only admin at all (BR's
 * message) *or* the only active one. Self checks are enforced here too, so
 * every caller (API, CLI) gets them; the CLI's system actor is never a user.
 */
import type { Kysely } from 'kysely';
import { ConflictError } from '../store/repo-errors.js';
import type { Database } from '../store/schema.js';
import { countAll, toCount } from '../store/values.js';
import { lockIdentity } from './locks.js';

export interface AdminGuardTarget {
  id: string;
  is_admin: boolean;
  is_active: boolean;
}

async function adminCounts(db: Kysely<Database>, excludeId: string) {
  const row = await db
    .selectFrom('proxy_user')
    .select([
      countAll().as('admins'),
      (eb) =>
        eb.fn
          .sum<string | number | null>(eb.case().when('is_active', '=', 1).then(1).else(0).end())
          .as('active'),
    ])
    .where('is_admin', '=', 1)
    .where('id', '<>', excludeId)
    .executeTakeFirstOrThrow();
  return { otherAdmins: toCount(row.admins), otherActiveAdmins: toCount(row.active) };
}

/** True when removing the target's admin power would leave no admin, or no active admin. */
async function isLastAdmin(db: Kysely<Database>, target: AdminGuardTarget): Promise<boolean> {
  if (!target.is_admin) return false;
  await lockIdentity(db, 'admins');
  const { otherAdmins, otherActiveAdmins } = await adminCounts(db, target.id);
  return otherAdmins === 0 || (target.is_active && otherActiveAdmins === 0);
}

/** PUT /users/{id}: demotion (self, then last admin), then deactivation of the last active admin. */
export async function guardAdminUpdate(
  db: Kysely<Database>,
  target: AdminGuardTarget,
  change: { is_admin?: boolean | null; is_active?: boolean | null },
  actorId: string,
): Promise<void> {
  if (change.is_admin === false && target.is_admin) {
    if (actorId === target.id) throw new ConflictError('Cannot revoke your own admin privileges');
    if (await isLastAdmin(db, target))
      throw new ConflictError('Cannot revoke admin from the last admin user');
  }
  if (change.is_active === false && target.is_active && target.is_admin && (await isLastAdmin(db, target))) {
    throw new ConflictError('Cannot deactivate the last active admin user');
  }
}

/** DELETE /users/{id}: last admin first, then self (BR's order). */
export async function guardAdminDelete(
  db: Kysely<Database>,
  target: AdminGuardTarget,
  actorId: string,
): Promise<void> {
  if (await isLastAdmin(db, target)) throw new ConflictError('Cannot delete the last admin user');
  if (actorId === target.id) throw new ConflictError('Cannot delete your own account');
}
