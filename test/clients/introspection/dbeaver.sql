-- DBeaver (PostgreSQL driver, plugin org.jkiss.dbeaver.ext.postgresql): the metadata queries its
-- navigator sends when a connection is opened and a schema is expanded — PostgreDataSource
-- (session info, databases), PostgreDatabase (schemas, data types, roles), PostgreSchema's caches
-- (tables, columns, constraints, foreign keys, indexes, sequences). Written from DBeaver's
-- open-source code (PostgreSchema.TableCache / ConstraintCache / IndexCache, PostgreTableBase,
-- PostgreDataTypeCache), not captured on the wire (no network here): DBeaver binds the schema or
-- table OID as a parameter (?), replaced below by the equivalent subquery.
-- Format: see psql15-tab-completion.sql.

-- name: session
-- expect: public, $user
SELECT current_schema(), session_user;

-- name: server_version
SELECT version();

-- name: database
-- expect: shopdb
SELECT db.oid, db.* FROM pg_catalog.pg_database db WHERE datname = current_database();

-- name: schemas
-- expect: public, inventory
SELECT n.oid, n.*, d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = n.oid AND d.objsubid = 0 AND d.classoid = 'pg_namespace'::regclass
ORDER BY nspname;

-- name: roles
-- expect: $user
SELECT a.oid, a.* FROM pg_catalog.pg_roles a ORDER BY a.oid;

-- name: tables
-- expect: customers, orders, order_summary, Customers of the shop
-- expect-open: zz_hidden_table
SELECT c.oid, c.*, t.relname AS tabrelname, rt.relnamespace AS refnamespace, d.description
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid = c.reloftype
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND c.relkind NOT IN ('i', 'I', 'c');

-- name: columns
-- expect: name, email, region, Contact address
-- expect-open: zz_secret_col
SELECT c.relname, a.*, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) AS def_value, dsc.description
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid = c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid = ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid = dsc.objoid AND a.attnum = dsc.objsubid)
WHERE NOT a.attisdropped AND c.relkind NOT IN ('i', 'I', 'c')
  AND c.oid = (SELECT oid FROM pg_catalog.pg_class WHERE relname = 'customers' AND relnamespace = 'public'::regnamespace)
ORDER BY a.attnum;

-- name: constraints
-- expect: customers_pkey, orders_pkey
SELECT c.oid, c.*, t.relname AS tabrelname,
       CASE WHEN c.contype = 'c' THEN substr(pg_catalog.pg_get_constraintdef(c.oid), 7) ELSE NULL END AS consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
WHERE t.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND c.contype <> 'f'
ORDER BY c.oid;

-- name: foreign_keys
-- expect: orders_customer_id_fkey
-- expect-open: zz_hidden_table_customer_id_fkey
SELECT c.oid, c.*, t.relname AS tabrelname, rt.relnamespace AS refnamespace, pg_catalog.pg_get_constraintdef(c.oid) AS definition
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
INNER JOIN pg_catalog.pg_class rt ON rt.oid = c.confrelid
WHERE t.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND c.contype = 'f'
ORDER BY c.oid;

-- name: indexes
-- expect: orders_customer_idx, customers_pkey
-- expect-open: customers_zz_secret_col_idx
SELECT i.*, i.indkey AS keys, c.relname, c.relnamespace, c.relam, c.reltablespace, tc.relname AS tabrelname, dsc.description,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred_expr,
       pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) AS expr,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS index_def
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid = dsc.objoid
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')
ORDER BY tc.relname, c.relname;

-- name: data_types
-- expect: order_status
SELECT t.oid, t.*, c.relkind, pg_catalog.format_type(nullif(t.typbasetype, 0), t.typtypmod) AS base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid = d.objoid
WHERE t.typname IS NOT NULL AND (c.relkind IS NULL OR c.relkind = 'c')
  AND t.typnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public');

-- name: enum_values
-- expect: paid, shipped
SELECT e.enumtypid, e.enumlabel FROM pg_catalog.pg_enum e ORDER BY e.enumtypid, e.enumsortorder;

-- name: view_definition
-- expect: customers
SELECT pg_catalog.pg_get_viewdef('public.order_summary'::regclass, true);

-- name: sequences
-- expect: invoice_number_seq
SELECT * FROM pg_catalog.pg_sequences WHERE schemaname = 'public';
