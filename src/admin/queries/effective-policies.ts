/**
 * `GET /users/{id}/effective-policies` (api-contract §4.3): every policy
 * assignment on one data source that reaches the user, one entry per
 * assignment (no de-duplication), disabled policies included. The user's
 * roles are the active role closure (§5.3); the source says how the
 * assignment reaches the user: `all users`, `direct`, `role '<name>'` (a role
 * the user is a direct member of) or `inherited from '<name>'` (an ancestor
 * of such a role; the name is the role holding the assignment). Ordered by
 * priority, then policy name, for a stable answer.
 */
import type { Kysely } from 'kysely';
import { activeRoleClosureForUser } from '../../store/repos/roles.js';
import type { Database } from '../../store/schema.js';
import { fromFlag } from '../../store/values.js';

export interface EffectivePolicy {
  policy_id: string;
  policy_name: string;
  policy_type: string;
  datasource_name: string;
  priority: number;
  source: string;
  is_enabled: boolean;
}

export async function listEffectivePolicies(
  db: Kysely<Database>,
  userId: string,
  dataSourceId: string,
): Promise<EffectivePolicy[]> {
  const closure = await activeRoleClosureForUser(db, userId);
  const roleNames = new Map(closure.map((r) => [r.id, r.name]));
  const memberships = await db
    .selectFrom('role_member')
    .select('role_id')
    .where('user_id', '=', userId)
    .execute();
  const directRoles = new Set(memberships.map((m) => m.role_id));
  const rows = await db
    .selectFrom('policy_assignment as a')
    .innerJoin('policy as p', 'p.id', 'a.policy_id')
    .innerJoin('data_source as d', 'd.id', 'a.data_source_id')
    .select([
      'a.policy_id',
      'a.assignment_scope',
      'a.role_id',
      'a.priority',
      'p.name as policy_name',
      'p.policy_type',
      'p.is_enabled',
      'd.name as datasource_name',
    ])
    .where('a.data_source_id', '=', dataSourceId)
    .where((eb) => {
      const scopes = [
        eb('a.assignment_scope', '=', 'all'),
        eb.and([eb('a.assignment_scope', '=', 'user'), eb('a.user_id', '=', userId)]),
      ];
      if (roleNames.size > 0) {
        scopes.push(
          eb.and([eb('a.assignment_scope', '=', 'role'), eb('a.role_id', 'in', [...roleNames.keys()])]),
        );
      }
      return eb.or(scopes);
    })
    .orderBy('a.priority')
    .orderBy('p.name')
    .orderBy('a.id')
    .execute();
  return rows.map((row) => ({
    policy_id: row.policy_id,
    policy_name: row.policy_name,
    policy_type: row.policy_type,
    datasource_name: row.datasource_name,
    priority: row.priority,
    source: sourceOf(row.assignment_scope, row.role_id, roleNames, directRoles),
    is_enabled: fromFlag(row.is_enabled),
  }));
}

function sourceOf(
  scope: string,
  roleId: string | null,
  roleNames: ReadonlyMap<string, string>,
  directRoles: ReadonlySet<string>,
): string {
  if (scope === 'all') return 'all users';
  if (scope === 'user' || roleId === null) return 'direct';
  const name = roleNames.get(roleId) ?? '';
  return directRoles.has(roleId) ? `role '${name}'` : `inherited from '${name}'`;
}
