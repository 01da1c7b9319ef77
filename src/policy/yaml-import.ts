/**
 * Policy YAML import (api-contract §7.4): policies matched by name, created
 * or updated only when something differs, assignments made equal to the
 * listed set when the `assignments` key is present. All or nothing.
 *
 * One audited transaction holds the whole import: it plans against the state
 * it reads (./yaml-import-plan.ts), then performs the changes with the same
 * repository calls the REST API makes (createPolicy / updatePolicy with the
 * API's shape validator, assignPolicy, unassignPolicy; ./yaml-import-apply.ts), so audit rows,
 * version-1 snapshots and version bumps are those of the equivalent API
 * calls. Any error, a dry run, or nothing to change rolls the transaction
 * back — a dry run therefore reports exactly what the real import would do,
 * including the versions, and never writes.
 *
 * Two effects have no API call (see ./yaml-import-apply.ts): a priority
 * change updates the assignment row, and a description absent from the
 * document clears a stored one.
 */
import { auditedTransaction, type AuditedTx } from '../store/audited.js';
import type { Store } from '../store/db.js';
import { BadRequestError } from '../store/repo-errors.js';
import { parsePolicyDocument, type PolicyDocumentError } from './document.js';
import { applyPlan, failureOf } from './yaml-import-apply.js';
import {
  planImport,
  plannedAction,
  plannedVersion,
  type PlannedAction,
  type PolicyPlan,
} from './yaml-import-plan.js';

export interface ImportedPolicy {
  name: string;
  action: PlannedAction;
  /** Null for a policy that was not (or not yet) created: dry run, or a failed import. */
  id: string | null;
  /** The version after the import; only for `created` and `updated`. */
  version?: number;
}

export interface ImportReport {
  dry_run: boolean;
  summary: {
    created: number;
    updated: number;
    unchanged: number;
    assignments_added: number;
    assignments_removed: number;
  };
  policies: ImportedPolicy[];
  /** Non-empty = nothing was written (HTTP 422 with this report). */
  errors: PolicyDocumentError[];
}

/** The document as a whole is unusable (not YAML, wrong version, no `policies`): HTTP 400 `{"error": message}`. */
export class PolicyDocumentRejected extends BadRequestError {}

/** Thrown by `importPoliciesInTransaction` when an entry has errors; the report lists them. */
export class PolicyImportFailed extends Error {
  constructor(readonly report: ImportReport) {
    const [first] = report.errors;
    super(first ? `policies[${first.index}].${first.field}: ${first.error}` : 'policy import failed');
    this.name = 'PolicyImportFailed';
  }
}

/** Carries the report out of a transaction that must not commit. */
class RollBack extends Error {
  constructor(readonly report: ImportReport) {
    super('policy import rolled back');
  }
}

export async function importPolicies(
  store: Store,
  actorId: string,
  yamlText: string,
  options: { dryRun?: boolean } = {},
): Promise<ImportReport> {
  const dryRun = options.dryRun ?? false;
  const parsed = parseDocument(yamlText);
  try {
    return await auditedTransaction(store, actorId, async (tx) => {
      const report = await runImport(tx, parsed, dryRun);
      const changed = report.summary.created + report.summary.updated > 0;
      if (dryRun || report.errors.length > 0 || !changed) throw new RollBack(report);
      return report;
    });
  } catch (error) {
    if (error instanceof RollBack) return error.report;
    throw error;
  }
}

/**
 * The import inside a caller's audited transaction (the demo seed). Throws
 * PolicyDocumentRejected or PolicyImportFailed; the caller's transaction
 * then rolls back with everything else it did.
 */
export async function importPoliciesInTransaction(tx: AuditedTx, yamlText: string): Promise<ImportReport> {
  const report = await runImport(tx, parseDocument(yamlText), false);
  if (report.errors.length > 0) throw new PolicyImportFailed(report);
  return report;
}

type ParsedDocument = Extract<ReturnType<typeof parsePolicyDocument>, { ok: true }>;

function parseDocument(yamlText: string): ParsedDocument {
  const parsed = parsePolicyDocument(yamlText);
  if (!parsed.ok) throw new PolicyDocumentRejected(parsed.error);
  return parsed;
}

async function runImport(tx: AuditedTx, parsed: ParsedDocument, dryRun: boolean): Promise<ImportReport> {
  const { plans, errors: planErrors } = await planImport(tx.db, withDocumentIndexes(parsed));
  const errors = [...parsed.errors, ...planErrors];
  const outcomes = new Map<PolicyPlan, { id: string; version: number }>();
  if (errors.length === 0) {
    for (const plan of plans) {
      const failure = await applyPlan(tx, plan).then(
        (outcome) => void outcomes.set(plan, outcome),
        (error: unknown) => failureOf(plan, error),
      );
      if (failure) {
        errors.push(failure);
        break; // The transaction is rolled back; on PostgreSQL it may already be aborted.
      }
    }
  }
  return buildReport(plans, outcomes, errors, dryRun);
}

/**
 * The parser drops entries with errors and keeps the others in order; every
 * dropped entry has at least one error, so the valid entries' document
 * positions are the positions no error names.
 */
function withDocumentIndexes(parsed: ParsedDocument) {
  const invalid = new Set(parsed.errors.map((e) => e.index));
  const entries = [];
  let index = 0;
  for (const entry of parsed.document.policies) {
    while (invalid.has(index)) index++;
    entries.push({ index: index++, entry });
  }
  return entries;
}

function buildReport(
  plans: readonly PolicyPlan[],
  outcomes: ReadonlyMap<PolicyPlan, { id: string; version: number }>,
  errors: PolicyDocumentError[],
  dryRun: boolean,
): ImportReport {
  const uncommitted = dryRun || errors.length > 0;
  const summary = { created: 0, updated: 0, unchanged: 0, assignments_added: 0, assignments_removed: 0 };
  const policies = plans.map((plan): ImportedPolicy => {
    const action = plannedAction(plan);
    summary[action]++;
    summary.assignments_added += plan.add.length;
    summary.assignments_removed += plan.remove.length;
    const outcome = outcomes.get(plan);
    const id = action === 'created' ? (uncommitted ? null : (outcome?.id ?? null)) : plan.stored!.id;
    const report: ImportedPolicy = { name: plan.entry.name, action, id };
    if (action !== 'unchanged') report.version = outcome?.version ?? plannedVersion(plan);
    return report;
  });
  errors.sort((a, b) => a.index - b.index);
  return { dry_run: dryRun, summary, policies, errors };
}
