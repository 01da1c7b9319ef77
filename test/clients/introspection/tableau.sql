-- Tableau Desktop/Server over the PostgreSQL ODBC driver (psqlODBC with UseDeclareFetch=1, Tableau's
-- default): the connection set-up psqlODBC sends, its SQLTables / SQLColumns catalog queries
-- (psqlODBC info.c), and the cursor pattern Tableau reads every result with — BEGIN; DECLARE
-- "SQL_CURxxxx" CURSOR WITH HOLD FOR ...; FETCH n IN ...; CLOSE ...; COMMIT. Written from psqlODBC's
-- open-source code and Tableau's documented cursor behaviour (no network here).
-- The statements run in order on one connection (the cursor outlives its transaction: WITH HOLD).
-- Format: see psql15-tab-completion.sql.

-- name: set_datestyle
SET DateStyle = 'ISO';

-- name: set_extra_float_digits
SET extra_float_digits = 2;

-- name: show_isolation
SHOW transaction_isolation;

-- name: lo_type
SELECT oid, typbasetype FROM pg_type WHERE typname = 'lo';

-- name: sqltables
-- expect: customers, orders, stock_items, order_summary
-- expect-open: zz_hidden_table
SELECT NULL AS "TABLE_CAT", n.nspname AS "TABLE_SCHEM", c.relname AS "TABLE_NAME",
       CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'p' THEN 'TABLE' END AS "TABLE_TYPE",
       d.description AS "REMARKS"
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1')
ORDER BY n.nspname, c.relname;

-- name: sqlcolumns
-- expect: email, region
-- expect-open: zz_secret_col
SELECT n.nspname, c.relname, a.attname, a.atttypid, t.typname, a.attnum, a.attlen, a.atttypmod, a.attnotnull,
       c.relhasrules, c.relkind, c.oid, pg_catalog.pg_get_expr(d.adbin, d.adrelid), 0, a.attidentity
FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c, pg_catalog.pg_type t,
     pg_catalog.pg_attribute a LEFT OUTER JOIN pg_catalog.pg_attrdef d ON a.atthasdef AND d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND (NOT a.attisdropped) AND c.relkind IN ('r', 'v', 'f', 'p', 'm')
  AND c.oid = a.attrelid AND a.atttypid = t.oid AND c.relnamespace = n.oid
  AND c.relname LIKE 'customers' AND n.nspname LIKE 'public'
ORDER BY n.nspname, c.relname, attnum;

-- name: begin
BEGIN;

-- name: declare_cursor_with_hold
DECLARE "SQL_CUR0x7f3a5c00e8b0" CURSOR WITH HOLD FOR SELECT "customers"."name" AS "name", "customers"."email" AS "email", "customers"."region" AS "region" FROM "public"."customers" "customers";

-- name: fetch_first
-- expect: Ada
FETCH 2048 IN "SQL_CUR0x7f3a5c00e8b0";

-- name: commit
COMMIT;

-- name: fetch_after_commit
FETCH 2048 IN "SQL_CUR0x7f3a5c00e8b0";

-- name: close_cursor
CLOSE "SQL_CUR0x7f3a5c00e8b0";

-- name: declare_hidden_column_cursor_star
DECLARE "SQL_CUR0x7f3a5c00e9c0" CURSOR WITH HOLD FOR SELECT * FROM "public"."customers";

-- name: fetch_star
-- expect: region
-- expect-open: zz_secret
FETCH 2048 IN "SQL_CUR0x7f3a5c00e9c0";

-- name: close_star
CLOSE "SQL_CUR0x7f3a5c00e9c0";
