/**
 * Read side of roles (api-contract §3.8, §4.13, §5.3), re-exported by
 * `store/repos/roles.ts`, which holds the writes. Graph questions load the
 * whole (small) inheritance table and answer with `role-graph.ts`, so both
 * engines behave identically without recursive SQL.
 */
import type { Kysely } from 'kysely';
import { effectivePage, type PageRequest, type Paginated } from '../store/paging.js';
import type { Database } from '../store/schema.js';
import { containsIgnoreCase, countAll, fromFlag, toCount } from '../store/values.js';
import {
  activeRoleClosure,
  ancestors,
  buildRoleGraph,
  descendants,
  effectiveMembers as graphMembers,
  type RoleGraph,
} from './role-graph.js';

export interface Role {
  id: string;
  name: string;
  description: string | null;
  is_active: boolean;
  direct_member_count: number;
  created_at: string;
  updated_at: string;
}

export interface RoleRef {
  id: string;
  name: string;
}

export interface RoleDetail extends Role {
  effective_member_count: number;
  members: { id: string; username: string }[];
  parent_roles: RoleRef[];
  child_roles: RoleRef[];
  policy_assignments: { policy_name: string; datasource_name: string; source: string; priority: number }[];
  datasource_access: { datasource_id: string; datasource_name: string; source: string }[];
}

export interface EffectiveMember {
  user_id: string;
  username: string;
  source: string;
}

export interface RoleImpact {
  affected_users: number;
  affected_assignments: number;
}

function roleQuery(db: Kysely<Database>) {
  return db
    .selectFrom('role')
    .select([
      'role.id',
      'role.name',
      'role.description',
      'role.is_active',
      'role.created_at',
      'role.updated_at',
    ])
    .select((eb) =>
      eb
        .selectFrom('role_member')
        .whereRef('role_member.role_id', '=', 'role.id')
        .select(countAll().as('n'))
        .as('direct_member_count'),
    );
}

type RoleQueryRow = Awaited<ReturnType<ReturnType<typeof roleQuery>['executeTakeFirstOrThrow']>>;

const toRole = (row: RoleQueryRow): Role => ({
  ...row,
  is_active: fromFlag(row.is_active),
  direct_member_count: toCount(row.direct_member_count),
});

export async function getRole(db: Kysely<Database>, id: string): Promise<Role | undefined> {
  const row = await roleQuery(db).where('role.id', '=', id).executeTakeFirst();
  return row && toRole(row);
}

/** GET /roles (§1.9): 20 by default, at most 100, 0 → empty page; oldest first. */
export async function listRoles(
  db: Kysely<Database>,
  request: PageRequest & { search?: string | undefined },
): Promise<Paginated<Role>> {
  const page = effectivePage(request, { defaultSize: 20, maxSize: 100, zeroMeansEmpty: true });
  const search = request.search;
  let count = db.selectFrom('role').select(countAll().as('n'));
  let rows = roleQuery(db);
  if (search) {
    count = count.where((eb) => containsIgnoreCase(eb.ref('role.name'), search));
    rows = rows.where((eb) => containsIgnoreCase(eb.ref('role.name'), search));
  }
  const { n } = await count.executeTakeFirstOrThrow();
  const data =
    page.limit === 0
      ? []
      : await rows
          .orderBy('role.created_at')
          .orderBy('role.id')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return { data: data.map(toRole), total: toCount(n), page: page.page, page_size: page.pageSize };
}

export async function loadRoleGraph(db: Kysely<Database>): Promise<RoleGraph> {
  const edges = await db.selectFrom('role_inheritance').select(['parent_role_id', 'child_role_id']).execute();
  return buildRoleGraph(edges.map((e) => ({ parentId: e.parent_role_id, childId: e.child_role_id })));
}

