/**
 * The stored catalog of a data source (api-contract §4.8, §5.6, §8.5): the
 * allow-list of schemas, tables and columns the proxy exposes. Ids are
 * deterministic UUIDv5 (ids.ts), so re-discovery keeps them stable and
 * policies, relationships and anchors keep pointing at the same rows.
 *
 * `saveCatalog` does §8.5 in one transaction: the discovery job fetches the
 * upstream columns of the selected tables first and passes them in, so the
 * schema/table upsert, the removals and the column upsert commit together
 * with one audit row. (BR does not audit catalog saves; our audited
 * transaction needs a row for every mutation, which quirk Q18 allows.)
 */
import { sql, type Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { isForeignKeyViolation } from '../errors.js';
import { columnId, schemaId, tableId } from '../ids.js';
import { ConflictError, InvalidError } from '../repo-errors.js';
import type { Database } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { toFlag } from '../values.js';
import { arrowTypeForColumn, type BaseType } from './catalog-types.js';
import { requireDataSource } from './datasources.js';

export { arrowTypeFor, arrowTypeForColumn } from './catalog-types.js';
export type { BaseType } from './catalog-types.js';
export { findCatalogTable, getCatalog, loadSelectedCatalog, tableHasColumn } from './catalog-read.js';
export type { CatalogTableRef, SelectedCatalog, StoredCatalog } from './catalog-read.js';

export interface ColumnSelection {
  column_name: string;
  is_selected: boolean;
}

export interface TableSelection {
  table_name: string;
  table_type: string;
  is_selected: boolean;
  columns?: ColumnSelection[] | null;
}

export interface SchemaSelection {
  schema_name: string;
  schema_alias?: string | null;
  is_selected: boolean;
  tables: TableSelection[];
}

/** A column as discovery reads it from the upstream (information_schema / pg_catalog). */
export interface UpstreamColumn {
  column_name: string;
  ordinal_position: number;
  data_type: string;
  udt_name?: string | null;
  is_nullable: boolean;
  column_default?: string | null;
  numeric_precision?: number | null;
  numeric_scale?: number | null;
  /** Domains resolved, as discovery reports it; without it the udt name alone is mapped (enums → null). */
  base_type?: BaseType | null;
  /** Computed with `arrowTypeForColumn` when absent. */
  arrow_type?: string | null;
}

export interface UpstreamTableColumns {
  schema_name: string;
  table_name: string;
  columns: UpstreamColumn[];
}

/** Counts of rows saved with `is_selected = true`, plus what was removed. */
export interface CatalogSaveResult {
  schemas_selected: number;
  tables_selected: number;
  columns_selected: number;
  schemas_removed: number;
  tables_removed: number;
}

const CHUNK = 500; // rows per multi-row insert: well under SQLite's bound-parameter limit

export async function saveCatalog(
  tx: AuditedTx,
  dataSourceId: string,
  schemas: readonly SchemaSelection[],
  upstream: readonly UpstreamTableColumns[] = [],
): Promise<CatalogSaveResult> {
  await requireDataSource(tx.db, dataSourceId);
  validateSelection(schemas);
  const db = tx.db;
  const now = nowTimestamp();
  const listed = new Map(schemas.map((s) => [schemaId(dataSourceId, s.schema_name), s]));

  const storedTables = await db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select(['t.id', 't.table_name', 's.id as schema_id', 's.schema_name'])
    .where('s.data_source_id', '=', dataSourceId)
    .execute();
  const storedSchemas = await db
    .selectFrom('discovered_schema')
    .select('id')
    .where('data_source_id', '=', dataSourceId)
    .execute();
  const removedSchemaIds = storedSchemas.map((s) => s.id).filter((id) => !listed.has(id));
  const removedTables = storedTables.filter((t) => {
    const schema = listed.get(t.schema_id);
    return !schema || !schema.tables.some((r) => r.table_name === t.table_name);
  });
  await removeTables(db, dataSourceId, removedTables, removedSchemaIds);

  await upsertRows(db, 'discovered_schema', [
    ...[...listed].map(([id, s]) => ({
      id,
      data_source_id: dataSourceId,
      schema_name: s.schema_name,
      schema_alias: s.schema_alias === '' ? null : (s.schema_alias ?? null),
      is_selected: toFlag(s.is_selected),
      discovered_at: now,
    })),
  ]);
  const tableRows = [...listed].flatMap(([sid, s]) =>
    s.tables.map((t) => ({
      id: tableId(sid, t.table_name),
      discovered_schema_id: sid,
      table_name: t.table_name,
      table_type: t.table_type,
      is_selected: toFlag(t.is_selected),
      discovered_at: now,
    })),
  );
  await upsertRows(db, 'discovered_table', tableRows);
  const columnsSelected = await saveColumns(db, dataSourceId, schemas, upstream, now);

  const result: CatalogSaveResult = {
    schemas_selected: schemas.filter((s) => s.is_selected).length,
    tables_selected: schemas.reduce((n, s) => n + s.tables.filter((t) => t.is_selected).length, 0),
    columns_selected: columnsSelected,
    schemas_removed: removedSchemaIds.length,
    tables_removed: removedTables.length,
  };
  tx.audit({
    resourceType: 'datasource',
    resourceId: dataSourceId,
    action: 'save_catalog',
    changes: {
      schemas_selected: result.schemas_selected,
      tables_selected: result.tables_selected,
      columns_selected: result.columns_selected,
    },
  });
  return result;
}

function validateSelection(schemas: readonly SchemaSelection[]): void {
  const effective = new Set<string>();
  const upstreamNames = new Set<string>();
  for (const s of schemas) {
    const name = s.schema_alias ? s.schema_alias : s.schema_name;
    if (effective.has(name)) {
      throw new InvalidError(
        'schemas',
        `Duplicate effective schema name '${name}': each schema must have a unique name or alias`,
      );
    }
    effective.add(name);
    // One schema listed twice would have its second table list delete the first one's tables.
    if (upstreamNames.has(s.schema_name)) {
      throw new InvalidError('schemas', `Duplicate schema '${s.schema_name}' in the selection`);
    }
    upstreamNames.add(s.schema_name);
  }
}

/**
 * Deletes removed tables and schemas. A column anchor on a kept table whose
 * relationship points at a removed table would block the cascade (the
 * anchor→relationship key is RESTRICT, §5.14): refuse with a clear conflict
 * instead of a driver error. Anchors on removed tables go first, explicitly,
 * so the result does not depend on the order the engine cascades in.
 */
async function removeTables(
  db: Kysely<Database>,
  dataSourceId: string,
  tables: readonly { id: string; table_name: string; schema_name: string }[],
  schemaIds: readonly string[],
): Promise<void> {
  const ids = tables.map((t) => t.id);
  if (ids.length > 0) {
    const blocking = await db
      .selectFrom('column_anchor as a')
      .innerJoin('table_relationship as r', 'r.id', 'a.relationship_id')
      .select(['r.parent_table_id', 'r.child_table_id'])
      .where('a.data_source_id', '=', dataSourceId)
      .where('a.child_table_id', 'not in', ids)
      .where((eb) => eb.or([eb('r.parent_table_id', 'in', ids), eb('r.child_table_id', 'in', ids)]))
      .execute();
    const first = blocking[0];
    if (first) {
      const table = tables.find((t) => t.id === first.parent_table_id || t.id === first.child_table_id);
      throw new ConflictError(
        `Cannot remove table '${table?.schema_name}.${table?.table_name}': ${blocking.length} column anchor(s) ` +
          'use a relationship to it; remove the anchors first.',
      );
    }
  }
  try {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      await db.deleteFrom('column_anchor').where('child_table_id', 'in', chunk).execute();
      await db.deleteFrom('discovered_table').where('id', 'in', chunk).execute();
    }
    if (schemaIds.length > 0) await db.deleteFrom('discovered_schema').where('id', 'in', schemaIds).execute();
  } catch (error) {
    if (isForeignKeyViolation(error)) {
      throw new ConflictError(
        'Cannot remove tables that column anchors depend on; remove the anchors first.',
      );
    }
    throw error;
  }
}

