/**
 * `GET /datasources/{id}/fk-suggestions` (api-contract §4.9): single-column
 * foreign keys read live from the upstream whose referenced column is a
 * primary key or a single-column unique index (non-partial), with both ends
 * among the selected tables of selected schemas of the stored catalog.
 * Nothing is stored. `already_added` tells whether a relationship with the
 * same four endpoints exists. Ordered by child schema, table, column, then
 * parent schema and table (then the constraint name, for a stable answer).
 */
import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import { toFlag } from '../../store/values.js';

export interface FkSuggestion {
  child_table_id: string;
  child_schema_name: string;
  child_table_name: string;
  child_column_name: string;
  parent_table_id: string;
  parent_schema_name: string;
  parent_table_name: string;
  parent_column_name: string;
  fk_constraint_name: string;
  already_added: boolean;
}

interface ForeignKeyRow {
  fk_constraint_name: string;
  child_schema: string;
  child_table: string;
  child_column: string;
  parent_schema: string;
  parent_table: string;
  parent_column: string;
}

const FOREIGN_KEYS = `
  SELECT c.conname AS fk_constraint_name,
         cn.nspname AS child_schema, cc.relname AS child_table, ca.attname AS child_column,
         pn.nspname AS parent_schema, pc.relname AS parent_table, pa.attname AS parent_column
    FROM pg_catalog.pg_constraint c
    JOIN pg_catalog.pg_class cc ON cc.oid = c.conrelid
    JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
    JOIN pg_catalog.pg_class pc ON pc.oid = c.confrelid
    JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
    JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1]
    JOIN pg_catalog.pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
   WHERE c.contype = 'f'
     AND cardinality(c.conkey) = 1
     AND cn.nspname = ANY($1::text[])
     AND pn.nspname = ANY($1::text[])
     AND EXISTS (
       SELECT 1 FROM pg_catalog.pg_index i
        WHERE i.indrelid = c.confrelid
          AND (i.indisprimary OR i.indisunique)
          AND i.indnkeyatts = 1
          AND i.indkey[0] = c.confkey[1]
          AND i.indpred IS NULL)`;

const tableKey = (schema: string, table: string) => `${schema}\u0000${table}`;

/** Selected tables of selected schemas: (upstream schema, table) → table id. */
async function selectedTables(db: Kysely<Database>, dataSourceId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select(['t.id', 't.table_name', 's.schema_name'])
    .where('s.data_source_id', '=', dataSourceId)
    .where('s.is_selected', '=', toFlag(true))
    .where('t.is_selected', '=', toFlag(true))
    .execute();
  return new Map(rows.map((r) => [tableKey(r.schema_name, r.table_name), r.id]));
}

/** True when the stored catalog has something to suggest for (else no upstream contact is needed). */
export async function hasSelectedTables(db: Kysely<Database>, dataSourceId: string): Promise<boolean> {
  return (await selectedTables(db, dataSourceId)).size > 0;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export async function listFkSuggestions(
  db: Kysely<Database>,
  dataSourceId: string,
  upstream: pg.ClientBase,
): Promise<FkSuggestion[]> {
  const tables = await selectedTables(db, dataSourceId);
  if (tables.size === 0) return [];
  const schemas = [...new Set([...tables.keys()].map((k) => k.split('\u0000')[0] as string))];
  const { rows } = await upstream.query<ForeignKeyRow>(FOREIGN_KEYS, [schemas]);
  const existing = await db
    .selectFrom('table_relationship')
    .select(['child_table_id', 'child_column_name', 'parent_table_id', 'parent_column_name'])
    .where('data_source_id', '=', dataSourceId)
    .execute();
  const added = new Set(
    existing.map((r) =>
      [r.child_table_id, r.child_column_name, r.parent_table_id, r.parent_column_name].join('\u0000'),
    ),
  );
  const suggestions: FkSuggestion[] = [];
  for (const fk of rows) {
    const childId = tables.get(tableKey(fk.child_schema, fk.child_table));
    const parentId = tables.get(tableKey(fk.parent_schema, fk.parent_table));
    if (childId === undefined || parentId === undefined) continue;
    suggestions.push({
      child_table_id: childId,
      child_schema_name: fk.child_schema,
      child_table_name: fk.child_table,
      child_column_name: fk.child_column,
      parent_table_id: parentId,
      parent_schema_name: fk.parent_schema,
      parent_table_name: fk.parent_table,
      parent_column_name: fk.parent_column,
      fk_constraint_name: fk.fk_constraint_name,
      already_added: added.has([childId, fk.child_column, parentId, fk.parent_column].join('\u0000')),
    });
  }
  const order = (s: FkSuggestion) => [
    s.child_schema_name,
    s.child_table_name,
    s.child_column_name,
    s.parent_schema_name,
    s.parent_table_name,
    s.fk_constraint_name,
  ];
  return suggestions.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) {
      const c = compare(x[i] as string, y[i] as string);
      if (c !== 0) return c;
    }
    return 0;
  });
}
