/**
 * information_schema dependency views ("X uses Y") and triggers (threat model
 * F2, V103–V106).
 *
 * - view_table_usage / view_column_usage / view_routine_usage: a row is kept
 *   only when the view's definition is shown (the same rule as pg_views and
 *   views.view_definition: every dependency visible, and no constant when a
 *   filtered or masked relation is involved) and the used table or column is
 *   visible; routines: built-ins only, as routines/pg_proc.
 * - constraint_table_usage: the table a constraint uses (its own, or the
 *   referenced one for a foreign key) is matched to a visible constraint of
 *   that name that uses exactly that table (visibleConstraintUsing).
 * - triggers and triggered_update_columns are empty, as pg_trigger is; the
 *   routine_*_usage and check_constraint_routine_usage views describe user
 *   functions (never visible; built-ins are not recorded as dependencies) and
 *   are empty too.
 */
import {
  catalogs,
  none,
  schemas,
  view,
  visibleColumn,
  visibleConstraintUsing,
  visibleTable,
} from './info-schema-support.js';
import { overridden, relOid } from './pg-catalog.js';
import type { VisibleModel } from './visible.js';

/** OIDs of visible views and materialized views whose definition the user may read. */
const shownViews = (m: VisibleModel): string =>
  `(SELECT _sv.oid FROM pg_catalog.pg_class _sv WHERE _sv.relkind IN ('v', 'm') AND _sv.oid IN ${m.rel} ` +
  `AND (${m.viewDefinition('_sv.oid', 'pg_catalog.pg_get_viewdef(_sv.oid)')}) IS NOT NULL)`;

const viewShown = (m: VisibleModel, s: string, n: string): string => `${relOid(s, n)} IN ${shownViews(m)}`;

export const INFORMATION_SCHEMA_USAGE_BUILDERS: Record<string, (m: VisibleModel) => string> = {
  view_table_usage: (m) =>
    overridden(
      view('view_table_usage'),
      '_x',
      { ...catalogs(m, 'view_catalog', 'table_catalog'), ...schemas(m, 'view_schema', 'table_schema') },
      `${viewShown(m, '_x.view_schema', '_x.view_name')} AND ${visibleTable(m, '_x.table_schema', '_x.table_name')}`,
    ),
  view_column_usage: (m) =>
    overridden(
      view('view_column_usage'),
      '_x',
      { ...catalogs(m, 'view_catalog', 'table_catalog'), ...schemas(m, 'view_schema', 'table_schema') },
      `${viewShown(m, '_x.view_schema', '_x.view_name')} AND ` +
        visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name'),
    ),
  view_routine_usage: (m) =>
    overridden(
      view('view_routine_usage'),
      '_x',
      { ...catalogs(m, 'table_catalog', 'specific_catalog'), ...schemas(m, 'table_schema') },
      `${viewShown(m, '_x.table_schema', '_x.table_name')} AND _x.specific_schema = 'pg_catalog'`,
    ),
  constraint_table_usage: (m) =>
    overridden(
      view('constraint_table_usage'),
      '_x',
      {
        ...catalogs(m, 'table_catalog', 'constraint_catalog'),
        ...schemas(m, 'table_schema', 'constraint_schema'),
      },
      `${visibleTable(m, '_x.table_schema', '_x.table_name')} AND ` +
        visibleConstraintUsing(
          m,
          '_x.constraint_schema',
          '_x.constraint_name',
          '_x.table_schema',
          '_x.table_name',
        ),
    ),
  triggers: none('triggers'),
  triggered_update_columns: none('triggered_update_columns'),
  check_constraint_routine_usage: none('check_constraint_routine_usage'),
  routine_column_usage: none('routine_column_usage'),
  routine_routine_usage: none('routine_routine_usage'),
  routine_sequence_usage: none('routine_sequence_usage'),
  routine_table_usage: none('routine_table_usage'),
};
