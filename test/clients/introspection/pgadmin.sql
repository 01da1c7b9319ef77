-- pgAdmin 4: the browser-tree queries rendered from its Jinja templates
-- (web/pgadmin/browser/server_groups/servers/databases/templates/databases/sql/default/nodes.sql,
-- .../schemas/templates/schemas/pg/default/sql/nodes.sql, .../tables/templates/tables/sql/default/nodes.sql,
-- .../columns/templates/columns/sql/default/nodes.sql and properties.sql, .../indexes/.../nodes.sql,
-- .../constraints/foreign_key/.../nodes.sql), written from pgAdmin's open-source templates (no
-- network here), with the template parameters filled for schema public / table customers. The
-- dashboard's pg_stat_activity queries are left out: activity is refused by design (issue 6).
-- Format: see psql15-tab-completion.sql.

-- name: databases
-- expect: shopdb
SELECT db.oid AS did, db.datname AS name, ta.spcname AS spcname, db.datallowconn,
       db.datistemplate AS is_template, pg_catalog.has_database_privilege(db.oid, 'CREATE') AS cancreate,
       datdba AS owner
FROM pg_catalog.pg_database db
LEFT OUTER JOIN pg_catalog.pg_tablespace ta ON db.dattablespace = ta.oid
ORDER BY datname;

-- name: schemas
-- expect: public, inventory
SELECT nsp.oid, nsp.nspname AS name,
       pg_catalog.has_schema_privilege(nsp.oid, 'CREATE') AS can_create,
       pg_catalog.has_schema_privilege(nsp.oid, 'USAGE') AS has_usage,
       des.description
FROM pg_catalog.pg_namespace nsp
LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid = nsp.oid AND des.classoid = 'pg_namespace'::regclass)
WHERE NOT (
    (nsp.nspname = 'pg_catalog' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relnamespace = nsp.oid LIMIT 1)) OR
    (nsp.nspname = 'pgagent' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'pga_job' AND relnamespace = nsp.oid LIMIT 1)) OR
    (nsp.nspname = 'information_schema' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'tables' AND relnamespace = nsp.oid LIMIT 1))
  )
  AND nsp.nspname NOT LIKE E'pg\\_%'
ORDER BY nspname;

-- name: tables
-- expect: customers, orders, Customers of the shop
-- expect-open: zz_hidden_table
SELECT rel.oid, rel.relname AS name,
       (CASE WHEN rel.relkind = 'p' THEN true ELSE false END) AS is_partitioned,
       (SELECT count(1) FROM pg_catalog.pg_inherits WHERE inhrelid = rel.oid LIMIT 1) AS is_inherits,
       (SELECT count(1) FROM pg_catalog.pg_inherits WHERE inhparent = rel.oid LIMIT 1) AS is_inherited,
       des.description
FROM pg_catalog.pg_class rel
LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid = rel.oid AND des.objsubid = 0 AND des.classoid = 'pg_class'::regclass)
WHERE rel.relkind IN ('r', 't', 'f', 'p') AND rel.relnamespace = 'public'::regnamespace AND NOT rel.relispartition
ORDER BY rel.relname;

-- name: columns
-- expect: email, region, Contact address
-- expect-open: zz_secret_col
SELECT DISTINCT att.attname AS name, att.attnum AS "OID", pg_catalog.format_type(ty.oid, NULL) AS datatype,
       pg_catalog.format_type(ty.oid, att.atttypmod) AS displaytypname, att.attnotnull AS not_null,
       CASE WHEN att.atthasdef OR att.attidentity != '' OR ty.typdefault IS NOT NULL THEN true ELSE false END AS has_default_val,
       des.description,
       CASE WHEN pi.indkey IS NOT NULL AND att.attnum = ANY (pi.indkey) THEN true ELSE false END AS is_pk
FROM pg_catalog.pg_attribute att
JOIN pg_catalog.pg_type ty ON ty.oid = atttypid
JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace
JOIN pg_catalog.pg_class cl ON cl.oid = att.attrelid
JOIN pg_catalog.pg_namespace na ON na.oid = cl.relnamespace
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid = ty.typelem
LEFT OUTER JOIN pg_catalog.pg_attrdef def ON adrelid = att.attrelid AND adnum = att.attnum
LEFT OUTER JOIN pg_catalog.pg_index pi ON pi.indrelid = att.attrelid AND indisprimary
LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid = att.attrelid AND des.objsubid = att.attnum AND des.classoid = 'pg_class'::regclass)
WHERE att.attrelid = 'public.customers'::regclass AND att.attnum > 0 AND att.attisdropped IS FALSE
ORDER BY att.attnum;

-- name: column_defaults
-- expect: nextval
SELECT att.attname, pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS defval,
       pg_catalog.pg_get_serial_sequence('public.orders', att.attname) AS seq
FROM pg_catalog.pg_attribute att
JOIN pg_catalog.pg_attrdef def ON def.adrelid = att.attrelid AND def.adnum = att.attnum
WHERE att.attrelid = 'public.orders'::regclass AND att.attnum > 0 AND NOT att.attisdropped;

-- name: indexes
-- expect: customers_pkey
-- expect-open: customers_zz_secret_col_idx
SELECT DISTINCT ON (cls.relname) cls.oid, cls.relname AS name,
       (SELECT (CASE WHEN count(i.inhrelid) > 0 THEN true ELSE false END) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = cls.oid) AS is_inherited,
       pg_catalog.pg_get_indexdef(cls.oid) AS indexdef
FROM pg_catalog.pg_index idx
JOIN pg_catalog.pg_class cls ON cls.oid = indexrelid
JOIN pg_catalog.pg_class tab ON tab.oid = indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = tab.relnamespace
WHERE indrelid = 'public.customers'::regclass
ORDER BY cls.relname;

-- name: foreign_keys
-- expect: orders_customer_id_fkey
SELECT ct.oid, conname AS name, NOT convalidated AS convalidated, pg_catalog.pg_get_constraintdef(ct.oid) AS definition
FROM pg_catalog.pg_constraint ct
WHERE contype = 'f' AND conrelid = 'public.orders'::regclass
ORDER BY conname;

-- name: server_settings
SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('server_version_num', 'search_path', 'TimeZone', 'DateStyle');
