/**
 * `GET /policies/{id}/anchor-coverage` (api-contract §4.10, §6.4): for a row
 * filter, how each referenced column resolves on every stored table (selected
 * or not) its targets match, on every data source it is assigned to. The
 * classification is the policy module's (`anchorCoverage` in
 * policy/anchors.ts, the same walk the data plane runs); this module reads
 * each data source's stored catalog, relationships and anchors into the
 * index it works on, and adds the data source to each entry.
 */
import type { Kysely } from 'kysely';
import { anchorCoverage, type CoverageVerdict } from '../../policy/anchors.js';
import { indexCatalog } from '../../policy/catalog-index.js';
import type { CatalogSchemaInput } from '../../policy/inputs.js';
import { toAnchorInputs } from '../../policy/load.js';
import { loadPolicyParser } from '../../policy/resolve-expr.js';
import type { TargetEntry } from '../../policy/targets.js';
import { InvalidError } from '../../store/repo-errors.js';
import { getCatalog } from '../../store/repos/catalog-read.js';
import { listColumnAnchors } from '../../store/repos/column-anchors.js';
import { requirePolicyRow } from '../../store/repos/policy-read.js';
import { listRelationships } from '../../store/repos/relationships.js';
import type { Database } from '../../store/schema.js';
import { parseJson } from '../../store/values.js';

export interface CoverageEntry {
  data_source_id: string;
  data_source_name: string;
  schema: string;
  schema_upstream: string;
  table: string;
  verdicts: CoverageVerdict[];
}

export interface AnchorCoverage {
  policy_id: string;
  policy_type: string;
  coverage: CoverageEntry[];
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The data source's stored catalog and anchors, as the policy module's index wants them. */
async function loadIndexInputs(db: Kysely<Database>, dataSourceId: string) {
  const [catalog, anchors, relationships] = await Promise.all([
    getCatalog(db, dataSourceId),
    listColumnAnchors(db, dataSourceId),
    listRelationships(db, dataSourceId),
  ]);
  const tables = new Map<string, { schema: string; table: string }>();
  const schemas: CatalogSchemaInput[] = catalog.schemas.map((s) => ({
    name: s.schema_name,
    alias: s.schema_alias,
    selected: s.is_selected,
    tables: s.tables.map((t) => {
      tables.set(t.id, { schema: s.schema_name, table: t.table_name });
      return {
        name: t.table_name,
        tableType: t.table_type,
        selected: t.is_selected,
        columns: t.columns.map((c) => ({ name: c.column_name, udtName: null, ordinal: c.ordinal_position })),
      };
    }),
  }));
  const anchorInputs = toAnchorInputs(anchors, tables, relationships);
  return indexCatalog(schemas, anchorInputs);
}

/** 404 `Policy not found`; 422 for a row filter without a parsable expression. */
export async function policyAnchorCoverage(db: Kysely<Database>, policyId: string): Promise<AnchorCoverage> {
  const policy = await requirePolicyRow(db, policyId);
  const result: AnchorCoverage = { policy_id: policy.id, policy_type: policy.policy_type, coverage: [] };
  if (policy.policy_type !== 'row_filter') return result;
  const definition = parseJson<unknown>(policy.definition, null);
  const expression =
    typeof definition === 'object' && definition !== null
      ? (definition as Record<string, unknown>).filter_expression
      : undefined;
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new InvalidError('definition.filter_expression', 'row_filter policy is missing filter_expression');
  }
  await loadPolicyParser();
  const targets = parseJson<TargetEntry[]>(policy.targets, []);
  // Parse once up front: a broken filter is a 422 even when the policy is assigned nowhere.
  const parsed = anchorCoverage(indexCatalog([], []), targets, expression);
  if (!parsed.ok)
    throw new InvalidError('definition.filter_expression', `filter parse failed: ${parsed.error}`);
  const dataSources = await db
    .selectFrom('policy_assignment as a')
    .innerJoin('data_source as d', 'd.id', 'a.data_source_id')
    .select(['d.id', 'd.name'])
    .distinct()
    .where('a.policy_id', '=', policyId)
    .execute();
  for (const ds of dataSources.sort((a, b) => byCodeUnit(a.name, b.name))) {
    const covered = anchorCoverage(await loadIndexInputs(db, ds.id), targets, expression);
    if (!covered.ok) continue; // cannot happen: the same text parsed above
    for (const entry of covered.coverage) {
      result.coverage.push({
        data_source_id: ds.id,
        data_source_name: ds.name,
        schema: entry.schema,
        schema_upstream: entry.schemaUpstream,
        table: entry.table,
        verdicts: entry.verdicts,
      });
    }
  }
  return result;
}
