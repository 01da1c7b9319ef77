-- psql 15 (Debian 15.x, /usr/lib/postgresql/15/bin/psql) tab-completion queries, captured with
-- log_statement = 'all' on a PostgreSQL 15 server while test/clients/psql_tab_complete.py typed
-- TAB TAB after: SELECT * FROM / SELECT * FROM inventory. / ... WHERE / \d / \dn / \dT / \c / \du /
-- SET search_path TO. The generating code is src/bin/psql/tab-complete.c (Query_for_list_of_*,
-- SchemaQuery). Verbatim, with the empty completion prefix ('%').
-- Format (test/integration/clients-introspection.test.ts): '-- name:' names the next statement,
-- '-- expect:' lists names its result must show to both users, '-- expect-open:' to open_user only
-- ($user = the connected user's name);
-- a statement ends with a line ending in ';'.

-- name: from_relations
-- expect: customers, orders, order_summary, inventory
-- expect-open: zz_hidden_table
SELECT c.relname, NULL::pg_catalog.text FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND (c.relname) LIKE '%' AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog')
UNION ALL
SELECT NULL::pg_catalog.text, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname LIKE '%' AND n.nspname NOT LIKE E'pg\\_%'
LIMIT 1000;

-- name: schema_qualified_relations
-- expect: customers, orders
SELECT c.relname, n.nspname FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND (c.relname) LIKE '%' AND n.nspname = 'public'
LIMIT 1000;

-- name: columns_after_where
-- expect: id, name, email, region
-- expect-open: zz_secret_col
SELECT a.attname, NULL::pg_catalog.text FROM pg_catalog.pg_attribute a, pg_catalog.pg_class c WHERE c.oid = a.attrelid and a.attnum > 0 and not a.attisdropped AND (a.attname) LIKE '%' AND c.relname = 'customers' AND pg_catalog.pg_table_is_visible(c.oid)
LIMIT 1000;

-- name: describe_relations
-- expect: customers, orders_customer_idx
-- expect-open: zz_hidden_table
SELECT c.relname, NULL::pg_catalog.text FROM pg_catalog.pg_class c WHERE (c.relname) LIKE '%' AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog')
UNION ALL
SELECT NULL::pg_catalog.text, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname LIKE '%' AND n.nspname NOT LIKE E'pg\\_%'
LIMIT 1000;

-- name: schemas
-- expect: public, inventory
SELECT nspname FROM pg_catalog.pg_namespace  WHERE nspname LIKE '%'
LIMIT 1000;

-- name: types
-- expect: order_status
SELECT t.typname, NULL::pg_catalog.text FROM pg_catalog.pg_type t WHERE (t.typrelid = 0  OR (SELECT c.relkind = 'c'     FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)) AND t.typname !~ '^_' AND (t.typname) LIKE '%' AND pg_catalog.pg_type_is_visible(t.oid)
UNION ALL
SELECT NULL::pg_catalog.text, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname LIKE '%' AND n.nspname NOT LIKE E'pg\\_%'
LIMIT 1000;

-- name: databases
-- expect: shopdb
SELECT datname FROM pg_catalog.pg_database  WHERE datname LIKE '%'
LIMIT 1000;

-- name: roles
-- expect: $user
 SELECT rolname    FROM pg_catalog.pg_roles   WHERE rolname LIKE '%'
LIMIT 1000;

-- name: search_path_schemas
-- expect: public, inventory
SELECT nspname FROM pg_catalog.pg_namespace  WHERE nspname LIKE '%' AND nspname NOT LIKE E'pg\\_toast%' AND nspname NOT LIKE E'pg\\_temp%'
LIMIT 1000;
