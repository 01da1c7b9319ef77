/**
 * Filtered subqueries for information_schema views (threat model F2,
 * V103–V106, V112). Each upstream view is filtered by the visible-object
 * model and its catalog/schema name columns are rewritten to what the user
 * sees: `*_catalog` → the data source name (V79), `*_schema` → the visible
 * schema name, owners → the Rowgate user. Definitions and defaults follow the
 * same rules as pg_views / pg_attrdef (visible.ts).
 */
import { overridden, relOid } from './pg-catalog.js';
import type { VisibleModel } from './visible.js';

const view = (name: string): string => `information_schema.${name} AS _x`;

/** `_x.<col>` → the data source name where not NULL. */
const catalogs = (m: VisibleModel, ...cols: string[]): Record<string, string> =>
  Object.fromEntries(cols.map((c) => [c, `CASE WHEN _x.${c} IS NOT NULL THEN ${m.ds} END`]));

/** `_x.<col>` → the visible name of the upstream schema it holds (unchanged for pg_catalog & co.). */
const schemas = (m: VisibleModel, ...cols: string[]): Record<string, string> =>
  Object.fromEntries(
    cols.map((c) => [
      c,
      `COALESCE((SELECT _sm.vs FROM ${m.schemasFrom('_sm')} WHERE _sm.s = _x.${c}), _x.${c})`,
    ]),
  );

const visibleTable = (m: VisibleModel, s: string, t: string): string =>
  `(${s}, ${t}) IN (SELECT _t.s, _t.r FROM ${m.tablesFrom('_t')})`;
const visibleColumn = (m: VisibleModel, s: string, t: string, c: string): string =>
  `(${s}, ${t}, ${c}) IN (SELECT _c.s, _c.r, _c.c FROM ${m.columnsFrom('_c')})`;
/** The constraint `name` of table `s.t` (or of schema `s`, any table) is visible. */
const visibleConstraint = (m: VisibleModel, s: string, name: string, table?: string): string =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ` +
  `WHERE _kn.nspname = ${s} AND _k.conname = ${name} AND _k.oid IN ${m.con}` +
  (table ? ` AND _k.conrelid = ${relOid(s, table)})` : ')');

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
        view_definition: `CASE WHEN ${m.viewDefinitionVisible(relOid('_x.table_schema', '_x.table_name'))} THEN _x.view_definition END`,
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
      `${visibleTable(m, '_x.table_schema', '_x.table_name')} AND ` +
        visibleConstraint(m, '_x.constraint_schema', '_x.constraint_name', '_x.table_name'),
    ),
  referential_constraints: (m) =>
    overridden(
      view('referential_constraints'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'unique_constraint_catalog'),
        ...schemas(m, 'constraint_schema', 'unique_constraint_schema'),
      },
      visibleConstraint(m, '_x.constraint_schema', '_x.constraint_name'),
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
        visibleConstraint(m, '_x.constraint_schema', '_x.constraint_name'),
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
};
