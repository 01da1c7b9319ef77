/** Wire form of relationships, FK suggestions and column anchors (api-contract §4.9). */
import { Type } from '@sinclair/typebox';
import type { ColumnAnchor, TableRelationship } from '../../store/repos/relationships.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, Timestamp, Uuid } from './common.js';

export const RelationshipSchema = Type.Object({
  id: Uuid(),
  data_source_id: Uuid(),
  child_table_id: Uuid(),
  child_table_name: Type.String(),
  child_schema_name: Type.String({ description: 'upstream name, not the alias' }),
  child_column_name: Type.String(),
  parent_table_id: Uuid(),
  parent_table_name: Type.String(),
  parent_schema_name: Type.String({ description: 'upstream name, not the alias' }),
  parent_column_name: Type.String(),
  created_at: Timestamp,
  created_by: Nullable(Uuid()),
});

export const RelationshipListQuery = Type.Object({ child_table: Type.Optional(Uuid()) });

export const CreateRelationshipBody = Type.Object({
  child_table_id: Uuid(),
  child_column_name: Type.String(),
  parent_table_id: Uuid(),
  parent_column_name: Type.String(),
});

export const RelationshipParams = Type.Object({ id: Uuid(), rel_id: Uuid() });

export const FkSuggestionSchema = Type.Object({
  child_table_id: Uuid(),
  child_schema_name: Type.String(),
  child_table_name: Type.String(),
  child_column_name: Type.String(),
  parent_table_id: Uuid(),
  parent_schema_name: Type.String(),
  parent_table_name: Type.String(),
  parent_column_name: Type.String(),
  fk_constraint_name: Type.String(),
  already_added: Type.Boolean(),
});

export const ColumnAnchorSchema = Type.Object({
  id: Uuid(),
  data_source_id: Uuid(),
  child_table_id: Uuid(),
  child_table_name: Type.String(),
  resolved_column_name: Type.String({ description: 'the column name used in filter expressions' }),
  relationship_id: Nullable(Uuid('FK-walk shape')),
  actual_column_name: Nullable(Type.String({ description: 'same-table alias shape' })),
  designated_at: Timestamp,
  designated_by: Uuid(),
});

export const CreateColumnAnchorBody = Type.Object({
  child_table_id: Uuid(),
  resolved_column_name: Type.String(),
  relationship_id: Type.Optional(Nullable(Uuid())),
  actual_column_name: Type.Optional(Nullable(Type.String({ description: 'trimmed; blank = absent' }))),
});

export const AnchorParams = Type.Object({ id: Uuid(), anchor_id: Uuid() });

export const presentRelationship = (r: TableRelationship) => ({
  ...r,
  created_at: toApiTimestamp(r.created_at),
});

export const presentAnchor = (a: ColumnAnchor) => ({
  ...a,
  designated_at: toApiTimestamp(a.designated_at),
});
