/**
 * Filtered subqueries for pg_catalog relations (threat model F2, V102–V113).
 *
 * Each builder returns the SELECT that replaces one reference to the
 * relation. Rows are kept by the visible-object model (visible.ts); columns
 * that would reveal something about hidden objects, other roles or the size of
 * filtered tables are overridden with `jsonb_populate_record(<row>, <json>)`,
 * which returns the catalog's own row type with only the named fields
 * replaced — the same `SELECT *` shape on PostgreSQL 15 and 18 although the
 * catalogs' column lists differ (keys a version lacks are ignored).
 *
 * Decisions (documented for clients and the threat model):
 * - Owners are the synthetic role 10, which pg_roles shows as the Rowgate user;
 *   ACLs are NULL (V110).
 * - reltuples -1, relpages/relallvisible/relallfrozen 0 (V102); partition
 *   bounds NULL (V113); relhasrules/relrowsecurity false, since rules and
 *   upstream RLS policies are not shown; relhastriggers true only for a
 *   relation with a visible foreign key on either side (FKs are triggers, and
 *   psql shows FKs only then), while pg_trigger stays empty.
 * - Denied columns are absent from pg_attribute; their attnum gaps remain
 *   (V109: dropped columns leave the same gaps; RowDescription zeroes attnums).
 *   Masked columns keep the upstream column's declared type.
 * - pg_proc: built-ins without an ACL only. pg_type: built-ins and types of visible columns.
 * - Catalogs whose rows would only show upstream internals (triggers, rules,
 *   policies, publications, statistics objects, dependencies, role membership)
 *   are served empty, so clients that read them (psql \d) still work.
 */
import type { VisibleModel } from './visible.js';
import { SYNTHETIC_ROLE_OID as OWNER } from './visible.js';

/**
 * `SELECT _o.* FROM <from>, LATERAL jsonb_populate_record(<row>, jsonb_build_object(<overrides>)) _o
 *   WHERE (<where>) AND _o.k = _x.k …`. The key equalities put `_o.k` and `_x.k` in one equivalence
 * class, so a client's `WHERE oid = …` or join on the output column is pushed to the catalog's own
 * index instead of filtering the computed rows (psql's \d would otherwise scan every row per column).
 */
export function overridden(
  from: string,
  row: string,
  overrides: Record<string, string>,
  where: string,
  keys: string[] = [],
): string {
  const pairs = Object.entries(overrides).map(([k, v]) => `'${k}', ${v}`);
  const joins = keys.map((k) => ` AND _o.${k} = ${row}.${k}`).join('');
  return (
    `SELECT _o.* FROM ${from}, LATERAL pg_catalog.jsonb_populate_record(${row}, ` +
    `pg_catalog.jsonb_build_object(${pairs.join(', ')})) AS _o WHERE (${where})${joins}`
  );
}

const allRows = (rel: string, where: string): string =>
  `SELECT _x.* FROM pg_catalog.${rel} AS _x WHERE ${where}`;
const empty = (rel: string) => (): string => allRows(rel, 'false');

/** pg_catalog relations listed in pg_class (they can be queried through the proxy). */
export const SERVED_PG_CATALOG = [
  'pg_namespace', 'pg_class', 'pg_attribute', 'pg_type', 'pg_index', 'pg_constraint', 'pg_attrdef',
  'pg_description', 'pg_inherits', 'pg_am', 'pg_collation', 'pg_enum', 'pg_range', 'pg_proc',
  'pg_database', 'pg_roles', 'pg_user', 'pg_settings', 'pg_tablespace', 'pg_extension', 'pg_tables',
  'pg_views', 'pg_indexes', 'pg_matviews', 'pg_sequences', 'pg_trigger', 'pg_rewrite', 'pg_policy',
  'pg_publication', 'pg_publication_rel', 'pg_publication_namespace', 'pg_statistic_ext',
  'pg_auth_members', 'pg_depend', 'pg_partitioned_table', 'pg_foreign_table', 'pg_sequence',
  'pg_operator', 'pg_opclass', 'pg_language', 'pg_cast', 'pg_event_trigger',
] as const; // prettier-ignore

const NO_OWNER = { relowner: `${OWNER}`, relacl: 'NULL' };

/**
 * Settings a client may read through pg_settings: the cosmetic ones the proxy mirrors (V91), and
 * compile-time limits (max_index_keys, max_function_args) that JDBC's metadata calls require.
 */
export const PG_SETTINGS_NAMES = [
  'DateStyle', 'IntervalStyle', 'TimeZone', 'extra_float_digits', 'client_encoding', 'bytea_output',
  'standard_conforming_strings', 'integer_datetimes', 'max_identifier_length', 'application_name',
  'server_encoding', 'max_index_keys', 'max_function_args',
]; // prettier-ignore

