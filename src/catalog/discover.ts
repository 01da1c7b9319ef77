/**
 * Reads an upstream PostgreSQL's schemas, tables and columns (api-contract
 * §8.2–8.4). Read-only queries over information_schema and pg_catalog; the
 * caller owns the connection. Nothing here writes to the admin store.
 *
 * Each column also carries its `BaseType` (domains resolved, the element of
 * arrays, the pg_type kind), which `arrowTypeForColumn` maps: information_schema
 * alone cannot tell an enum from a composite (both `USER-DEFINED`) and names
 * an array of a domain only by the domain's array type (`_mydomain`). It stays
 * inside the server: the discover_columns result lists its fields explicitly.
 */
import type pg from 'pg';
import type { BaseType } from '../store/repos/catalog-types.js';

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
  /** Declared precision and scale of numeric columns (also through domains), null otherwise or when unconstrained. */
  numeric_precision: number | null;
  numeric_scale: number | null;
  /** What the values are, for the arrow type; internal, never in an API response. */
  base_type: BaseType;
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

/**
 * Every domain with the non-domain type it finally rests on, and the typmod
 * that applies (the outermost one declared: `CREATE DOMAIN d AS numeric(10,2)`).
 * Domains cannot form cycles, so the recursion ends.
 */
const DOMAIN_BASES = `domain_chain(oid, base, typmod) AS (
    SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_catalog.pg_type t WHERE t.typtype = 'd'
    UNION ALL
    SELECT d.oid, t.typbasetype, CASE WHEN d.typmod = -1 THEN t.typtypmod ELSE d.typmod END
      FROM domain_chain d JOIN pg_catalog.pg_type t ON t.oid = d.base AND t.typtype = 'd'
  ),
  domain_base AS (
    SELECT d.oid, d.base, d.typmod FROM domain_chain d
      JOIN pg_catalog.pg_type t ON t.oid = d.base AND t.typtype <> 'd'
  )`;

/**
 * From attribute `a`: `st` the column type with domains resolved; `et` its
 * element when `st` is a true array type (int2vector/oidvector are not: their
 * element's array type is another); `bt` what the values are (the element,
 * domains resolved again, for arrays of domains).
 */
const TYPE_JOINS = `
  LEFT JOIN domain_base cd ON cd.oid = a.atttypid
  JOIN pg_catalog.pg_type st ON st.oid = COALESCE(cd.base, a.atttypid)
  LEFT JOIN pg_catalog.pg_type et ON et.oid = st.typelem AND et.typarray = st.oid
  LEFT JOIN domain_base ed ON ed.oid = et.oid
  JOIN pg_catalog.pg_type bt ON bt.oid = COALESCE(ed.base, et.oid, st.oid)
  JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace`;

/** The column's typmod, through domains. */
const TYPMOD = 'COALESCE(NULLIF(a.atttypmod, -1), cd.typmod, -1)';

/** numeric_precision, numeric_scale (PostgreSQL 15's decoding, negative scales included) and base_type. */
const TYPE_COLUMNS = `
  CASE WHEN et.oid IS NULL AND bt.oid = 'pg_catalog.numeric'::pg_catalog.regtype::pg_catalog.oid AND ${TYPMOD} > 0
       THEN ((${TYPMOD} - 4) >> 16) & 65535 END AS numeric_precision,
  CASE WHEN et.oid IS NULL AND bt.oid = 'pg_catalog.numeric'::pg_catalog.regtype::pg_catalog.oid AND ${TYPMOD} > 0
       THEN (((${TYPMOD} - 4) & 2047) # 1024) - 1024 END AS numeric_scale,
  pg_catalog.json_build_object(
    'name', bt.typname,
    'kind', CASE WHEN bt.typtype = 'e' THEN 'enum'
                 WHEN bt.typtype = 'b' AND bn.nspname = 'pg_catalog' THEN 'builtin'
                 WHEN bt.typtype = 'b' THEN 'extension'
                 ELSE 'unsupported' END,
    'is_array', et.oid IS NOT NULL) AS base_type`;

/** Columns of the given tables, ordered by schema, table, ordinal; materialized views last. */
export async function discoverColumns(client: pg.ClientBase, tables: TableRef[]): Promise<UpstreamColumn[]> {
  if (tables.length === 0) return [];
  const schemaNames = tables.map((t) => t.schema);
  const tableNames = tables.map((t) => t.table);
  // information_schema keeps its privilege filter and spellings; pg_attribute gives the type's oid.
  const { rows: regular } = await client.query<UpstreamColumn>(
    `WITH RECURSIVE ${DOMAIN_BASES}
     SELECT c.table_schema AS schema_name, c.table_name, c.column_name,
            c.ordinal_position::int AS ordinal_position, c.data_type, c.udt_name,
            (c.is_nullable = 'YES') AS is_nullable, c.column_default, ${TYPE_COLUMNS}
       FROM information_schema.columns c
       JOIN unnest($1::text[], $2::text[]) AS wanted(s, t)
         ON wanted.s = c.table_schema AND wanted.t = c.table_name
       JOIN pg_catalog.pg_namespace n ON n.nspname = c.table_schema::name
       JOIN pg_catalog.pg_class cl ON cl.relnamespace = n.oid AND cl.relname = c.table_name::name
       JOIN pg_catalog.pg_attribute a ON a.attrelid = cl.oid AND a.attname = c.column_name::name
       ${TYPE_JOINS}
      ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
    [schemaNames, tableNames],
  );
  // information_schema does not list materialized-view columns; read them from pg_attribute.
  const { rows: materialized } = await client.query<UpstreamColumn>(
    `WITH RECURSIVE ${DOMAIN_BASES}
     SELECT n.nspname AS schema_name, cl.relname AS table_name, a.attname AS column_name,
            a.attnum::int AS ordinal_position, pg_catalog.format_type(a.atttypid, NULL) AS data_type,
            t.typname AS udt_name, NOT a.attnotnull AS is_nullable, NULL AS column_default, ${TYPE_COLUMNS}
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class cl ON cl.oid = a.attrelid AND cl.relkind = 'm'
       JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       JOIN unnest($1::text[], $2::text[]) AS wanted(s, t) ON wanted.s = n.nspname AND wanted.t = cl.relname
       ${TYPE_JOINS}
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
