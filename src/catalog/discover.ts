/**
 * Reads an upstream PostgreSQL's schemas, tables and columns (api-contract
 * §8.2–8.4). Read-only queries over information_schema and pg_catalog; the
 * caller owns the connection. Nothing here writes to the admin store.
 */
import type pg from 'pg';

export interface UpstreamSchema {
  schema_name: string;
}

export interface UpstreamTable {
  schema_name: string;
  table_name: string;
  /** `TABLE`, `VIEW`, `MATERIALIZED VIEW`, or another information_schema type passed through. */
  table_type: string;
}

export interface UpstreamColumn {
  schema_name: string;
  table_name: string;
  column_name: string;
  ordinal_position: number;
  /** information_schema `data_type` (e.g. `integer`, `ARRAY`), or the type name for materialized views. */
  data_type: string;
  /** pg_type.typname, e.g. `int4`, `numeric`, `_text`. */
  udt_name: string;
  is_nullable: boolean;
  column_default: string | null;
  /** Declared precision and scale of numeric columns, null otherwise or when unconstrained. */
  numeric_precision: number | null;
  numeric_scale: number | null;
}

export interface TableRef {
  schema: string;
  table: string;
}

export async function discoverSchemas(client: pg.ClientBase): Promise<UpstreamSchema[]> {
  const { rows } = await client.query<UpstreamSchema>(
    `SELECT nspname AS schema_name FROM pg_catalog.pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema')
        AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
      ORDER BY nspname`,
  );
  return rows;
}

/** Base and foreign tables as TABLE, views as VIEW, then materialized views (§8.3). */
export async function discoverTables(client: pg.ClientBase, schemas: string[]): Promise<UpstreamTable[]> {
  if (schemas.length === 0) return [];
  const { rows: regular } = await client.query<UpstreamTable>(
    `SELECT table_schema AS schema_name, table_name,
            CASE table_type WHEN 'BASE TABLE' THEN 'TABLE' WHEN 'FOREIGN' THEN 'TABLE'
                            ELSE table_type END AS table_type
       FROM information_schema.tables
      WHERE table_schema = ANY($1::text[])
      ORDER BY table_schema, table_name`,
    [schemas],
  );
  const { rows: materialized } = await client.query<UpstreamTable>(
    `SELECT schemaname AS schema_name, matviewname AS table_name, 'MATERIALIZED VIEW' AS table_type
       FROM pg_catalog.pg_matviews
      WHERE schemaname = ANY($1::text[])
      ORDER BY schemaname, matviewname`,
    [schemas],
  );
  return [...regular, ...materialized];
}

/** Columns of the given tables, ordered by schema, table, ordinal; materialized views last. */
export async function discoverColumns(client: pg.ClientBase, tables: TableRef[]): Promise<UpstreamColumn[]> {
  if (tables.length === 0) return [];
  const schemaNames = tables.map((t) => t.schema);
  const tableNames = tables.map((t) => t.table);
  const { rows: regular } = await client.query<UpstreamColumn>(
    `SELECT c.table_schema AS schema_name, c.table_name, c.column_name,
            c.ordinal_position::int AS ordinal_position, c.data_type, c.udt_name,
            (c.is_nullable = 'YES') AS is_nullable, c.column_default,
            CASE WHEN c.udt_name = 'numeric' THEN c.numeric_precision::int END AS numeric_precision,
            CASE WHEN c.udt_name = 'numeric' THEN c.numeric_scale::int END AS numeric_scale
       FROM information_schema.columns c
       JOIN unnest($1::text[], $2::text[]) AS wanted(s, t)
         ON wanted.s = c.table_schema AND wanted.t = c.table_name
      ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
    [schemaNames, tableNames],
  );
  // information_schema does not list materialized-view columns; read them from pg_attribute.
  const { rows: materialized } = await client.query<UpstreamColumn>(
    `SELECT n.nspname AS schema_name, cl.relname AS table_name, a.attname AS column_name,
            a.attnum::int AS ordinal_position, pg_catalog.format_type(a.atttypid, NULL) AS data_type,
            t.typname AS udt_name, NOT a.attnotnull AS is_nullable, NULL AS column_default,
            CASE WHEN t.typname = 'numeric' AND a.atttypmod > 0
                 THEN ((a.atttypmod - 4) >> 16) & 65535 END AS numeric_precision,
            CASE WHEN t.typname = 'numeric' AND a.atttypmod > 0
                 THEN (a.atttypmod - 4) & 65535 END AS numeric_scale
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class cl ON cl.oid = a.attrelid AND cl.relkind = 'm'
       JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       JOIN unnest($1::text[], $2::text[]) AS wanted(s, t) ON wanted.s = n.nspname AND wanted.t = cl.relname
      WHERE a.attnum > 0 AND NOT a.attisdropped
      ORDER BY n.nspname, cl.relname, a.attnum`,
    [schemaNames, tableNames],
  );
  return [...regular, ...materialized];
}

/** A save_catalog selection of one schema with every table and column selected, plus their columns. */
export interface WholeSchema {
  selection: Array<{
    schema_name: string;
    is_selected: boolean;
    tables: Array<{ table_name: string; table_type: string; is_selected: boolean }>;
  }>;
  columns: Array<{ schema_name: string; table_name: string; columns: UpstreamColumn[] }>;
}

/** Discovers a whole schema as a ready-to-save selection (the demo seed and the benchmarks). */
export async function discoverWholeSchema(client: pg.ClientBase, schema: string): Promise<WholeSchema> {
  const tables = await discoverTables(client, [schema]);
  const columns = await discoverColumns(
    client,
    tables.map((t) => ({ schema: t.schema_name, table: t.table_name })),
  );
  return {
    selection: [
      {
        schema_name: schema,
        is_selected: true,
        tables: tables.map((t) => ({
          table_name: t.table_name,
          table_type: t.table_type,
          is_selected: true,
        })),
      },
    ],
    columns: tables.map((t) => ({
      schema_name: t.schema_name,
      table_name: t.table_name,
      columns: columns.filter((c) => c.schema_name === t.schema_name && c.table_name === t.table_name),
    })),
  };
}
