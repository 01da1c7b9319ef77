/** Wire form of attribute definitions (api-contract §3.7, §4.11): schemas and the presenter. */
import { Type } from '@sinclair/typebox';
import type { AttributeDefinition } from '../../store/repos/attributes.js';
import { toApiTimestamp } from '../../store/time.js';
import { Nullable, PageQuery, Timestamp, Uuid } from './common.js';

export const AttributeDefinitionSchema = Type.Object({
  id: Uuid(),
  key: Type.String(),
  entity_type: Type.String({ description: 'user | table | column' }),
  display_name: Type.String(),
  value_type: Type.String({ description: 'string | integer | boolean | list' }),
  default_value: Nullable(Type.String({ description: 'for list: JSON array text' })),
  allowed_values: Nullable(Type.Array(Type.String())),
  description: Nullable(Type.String()),
  created_by: Uuid(),
  updated_by: Uuid(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const AttributeListQuery = Type.Object({
  ...PageQuery,
  entity_type: Type.Optional(Type.String()),
  search: Type.Optional(Type.String()),
});

/** Enumerations are checked by the definition rule (422 with BR's message), not by the schema. */
export const CreateAttributeBody = Type.Object({
  key: Type.String(),
  entity_type: Type.String(),
  display_name: Type.String(),
  value_type: Type.String(),
  default_value: Type.Optional(Nullable(Type.String())),
  allowed_values: Type.Optional(Nullable(Type.Array(Type.String()))),
  description: Type.Optional(Nullable(Type.String())),
});

/** `key`/`entity_type` are immutable (ignored if sent); the last three are tri-state (§1.3). */
export const UpdateAttributeBody = Type.Object({
  display_name: Type.Optional(Nullable(Type.String())),
  value_type: Type.Optional(Nullable(Type.String())),
  default_value: Type.Optional(Nullable(Type.String())),
  allowed_values: Type.Optional(Nullable(Type.Array(Type.String()))),
  description: Type.Optional(Nullable(Type.String())),
});

export const DeleteAttributeQuery = Type.Object({ force: Type.Optional(Type.Boolean()) });

export const presentAttributeDefinition = (def: AttributeDefinition) => ({
  ...def,
  created_at: toApiTimestamp(def.created_at),
  updated_at: toApiTimestamp(def.updated_at),
});
