-- DataGrip / JetBrains IDEs (PostgreSQL introspector): the queries its introspection log shows when
-- a data source is refreshed. DataGrip is closed source: these are written from the introspector's
-- queries as published in JetBrains issue reports and users' query logs (no network here), not
-- verbatim from source; named parameters (:schema_id) are replaced by equivalent subqueries.
-- Format: see psql15-tab-completion.sql.

-- name: database_and_schemas
-- expect: shopdb, public
SELECT current_database() AS a, current_schemas(false) AS b;

-- name: current_txid
SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN null ELSE pg_catalog.txid_current()::varchar::bigint END AS current_txid;

-- name: databases
-- expect: shopdb
SELECT N.oid::bigint AS id, datname AS name, D.description, datistemplate AS is_template, datallowconn AS allow_connections,
       pg_catalog.pg_get_userbyid(N.datdba) AS "owner"
FROM pg_catalog.pg_database N
LEFT JOIN pg_catalog.pg_description D ON N.oid = D.objoid
ORDER BY CASE WHEN datname = pg_catalog.current_database() THEN -1::bigint ELSE N.oid::bigint END;

-- name: schemas
-- expect: public, inventory
SELECT N.oid::bigint AS id, N.xmin AS state_number, nspname AS name, D.description, pg_catalog.pg_get_userbyid(N.nspowner) AS "owner"
FROM pg_catalog.pg_namespace N
LEFT JOIN pg_catalog.pg_description D ON N.oid = D.objoid
ORDER BY CASE WHEN nspname = pg_catalog.current_schema() THEN -1::bigint ELSE N.oid::bigint END;

-- name: tables
-- expect: customers, orders, order_summary
-- expect-open: zz_hidden_table
SELECT T.relkind AS table_kind, T.relname AS table_name, T.oid AS table_id, T.xmin AS table_state_number,
       false AS table_with_oids, T.reltablespace AS tablespace_id, T.reloptions AS options, T.relpersistence AS persistence,
       (SELECT pg_catalog.array_agg(inhparent::bigint ORDER BY inhseqno)::varchar FROM pg_catalog.pg_inherits WHERE T.oid = inhrelid) AS ancestors,
       (SELECT pg_catalog.array_agg(inhrelid::bigint ORDER BY inhrelid)::varchar FROM pg_catalog.pg_inherits WHERE T.oid = inhparent) AS successors,
       T.relispartition AS is_partition, pg_catalog.pg_get_partkeydef(T.oid) AS partition_key,
       pg_catalog.pg_get_expr(T.relpartbound, T.oid) AS partition_expression,
       T.relam AS access_method_id, pg_catalog.pg_get_userbyid(T.relowner) AS "owner"
FROM pg_catalog.pg_class T
WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')
  AND relkind IN ('r', 'm', 'v', 'f', 'p')
ORDER BY table_kind, table_id;

-- name: columns
-- expect: email, region, customer_id, order_status
-- expect-open: zz_secret_col
WITH schema_procs AS (SELECT prorettype, proargtypes, proallargtypes FROM pg_catalog.pg_proc WHERE pronamespace = 'public'::regnamespace)
SELECT T.relkind AS table_kind, T.relname AS table_name, C.attnum AS column_position, C.attname AS column_name,
       C.xmin AS column_state_number, C.atttypmod AS type_mod, C.attndims AS dimensions_number,
       pg_catalog.format_type(C.atttypid, C.atttypmod) AS type_spec, C.attnotnull AS mandatory,
       pg_catalog.pg_get_expr(D.adbin, T.oid) AS column_default_expression, NOT C.attislocal AS column_is_inherited,
       C.attidentity AS identity_kind, C.attgenerated AS generated
FROM pg_catalog.pg_class T
JOIN pg_catalog.pg_attribute C ON T.oid = C.attrelid
LEFT JOIN pg_catalog.pg_attrdef D ON (C.attrelid, C.attnum) = (D.adrelid, D.adnum)
WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')
  AND T.relkind IN ('r', 'm', 'v', 'f', 'p') AND C.attnum > 0 AND NOT C.attisdropped
ORDER BY table_kind, table_name, column_position;

-- name: keys_and_constraints
-- expect: customers_pkey, orders_customer_id_fkey
-- expect-open: zz_hidden_table_pkey
SELECT T.oid table_id, relkind table_kind, C.oid::bigint con_id, C.xmin con_state_id, conname con_name, contype con_kind,
       conkey con_columns, conindid index_id, confrelid ref_table_id, condeferrable is_deferrable, condeferred is_init_deferred,
       confupdtype on_update, confdeltype on_delete, connoinherit no_inherit,
       pg_catalog.pg_get_constraintdef(C.oid) con_expression, confkey ref_columns
FROM pg_catalog.pg_constraint C
JOIN pg_catalog.pg_class T ON C.conrelid = T.oid
WHERE relkind IN ('r', 'v', 'f', 'p') AND relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')
  AND contype IN ('p', 'u', 'f', 'c', 'x');

-- name: indices
-- expect: orders_customer_idx
SELECT tab.oid table_id, tab.relkind table_kind, ind_stor.relname index_name, ind_head.indexrelid index_id,
       ind_stor.xmin state_number, ind_head.indisunique is_unique, ind_head.indisprimary is_primary,
       ind_head.indkey column_positions, ind_head.indclass column_operators, ind_head.indoption column_options,
       pg_catalog.pg_get_expr(ind_head.indpred, ind_head.indrelid) AS condition,
       CASE WHEN ind_head.indexprs IS NOT NULL THEN
         (SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(ind_head.indexrelid, A.attnum, true) ORDER BY A.attnum)
            FROM pg_catalog.pg_attribute A WHERE A.attrelid = ind_head.indexrelid) END AS expressions,
       ind_am.amname AS access_method_name
FROM pg_catalog.pg_class tab
JOIN pg_catalog.pg_index ind_head ON ind_head.indrelid = tab.oid
JOIN pg_catalog.pg_class ind_stor ON tab.relnamespace = ind_stor.relnamespace AND ind_stor.oid = ind_head.indexrelid
LEFT JOIN pg_catalog.pg_am ind_am ON ind_stor.relam = ind_am.oid
WHERE tab.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND tab.relkind IN ('r', 'm', 'v', 'p')
  AND ind_stor.relkind IN ('i', 'I');

-- name: comments
-- expect: Customers of the shop, Contact address
SELECT D.objoid id, pg_catalog.array_agg(D.objsubid) sub_ids, pg_catalog.array_agg(D.description) descriptions
FROM pg_catalog.pg_description D
WHERE D.classoid = 'pg_catalog.pg_class'::regclass
GROUP BY D.objoid;

-- name: view_sources
-- expect: order_summary
SELECT T.relname AS view_name, pg_catalog.pg_get_viewdef(T.oid) AS source_text
FROM pg_catalog.pg_class T
WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AND relkind IN ('m', 'v');
