/**
 * Policy assignments (api-contract §3.4, §4.7, §5.7): which policy applies on
 * which data source, to one user, one role or everyone, with a priority
 * (lower wins). Assigning and unassigning bump the policy's version with an
 * `assignment_change` snapshot and are audited on the *policy* id.
 *
 * Two BR quirks are fixed here: a duplicate role-scoped assignment is a 409
 * like a duplicate user-scoped one (Q10), and deleting an assignment through
 * another data source's path is a 404 (Q11).
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { BadRequestError, requireDataSource } from './datasources.js';
import { bumpPolicyVersion } from './policy-versions.js';

export type AssignmentScope = 'user' | 'role' | 'all';

export interface PolicyAssignment {
  id: string;
  policy_id: string;
  policy_name: string;
  data_source_id: string;
  datasource_name: string;
  user_id: string | null;
  username: string | null;
  role_id: string | null;
  role_name: string | null;
  assignment_scope: AssignmentScope;
  priority: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface NewAssignment {
  policy_id: string;
  data_source_id: string;
  /** Inferred when absent: role_id → role, else user_id → user, else all. */
  scope?: string | null;
  user_id?: string | null;
  role_id?: string | null;
  priority?: number;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function assignmentQuery(db: Kysely<Database>) {
  return db
    .selectFrom('policy_assignment as a')
    .leftJoin('policy as p', 'p.id', 'a.policy_id')
    .leftJoin('data_source as d', 'd.id', 'a.data_source_id')
    .leftJoin('proxy_user as u', 'u.id', 'a.user_id')
    .leftJoin('role as r', 'r.id', 'a.role_id')
    .select([
      'a.id',
      'a.policy_id',
      'p.name as policy_name',
      'a.data_source_id',
      'd.name as datasource_name',
      'a.user_id',
      'u.username',
      'a.role_id',
      'r.name as role_name',
      'a.assignment_scope',
      'a.priority',
      'a.created_at',
      'a.updated_at',
    ]);
}

type AssignmentRow = Awaited<ReturnType<ReturnType<typeof assignmentQuery>['executeTakeFirstOrThrow']>>;

function toAssignment(row: AssignmentRow): PolicyAssignment {
  return {
    ...row,
    policy_name: row.policy_name ?? '',
    datasource_name: row.datasource_name ?? '',
    username: row.username ?? null,
    role_name: row.role_name ?? null,
    assignment_scope: row.assignment_scope as AssignmentScope,
  };
}

/** `GET /datasources/{id}/policies`: priority ascending (then creation order). 404 DS. */
export async function listAssignmentsForDataSource(
  db: Kysely<Database>,
  dataSourceId: string,
): Promise<PolicyAssignment[]> {
  await requireDataSource(db, dataSourceId);
  const rows = await assignmentQuery(db)
    .where('a.data_source_id', '=', dataSourceId)
    .orderBy('a.priority')
    .orderBy('a.created_at')
    .orderBy('a.id')
    .execute();
  return rows.map(toAssignment);
}

export async function listAssignmentsForPolicy(
  db: Kysely<Database>,
  policyId: string,
): Promise<PolicyAssignment[]> {
  const rows = await assignmentQuery(db)
    .where('a.policy_id', '=', policyId)
    .orderBy('a.priority')
    .orderBy('a.created_at')
    .orderBy('a.id')
    .execute();
  return rows.map(toAssignment);
}

/** §4.7 scope consistency (400s), in the contract's order. */
function resolveScope(input: NewAssignment): AssignmentScope {
  const userId = input.user_id ?? null;
  const roleId = input.role_id ?? null;
  const scope = input.scope ?? (roleId !== null ? 'role' : userId !== null ? 'user' : 'all');
  switch (scope) {
    case 'user':
      if (userId === null) throw new BadRequestError("scope 'user' requires user_id");
      if (roleId !== null) throw new BadRequestError("scope 'user' must not have role_id");
      return scope;
    case 'role':
      if (roleId === null) throw new BadRequestError("scope 'role' requires role_id");
      if (userId !== null) throw new BadRequestError("scope 'role' must not have user_id");
      return scope;
    case 'all':
      if (userId !== null || roleId !== null) {
        throw new BadRequestError("scope 'all' must not have user_id or role_id");
      }
      return scope;
    default:
      throw new BadRequestError("scope must be 'user', 'role', or 'all'");
  }
}

