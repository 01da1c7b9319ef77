/**
 * `sync_catalog` (api-contract §8.6): compares the stored selection with the
 * upstream, refreshes column metadata, and records the drift report on the
 * data source (`last_sync_at`, `last_sync_result`).
 *
 * Only the selected part of the stored catalog is compared. Tables and
 * schemas are never added or removed by a sync — new ones are only reported,
 * so nothing new becomes visible through the proxy without an explicit
 * save_catalog. New columns of selected tables are the contract's exception:
 * they are inserted selected (BR behaviour). Columns that disappeared upstream
 * are neither reported nor removed. All writes, and an audit row holding the
 * report, commit in one transaction.
 *
 * Live columns get their arrow type from the same discovery and mapping as
 * save_catalog (`arrowTypeForColumn`, enums and domains included), so an
 * unchanged upstream reports no changed column. A catalog saved before enums
 * and domains were mapped holds null for them: its first sync reports those
 * columns once (their arrow type changed, and a selected one becomes exposed).
 */
import { auditedTransaction } from '../store/audited.js';
import { columnId } from '../store/ids.js';
import { requireDataSource } from '../store/repos/datasources.js';
import { arrowTypeForColumn } from '../store/repos/catalog-types.js';
import { nowTimestamp } from '../store/time.js';
import { toFlag } from '../store/values.js';
import { discoverColumns, discoverSchemas, discoverTables, type UpstreamColumn } from './discover.js';
import { checkCancelled, type ActionContext } from './job-actions.js';
import type { DriftReport } from './job-types.js';

interface StoredTableRow {
  id: string;
  schema_name: string;
  table_name: string;
}

interface StoredColumnRow {
  id: string;
  discovered_table_id: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  udt_name: string | null;
  is_nullable: number;
  column_default: string | null;
  arrow_type: string | null;
}

const key = (...parts: string[]) => JSON.stringify(parts);