export const PG_CATALOG_BUILDERS: Record<string, (m: VisibleModel) => string> = {
  pg_namespace: (m) =>
    overridden(
      `pg_catalog.pg_namespace AS _x LEFT JOIN ${m.schemasFrom('_m')} ON _m.s = _x.nspname`,
      '_x',
      { nspname: 'COALESCE(_m.vs, _x.nspname)', nspowner: `${OWNER}`, nspacl: 'NULL' },
      `_x.oid IN ${m.nsp}`,
      ['oid'],
    ),
  pg_class: (m) =>
    overridden(
      'pg_catalog.pg_class AS _x',
      '_x',
      {
        ...NO_OWNER,
        relpages: '0',
        reltuples: '-1',
        relallvisible: '0',
        relallfrozen: '0',
        relpartbound: 'NULL',
        // psql prints foreign keys (and "Referenced by") only for relations with triggers.
        relhastriggers:
          `(_x.oid IN (SELECT _vf.conrelid FROM pg_catalog.pg_constraint _vf WHERE _vf.contype = 'f' AND _vf.oid IN ${m.con}) ` +
          `OR _x.oid IN (SELECT _vf.confrelid FROM pg_catalog.pg_constraint _vf WHERE _vf.contype = 'f' AND _vf.oid IN ${m.con}))`,
        relhasrules: 'false',
        relrowsecurity: 'false',
        relforcerowsecurity: 'false',
        reltoastrelid: '0',
      },
      `_x.oid IN ${m.rel} OR _x.oid IN ${m.idx} OR _x.oid IN ${m.seq} OR (_x.relnamespace = 11 AND _x.relname IN (` +
        `${SERVED_PG_CATALOG.map((n) => `'${n}'`).join(', ')}))`,
      ['oid', 'relname', 'relnamespace'],
    ),
  pg_attribute: (m) =>
    overridden(
      'pg_catalog.pg_attribute AS _x',
      '_x',
      {
        attacl: 'NULL',
        attmissingval: 'NULL',
        atthasmissing: 'false',
        attoptions: 'NULL',
        attfdwoptions: 'NULL',
      },
      `(_x.attrelid, _x.attnum) IN ${m.att} OR (_x.attrelid IN ${m.idx} AND _x.attnum > 0)`,
      ['attrelid', 'attnum', 'attname'],
    ),
  pg_type: (m) =>
    overridden(
      'pg_catalog.pg_type AS _x',
      '_x',
      { typowner: `${OWNER}`, typacl: 'NULL' },
      `_x.oid IN ${m.typ}`,
      ['oid', 'typname', 'typnamespace'],
    ),
  pg_index: (m) => allRows('pg_index', `_x.indexrelid IN ${m.idx}`),
  pg_constraint: (m) => allRows('pg_constraint', `_x.oid IN ${m.con}`),
  pg_attrdef: (m) => allRows('pg_attrdef', `_x.oid IN ${m.atd}`),
  pg_description: (m) =>
    allRows(
      'pg_description',
      `(_x.classoid = 1259 AND ((_x.objoid IN ${m.rel} AND (_x.objsubid = 0 OR (_x.objoid, _x.objsubid) IN ${m.att})) ` +
        `OR (_x.objoid IN ${m.idx} AND _x.objsubid = 0))) ` +
        `OR (_x.classoid = 2606 AND _x.objoid IN ${m.con}) OR (_x.classoid = 2615 AND _x.objoid IN ${m.nsp}) ` +
        'OR (_x.objoid < 16384 AND _x.classoid <> 1259)',
    ),
  pg_inherits: (m) => allRows('pg_inherits', `_x.inhrelid IN ${m.rel} AND _x.inhparent IN ${m.rel}`),
  pg_am: () => allRows('pg_am', 'true'),
  pg_collation: (m) =>
    overridden(
      'pg_catalog.pg_collation AS _x',
      '_x',
      { collowner: `${OWNER}` },
      `_x.oid < 16384 OR _x.collnamespace IN ${m.nsp}`,
      ['oid'],
    ),
  pg_enum: (m) => allRows('pg_enum', `_x.enumtypid IN ${m.typ}`),
  pg_range: (m) => allRows('pg_range', `_x.rngtypid IN ${m.typ}`),
  // Built-ins are owned by the bootstrap superuser (OID 10, the synthetic owner); those with an ACL
  // (file access, backups, … — all off the function allowlist) are left out rather than overridden,
  // so the rows are the catalog's own and joins on pg_proc.oid use its index (no per-row override).
  pg_proc: () => allRows('pg_proc', `_x.oid < 16384 AND _x.proacl IS NULL AND _x.proowner = ${OWNER}`),
  pg_database: (m) =>
    overridden(
      'pg_catalog.pg_database AS _x',
      '_x',
      { datname: m.ds, datdba: `${OWNER}`, datacl: 'NULL', datconnlimit: '-1' },
      '_x.datname = pg_catalog.current_database()',
      ['oid'],
    ),
  pg_roles: (m) =>
    overridden(
      'pg_catalog.pg_roles AS _x',
      '_x',
      {
        rolname: m.user,
        rolsuper: 'false',
        rolinherit: 'true',
        rolcreaterole: 'false',
        rolcreatedb: 'false',
        rolcanlogin: 'true',
        rolreplication: 'false',
        rolconnlimit: '-1',
        rolpassword: "'********'",
        rolvaliduntil: 'NULL',
        rolbypassrls: 'false',
        rolconfig: 'NULL',
      },
      `_x.oid = ${OWNER}`,
    ),
  pg_user: (m) =>
    overridden(
      'pg_catalog.pg_user AS _x',
      '_x',
      {
        usename: m.user,
        usecreatedb: 'false',
        usesuper: 'false',
        userepl: 'false',
        usebypassrls: 'false',
        passwd: "'********'",
        valuntil: 'NULL',
        useconfig: 'NULL',
      },
      `_x.usesysid = ${OWNER}`,
    ),
  pg_settings: () =>
    overridden(
      'pg_catalog.pg_settings AS _x',
      '_x',
      { sourcefile: 'NULL', sourceline: 'NULL', reset_val: '_x.setting', boot_val: 'NULL' },
      `_x.name IN (${PG_SETTINGS_NAMES.map((n) => `'${n}'`).join(', ')})`,
    ),
  pg_tablespace: () =>
    overridden(
      'pg_catalog.pg_tablespace AS _x',
      '_x',
      { spcowner: `${OWNER}`, spcacl: 'NULL', spcoptions: 'NULL' },
      '_x.oid < 16384',
    ),
  pg_extension: () =>
    overridden(
      'pg_catalog.pg_extension AS _x',
      '_x',
      { extowner: `${OWNER}`, extconfig: 'NULL', extcondition: 'NULL' },
      'true',
    ),
  pg_tables: (m) =>
    overridden(
      `pg_catalog.pg_tables AS _x JOIN ${m.tablesFrom('_v')} ON _x.schemaname = _v.s AND _x.tablename = _v.r`,
      '_x',
      {
        schemaname: '_v.vs',
        tableowner: m.user,
        hastriggers: 'false',
        hasrules: 'false',
        rowsecurity: 'false',
      },
      'true',
    ),
  pg_views: (m) =>
    overridden(
      `pg_catalog.pg_views AS _x JOIN ${m.tablesFrom('_v')} ON _x.schemaname = _v.s AND _x.viewname = _v.r`,
      '_x',
      {
        schemaname: '_v.vs',
        viewowner: m.user,
        definition: m.viewDefinition(relOid('_x.schemaname', '_x.viewname'), '_x.definition'),
      },
      'true',
    ),
  pg_matviews: (m) =>
    overridden(
      `pg_catalog.pg_matviews AS _x JOIN ${m.tablesFrom('_v')} ON _x.schemaname = _v.s AND _x.matviewname = _v.r`,
      '_x',
      {
        schemaname: '_v.vs',
        matviewowner: m.user,
        hasindexes: 'false',
        definition: m.viewDefinition(relOid('_x.schemaname', '_x.matviewname'), '_x.definition'),
      },
      'true',
    ),
  pg_indexes: (m) =>
    overridden(
      `pg_catalog.pg_indexes AS _x JOIN ${m.tablesFrom('_v')} ON _x.schemaname = _v.s AND _x.tablename = _v.r`,
      '_x',
      { schemaname: '_v.vs' },
      `${relOid('_x.schemaname', '_x.indexname')} IN ${m.idx}`,
    ),
  pg_sequences: (m) =>
    overridden(
      `pg_catalog.pg_sequences AS _x JOIN ${m.schemasFrom('_v')} ON _x.schemaname = _v.s`,
      '_x',
      { schemaname: '_v.vs', sequenceowner: m.user, last_value: 'NULL' },
      `${relOid('_x.schemaname', '_x.sequencename')} IN ${m.seq}`,
    ),
  pg_operator: () => allRows('pg_operator', '_x.oid < 16384'),
  pg_opclass: () => allRows('pg_opclass', '_x.oid < 16384'),
  pg_language: () =>
    overridden(
      'pg_catalog.pg_language AS _x',
      '_x',
      { lanowner: `${OWNER}`, lanacl: 'NULL' },
      '_x.oid < 16384',
      ['oid'],
    ),
  pg_cast: () => allRows('pg_cast', '_x.oid < 16384'),
  pg_trigger: empty('pg_trigger'),
  pg_rewrite: empty('pg_rewrite'),
  pg_policy: empty('pg_policy'),
  pg_publication: empty('pg_publication'),
  pg_publication_rel: empty('pg_publication_rel'),
  pg_publication_namespace: empty('pg_publication_namespace'),
  pg_statistic_ext: empty('pg_statistic_ext'),
  pg_auth_members: empty('pg_auth_members'),
  pg_depend: empty('pg_depend'),
  pg_partitioned_table: empty('pg_partitioned_table'),
  pg_foreign_table: empty('pg_foreign_table'),
  pg_sequence: empty('pg_sequence'),
  pg_event_trigger: empty('pg_event_trigger'),
};

/** OID of the relation `schema.name` given as two text expressions over the real catalog. */
export function relOid(schemaExpr: string, nameExpr: string): string {
  return (
    '(SELECT _ro.oid FROM pg_catalog.pg_class _ro JOIN pg_catalog.pg_namespace _rn ON _rn.oid = _ro.relnamespace ' +
    `WHERE _rn.nspname = ${schemaExpr} AND _ro.relname = ${nameExpr})`
  );
}
