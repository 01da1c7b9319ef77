/**
 * Policy reads and the public `Policy` shape (api-contract §3.3): keys
 * `decision_function_id` / `decision_function` are omitted when absent,
 * `assignments` only on the single-policy reads.
 */
import type { Kysely } from 'kysely';
import { effectivePage, type PageRequest, type Paginated } from '../paging.js';
import { NotFoundError } from '../repo-errors.js';
import type { Database, PolicyRow, Timestamp } from '../schema.js';
import { containsIgnoreCase, countAll, fromFlag, parseJson, toCount } from '../values.js';
import {
  listAssignmentsForPolicy,
  type AssignmentScope,
  type PolicyAssignment,
} from './policy-assignments.js';

import type { PolicyType } from '../../policy/targets.js';

export { POLICY_TYPES, type PolicyType } from '../../policy/targets.js';

export interface DecisionFunctionSummary {
  id: string;
  name: string;
  is_enabled: boolean;
  evaluate_context: string;
}

export interface Policy {
  id: string;
  name: string;
  description: string | null;
  policy_type: PolicyType;
  targets: unknown[];
  definition: unknown;
  is_enabled: boolean;
  version: number;
  /** Key omitted when no function is attached (§3.3). */
  decision_function_id?: string;
  /** Key omitted when none is attached or it no longer exists. */
  decision_function?: DecisionFunctionSummary;
  assignment_count: number;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Only from getPolicy / updatePolicy / deletePolicy. */
  assignments?: PolicyAssignment[];
}

/** An enabled policy with its assignments on one data source: the policy engine's input. */
export interface EnforcedPolicy {
  id: string;
  name: string;
  policy_type: string;
  targets: unknown[];
  definition: unknown;
  version: number;
  decision_function_id: string | null;
  assignments: {
    id: string;
    assignment_scope: AssignmentScope;
    user_id: string | null;
    role_id: string | null;
    priority: number;
  }[];
}

export const POLICY_NOT_FOUND = 'Policy not found';
const PAGE_RULE = { defaultSize: 20, maxSize: 100, zeroMeansEmpty: true };

function policyQuery(db: Kysely<Database>) {
  return db
    .selectFrom('policy as p')
    .leftJoin('decision_function as f', 'f.id', 'p.decision_function_id')
    .selectAll('p')
    .select((eb) => [
      eb
        .selectFrom('policy_assignment as a')
        .whereRef('a.policy_id', '=', 'p.id')
        .select(countAll().as('n'))
        .as('assignment_count'),
      'f.id as f_id',
      'f.name as f_name',
      'f.is_enabled as f_is_enabled',
      'f.evaluate_context as f_evaluate_context',
    ]);
}

type PolicyQueryRow = Awaited<ReturnType<ReturnType<typeof policyQuery>['executeTakeFirstOrThrow']>>;

function toPolicy(row: PolicyQueryRow): Policy {
  const policy: Policy = {
    id: row.id,
    name: row.name,
    description: row.description,
    policy_type: row.policy_type as PolicyType,
    targets: parseJson<unknown[]>(row.targets, []),
    definition: parseJson<unknown>(row.definition, null),
    is_enabled: fromFlag(row.is_enabled),
    version: row.version,
    assignment_count: toCount(row.assignment_count),
    created_by: row.created_by,
    updated_by: row.updated_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
  if (row.decision_function_id !== null) policy.decision_function_id = row.decision_function_id;
  if (row.f_id !== null && row.f_name !== null && row.f_evaluate_context !== null) {
    policy.decision_function = {
      id: row.f_id,
      name: row.f_name,
      is_enabled: fromFlag(row.f_is_enabled),
      evaluate_context: row.f_evaluate_context,
    };
  }
  return policy;
}

export async function requirePolicyRow(db: Kysely<Database>, id: string): Promise<PolicyRow> {
  const row = await db.selectFrom('policy').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(POLICY_NOT_FOUND);
  return row;
}

/** Without `assignments` (the create and list shape). */
export async function getPolicySummary(db: Kysely<Database>, id: string): Promise<Policy> {
  const row = await policyQuery(db).where('p.id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(POLICY_NOT_FOUND);
  return toPolicy(row);
}

/** With `assignments` (§4.10 GET /policies/{id}). */
export async function getPolicy(db: Kysely<Database>, id: string): Promise<Policy> {
  const policy = await getPolicySummary(db, id);
  return { ...policy, assignments: await listAssignmentsForPolicy(db, id) };
}

/** `created_at` ascending, no `assignments` key. */
export async function listPolicies(
  db: Kysely<Database>,
  request: PageRequest & { search?: string | undefined } = {},
): Promise<Paginated<Policy>> {
  const page = effectivePage(request, PAGE_RULE);
  const search = request.search ?? '';
  const { n } = await db
    .selectFrom('policy')
    .$if(search !== '', (q) => q.where((eb) => containsIgnoreCase(eb.ref('name'), search)))
    .select(countAll().as('n'))
    .executeTakeFirstOrThrow();
  const rows =
    page.limit === 0
      ? []
      : await policyQuery(db)
          .$if(search !== '', (q) => q.where((eb) => containsIgnoreCase(eb.ref('p.name'), search)))
          .orderBy('p.created_at')
          .orderBy('p.id')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return { data: rows.map(toPolicy), total: toCount(n), page: page.page, page_size: page.pageSize };
}

/**
 * Enabled policies with at least one assignment on the data source, each
 * with those assignments (priority ascending). Resolution for a given user
 * (scope match, role closure, lowest priority wins) is the policy engine's job.
 */
export async function loadEnabledPoliciesForDataSource(
  db: Kysely<Database>,
  dataSourceId: string,
): Promise<EnforcedPolicy[]> {
  const rows = await db
    .selectFrom('policy_assignment as a')
    .innerJoin('policy as p', 'p.id', 'a.policy_id')
    .select([
      'p.id as policy_id',
      'p.name',
      'p.policy_type',
      'p.targets',
      'p.definition',
      'p.version',
      'p.decision_function_id',
      'a.id',
      'a.assignment_scope',
      'a.user_id',
      'a.role_id',
      'a.priority',
    ])
    .where('a.data_source_id', '=', dataSourceId)
    .where('p.is_enabled', '=', 1)
    .orderBy('p.name')
    .orderBy('a.priority')
    .orderBy('a.id')
    .execute();
  const policies = new Map<string, EnforcedPolicy>();
  for (const r of rows) {
    let policy = policies.get(r.policy_id);
    if (!policy) {
      policy = {
        id: r.policy_id,
        name: r.name,
        policy_type: r.policy_type,
        targets: parseJson<unknown[]>(r.targets, []),
        definition: parseJson<unknown>(r.definition, null),
        version: r.version,
        decision_function_id: r.decision_function_id,
        assignments: [],
      };
      policies.set(r.policy_id, policy);
    }
    policy.assignments.push({
      id: r.id,
      assignment_scope: r.assignment_scope as AssignmentScope,
      user_id: r.user_id,
      role_id: r.role_id,
      priority: r.priority,
    });
  }
  return [...policies.values()];
}