export async function assignPolicy(tx: AuditedTx, input: NewAssignment): Promise<PolicyAssignment> {
  const db = tx.db;
  await requireDataSource(db, input.data_source_id);
  const policy = await db
    .selectFrom('policy')
    .select('id')
    .where('id', '=', input.policy_id)
    .executeTakeFirst();
  if (!policy) throw new NotFoundError('Policy not found');
  const scope = resolveScope(input);
  const userId = scope === 'user' ? (input.user_id as string) : null;
  const roleId = scope === 'role' ? (input.role_id as string) : null;
  if (roleId !== null) {
    const role = await db.selectFrom('role').select('id').where('id', '=', roleId).executeTakeFirst();
    if (!role) throw new NotFoundError('Role not found');
  }
  const priority = input.priority ?? 100;
  if (!Number.isInteger(priority) || priority < INT32_MIN || priority > INT32_MAX) {
    throw new InvalidError('priority', 'priority must be a 32-bit integer');
  }
  const existing = await db
    .selectFrom('policy_assignment')
    .select('id')
    .where('policy_id', '=', input.policy_id)
    .where('data_source_id', '=', input.data_source_id)
    .where('assignment_scope', '=', scope)
    .$if(scope === 'user', (q) => q.where('user_id', '=', userId))
    .$if(scope === 'role', (q) => q.where('role_id', '=', roleId))
    .executeTakeFirst();
  if (existing) {
    throw new ConflictError(
      scope === 'all'
        ? 'This policy is already assigned to this datasource for all users'
        : 'This policy assignment already exists',
    );
  }
  const id = newId();
  const now = nowTimestamp();
  try {
    await db
      .insertInto('policy_assignment')
      .values({
        id,
        policy_id: input.policy_id,
        data_source_id: input.data_source_id,
        user_id: userId,
        role_id: roleId,
        assignment_scope: scope,
        priority,
        created_at: now,
        updated_at: now,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('This policy assignment already exists');
    throw error;
  }
  await bumpPolicyVersion(tx, input.policy_id);
  tx.audit({
    resourceType: 'policy',
    resourceId: input.policy_id,
    action: 'assign',
    changes: {
      assignment_id: id,
      datasource_id: input.data_source_id,
      scope,
      user_id: userId,
      role_id: roleId,
      priority,
    },
  });
  return toAssignment(await assignmentQuery(db).where('a.id', '=', id).executeTakeFirstOrThrow());
}

/** 404 DS → 404 `Assignment not found` (also when it belongs to another data source) → 404 `Policy not found`. */
export async function unassignPolicy(
  tx: AuditedTx,
  dataSourceId: string,
  assignmentId: string,
): Promise<PolicyAssignment> {
  const db = tx.db;
  await requireDataSource(db, dataSourceId);
  const row = await assignmentQuery(db)
    .where('a.id', '=', assignmentId)
    .where('a.data_source_id', '=', dataSourceId)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Assignment not found');
  if (row.policy_name === null) throw new NotFoundError('Policy not found');
  await db.deleteFrom('policy_assignment').where('id', '=', assignmentId).execute();
  await bumpPolicyVersion(tx, row.policy_id);
  tx.audit({
    resourceType: 'policy',
    resourceId: row.policy_id,
    action: 'unassign',
    changes: {
      assignment_id: assignmentId,
      datasource_id: dataSourceId,
      scope: row.assignment_scope,
      user_id: row.user_id,
      role_id: row.role_id,
    },
  });
  return toAssignment(row);
}

/**
 * Deleting a user or a role removes its scoped access grants and policy
 * assignments (quirks Q6/Q7 fixed: they have no foreign key). Each removed
 * assignment is audited as a `policy` `unassign` with the reason, as BR
 * does for role deletion, so policy readers see why it went.
 */
export async function removeGrantsOf(tx: AuditedTx, principal: 'user' | 'role', id: string): Promise<void> {
  const column = principal === 'user' ? 'user_id' : 'role_id';
  const assignments = await tx.db
    .selectFrom('policy_assignment')
    .select(['id', 'policy_id', 'data_source_id'])
    .where(column, '=', id)
    .orderBy('id')
    .execute();
  for (const a of assignments) {
    tx.audit({
      resourceType: 'policy',
      resourceId: a.policy_id,
      action: 'unassign',
      changes: {
        reason: `${principal}_deleted`,
        [column]: id,
        datasource_id: a.data_source_id,
        assignment_id: a.id,
      },
    });
  }
  await tx.db.deleteFrom('policy_assignment').where(column, '=', id).execute();
  await tx.db.deleteFrom('data_source_access').where(column, '=', id).execute();
}