async function roleNames(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('role').select(['id', 'name']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Direct parents of a role, by name. */
export async function listParents(db: Kysely<Database>, roleId: string): Promise<RoleRef[]> {
  return db
    .selectFrom('role_inheritance')
    .innerJoin('role', 'role.id', 'role_inheritance.parent_role_id')
    .select(['role.id', 'role.name'])
    .where('role_inheritance.child_role_id', '=', roleId)
    .orderBy('role.name')
    .execute();
}

/** Direct children of a role, by name. */
export async function listChildren(db: Kysely<Database>, roleId: string): Promise<RoleRef[]> {
  return db
    .selectFrom('role_inheritance')
    .innerJoin('role', 'role.id', 'role_inheritance.child_role_id')
    .select(['role.id', 'role.name'])
    .where('role_inheritance.parent_role_id', '=', roleId)
    .orderBy('role.name')
    .execute();
}

/**
 * GET /roles/{id}/effective-members (§4.13): members of the role and of its
 * descendants, inactive roles included. Order: direct members by username,
 * then the others in BFS order of their role, by username within a role.
 */
export async function effectiveMembers(db: Kysely<Database>, roleId: string): Promise<EffectiveMember[]> {
  const graph = await loadRoleGraph(db);
  const roleIds = [roleId, ...descendants(graph, roleId).keys()];
  const rows = await db
    .selectFrom('role_member')
    .innerJoin('proxy_user', 'proxy_user.id', 'role_member.user_id')
    .select(['role_member.role_id', 'proxy_user.id', 'proxy_user.username'])
    .where('role_member.role_id', 'in', roleIds)
    .orderBy('proxy_user.username')
    .execute();
  const byRole = new Map<string, string[]>();
  const usernames = new Map<string, string>();
  for (const r of rows) {
    byRole.set(r.role_id, [...(byRole.get(r.role_id) ?? []), r.id]);
    usernames.set(r.id, r.username);
  }
  const names = await roleNames(db, roleIds);
  const members = graphMembers(graph, roleId, (id) => byRole.get(id) ?? []);
  return [...members].map(([userId, source]) => ({
    user_id: userId,
    username: usernames.get(userId) ?? '',
    source: source.kind === 'direct' ? 'direct' : `via role '${names.get(source.roleId) ?? ''}'`,
  }));
}

/** GET /roles/{id}/impact (§4.13): what a delete would report. */
export async function roleImpact(
  db: Kysely<Database>,
  roleId: string,
): Promise<RoleImpact & { user_ids: string[] }> {
  const members = await effectiveMembers(db, roleId);
  const { n } = await db
    .selectFrom('policy_assignment')
    .select(countAll().as('n'))
    .where('role_id', '=', roleId)
    .executeTakeFirstOrThrow();
  return {
    affected_users: members.length,
    affected_assignments: toCount(n),
    user_ids: members.map((m) => m.user_id),
  };
}

/** §5.3: the user's active role closure (ids and names), direct roles first, then BFS upward. */
export async function activeRoleClosureForUser(db: Kysely<Database>, userId: string): Promise<RoleRef[]> {
  const direct = await db
    .selectFrom('role_member')
    .select('role_id')
    .where('user_id', '=', userId)
    .orderBy('role_id')
    .execute();
  if (direct.length === 0) return [];
  const [graph, roles] = await Promise.all([
    loadRoleGraph(db),
    db.selectFrom('role').select(['id', 'name', 'is_active']).execute(),
  ]);
  const byId = new Map(roles.map((r) => [r.id, r]));
  const closure = activeRoleClosure(
    graph,
    direct.map((d) => d.role_id),
    (id) => fromFlag(byId.get(id)?.is_active),
  );
  return closure.map((id) => ({ id, name: byId.get(id)?.name ?? '' }));
}

/** GET /roles/{id} (§3.8). Ancestors are walked regardless of `is_active`. */
export async function getRoleDetail(db: Kysely<Database>, id: string): Promise<RoleDetail | undefined> {
  const role = await getRole(db, id);
  if (!role) return undefined;
  const graph = await loadRoleGraph(db);
  const lineage = [id, ...ancestors(graph, id).keys()]; // self, then BFS order upward
  const names = await roleNames(db, lineage);
  const sourceOf = (roleId: string) =>
    roleId === id ? 'direct' : `inherited from '${names.get(roleId) ?? ''}'`;
  const rank = new Map(lineage.map((r, i) => [r, i]));
  const byLineage = <T extends { role_id: string | null }>(rows: T[]) =>
    rows.sort((a, b) => (rank.get(a.role_id ?? '') ?? 0) - (rank.get(b.role_id ?? '') ?? 0));

  const [members, parents, children, assignments, access, effective] = await Promise.all([
    db
      .selectFrom('role_member')
      .leftJoin('proxy_user', 'proxy_user.id', 'role_member.user_id')
      .select(['role_member.user_id as id', 'proxy_user.username'])
      .where('role_member.role_id', '=', id)
      .orderBy('proxy_user.username')
      .execute(),
    listParents(db, id),
    listChildren(db, id),
    db
      .selectFrom('policy_assignment as pa')
      .leftJoin('policy', 'policy.id', 'pa.policy_id')
      .leftJoin('data_source as ds', 'ds.id', 'pa.data_source_id')
      .select(['pa.role_id', 'pa.priority', 'policy.name as policy_name', 'ds.name as datasource_name'])
      .where('pa.assignment_scope', '=', 'role')
      .where('pa.role_id', 'in', lineage)
      .orderBy('policy.name')
      .orderBy('ds.name')
      .execute(),
    db
      .selectFrom('data_source_access as a')
      .leftJoin('data_source as ds', 'ds.id', 'a.data_source_id')
      .select(['a.role_id', 'a.data_source_id', 'ds.name as datasource_name'])
      .where('a.assignment_scope', '=', 'role')
      .where('a.role_id', 'in', lineage)
      .orderBy('ds.name')
      .execute(),
    effectiveMembers(db, id),
  ]);

  // Rows come in lineage order, so the first entry per (policy, datasource) is the
  // nearest one and a direct entry always precedes an inherited one.
  const policyAssignments = new Map<string, RoleDetail['policy_assignments'][number]>();
  for (const a of byLineage(assignments)) {
    const entry = {
      policy_name: a.policy_name ?? '',
      datasource_name: a.datasource_name ?? '',
      source: sourceOf(a.role_id ?? ''),
      priority: a.priority,
    };
    const key = JSON.stringify([entry.policy_name, entry.datasource_name]);
    if (!policyAssignments.has(key)) policyAssignments.set(key, entry);
  }
  const sorted = byLineage(access);
  const direct = new Set(sorted.filter((a) => a.role_id === id).map((a) => a.data_source_id));
  const datasourceAccess = sorted
    .filter((a) => a.role_id === id || !direct.has(a.data_source_id))
    .map((a) => ({
      datasource_id: a.data_source_id,
      datasource_name: a.datasource_name ?? '',
      source: sourceOf(a.role_id ?? ''),
    }));

  return {
    ...role,
    direct_member_count: members.length,
    effective_member_count: effective.length,
    members: members.map((m) => ({ id: m.id, username: m.username ?? '' })),
    parent_roles: parents,
    child_roles: children,
    policy_assignments: [...policyAssignments.values()],
    datasource_access: datasourceAccess,
  };
}
