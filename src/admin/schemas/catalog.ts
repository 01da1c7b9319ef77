/**
 * Wire form of discovery jobs and the stored catalog (api-contract §4.8,
 * §8). The discover body is validated here only as "an object with an
 * `action`"; the action's own fields are parsed by the job engine's
 * `parseDiscoverRequest`, whose problems the route reports as the same 422
 * plain-text body the schema validator gives (§1.3).
 */
import { Type } from '@sinclair/typebox';
import { JOB_ACTIONS } from '../../catalog/job-types.js';
import { Nullable, Uuid } from './common.js';

export const DiscoverBody = Type.Object(
  {
    action: Type.String({ description: JOB_ACTIONS.join(' | ') }),
    schemas: Type.Optional(
      Type.Unknown({
        description:
          'discover_tables: schema names; save_catalog: [{schema_name, schema_alias?, is_selected, ' +
          'tables: [{table_name, table_type, is_selected, columns?: [{column_name, is_selected}]}]}]',
      }),
    ),
    tables: Type.Optional(Type.Unknown({ description: 'discover_columns: [{schema, table}]' })),
  },
  { description: 'One action; its fields are checked per action (422 when missing or mistyped)' },
);

export const JobAccepted = Type.Object({ job_id: Type.String() });

export const JobParams = Type.Object({ id: Uuid(), job_id: Type.String() });

export const JobViewSchema = Type.Object({
  job_id: Type.String(),
  action: Type.String({ description: JOB_ACTIONS.join(' | ') }),
  status: Type.String({ description: 'running | completed | failed' }),
  result: Type.Unknown({ description: "the action's result when completed, else null" }),
  error: Nullable(Type.String({ description: 'failure text; "cancelled" for a cancelled job' })),
});

const StoredColumnSchema = Type.Object({
  id: Uuid(),
  column_name: Type.String(),
  ordinal_position: Type.Integer(),
  data_type: Type.String(),
  is_nullable: Type.Boolean(),
  column_default: Nullable(Type.String()),
  arrow_type: Nullable(Type.String()),
  is_selected: Type.Boolean(),
});

const StoredTableSchema = Type.Object({
  id: Uuid(),
  table_name: Type.String(),
  table_type: Type.String(),
  is_selected: Type.Boolean(),
  columns: Type.Array(StoredColumnSchema),
});

export const StoredCatalogSchema = Type.Object({
  schemas: Type.Array(
    Type.Object({
      id: Uuid(),
      schema_name: Type.String(),
      schema_alias: Nullable(Type.String()),
      is_selected: Type.Boolean(),
      tables: Type.Array(StoredTableSchema),
    }),
  ),
});
