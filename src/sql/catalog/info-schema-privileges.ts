/**
 * information_schema grant and role views (threat model F2, V110).
 *
 * Upstream grants and role names are never shown: every row is computed from
 * the visible objects, one per privilege the proxy allows on it, with the
 * Rowgate user as grantor and grantee and is_grantable NO (the user can grant
 * nothing through a read-only proxy) — the same answer has_*_privilege gives.
 *
 * - table_privileges / role_table_grants: SELECT on every visible table, view
 *   and foreign/partitioned table (relkinds information_schema lists);
 *   column_privileges / role_column_grants: SELECT on every visible column.
 * - usage_privileges / role_usage_grants: USAGE on the collations pg_collation
 *   shows and on visible domains — the objects PostgreSQL grants USAGE on to
 *   PUBLIC by default; sequences, foreign data wrappers and servers never
 *   (their USAGE would be an upstream grant, and the proxy allows no nextval).
 * - enabled_roles: the Rowgate user. applicable_roles and
 *   administrable_role_authorizations are empty, as pg_auth_members is (the
 *   user's Rowgate roles are not database roles).
 */
import { none, ONE_ROW, schemas, synthetic } from './info-schema-support.js';
import { visibleDomains } from './info-schema-types.js';
import type { VisibleModel } from './visible.js';

/** Visible relations of the kinds information_schema's privilege views list, with their visible schema. */
const relationsFrom = (m: VisibleModel): string =>
  'pg_catalog.pg_class AS _x JOIN pg_catalog.pg_namespace _n ON _n.oid = _x.relnamespace ' +
  `JOIN ${m.tablesFrom('_v')} ON _v.s = _n.nspname AND _v.r = _x.relname`;
const RELKINDS = "_x.relkind IN ('r', 'v', 'f', 'p')";

const tableGrants =
  (name: string) =>
  (m: VisibleModel): string =>
    synthetic(
      name,
      relationsFrom(m),
      {
        grantor: m.user,
        grantee: m.user,
        table_catalog: m.ds,
        table_schema: '_v.vs',
        table_name: '_x.relname',
        privilege_type: "'SELECT'",
        is_grantable: "'NO'",
        with_hierarchy: "'YES'",
      },
      RELKINDS,
    );

const columnGrants =
  (name: string) =>
  (m: VisibleModel): string =>
    synthetic(
      name,
      `${relationsFrom(m)} JOIN pg_catalog.pg_attribute _a ON _a.attrelid = _x.oid`,
      {
        grantor: m.user,
        grantee: m.user,
        table_catalog: m.ds,
        table_schema: '_v.vs',
        table_name: '_x.relname',
        column_name: '_a.attname',
        privilege_type: "'SELECT'",
        is_grantable: "'NO'",
      },
      `${RELKINDS} AND (_a.attrelid, _a.attnum) IN ${m.att}`,
    );

/** Collations pg_collation shows (of the database's encoding, as information_schema lists them) and visible domains. */
const usableObjects = (m: VisibleModel): string =>
  "(SELECT _cn.nspname AS s, _cl.collname AS n, 'COLLATION' AS kind FROM pg_catalog.pg_collation _cl " +
  'JOIN pg_catalog.pg_namespace _cn ON _cn.oid = _cl.collnamespace ' +
  `WHERE (_cl.oid < 16384 OR _cl.collnamespace IN ${m.nsp}) ` +
  'AND _cl.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding())) ' +
  "UNION ALL SELECT _dn.nspname, _dt.typname, 'DOMAIN' FROM pg_catalog.pg_type _dt " +
  `JOIN pg_catalog.pg_namespace _dn ON _dn.oid = _dt.typnamespace WHERE _dt.oid IN ${visibleDomains(m)}) AS _x`;

const usageGrants =
  (name: string) =>
  (m: VisibleModel): string =>
    synthetic(name, usableObjects(m), {
      grantor: m.user,
      grantee: m.user,
      object_catalog: m.ds,
      object_schema: schemas(m, 's').s!,
      object_name: '_x.n',
      object_type: '_x.kind',
      privilege_type: "'USAGE'",
      is_grantable: "'NO'",
    });

export const INFORMATION_SCHEMA_PRIVILEGE_BUILDERS: Record<string, (m: VisibleModel) => string> = {
  table_privileges: tableGrants('table_privileges'),
  role_table_grants: tableGrants('role_table_grants'),
  column_privileges: columnGrants('column_privileges'),
  role_column_grants: columnGrants('role_column_grants'),
  usage_privileges: usageGrants('usage_privileges'),
  role_usage_grants: usageGrants('role_usage_grants'),
  enabled_roles: (m) => synthetic('enabled_roles', ONE_ROW, { role_name: m.user }),
  applicable_roles: none('applicable_roles'),
  administrable_role_authorizations: none('administrable_role_authorizations'),
};
