/**
 * Filtered subqueries for information_schema views (threat model F2,
 * V103–V106, V112). Each upstream view is filtered by the visible-object
 * model and its catalog/schema name columns are rewritten to what the user
 * sees: `*_catalog` → the data source name (V79), `*_schema` → the visible
 * schema name, owners → the Rowgate user. Definitions and defaults follow the
 * same rules as pg_views / pg_attrdef (visible.ts).
 *
 * This file: the relation, column and constraint views. Types, domains,
 * sequences and CHECK clauses: info-schema-types.ts; dependency ("usage")
 * views and triggers: info-schema-usage.ts; grants and roles:
 * info-schema-privileges.ts. PostgreSQL 15's NOT NULL pseudo-constraints
 * (no pg_constraint row) are shown for visible columns, as 17+ shows its real
 * ones through `con`. Constraint names are unique per table, not per schema:
 * rows are matched to the visible constraint they describe by the table it
 * uses (constraint_column_usage) or the key it references
 * (referential_constraints), never to a hidden one of the same name.
 */
import {
  catalogs,
  notNullPseudoConstraint,
  schemas,
  view,
  visibleColumn,
  visibleConstraint,
  visibleConstraintUsing,
  visibleTable,
} from './info-schema-support.js';
import { INFORMATION_SCHEMA_PRIVILEGE_BUILDERS } from './info-schema-privileges.js';
import { INFORMATION_SCHEMA_TYPE_BUILDERS } from './info-schema-types.js';
import { INFORMATION_SCHEMA_USAGE_BUILDERS } from './info-schema-usage.js';
import { overridden, relOid } from './pg-catalog.js';
import type { VisibleModel } from './visible.js';

export const INFORMATION_SCHEMA_BUILDERS: Record<string, (m: VisibleModel) => string> = {
  schemata: (m) =>
    overridden(
      view('schemata'),
      '_x',
      {
        ...catalogs(m, 'catalog_name', 'default_character_set_catalog'),
        ...schemas(m, 'schema_name'),
        schema_owner: m.user,
      },
      `_x.schema_name IN ('pg_catalog', 'information_schema') OR _x.schema_name IN (SELECT _t.s FROM ${m.tablesFrom('_t')})`,
    ),
  tables: (m) =>
    overridden(
      view('tables'),
      '_x',
      { ...catalogs(m, 'table_catalog', 'user_defined_type_catalog'), ...schemas(m, 'table_schema') },
      visibleTable(m, '_x.table_schema', '_x.table_name'),
    ),
  columns: (m) =>
    overridden(
      view('columns'),
      '_x',
      {
        ...catalogs(
          m,
          'table_catalog',
          'character_set_catalog',
          'collation_catalog',
          'domain_catalog',
          'udt_catalog',
          'scope_catalog',
        ),
        ...schemas(m, 'table_schema'),
        column_default:
          'CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef _d WHERE _d.oid IN ' +
          `${m.atd} AND _d.adrelid = ${relOid('_x.table_schema', '_x.table_name')} ` +
          'AND _d.adnum = _x.ordinal_position) THEN _x.column_default END',
        generation_expression: 'NULL',
      },
      visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name'),
    ),
  views: (m) =>
    overridden(
      view('views'),
      '_x',
      {
        ...catalogs(m, 'table_catalog'),
        ...schemas(m, 'table_schema'),
        view_definition: m.viewDefinition(relOid('_x.table_schema', '_x.table_name'), '_x.view_definition'),
      },
      visibleTable(m, '_x.table_schema', '_x.table_name'),
    ),
  key_column_usage: (m) =>
    overridden(
      view('key_column_usage'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'table_catalog'),
        ...schemas(m, 'constraint_schema', 'table_schema'),
      },
      `${visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name')} AND ` +
        visibleConstraint(m, '_x.constraint_schema', '_x.constraint_name', '_x.table_name'),
    ),
  table_constraints: (m) =>
    overridden(
      view('table_constraints'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'table_catalog'),
        ...schemas(m, 'constraint_schema', 'table_schema'),
      },
      `${visibleTable(m, '_x.table_schema', '_x.table_name')} AND (` +
        `${visibleConstraint(m, '_x.constraint_schema', '_x.constraint_name', '_x.table_name')} OR ` +
        `${notNullPseudoConstraint(m, '_x.constraint_name')})`,
    ),
  referential_constraints: (m) =>
    overridden(
      view('referential_constraints'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'unique_constraint_catalog'),
        ...schemas(m, 'constraint_schema', 'unique_constraint_schema'),
      },
      'EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ' +
        "WHERE _kn.nspname = _x.constraint_schema AND _k.conname = _x.constraint_name AND _k.contype = 'f' " +
        `AND _k.oid IN ${m.con} AND (_x.unique_constraint_name IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _u ` +
        'WHERE _u.conrelid = _k.confrelid AND _u.conindid = _k.conindid AND _u.conname = _x.unique_constraint_name)))',
    ),
  constraint_column_usage: (m) =>
    overridden(
      view('constraint_column_usage'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'table_catalog'),
        ...schemas(m, 'constraint_schema', 'table_schema'),
      },
      `${visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name')} AND ` +
        visibleConstraintUsing(
          m,
          '_x.constraint_schema',
          '_x.constraint_name',
          '_x.table_schema',
          '_x.table_name',
        ),
    ),
  routines: (m) =>
    overridden(
      view('routines'),
      '_x',
      catalogs(m, 'specific_catalog', 'routine_catalog', 'type_udt_catalog', 'udt_catalog'),
      "_x.routine_schema = 'pg_catalog'",
    ),
  element_types: (m) =>
    overridden(
      view('element_types'),
      '_x',
      {
        ...catalogs(m, 'object_catalog', 'udt_catalog', 'collation_catalog', 'character_set_catalog'),
        ...schemas(m, 'object_schema'),
      },
      "_x.object_schema = 'pg_catalog' OR (_x.object_type = 'TABLE' AND " +
        `${visibleTable(m, '_x.object_schema', '_x.object_name')} AND _x.collection_type_identifier IN ` +
        '(SELECT _e.dtd_identifier FROM information_schema.columns _e WHERE _e.table_schema = _x.object_schema ' +
        `AND _e.table_name = _x.object_name AND ${visibleColumn(m, '_e.table_schema', '_e.table_name', '_e.column_name')}))`,
    ),
  character_sets: (m) =>
    overridden(
      view('character_sets'),
      '_x',
      catalogs(m, 'character_set_catalog', 'default_collate_catalog'),
      'true',
    ),
  information_schema_catalog_name: (m) =>
    overridden(view('information_schema_catalog_name'), '_x', catalogs(m, 'catalog_name'), 'true'),
  ...INFORMATION_SCHEMA_TYPE_BUILDERS,
  ...INFORMATION_SCHEMA_USAGE_BUILDERS,
  ...INFORMATION_SCHEMA_PRIVILEGE_BUILDERS,
};