/**
 * §8.5 step 3: columns of tables that are selected and whose schema is
 * selected. `is_selected` comes from the request, default true for columns it
 * does not mention. Column rows are never deleted here. For a selected table
 * the job could not read upstream, the request's explicit flags are still
 * applied to the stored rows, so a deselection is never silently dropped.
 */
async function saveColumns(
  db: Kysely<Database>,
  dataSourceId: string,
  schemas: readonly SchemaSelection[],
  upstream: readonly UpstreamTableColumns[],
  now: string,
): Promise<number> {
  const rows = [];
  for (const schema of schemas.filter((s) => s.is_selected)) {
    const sid = schemaId(dataSourceId, schema.schema_name);
    for (const table of schema.tables.filter((t) => t.is_selected)) {
      const tid = tableId(sid, table.table_name);
      const flags = new Map((table.columns ?? []).map((c) => [c.column_name, c.is_selected]));
      const live = upstream.find(
        (u) => u.schema_name === schema.schema_name && u.table_name === table.table_name,
      );
      if (!live) {
        for (const [name, selected] of flags) {
          await db
            .updateTable('discovered_column')
            .set({ is_selected: toFlag(selected) })
            .where('discovered_table_id', '=', tid)
            .where('column_name', '=', name)
            .execute();
        }
        continue;
      }
      for (const c of live.columns) {
        rows.push({
          id: columnId(tid, c.column_name),
          discovered_table_id: tid,
          column_name: c.column_name,
          ordinal_position: c.ordinal_position,
          data_type: c.data_type,
          udt_name: c.udt_name ?? null,
          is_nullable: toFlag(c.is_nullable),
          column_default: c.column_default ?? null,
          arrow_type: c.arrow_type !== undefined ? c.arrow_type : arrowTypeForColumn(c),
          is_selected: toFlag(flags.get(c.column_name) ?? true),
          discovered_at: now,
        });
      }
    }
  }
  await upsertRows(db, 'discovered_column', rows);
  return rows.filter((r) => r.is_selected === 1).length;
}

type CatalogTable = 'discovered_schema' | 'discovered_table' | 'discovered_column';

/** Insert-or-update by id (deterministic), chunked; every column but the id and parent key is refreshed. */
async function upsertRows(
  db: Kysely<Database>,
  table: CatalogTable,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const refreshed = Object.keys(first).filter(
    (k) =>
      k !== 'id' && k !== 'data_source_id' && k !== 'discovered_schema_id' && k !== 'discovered_table_id',
  );
  const set = Object.fromEntries(refreshed.map((k) => [k, sql.ref(`excluded.${k}`)]));
  // The row shapes are built above for exactly these tables; Kysely cannot relate a table union to them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const untyped = db as unknown as Kysely<any>;
  for (let i = 0; i < rows.length; i += CHUNK) {
    await untyped
      .insertInto(table)
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) => oc.column('id').doUpdateSet(set))
      .execute();
  }
}
