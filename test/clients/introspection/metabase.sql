-- Metabase (PostgreSQL driver, src/metabase/driver/postgres.clj, and the JDBC sync of
-- metabase.driver.sql-jdbc.sync): the queries of a database sync — describe-database (tables with
-- comments; the row-count estimate from pg_stat_user_tables is left out: statistics are refused by
-- design, issue 6), enum-types, describe-fields and describe-fks. Written from Metabase's
-- open-source driver code (no network here), with its HoneySQL rendered to plain SQL.
-- Format: see psql15-tab-completion.sql.

-- name: describe_database
-- expect: customers, orders, order_summary, stock_items
-- expect-open: zz_hidden_table
SELECT n.nspname AS "schema", c.relname AS "name",
       CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW'
                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type",
       d.description AS "description"
FROM pg_catalog.pg_class c
INNER JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid
LEFT JOIN pg_catalog.pg_description d ON c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass
WHERE c.relkind IN ('r', 'p', 'v', 'f', 'm')
  AND n.nspname !~ '^information_schema$' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND pg_catalog.has_schema_privilege(n.nspname, 'USAGE')
  AND (pg_catalog.has_table_privilege(quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'SELECT')
       OR pg_catalog.has_any_column_privilege(quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'SELECT'))
ORDER BY "schema", "name";

-- name: enum_types
-- expect: order_status
SELECT nspname AS "schema", typname AS "type"
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e);

-- name: describe_fields
-- expect: email, region, customer_id, order_status
-- expect-open: zz_secret_col
SELECT c.column_name AS "name",
       CASE WHEN c.udt_schema IN ('public', 'pg_catalog') THEN format('%s', c.udt_name)
            ELSE format('"%s"."%s"', c.udt_schema, c.udt_name) END AS "database-type",
       c.ordinal_position - 1 AS "database-position",
       c.table_schema AS "table-schema", c.table_name AS "table-name",
       pk.column_name IS NOT NULL AS "pk?",
       col_description(pc.oid, c.ordinal_position::int) AS "field-comment",
       ((column_default IS NULL OR lower(column_default) = 'null') AND is_nullable = 'NO'
        AND NOT ((c.column_default IS NOT NULL AND c.column_default LIKE '%nextval(%') OR c.is_identity <> 'NO')) AS "database-required",
       ((c.column_default IS NOT NULL AND c.column_default LIKE '%nextval(%') OR c.is_identity <> 'NO') AS "database-is-auto-increment"
FROM information_schema.columns c
JOIN pg_catalog.pg_namespace pn ON pn.nspname = c.table_schema
JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = c.table_name
LEFT JOIN (SELECT tc.table_schema, tc.table_name, kc.column_name
             FROM information_schema.table_constraints tc
             JOIN information_schema.key_column_usage kc
               ON tc.constraint_name = kc.constraint_name AND tc.table_schema = kc.table_schema AND tc.table_name = kc.table_name
            WHERE tc.constraint_type = 'PRIMARY KEY') pk
  ON c.table_schema = pk.table_schema AND c.table_name = pk.table_name AND c.column_name = pk.column_name
WHERE c.table_schema !~ '^information_schema|catalog_history|pg_'
ORDER BY "table-schema", "table-name", "database-position";

-- name: describe_fks
-- expect: customers, customer_id
-- expect-open: zz_hidden_table
SELECT fk_ns.nspname AS "fk-table-schema", fk_table.relname AS "fk-table-name", fk_column.attname AS "fk-column-name",
       pk_ns.nspname AS "pk-table-schema", pk_table.relname AS "pk-table-name", pk_column.attname AS "pk-column-name"
FROM pg_constraint c
JOIN pg_class fk_table ON c.conrelid = fk_table.oid
JOIN pg_namespace fk_ns ON c.connamespace = fk_ns.oid
JOIN pg_attribute fk_column ON c.conrelid = fk_column.attrelid
JOIN pg_class pk_table ON c.confrelid = pk_table.oid
JOIN pg_namespace pk_ns ON pk_table.relnamespace = pk_ns.oid
JOIN pg_attribute pk_column ON c.confrelid = pk_column.attrelid
WHERE c.contype = 'f' AND fk_column.attnum = ANY(c.conkey) AND pk_column.attnum = ANY(c.confkey)
  AND fk_ns.nspname !~ '^information_schema|catalog_history|pg_'
ORDER BY "fk-table-schema", "fk-table-name";

-- name: table_privileges
-- expect: customers
SELECT n.nspname AS "schema", c.relname AS "table",
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS "select",
       pg_catalog.has_table_privilege(c.oid, 'UPDATE') AS "update",
       pg_catalog.has_table_privilege(c.oid, 'INSERT') AS "insert",
       pg_catalog.has_table_privilege(c.oid, 'DELETE') AS "delete"
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema';