export async function runSyncCatalog(ctx: ActionContext): Promise<DriftReport> {
  const db = ctx.store.db;
  const schemas = await db
    .selectFrom('discovered_schema')
    .select(['id', 'schema_name'])
    .where('data_source_id', '=', ctx.dataSourceId)
    .where('is_selected', '=', 1)
    .orderBy('schema_name')
    .execute();
  const tables: StoredTableRow[] = await db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select(['t.id', 's.schema_name', 't.table_name'])
    .where('s.data_source_id', '=', ctx.dataSourceId)
    .where('s.is_selected', '=', 1)
    .where('t.is_selected', '=', 1)
    .orderBy('s.schema_name')
    .orderBy('t.table_name')
    .execute();

  const { liveSchemas, liveTables } = await ctx.upstream(async (client) => {
    ctx.progress('querying', 'Comparing schemas and tables with the upstream');
    return {
      liveSchemas: (await discoverSchemas(client)).map((s) => s.schema_name),
      liveTables: await discoverTables(
        client,
        schemas.map((s) => s.schema_name),
      ),
    };
  });
  const liveSchemaSet = new Set(liveSchemas);
  const selectedSchemaSet = new Set(schemas.map((s) => s.schema_name));
  const liveTableSet = new Set(liveTables.map((t) => key(t.schema_name, t.table_name)));
  const selectedTableSet = new Set(tables.map((t) => key(t.schema_name, t.table_name)));

  const kept = tables.filter((t) => liveTableSet.has(key(t.schema_name, t.table_name)));
  const report: DriftReport = {
    added_schemas: liveSchemas.filter((s) => !selectedSchemaSet.has(s)),
    removed_schemas: schemas.map((s) => s.schema_name).filter((s) => !liveSchemaSet.has(s)),
    added_tables: liveTables
      .filter((t) => !selectedTableSet.has(key(t.schema_name, t.table_name)))
      .map((t) => `${t.schema_name}.${t.table_name}`),
    removed_tables: tables
      .filter((t) => !liveTableSet.has(key(t.schema_name, t.table_name)))
      .map((t) => `${t.schema_name}.${t.table_name}`),
    changed_columns: [],
    has_breaking_changes: false,
  };
  report.has_breaking_changes = report.removed_schemas.length > 0 || report.removed_tables.length > 0;

  const liveColumns = await ctx.upstream((client) => {
    ctx.progress('querying', `Comparing columns of ${kept.length} table(s)`);
    return discoverColumns(
      client,
      kept.map((t) => ({ schema: t.schema_name, table: t.table_name })),
    );
  });
  const storedColumns: StoredColumnRow[] =
    kept.length === 0
      ? []
      : await db
          .selectFrom('discovered_column')
          .select([
            'id',
            'discovered_table_id',
            'column_name',
            'ordinal_position',
            'data_type',
            'udt_name',
            'is_nullable',
            'column_default',
            'arrow_type',
          ])
          .where(
            'discovered_table_id',
            'in',
            kept.map((t) => t.id),
          )
          .execute();
  const { updates, inserts } = compareColumns(kept, liveColumns, storedColumns, report);
  checkCancelled(ctx.signal);

  ctx.progress('saving', 'Recording the drift report');
  await auditedTransaction(ctx.store, ctx.actorId, async (tx) => {
    await requireDataSource(tx.db, ctx.dataSourceId);
    const now = nowTimestamp();
    for (const { id, values } of updates) {
      await tx.db.updateTable('discovered_column').set(values).where('id', '=', id).execute();
    }
    for (const row of inserts) {
      // A concurrent save may have inserted it meanwhile: keep that row.
      await tx.db
        .insertInto('discovered_column')
        .values({ ...row, discovered_at: now })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    await tx.db
      .updateTable('data_source')
      .set({ last_sync_at: now, last_sync_result: JSON.stringify(report) })
      .where('id', '=', ctx.dataSourceId)
      .execute();
    tx.audit({
      resourceType: 'datasource',
      resourceId: ctx.dataSourceId,
      action: 'sync_catalog',
      changes: report,
    });
    checkCancelled(ctx.signal);
  });
  return report;
}

type ColumnValues = Omit<StoredColumnRow, 'id' | 'discovered_table_id' | 'column_name'>;

/** §8.6 step 6; fills `report.changed_columns` in discovery order. */
function compareColumns(
  kept: readonly StoredTableRow[],
  live: readonly UpstreamColumn[],
  stored: readonly StoredColumnRow[],
  report: DriftReport,
) {
  const tableIds = new Map(kept.map((t) => [key(t.schema_name, t.table_name), t.id]));
  const storedByKey = new Map(stored.map((c) => [key(c.discovered_table_id, c.column_name), c]));
  const updates: { id: string; values: ColumnValues }[] = [];
  const inserts: (ColumnValues & {
    id: string;
    discovered_table_id: string;
    column_name: string;
    is_selected: number;
  })[] = [];
  for (const c of live) {
    const tableId = tableIds.get(key(c.schema_name, c.table_name));
    if (!tableId) continue;
    const values: ColumnValues = {
      ordinal_position: c.ordinal_position,
      data_type: c.data_type,
      udt_name: c.udt_name,
      is_nullable: toFlag(c.is_nullable),
      column_default: c.column_default,
      arrow_type: arrowTypeForColumn(c),
    };
    const name = `${c.schema_name}.${c.table_name}.${c.column_name}`;
    const old = storedByKey.get(key(tableId, c.column_name));
    if (!old) {
      inserts.push({
        ...values,
        id: columnId(tableId, c.column_name),
        discovered_table_id: tableId,
        column_name: c.column_name,
        is_selected: 1,
      });
      report.changed_columns.push(`${name} (new)`);
      continue;
    }
    const reported =
      old.data_type !== values.data_type ||
      old.is_nullable !== values.is_nullable ||
      old.arrow_type !== values.arrow_type;
    if (reported) report.changed_columns.push(name);
    // Metadata that is not reported (position, default, type name) is refreshed silently.
    const refreshed =
      reported ||
      old.ordinal_position !== values.ordinal_position ||
      old.udt_name !== values.udt_name ||
      old.column_default !== values.column_default;
    if (refreshed) updates.push({ id: old.id, values });
  }
  return { updates, inserts };
}
