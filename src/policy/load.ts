/**
 * The store adapter of policy resolution: gathers `PolicyInputs` for one
 * (data source, user) pair with the repositories' read functions. The only
 * module of policy/ that touches the store; everything after it is pure.
 *
 * The catalog is read twice on purpose: the full tree (selected or not),
 * because row filters may reference unselected columns and anchors may walk
 * through unselected tables, and the selected view, which decides what can
 * be visible (it also drops columns of unsupported types) and carries the
 * udt names.
 */
import type { Kysely } from 'kysely';
import { NotFoundError } from '../store/repo-errors.js';
import { listUserAttributeDefinitions } from '../store/repos/attributes.js';
import { getCatalog, loadSelectedCatalog } from '../store/repos/catalog-read.js';
import { type ColumnAnchor, listColumnAnchors } from '../store/repos/column-anchors.js';
import { requireDataSource } from '../store/repos/datasources.js';
import { loadEnabledPoliciesForDataSource } from '../store/repos/policy-read.js';
import { listRelationships, type TableRelationship } from '../store/repos/relationships.js';
import { activeRoleClosureForUser } from '../store/repos/roles.js';
import { getUserById } from '../store/repos/users.js';
import type { Database } from '../store/schema.js';
import type { AnchorInput, CatalogSchemaInput, PolicyGate, PolicyInputs } from './inputs.js';

export const USER_NOT_FOUND = 'User not found';

export async function loadPolicyInputs(
  db: Kysely<Database>,
  dataSourceId: string,
  userId: string,
  options: { gate?: PolicyGate } = {},
): Promise<PolicyInputs> {
  const user = await getUserById(db, userId);
  if (!user) throw new NotFoundError(USER_NOT_FOUND);
  const dataSource = await requireDataSource(db, dataSourceId);
  const [roles, policies, definitions, full, selected, anchors, relationships] = await Promise.all([
    activeRoleClosureForUser(db, userId),
    loadEnabledPoliciesForDataSource(db, dataSourceId),
    listUserAttributeDefinitions(db),
    getCatalog(db, dataSourceId),
    loadSelectedCatalog(db, dataSourceId),
    listColumnAnchors(db, dataSourceId),
    listRelationships(db, dataSourceId),
  ]);

  // Visible candidates: exactly what loadSelectedCatalog returns, by column id.
  const selectedColumns = new Map(
    selected.schemas.flatMap((s) => s.tables.flatMap((t) => t.columns.map((c) => [c.id, c] as const))),
  );
  const tableNames = new Map<string, { schema: string; table: string }>();
  const catalog: CatalogSchemaInput[] = full.schemas.map((s) => ({
    name: s.schema_name,
    alias: s.schema_alias,
    selected: s.is_selected,
    tables: s.tables.map((t) => {
      tableNames.set(t.id, { schema: s.schema_name, table: t.table_name });
      return {
        name: t.table_name,
        tableType: t.table_type,
        selected: t.is_selected,
        columns: t.columns.map((c) => ({
          name: c.column_name,
          udtName: selectedColumns.get(c.id)?.udt_name ?? null,
          ordinal: c.ordinal_position,
          selected: selectedColumns.has(c.id),
        })),
      };
    }),
  }));

  const anchorInputs = toAnchorInputs(anchors, tableNames, relationships);

  return {
    dataSource: {
      id: dataSource.id,
      name: dataSource.name,
      accessMode: dataSource.access_mode === 'open' ? 'open' : 'policy_required',
    },
    catalog,
    user: {
      id: user.id,
      username: user.username,
      roleIds: roles.map((r) => r.id),
      attributes: user.attributes,
    },
    policies: policies.map((p) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      policyType: p.policy_type,
      targets: p.targets,
      definition: p.definition,
      enabled: true,
      decisionFunctionId: p.decision_function_id,
      assignments: p.assignments.map((a) => ({
        scope: a.assignment_scope,
        userId: a.user_id,
        roleId: a.role_id,
        priority: a.priority,
      })),
    })),
    attributeDefinitions: definitions.map((d) => ({
      key: d.key,
      valueType: d.value_type,
      defaultValue: d.default_value,
    })),
    anchors: anchorInputs,
    ...(options.gate ? { gate: options.gate } : {}),
  };
}

/**
 * Column anchors as policy resolution wants them: each anchor's child table by
 * name and its relationship (flagged when the anchor names one that is gone).
 * Shared with the API's anchor-coverage report.
 */
export function toAnchorInputs(
  anchors: readonly ColumnAnchor[],
  tableNames: ReadonlyMap<string, { schema: string; table: string }>,
  relationships: readonly TableRelationship[],
): AnchorInput[] {
  const relationshipById = new Map<string, TableRelationship>(relationships.map((r) => [r.id, r]));
  const anchorInputs: AnchorInput[] = [];
  for (const a of anchors) {
    const at = tableNames.get(a.child_table_id);
    if (!at) continue;
    const rel = a.relationship_id === null ? undefined : relationshipById.get(a.relationship_id);
    anchorInputs.push({
      ...at,
      column: a.resolved_column_name,
      actualColumn: a.actual_column_name,
      relationship: rel
        ? {
            id: rel.id,
            childColumn: rel.child_column_name,
            parentSchema: rel.parent_schema_name,
            parentTable: rel.parent_table_name,
            parentColumn: rel.parent_column_name,
          }
        : null,
      relationshipMissing: a.relationship_id !== null && !rel,
    });
  }
  return anchorInputs;
}
