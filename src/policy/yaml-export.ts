/**
 * Policy YAML export (api-contract §7.3): every policy, ordered by name, with
 * all of its assignments ordered by data source name, scope, user/role name,
 * then priority; names instead of ids. Read-only, so no audit row.
 *
 * Everything comes from one SELECT (policies left-joined to their
 * assignments and the named entities), so the export is a consistent snapshot
 * on both store engines without an explicit isolation level. Ordering is done
 * here by code unit, not by the database, because PostgreSQL's collation and
 * SQLite's binary order would disagree and the export must be byte-stable.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { fromFlag, parseJson } from '../store/values.js';
import {
  serializePolicyDocument,
  type AssignmentScope,
  type PolicyAssignmentSpec,
  type PolicyDocument,
  type PolicyDocumentEntry,
} from './document.js';
import { isPolicyType, type TargetEntry } from './targets.js';

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export async function exportPolicies(db: Kysely<Database>): Promise<string> {
  return serializePolicyDocument(await exportPolicyDocument(db));
}

/** The export as a document (what `exportPolicies` serializes). */
export async function exportPolicyDocument(db: Kysely<Database>): Promise<PolicyDocument> {
  const rows = await db
    .selectFrom('policy as p')
    .leftJoin('decision_function as f', 'f.id', 'p.decision_function_id')
    .leftJoin('policy_assignment as a', 'a.policy_id', 'p.id')
    .leftJoin('data_source as d', 'd.id', 'a.data_source_id')
    .leftJoin('proxy_user as u', 'u.id', 'a.user_id')
    .leftJoin('role as r', 'r.id', 'a.role_id')
    .select([
      'p.id',
      'p.name',
      'p.policy_type',
      'p.description',
      'p.is_enabled',
      'p.targets',
      'p.definition',
      'p.decision_function_id',
      'f.name as decision_function_name',
      'a.id as assignment_id',
      'a.assignment_scope',
      'a.user_id',
      'a.role_id',
      'a.priority',
      'd.name as datasource_name',
      'u.username',
      'r.name as role_name',
    ])
    .execute();

  const entries = new Map<string, PolicyDocumentEntry>();
  for (const row of rows) {
    let entry = entries.get(row.id);
    if (!entry) {
      if (!isPolicyType(row.policy_type))
        throw new Error(`policy ${row.id} has unknown type ${row.policy_type}`);
      entry = {
        name: row.name,
        policy_type: row.policy_type,
        description: row.description,
        is_enabled: fromFlag(row.is_enabled),
        targets: parseJson<TargetEntry[]>(row.targets, []).map(normalizeTarget),
        definition: parseJson<Record<string, unknown> | null>(row.definition, null),
        // A decision function cannot be deleted while referenced; the id is a last resort.
        decision_function:
          row.decision_function_id === null ? null : (row.decision_function_name ?? row.decision_function_id),
        assignments: [],
      };
      entries.set(row.id, entry);
    }
    if (row.assignment_id === null || row.datasource_name === null) continue;
    const scope = row.assignment_scope as AssignmentScope;
    // An assignment may name a user id that does not exist (§4.7, replicated): the
    // id is exported so that nothing disappears silently; importing it reports the name.
    entry.assignments!.push({
      datasource: row.datasource_name,
      scope,
      user: scope === 'user' ? (row.username ?? row.user_id) : null,
      role: scope === 'role' ? (row.role_name ?? row.role_id) : null,
      priority: row.priority ?? 100,
    });
  }

  const policies = [...entries.values()].sort((a, b) => byCodeUnit(a.name, b.name));
  for (const policy of policies) policy.assignments!.sort(compareAssignments);
  return { version: 1, policies };
}

function normalizeTarget(t: TargetEntry): TargetEntry {
  return t.columns == null
    ? { schemas: t.schemas, tables: t.tables }
    : { schemas: t.schemas, tables: t.tables, columns: t.columns };
}

function compareAssignments(a: PolicyAssignmentSpec, b: PolicyAssignmentSpec): number {
  return (
    byCodeUnit(a.datasource, b.datasource) ||
    byCodeUnit(a.scope, b.scope) ||
    byCodeUnit(a.user ?? a.role ?? '', b.user ?? b.role ?? '') ||
    a.priority - b.priority
  );
}
