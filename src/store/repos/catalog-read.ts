/**
 * Reads of the stored catalog: the full tree for the API (§4.8 GET catalog)
 * and the selected allow-list the proxy exposes. Schemas and tables are
 * ordered by name and columns by ordinal position (BR leaves it unspecified;
 * a stable order keeps the UI and tests deterministic).
 */
import type { Kysely } from 'kysely';
import { NotFoundError } from '../repo-errors.js';
import type { Database } from '../schema.js';
import { fromFlag } from '../values.js';
import { requireDataSource } from './datasources.js';

export interface StoredColumn {
  id: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  is_nullable: boolean;
  column_default: string | null;
  arrow_type: string | null;
  is_selected: boolean;
}

export interface StoredTable {
  id: string;
  table_name: string;
  table_type: string;
  is_selected: boolean;
  columns: StoredColumn[];
}

export interface StoredSchema {
  id: string;
  schema_name: string;
  schema_alias: string | null;
  is_selected: boolean;
  tables: StoredTable[];
}

/** Exactly the §4.8 response body. */
export interface StoredCatalog {
  schemas: StoredSchema[];
}

export interface SelectedColumn {
  id: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  udt_name: string | null;
  is_nullable: boolean;
  arrow_type: string;
}

export interface SelectedTable {
  id: string;
  table_name: string;
  table_type: string;
  columns: SelectedColumn[];
}

export interface SelectedSchema {
  id: string;
  /** Upstream name: what rewritten SQL uses and what policy targets match. */
  schema_name: string;
  /** Name shown to SQL clients: the alias when set, else the upstream name. */
  effective_name: string;
  tables: SelectedTable[];
}

export interface SelectedCatalog {
  data_source_id: string;
  schemas: SelectedSchema[];
}

/** A catalog table with its schema, for relationship and anchor checks. */
export interface CatalogTableRef {
  id: string;
  table_name: string;
  table_type: string;
  schema_id: string;
  schema_name: string;
  schema_alias: string | null;
  data_source_id: string;
}

async function loadRows(db: Kysely<Database>, dataSourceId: string, selectedOnly: boolean) {
  const schemas = await db
    .selectFrom('discovered_schema')
    .selectAll()
    .where('data_source_id', '=', dataSourceId)
    .$if(selectedOnly, (q) => q.where('is_selected', '=', 1))
    .orderBy('schema_name')
    .execute();
  const tables = await db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .selectAll('t')
    .where('s.data_source_id', '=', dataSourceId)
    .$if(selectedOnly, (q) => q.where('t.is_selected', '=', 1))
    .orderBy('t.table_name')
    .execute();
  const columns = await db
    .selectFrom('discovered_column as c')
    .innerJoin('discovered_table as t', 't.id', 'c.discovered_table_id')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .selectAll('c')
    .where('s.data_source_id', '=', dataSourceId)
    .$if(selectedOnly, (q) => q.where('c.is_selected', '=', 1).where('c.arrow_type', 'is not', null))
    .orderBy('c.ordinal_position')
    .orderBy('c.column_name')
    .execute();
  return { schemas, tables, columns };
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const item of items) {
    const list = map.get(key(item));
    if (list) list.push(item);
    else map.set(key(item), [item]);
  }
  return map;
}

/** Every stored row, selected or not (§4.8). NotFoundError when the data source does not exist. */
export async function getCatalog(db: Kysely<Database>, dataSourceId: string): Promise<StoredCatalog> {
  await requireDataSource(db, dataSourceId);
  const rows = await loadRows(db, dataSourceId, false);
  const columnsByTable = groupBy(rows.columns, (c) => c.discovered_table_id);
  const tablesBySchema = groupBy(rows.tables, (t) => t.discovered_schema_id);
  return {
    schemas: rows.schemas.map((s) => ({
      id: s.id,
      schema_name: s.schema_name,
      schema_alias: s.schema_alias,
      is_selected: fromFlag(s.is_selected),
      tables: (tablesBySchema.get(s.id) ?? []).map((t) => ({
        id: t.id,
        table_name: t.table_name,
        table_type: t.table_type,
        is_selected: fromFlag(t.is_selected),
        columns: (columnsByTable.get(t.id) ?? []).map((c) => ({
          id: c.id,
          column_name: c.column_name,
          ordinal_position: c.ordinal_position,
          data_type: c.data_type,
          is_nullable: fromFlag(c.is_nullable),
          column_default: c.column_default,
          arrow_type: c.arrow_type,
          is_selected: fromFlag(c.is_selected),
        })),
      })),
    })),
  };
}

/**
 * What the proxy exposes: selected schemas → selected tables → selected
 * columns with a known arrow_type (null = unsupported type, never exposed,
 * §5.6). A table whose columns are all filtered out is still listed, with
 * no columns; the caller decides how to present it.
 */
export async function loadSelectedCatalog(
  db: Kysely<Database>,
  dataSourceId: string,
): Promise<SelectedCatalog> {
  await requireDataSource(db, dataSourceId);
  const rows = await loadRows(db, dataSourceId, true);
  const columnsByTable = groupBy(rows.columns, (c) => c.discovered_table_id);
  const tablesBySchema = groupBy(rows.tables, (t) => t.discovered_schema_id);
  return {
    data_source_id: dataSourceId,
    schemas: rows.schemas.map((s) => ({
      id: s.id,
      schema_name: s.schema_name,
      effective_name: s.schema_alias ? s.schema_alias : s.schema_name,
      tables: (tablesBySchema.get(s.id) ?? []).map((t) => ({
        id: t.id,
        table_name: t.table_name,
        table_type: t.table_type,
        columns: (columnsByTable.get(t.id) ?? []).map((c) => ({
          id: c.id,
          column_name: c.column_name,
          ordinal_position: c.ordinal_position,
          data_type: c.data_type,
          udt_name: c.udt_name,
          is_nullable: fromFlag(c.is_nullable),
          arrow_type: c.arrow_type as string,
        })),
      })),
    })),
  };
}

export async function findCatalogTable(
  db: Kysely<Database>,
  id: string,
): Promise<CatalogTableRef | undefined> {
  return db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select([
      't.id',
      't.table_name',
      't.table_type',
      's.id as schema_id',
      's.schema_name',
      's.schema_alias',
      's.data_source_id',
    ])
    .where('t.id', '=', id)
    .executeTakeFirst();
}

/** 404 `Table not found` / `Table not found in this datasource` (relationships and anchors). */
export async function requireDataSourceTable(
  db: Kysely<Database>,
  dataSourceId: string,
  tableIdValue: string,
): Promise<CatalogTableRef> {
  const table = await findCatalogTable(db, tableIdValue);
  if (!table) throw new NotFoundError('Table not found');
  if (table.data_source_id !== dataSourceId) throw new NotFoundError('Table not found in this datasource');
  return table;
}

/** Exact, case-sensitive column lookup in the stored catalog; selection state is irrelevant. */
export async function tableHasColumn(
  db: Kysely<Database>,
  tableIdValue: string,
  column: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('discovered_column')
    .select('id')
    .where('discovered_table_id', '=', tableIdValue)
    .where('column_name', '=', column)
    .executeTakeFirst();
  return row !== undefined;
}
